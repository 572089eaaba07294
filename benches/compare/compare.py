"""Whole-process comparison of tickflow with DuckDB, Polars and PySpark on the bar job (issue 6,
job a).

    benches/compare/run.sh [--rows 10M,100M] [--runs 3] [--widths 1,9] [--layouts ordered,tape]

Generates trades with `tickflow gen` (5,000 symbols, 5M trades per day, cached under
~/.cache/tickflow-bench/compare) and a copy ordered by (symbol, ts) within each date, then for
each size, layout and bar width runs every engine as its own process, `--runs` times,
alternating engines, each writing its bars to Parquet:

- tickflow (local DataFusion) and tickflow on a 2-executor Ballista cluster on 127.0.0.1
  (the cluster's wall time and CPU are the client's; its memory column is the client's too);
- DuckDB, Polars and PySpark (`local[2]`, only up to `--spark-max-rows`, 10M by default), with the
  same query in their own dialect.

Before any timing counts, every engine's bars are checked against tickflow's: same (symbol, bar)
keys, identical open/high/low/close/volume/count, std within 1e-9 relative, vwap within 1e-9
relative plus half a unit of tickflow's DECIMAL(38, 8) result (5e-9). Open and
close are the first and last trade by `seq`, which `tickflow gen` numbers in time order per day.

Reports the median wall time, median CPU seconds (user + sys), rows per second and the peak
resident memory of each engine (GNU time's maximum RSS), as a Markdown table on stdout and in
benches/RESULTS.md, with a chart of the wall times in benches/results.svg. A measurement, never
a test.
"""
import argparse
import datetime
import functools
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/tickflow-target"))
BIN = TARGET / "release"
CACHE = Path.home() / ".cache/tickflow-bench/compare"

def parse_rows(text):
    mult = {"K": 10**3, "M": 10**6, "B": 10**9}.get(text[-1].upper(), 1)
    return int(float(text.rstrip("KMBkmb")) * mult)

def table_source(data, ordered):
    """DDL and FROM item for the trades. On the (symbol, ts)-ordered copy tickflow is told the
    order, as `tickflow ingest` registers its output, so DataFusion can aggregate bars as a stream."""
    if ordered:
        return (f"CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{data}/' "
                "WITH ORDER (symbol ASC, ts ASC); "), "t"
    return "", f"'{data}/'"

def tickflow_sql(width, data, out, ordered):
    ddl, source = table_source(data, ordered)
    return ddl + f"""COPY (
  SELECT symbol, time_bucket(INTERVAL '{width} minutes', ts) AS bar,
         ohlc(ts, price, seq)['open'] AS open, ohlc(ts, price, seq)['high'] AS high,
         ohlc(ts, price, seq)['low'] AS low, ohlc(ts, price, seq)['close'] AS close,
         vwap(price, size) AS vwap, bar_std(price) AS std,
         total_volume(size) AS volume, count(*) AS n
  FROM {source} GROUP BY 1, 2) TO '{out}' STORED AS PARQUET"""

DUCKDB = """
import duckdb, sys
width, data, out = sys.argv[1:4]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f'''COPY (
  SELECT symbol, time_bucket(INTERVAL '{width} minutes', ts::TIMESTAMPTZ) AS bar,
         arg_min(price, seq) AS open, max(price) AS high, min(price) AS low,
         arg_max(price, seq) AS close,
         sum(price * size) / sum(size) AS vwap, stddev_samp(price) AS std,
         sum(size) AS volume, count(*) AS n
  FROM read_parquet('{data}/*/*.parquet', hive_partitioning = true)
  GROUP BY ALL) TO '{out}' (FORMAT parquet)''')
"""

POLARS = """
import polars as pl, sys
width, data, out = sys.argv[1:4]
lf = pl.scan_parquet(f'{data}/*/*.parquet', hive_partitioning=True)
bars = (lf.with_columns(pl.col('ts').dt.truncate(f'{width}m').alias('bar'))
  .group_by('symbol', 'bar')
  .agg(pl.col('price').sort_by('seq').first().alias('open'),
       pl.col('price').max().alias('high'), pl.col('price').min().alias('low'),
       pl.col('price').sort_by('seq').last().alias('close'),
       ((pl.col('price').cast(pl.Float64) * pl.col('size')).sum() / pl.col('size').sum()).alias('vwap'),
       pl.col('price').cast(pl.Float64).std().alias('std'),
       pl.col('size').sum().alias('volume'), pl.len().alias('n')))
bars.sink_parquet(out)
"""

# Spark 4 reads Parquet's nanosecond timestamps only as longs (nanosAsLong); the bucket is computed
# on them, exactly.
SPARK = """
import sys
from pyspark.sql import SparkSession, functions as F
width, data, out = sys.argv[1:4]
spark = (SparkSession.builder.master('local[2]').appName('bars')
  .config('spark.sql.session.timeZone', 'UTC').config('spark.ui.enabled', 'false')
  .config('spark.driver.memory', '8g').config('spark.sql.legacy.parquet.nanosAsLong', 'true')
  .config('spark.sql.parquet.outputTimestampType', 'TIMESTAMP_MICROS').getOrCreate())
spark.sparkContext.setLogLevel('ERROR')
nanos = int(width) * 60 * 10**9
df = spark.read.parquet(data)
bar = F.timestamp_micros((F.col('ts') / F.lit(nanos)).cast('long') * F.lit(nanos // 1000))
bars = (df.groupBy('symbol', bar.alias('bar'))
  .agg(F.min_by('price', 'seq').alias('open'), F.max('price').alias('high'),
       F.min('price').alias('low'), F.max_by('price', 'seq').alias('close'),
       (F.sum(F.col('price') * F.col('size')).cast('double') / F.sum('size')).alias('vwap'),
       F.stddev_samp(F.col('price').cast('double')).alias('std'),
       F.sum('size').alias('volume'), F.count(F.lit(1)).alias('n')))
bars.write.mode('overwrite').parquet(out)
"""

# Job (e): one symbol (the second most active), one month, regular trading hours (09:30-16:00
# New York), written to Parquet.
FETCH_SYMBOL, FETCH_FROM, FETCH_TO = "NJI", "2024-03-01T00:00:00Z", "2024-04-01T00:00:00Z"

def tickflow_fetch_sql(data, out, ordered):
    ddl, source = table_source(data, ordered)
    local = "(ts AT TIME ZONE 'America/New_York')"
    return ddl + f"""COPY (
  SELECT symbol, ts, price, size, seq FROM {source}
  WHERE symbol = '{FETCH_SYMBOL}' AND ts >= '{FETCH_FROM}' AND ts < '{FETCH_TO}'
    AND date_part('hour', {local}) * 60 + date_part('minute', {local}) BETWEEN 570 AND 959
) TO '{out}' STORED AS PARQUET"""

DUCKDB_FETCH = """
import duckdb, sys
data, out = sys.argv[2:4]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
local = "timezone('America/New_York', ts)"
con.execute(f'''COPY (
  SELECT symbol, ts, price, size, seq FROM read_parquet('{data}/*/*.parquet', hive_partitioning = true)
  WHERE symbol = 'SYMBOL' AND ts >= 'FROM'::TIMESTAMPTZ_NS AND ts < 'TO'::TIMESTAMPTZ_NS
    AND hour({local}) * 60 + minute({local}) BETWEEN 570 AND 959) TO '{out}' (FORMAT parquet)''')
""".replace("SYMBOL", FETCH_SYMBOL).replace("'FROM'", f"'{FETCH_FROM}'").replace("'TO'", f"'{FETCH_TO}'")

POLARS_FETCH = """
import polars as pl, sys
from datetime import datetime
data, out = sys.argv[2:4]
local = pl.col('ts').dt.convert_time_zone('America/New_York')
minute = local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32)
(pl.scan_parquet(f'{data}/*/*.parquet', hive_partitioning=True)
  .filter((pl.col('symbol') == 'SYMBOL')
          & (pl.col('ts') >= datetime.fromisoformat('FROM'))
          & (pl.col('ts') < datetime.fromisoformat('TO'))
          & minute.is_between(570, 959))
  .select('symbol', 'ts', 'price', 'size', 'seq')
  .sink_parquet(out))
""".replace("SYMBOL", FETCH_SYMBOL).replace("'FROM'", f"'{FETCH_FROM}'").replace("'TO'", f"'{FETCH_TO}'")

# Job (d): CSV trades (TAQ-style, New York local date and time) into Parquet partitioned by date.
# tickflow ingest also validates every row and sorts each date by (symbol, ts); DuckDB is given
# the same order, so both write the same layout.
DUCKDB_INGEST = """
import duckdb, sys
data, out = sys.argv[2:4]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f'''COPY (
  SELECT symbol, timezone('America/New_York', (date::VARCHAR || ' ' || time)::TIMESTAMP)::TIMESTAMPTZ_NS AS ts,
         price::DECIMAL(18, 4) AS price, size::BIGINT AS size, exchange, conditions,
         seq::BIGINT AS seq, date
  FROM read_csv('{data}/*.csv', header = true, types = {{'time': 'VARCHAR', 'price': 'VARCHAR'}})
  ORDER BY date, symbol, ts) TO '{out}' (FORMAT parquet, PARTITION_BY (date))''')
"""

def check_same_ingest(reference, other, engine):
    """The ingest job: the same trades in both outputs. tickflow numbers its own `seq` and keeps
    the file's as `source_seq`."""
    import duckdb
    def select(path):
        names = [r[0] for r in duckdb.sql(
            f"DESCRIBE SELECT * FROM read_parquet('{path}/*/*.parquet')").fetchall()]
        seq = "source_seq" if "source_seq" in names else "seq"
        return (f"SELECT symbol, ts::TIMESTAMPTZ AS ts, price::DECIMAL(18, 4), size, exchange, "
                f"conditions, {seq} FROM read_parquet('{path}/*/*.parquet')")
    if rows_differ(select(reference), select(other)):
        sys.exit(f"{engine}: its Parquet holds other trades than tickflow's ({other} vs {reference})")

# Job (c): over 1-minute closes, a 20-bar moving average and the rolling (20-bar) sample standard
# deviation of log returns, per symbol; the first bars average what there is.
# The windows over `bars(symbol, bar, close)`, the same SQL in tickflow and DuckDB.
WINDOWS_SQL = """  returns AS (
    SELECT symbol, bar, close,
           ln(close / lag(close) OVER (PARTITION BY symbol ORDER BY bar)) AS ret FROM bars)
  SELECT symbol, bar, close,
         avg(close) OVER w AS ma20, stddev_samp(ret) OVER w AS vol20
  FROM returns
  WINDOW w AS (PARTITION BY symbol ORDER BY bar ROWS BETWEEN 19 PRECEDING AND CURRENT ROW)"""

# Job (b): gap-filled 1-minute bars for 100 symbols (every 50th by name: busy and quiet ones)
# over the first date's regular session (09:30-16:00 New York): one row per symbol and minute,
# 390 per symbol. An empty minute takes the last close as open, high, low and close, volume 0;
# minutes before a symbol's first trade of the session stay NULL, volume 0. Plain SQL in tickflow
# (a grid of buckets x symbols, LEFT JOIN the bars, last_value IGNORE NULLS) and in DuckDB.
@functools.lru_cache(maxsize=None)
def gap_case(data):
    """(symbols, session start, session end as UTC ISO text) for the data at `data`."""
    import duckdb
    from zoneinfo import ZoneInfo
    first = sorted(p.name for p in Path(data).iterdir() if p.name.startswith("date="))[0]
    day = datetime.date.fromisoformat(first.removeprefix("date="))
    names = duckdb.sql(f"SELECT DISTINCT symbol FROM read_parquet('{data}/{first}/*.parquet') "
                       "ORDER BY symbol").fetchall()
    symbols = tuple(n[0] for n in names[::50][:100])
    ny, utc = ZoneInfo("America/New_York"), datetime.timezone.utc
    at = lambda h, m: datetime.datetime.combine(day, datetime.time(h, m), ny).astimezone(utc)
    text = lambda t: t.strftime("%Y-%m-%d %H:%M:%S")
    return symbols, text(at(9, 30)), text(at(16, 0))

def gap_sql(bars, grid, last_close):
    """The gap-filling SQL shared by tickflow and DuckDB, over their `bars` and `grid` CTEs."""
    return f"""  WITH grid AS ({grid}),
  bars AS ({bars}),
  joined AS (
    SELECT g.symbol, g.bar, b.open, b.high, b.low, b.close, b.volume,
           {last_close} OVER (PARTITION BY g.symbol ORDER BY g.bar
             ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS last_close
    FROM grid g LEFT JOIN bars b ON g.symbol = b.symbol AND g.bar = b.bar)
  SELECT symbol, bar, coalesce(open, last_close) AS open, coalesce(high, last_close) AS high,
         coalesce(low, last_close) AS low, coalesce(close, last_close) AS close,
         coalesce(volume, 0) AS volume
  FROM joined"""

def tickflow_gap_sql(data, out, ordered):
    ddl, source = table_source(data, ordered)
    symbols, start, end = gap_case(str(data))
    values = ", ".join(f"('{s}')" for s in symbols)
    listed = ", ".join(f"'{s}'" for s in symbols)
    grid = (f"SELECT s.symbol, arrow_cast(g.bucket_start, 'Timestamp(Nanosecond, Some(\"UTC\"))') AS bar "
            f"FROM (VALUES {values}) s(symbol) CROSS JOIN "
            f"time_bucket('1 minute', TIMESTAMP '{start}', TIMESTAMP '{end}') g")
    bars = (f"SELECT symbol, time_bucket(INTERVAL '1 minute', ts) AS bar, "
            f"ohlc(ts, price, seq)['open'] AS open, ohlc(ts, price, seq)['high'] AS high, "
            f"ohlc(ts, price, seq)['low'] AS low, ohlc(ts, price, seq)['close'] AS close, "
            f"total_volume(size) AS volume FROM {source} WHERE symbol IN ({listed}) "
            f"AND ts >= TIMESTAMP '{start}Z' AND ts < TIMESTAMP '{end}Z' GROUP BY 1, 2")
    return ddl + f"COPY (\n{gap_sql(bars, grid, 'last_value(b.close) IGNORE NULLS')}\n) TO '{out}' STORED AS PARQUET"

DUCKDB_GAP = """
import duckdb, sys
sys.path.insert(0, sys.argv[4])
from compare import gap_case, gap_sql
data, out = sys.argv[2:4]
symbols, start, end = gap_case(data)
values = ", ".join(f"('{s}')" for s in symbols)
listed = ", ".join(f"'{s}'" for s in symbols)
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
grid = (f"SELECT s.symbol, g.bar FROM (VALUES {values}) s(symbol) CROSS JOIN "
        f"(SELECT unnest(range(TIMESTAMPTZ '{start}+00', TIMESTAMPTZ '{end}+00', INTERVAL 1 minute)) AS bar) g")
bars = (f"SELECT symbol, time_bucket(INTERVAL '1 minute', ts::TIMESTAMPTZ) AS bar, "
        f"arg_min(price, seq) AS open, max(price) AS high, min(price) AS low, "
        f"arg_max(price, seq) AS close, sum(size) AS volume "
        f"FROM read_parquet('{data}/*/*.parquet', hive_partitioning = true) "
        f"WHERE symbol IN ({listed}) AND ts::TIMESTAMPTZ >= TIMESTAMPTZ '{start}+00' "
        f"AND ts::TIMESTAMPTZ < TIMESTAMPTZ '{end}+00' "
        f"GROUP BY ALL")
con.execute(f"COPY ({gap_sql(bars, grid, 'last_value(b.close IGNORE NULLS)')}) TO '{out}' (FORMAT parquet)")
"""

POLARS_GAP = """
import datetime, polars as pl, sys
sys.path.insert(0, sys.argv[4])
from compare import gap_case
data, out = sys.argv[2:4]
symbols, start, end = gap_case(data)
utc = lambda t: datetime.datetime.fromisoformat(t).replace(tzinfo=datetime.timezone.utc)
start, end = utc(start), utc(end)
trades = (pl.scan_parquet(f'{data}/*/*.parquet', hive_partitioning=True)
  .filter(pl.col('symbol').is_in(list(symbols)) & (pl.col('ts') >= start) & (pl.col('ts') < end)))
bars = (trades.with_columns(pl.col('ts').dt.truncate('1m').alias('bar'))
  .group_by('symbol', 'bar')
  .agg(pl.col('price').sort_by('seq').first().alias('open'), pl.col('price').max().alias('high'),
       pl.col('price').min().alias('low'), pl.col('price').sort_by('seq').last().alias('close'),
       pl.col('size').sum().alias('volume')))
minutes = pl.datetime_range(start, end, '1m', closed='left', time_unit='ns', time_zone='UTC', eager=True)
grid = pl.LazyFrame({'symbol': list(symbols)}).join(pl.LazyFrame({'bar': minutes}), how='cross')
last = pl.col('close').forward_fill().over('symbol')
(grid.join(bars, on=['symbol', 'bar'], how='left').sort('symbol', 'bar')
  .with_columns(last.alias('last_close'))
  .select('symbol', 'bar', *[pl.coalesce(c, 'last_close').alias(c) for c in ('open', 'high', 'low', 'close')],
          pl.col('volume').fill_null(0))
  .sink_parquet(out))
"""

def bars_differ(reference, other, differ):
    """Rows keyed by (symbol, bar) in one Parquet output and not the other, or where `differ`
    (SQL over the two sides `a` and `b`) holds."""
    import duckdb
    return duckdb.sql(f"""
      WITH a AS (SELECT * REPLACE (bar::TIMESTAMPTZ AS bar) FROM read_parquet('{parquet_glob(reference)}')),
           b AS (SELECT * REPLACE (bar::TIMESTAMPTZ AS bar) FROM read_parquet('{parquet_glob(other)}'))
      SELECT count(*) FROM a FULL JOIN b ON a.symbol = b.symbol AND a.bar = b.bar
      WHERE a.symbol IS NULL OR b.symbol IS NULL OR {differ}
    """).fetchall()[0][0]

def check_same_gap(reference, other, engine):
    """The gap-filling job: the same (symbol, minute) rows, prices and volumes equal, NULLs alike."""
    bad = bars_differ(reference, other, """
        a.open::DOUBLE IS DISTINCT FROM b.open::DOUBLE OR a.high::DOUBLE IS DISTINCT FROM b.high::DOUBLE
        OR a.low::DOUBLE IS DISTINCT FROM b.low::DOUBLE OR a.close::DOUBLE IS DISTINCT FROM b.close::DOUBLE
        OR a.volume::BIGINT IS DISTINCT FROM b.volume::BIGINT""")
    import duckdb
    rows = duckdb.sql(f"SELECT count(*) FROM read_parquet('{parquet_glob(reference)}')").fetchall()[0][0]
    if bad or rows != 100 * 390:
        sys.exit(f"{engine}: {bad} gap-filled bars differ from tickflow's, or tickflow's are not "
                 f"100 x 390 ({rows}) ({other} vs {reference})")

def tickflow_window_sql(data, out, ordered):
    ddl, source = table_source(data, ordered)
    return ddl + f"""COPY (
  WITH bars AS (
    SELECT symbol, time_bucket(INTERVAL '1 minute', ts) AS bar,
           CAST(ohlc(ts, price, seq)['close'] AS DOUBLE) AS close
    FROM {source} GROUP BY 1, 2),
{WINDOWS_SQL}
) TO '{out}' STORED AS PARQUET"""

DUCKDB_WINDOW = """
import duckdb, sys
data, out = sys.argv[2:4]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
con.execute(f'''COPY (
  WITH bars AS (
    SELECT symbol, time_bucket(INTERVAL '1 minute', ts::TIMESTAMPTZ) AS bar,
           arg_max(price, seq)::DOUBLE AS close
    FROM read_parquet('{data}/*/*.parquet', hive_partitioning = true) GROUP BY ALL),
WINDOWS
) TO '{out}' (FORMAT parquet)''')
""".replace("WINDOWS", WINDOWS_SQL)

POLARS_WINDOW = """
import polars as pl, sys
data, out = sys.argv[2:4]
bars = (pl.scan_parquet(f'{data}/*/*.parquet', hive_partitioning=True)
  .with_columns(pl.col('ts').dt.truncate('1m').alias('bar'))
  .group_by('symbol', 'bar')
  .agg(pl.col('price').sort_by('seq').last().cast(pl.Float64).alias('close'))
  .sort('symbol', 'bar'))
(bars.with_columns((pl.col('close') / pl.col('close').shift(1)).log().over('symbol').alias('ret'))
  .with_columns(pl.col('close').rolling_mean(20, min_samples=1).over('symbol').alias('ma20'),
                pl.col('ret').rolling_std(20, min_samples=2).over('symbol').alias('vol20'))
  .select('symbol', 'bar', 'close', 'ma20', 'vol20')
  .sink_parquet(out))
"""

def check_same_window(reference, other, engine):
    """The window job: same (symbol, bar) rows, close exact, ma20 and vol20 within 1e-9 relative."""
    bad = bars_differ(reference, other, """
        a.close <> b.close OR abs(a.ma20 - b.ma20) > 1e-9 * abs(a.ma20)
        OR coalesce(abs(a.vol20 - b.vol20) > 1e-9 * a.vol20 + 1e-15,
                    (a.vol20 IS NULL) <> (b.vol20 IS NULL))""")
    if bad:
        sys.exit(f"{engine}: {bad} rows differ from tickflow's ({other} vs {reference})")

def timed(cmd, env=None):
    """Runs cmd under GNU time; returns (wall s, cpu s, max RSS MB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", t.name, *cmd],
                              capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise EngineFailed(f"{Path(str(cmd[0])).name} exited with {proc.returncode}: "
                               f"{proc.stderr.strip()[-300:]}")
        user, sys_s, rss_kb = t.read().split()[-3:]
    return wall, float(user) + float(sys_s), int(rss_kb) / 1024

class EngineFailed(Exception):
    """An engine's process failed: reported in its row, the other engines go on."""

class Cluster:
    def __init__(self, work):
        self.port = 50550
        self.procs = []
        args = ["--bind-host", "127.0.0.1"]
        self.procs.append(subprocess.Popen([BIN / "tickflow-scheduler", *args, "--bind-port",
            str(self.port), "--min-ready-executors", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for i in (1, 2):
            p = self.port + 10 * i
            self.procs.append(subprocess.Popen([BIN / "tickflow-executor", *args, "--scheduler-host",
                "127.0.0.1", "--scheduler-port", str(self.port), "--bind-port", str(p),
                "--bind-grpc-port", str(p + 1), "--bind-health-port", str(p + 2),
                "--work-dir", str(work / f"e{i}")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        import urllib.request
        for _ in range(300):
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1).status == 200:
                    return
            except Exception:
                time.sleep(0.1)
        sys.exit("the cluster did not become ready")

    def stop(self):
        for p in self.procs:
            p.kill()

def parquet_glob(path):
    """A Parquet output: one file, or a directory of part files (Spark's)."""
    return f"{path}/*.parquet" if Path(path).is_dir() else str(path)

def rows_differ(a, b):
    """Rows of one query result (SQL over read_parquet) missing from the other, both ways."""
    import duckdb
    count = lambda x, y: duckdb.sql(f"SELECT count(*) FROM ({x} EXCEPT ALL {y})").fetchall()[0][0]
    return count(a, b) + count(b, a)

def check_same_rows(reference, other, engine):
    """The fetch job: the same trades, field by field."""
    import duckdb
    select = lambda p: (f"SELECT symbol, ts::TIMESTAMPTZ, price, size, seq "
                        f"FROM read_parquet('{parquet_glob(p)}')")
    rows = duckdb.sql(f"SELECT count(*) FROM read_parquet('{parquet_glob(reference)}')").fetchall()[0][0]
    if rows == 0 or rows_differ(select(reference), select(other)):
        sys.exit(f"{engine}: its rows differ from tickflow's ({other} vs {reference}, {rows} rows)")

def check_same(reference, other, engine):
    bad = bars_differ(reference, other, """
        a.open::DOUBLE <> b.open::DOUBLE OR a.close::DOUBLE <> b.close::DOUBLE
        OR a.high::DOUBLE <> b.high::DOUBLE OR a.low::DOUBLE <> b.low::DOUBLE
        OR a.volume <> b.volume OR a.n <> b.n
        OR abs(a.vwap::DOUBLE - b.vwap::DOUBLE) > 1e-9 * abs(a.vwap::DOUBLE) + 5e-9
        OR coalesce(abs(a.std - b.std) > 1e-9 * a.std + 1e-12, (a.std IS NULL) <> (b.std IS NULL))""")
    if bad:
        sys.exit(f"{engine}: {bad} bars differ from tickflow's ({other} vs {reference})")

def order_by_symbol(data, ordered, catalog):
    """Copies `data` to `ordered`, sorted by (symbol, ts) within each date: one COPY per date, so
    memory stays bounded by one day."""
    tmp = ordered.with_name(ordered.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    for day in sorted(p.name for p in data.iterdir() if p.name.startswith("date=")):
        (tmp / day).mkdir(parents=True)
        subprocess.run([BIN / "tickflow", "--catalog", catalog, "sql", "-c",
            f"COPY (SELECT * FROM '{data}/{day}/' ORDER BY symbol, ts) "
            f"TO '{tmp}/{day}/part-0.parquet' STORED AS PARQUET"],
            check=True, stdout=subprocess.DEVNULL)
    tmp.rename(ordered)

def prepare(rows_text, layouts):
    """The layouts of `rows_text` trades, generated (and ordered) on first use."""
    rows = parse_rows(rows_text)
    data = CACHE / f"trades-{rows_text}"
    if not data.exists():
        subprocess.run([BIN / "tickflow", "gen", "--rows", rows_text,
                        "--days", str(max(1, rows // 5_000_000)), "--symbols", "5000",
                        "--out", data], check=True)
    paths = {"tape": data}
    if "csv" in layouts:
        csv = CACHE / f"csv-{rows_text}"
        if not csv.exists():
            subprocess.run([BIN / "tickflow", "gen", "--format", "csv", "--rows", rows_text,
                            "--days", str(max(1, rows // 5_000_000)), "--symbols", "5000",
                            "--out", csv], check=True)
        paths["csv"] = csv
    if "ordered" in layouts:
        ordered = CACHE / f"trades-{rows_text}-ordered"
        if not ordered.exists():
            order_by_symbol(data, ordered, CACHE / "catalog.json")
        paths["ordered"] = ordered
    return {k: v for k, v in paths.items() if k in layouts}

def chart(results, path):
    """A horizontal bar chart (SVG) of every section's median wall times."""
    colors = {"tickflow": "#1f77b4", "cluster": "#6baed6", "duckdb": "#ff7f0e",
              "polars": "#2ca02c", "spark": "#d62728"}
    bar_h, gap, label_w, plot_w = 16, 18, 300, 420
    height = sum(len(r["engines"]) * bar_h + gap + 20 for r in results) + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + plot_w + 120}" '
           f'height="{height}" font-family="sans-serif" font-size="12">',
           f'<text x="10" y="20" font-size="14" font-weight="bold">Median wall time (s), '
           f'lower is better</text>']
    y = 40
    for r in results:
        out.append(f'<text x="10" y="{y + 12}" font-weight="bold">{r["title"]}</text>')
        y += 20
        rows = [row for row in r["engines"] if not row.get("failed")]
        longest = max(row["wall"] for row in rows)
        for row in rows:
            w = plot_w * row["wall"] / longest
            out.append(f'<text x="{label_w - 8}" y="{y + 12}" text-anchor="end">{row["engine"]}</text>')
            out.append(f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{bar_h - 4}" '
                       f'fill="{colors.get(row["engine"], "#888")}"/>')
            # The cluster's memory is its executors'; Spark's is its JVM's: neither is measured.
            memory = "" if row["engine"] in ("spark", "cluster") else f', {row["rss"]:.0f} MB'
            out.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 12}">{row["wall"]:.2f} s{memory}</text>')
            y += bar_h
        y += gap
    out.append("</svg>")
    Path(path).write_text("\n".join(out) + "\n")

RESULTS_JSON = ROOT / "benches/compare/results.json"

def section_key(s):
    """Sections in a stable order: job, size, layout, width."""
    return (["bars", "gapfill", "window", "fetch", "ingest"].index(s["job"]), parse_rows(s["rows"]),
            ["ordered", "tape", "csv"].index(s["layout"]), int(s.get("width") or 0))

def render(sections):
    """The Markdown tables of every section."""
    lines = []
    for s in sorted(sections, key=section_key):
        lines.append(f"\n### {s['title']} ({s['output']})\n")
        lines.append("| engine | wall (median) | CPU s | rows/s | peak RSS |")
        lines.append("|---|---|---|---|---|")
        local = next(r["wall"] for r in s["engines"] if r["engine"] == "tickflow")
        for r in s["engines"]:
            if r.get("failed"):
                lines.append(f"| {r['engine']} | failed: {r['failed']} | | | |")
                continue
            # PySpark's JVM is not a child GNU time waits for: its CPU and memory are unknown.
            spark = r["engine"] == "spark"
            cpu = "n/a" if spark else f"{r['cpu']:.2f}"
            rss = "n/a" if spark else f"{r['rss']:.0f} MB"
            lines.append(f"| {r['engine']} | {r['wall']:.2f} s ({r['wall'] / local:.2f}×) | {cpu} | "
                         f"{parse_rows(s['rows']) / r['wall'] / 1e6:.1f} M | {rss} |")
    return lines

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="10M", help="sizes, comma-separated: 10M,100M")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", default="bars,fetch",
                    help="bars: 1- and 9-minute bars (job a); fetch: one symbol, one month, "
                         "regular hours (job e); gapfill: gap-filled 1-minute bars of 100 symbols over "
                         "one session (job b); window: 20-bar moving average and rolling "
                         "volatility of 1-minute closes (job c); ingest: CSV into date-partitioned Parquet (job d, "
                         "tickflow and DuckDB, layout csv)")
    ap.add_argument("--widths", default="1,9")
    ap.add_argument("--engines", default="tickflow,cluster,duckdb,polars,spark")
    ap.add_argument("--spark-max-rows", default="10M", help="PySpark runs only up to this size")
    ap.add_argument("--layouts", default="ordered,tape",
                    help="ordered: sorted by (symbol, ts) per date, as `tickflow ingest` writes; "
                         "tape: as generated (time order across symbols)")
    ap.add_argument("--results", default=str(ROOT / "benches/RESULTS.md"))
    ap.add_argument("--render", action="store_true",
                    help="measure nothing: rewrite RESULTS.md and the chart from results.json "
                         "(after editing compare/analysis.md)")
    opt = ap.parse_args()
    if opt.render:
        sections = json.loads(RESULTS_JSON.read_text())
        text = Path(opt.results).read_text()
        write_results(text[:text.index("\n### ")] + "\n", sections, opt.results)
        return
    import duckdb
    all_engines = opt.engines.split(",")
    work = Path(tempfile.mkdtemp())
    cluster = Cluster(work) if "cluster" in all_engines else None
    py = sys.executable
    def command(job, engine, width, out, data, ordered):
        if engine in ("tickflow", "cluster"):
            flags = ["--cluster", f"df://127.0.0.1:{cluster.port}"] if engine == "cluster" else []
            catalog = work / f"catalog-{engine}.json"
            catalog.unlink(missing_ok=True)
            if job == "ingest":
                return [BIN / "tickflow", "--catalog", catalog, "ingest", str(data), "--out", str(out)]
            sql = {"bars": lambda: tickflow_sql(width, data, out, ordered),
                   "window": lambda: tickflow_window_sql(data, out, ordered),
                   "gapfill": lambda: tickflow_gap_sql(data, out, ordered),
                   "fetch": lambda: tickflow_fetch_sql(data, out, ordered)}[job]()
            return [BIN / "tickflow", "--catalog", catalog, *flags, "sql", "-c", sql]
        scripts = {"bars": {"duckdb": DUCKDB, "polars": POLARS, "spark": SPARK},
                   "fetch": {"duckdb": DUCKDB_FETCH, "polars": POLARS_FETCH},
                   "window": {"duckdb": DUCKDB_WINDOW, "polars": POLARS_WINDOW},
                   "gapfill": {"duckdb": DUCKDB_GAP, "polars": POLARS_GAP},
                   "ingest": {"duckdb": DUCKDB_INGEST}}
        return [py, "-c", scripts[job][engine], width, str(data), str(out), str(Path(__file__).parent)]
    # Earlier runs' sections stay unless this run measures them again.
    sections = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else []
    try:
        for rows_text in opt.rows.split(","):
            rows = parse_rows(rows_text)
            layouts = prepare(rows_text, opt.layouts.split(","))
            cases = [(j, l, w) for j in opt.jobs.split(",") for l in layouts
                     if (j == "ingest") == (l == "csv")
                     for w in (opt.widths.split(",") if j == "bars" else [""])]
            for job, layout, width in cases:
                supported = {"bars": all_engines, "fetch": ["tickflow", "cluster", "duckdb", "polars"],
                             "window": ["tickflow", "cluster", "duckdb", "polars"],
                             "gapfill": ["tickflow", "cluster", "duckdb", "polars"],
                             "ingest": ["tickflow", "duckdb"]}[job]
                engines = [e for e in all_engines if e in supported
                           and (e != "spark" or rows <= parse_rows(opt.spark_max_rows))]
                data = layouts[layout]
                outs = {e: work / f"{e}-{job}-{rows_text}-{layout}-{width}.parquet" for e in engines}
                def run(e):
                    if outs[e].is_dir():  # an ingest adds to what it finds: start empty
                        shutil.rmtree(outs[e])
                    return timed(command(job, e, width, outs[e], data, layout == "ordered"))
                failed = {}
                for e in engines:  # one unmeasured run each: writes the output to check, warms the cache
                    try:
                        run(e)
                    except EngineFailed as err:
                        failed[e] = str(err)
                        print(f"{e}: {err}", file=sys.stderr)
                if engines[0] in failed:
                    sys.exit(f"{engines[0]} failed: {failed[engines[0]]}")
                ok = [e for e in engines if e not in failed]
                same = {"bars": check_same, "fetch": check_same_rows, "ingest": check_same_ingest,
                        "window": check_same_window, "gapfill": check_same_gap}[job]
                for e in ok[1:]:
                    same(outs[engines[0]], outs[e], e)
                samples = {e: [] for e in ok}
                for _ in range(opt.runs):
                    for e in ok:
                        try:
                            samples[e].append(run(e))
                        except EngineFailed as err:
                            failed[e] = str(err)
                    ok = [e for e in ok if e not in failed]
                n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{parquet_glob(outs[engines[0]])}')").fetchall()[0][0] \
                    if job != "ingest" else rows
                if job == "ingest":
                    title = f"{rows_text} trades, CSV → Parquet partitioned by date"
                    output = f"{n:,} trades"
                elif job == "window":
                    title = (f"{rows_text} trades ({layout} layout) → 20-bar moving average and "
                             f"volatility of 1-minute closes")
                    output = f"{n:,} bars"
                elif job == "gapfill":
                    title = (f"{rows_text} trades ({layout} layout) → gap-filled 1-minute bars, "
                             f"100 symbols, one session")
                    output = f"{n:,} bars"
                elif job == "bars":
                    title = f"{rows_text} trades ({layout} layout) → {width}-minute bars"
                    output = f"{n:,} bars"
                else:
                    title = (f"{rows_text} trades ({layout} layout) → one symbol, one month, "
                             f"regular hours")
                    output = f"{n:,} trades"
                section = {"job": job, "rows": rows_text, "layout": layout, "width": width,
                           "title": title, "output": output, "engines": []}
                for e in engines:
                    if e in failed:
                        lines = failed[e].splitlines()
                        reason = next((l for l in lines if "Error" in l), lines[-1]).strip()
                        section["engines"].append({"engine": e, "failed": reason[:200]})
                        continue
                    section["engines"].append({
                        "engine": e,
                        "wall": statistics.median(s[0] for s in samples[e]),
                        "cpu": statistics.median(s[1] for s in samples[e]),
                        "rss": max(s[2] for s in samples[e])})
                sections = [s for s in sections if s["title"] != title] + [section]
                RESULTS_JSON.write_text(json.dumps(sections, indent=1) + "\n")
                print("\n".join(render([section])), flush=True)
                for out in outs.values():
                    shutil.rmtree(out, ignore_errors=True) if out.is_dir() else out.unlink(missing_ok=True)
    finally:
        if cluster:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    import polars
    versions = f"DuckDB {duckdb.__version__}, Polars {polars.__version__}"
    try:  # earlier runs' sections may be PySpark's even when this run has no Spark
        import pyspark
        versions += f", PySpark {pyspark.__version__} (Java {java_version()})"
    except ImportError:
        pass
    header = (f"# tickflow vs DuckDB, Polars and PySpark\n\nWritten by `benches/compare/run.sh` "
              f"(last run: `--rows {opt.rows} --jobs {opt.jobs} --runs {opt.runs}`) on "
              f"{time.strftime('%Y-%m-%d')}: {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores, {memory_gb():.0f} GB; {versions}. Sections a run does not "
              f"measure are kept from earlier runs (benches/compare/results.json). "
              f"Median of {opt.runs} alternating runs after one unmeasured run per engine; every engine's "
              f"output was checked equal to tickflow's first. The cluster row is the client process "
              f"(the executors' CPU and memory are not in it; the chart leaves its memory out); PySpark's "
              f"CPU and memory are not known (its JVM is not a process GNU time waits for). Layouts: "
              f"`ordered` is sorted by (symbol, ts) within each date, as `tickflow ingest` writes trades, "
              f"and tickflow is told so with `WITH ORDER (symbol ASC, ts ASC)` as ingest registers its "
              f"output; `tape` is `tickflow gen`'s output (each day one file in time order across "
              f"symbols). DuckDB, Polars and PySpark read the same files.\n\n![wall times](results.svg)\n")
    write_results(header, sections, opt.results)

def write_results(header, sections, path):
    """RESULTS.md (header, every section's table, compare/analysis.md) and results.svg."""
    analysis = ROOT / "benches/compare/analysis.md"
    text = (header + "\n".join(render(sections)) + "\n"
            + ("\n" + analysis.read_text() if analysis.exists() else ""))
    Path(path).write_text(text)
    chart(sorted(sections, key=section_key), Path(path).with_name("results.svg"))
    print(f"wrote {path}")

def java_version():
    out = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    return out.split('"')[1] if '"' in out else "?"

def memory_gb():
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30

if __name__ == "__main__":
    main()
