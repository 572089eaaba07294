"""Whole-process comparison of tickflow with DuckDB and Polars on the bar job (issue 6, job a).

    benches/compare/run.sh [--rows 10M] [--runs 3] [--widths 1,9]

Generates trades with `tickflow gen` (5,000 symbols, 5M trades per day, cached under
~/.cache/tickflow-bench/compare), then for each bar width runs every engine as its own process,
`--runs` times, alternating engines, each writing its bars to Parquet:

- tickflow (local DataFusion) and tickflow on a 2-executor Ballista cluster on 127.0.0.1
  (the cluster's wall time and CPU are the client's; its memory column is the client's too);
- DuckDB and Polars (Python packages), with the same query in their own dialect.

Before any timing counts, every engine's bars are checked against tickflow's: same (symbol, bar)
keys, identical open/high/low/close/volume/count, std within 1e-9 relative, vwap within 1e-9
relative plus half a unit of tickflow's DECIMAL(38, 8) result (5e-9). Open and
close are the first and last trade by `seq`, which `tickflow gen` numbers in time order per day.

Reports the median wall time, median CPU seconds (user + sys), rows per second and the peak
resident memory of each engine (GNU time's maximum RSS), as a Markdown table on stdout and in
benches/RESULTS.md. A measurement, never a test.
"""
import argparse
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

def tickflow_sql(width, data, out, ordered):
    # On the (symbol, ts)-ordered copy tickflow is told the order, as `tickflow ingest` registers
    # its output, so DataFusion can aggregate bars as a stream.
    if ordered:
        source = "t"
        ddl = (f"CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{data}/' "
               "WITH ORDER (symbol ASC, ts ASC); ")
    else:
        source, ddl = f"'{data}/'", ""
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

def timed(cmd, env=None):
    """Runs cmd under GNU time; returns (wall s, cpu s, max RSS MB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", t.name, *cmd],
                              capture_output=True, text=True, env=env)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"{cmd[0]} failed:\n{proc.stderr[-3000:]}")
        user, sys_s, rss_kb = t.read().split()[-3:]
    return wall, float(user) + float(sys_s), int(rss_kb) / 1024

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

def check_same(reference, other, engine):
    import duckdb
    bad = duckdb.sql(f"""
      WITH a AS (SELECT * FROM read_parquet('{reference}')), b AS (SELECT * FROM read_parquet('{other}'))
      SELECT count(*) FROM a FULL JOIN b ON a.symbol = b.symbol AND a.bar = b.bar
      WHERE a.symbol IS NULL OR b.symbol IS NULL
         OR a.open::DOUBLE <> b.open::DOUBLE OR a.close::DOUBLE <> b.close::DOUBLE
         OR a.high::DOUBLE <> b.high::DOUBLE OR a.low::DOUBLE <> b.low::DOUBLE
         OR a.volume <> b.volume OR a.n <> b.n
         OR abs(a.vwap::DOUBLE - b.vwap::DOUBLE) > 1e-9 * abs(a.vwap::DOUBLE) + 5e-9
         OR coalesce(abs(a.std - b.std) > 1e-9 * a.std + 1e-12, (a.std IS NULL) <> (b.std IS NULL))
    """).fetchall()[0][0]
    if bad:
        sys.exit(f"{engine}: {bad} bars differ from tickflow's ({other} vs {reference})")

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", default="10M")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--widths", default="1,9")
    ap.add_argument("--engines", default="tickflow,cluster,duckdb,polars")
    ap.add_argument("--layouts", default="tape,ordered",
                    help="tape: as generated (time order); ordered: sorted by (symbol, ts) per date")
    ap.add_argument("--results", default=str(ROOT / "benches/RESULTS.md"))
    opt = ap.parse_args()
    import duckdb
    rows = parse_rows(opt.rows)
    days = max(1, rows // 5_000_000)
    data = CACHE / f"trades-{opt.rows}"
    if not data.exists():
        subprocess.run([BIN / "tickflow", "gen", "--rows", opt.rows, "--days", str(days),
                        "--symbols", "5000", "--out", data], check=True)
    layouts = {"tape": data}
    if "ordered" in opt.layouts.split(","):
        ordered = CACHE / f"trades-{opt.rows}-ordered"
        if not ordered.exists():
            tmp = CACHE / f"trades-{opt.rows}-ordered.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            subprocess.run([BIN / "tickflow", "--catalog", CACHE / "catalog.json", "sql", "-c",
                f"COPY (SELECT * FROM '{data}/' ORDER BY date, symbol, ts) TO '{tmp}/' "
                "STORED AS PARQUET PARTITIONED BY (date)"], check=True, stdout=subprocess.DEVNULL)
            tmp.rename(ordered)
        layouts["ordered"] = ordered
    layouts = {k: v for k, v in layouts.items() if k in opt.layouts.split(",")}
    engines = opt.engines.split(",")
    work = Path(tempfile.mkdtemp())
    cluster = Cluster(work) if "cluster" in engines else None
    py = sys.executable
    def command(engine, width, out, layout):
        data = layouts[layout]
        if engine in ("tickflow", "cluster"):
            flags = ["--cluster", f"df://127.0.0.1:{cluster.port}"] if engine == "cluster" else []
            catalog = work / f"catalog-{engine}-{layout}.json"
            catalog.unlink(missing_ok=True)
            return [BIN / "tickflow", "--catalog", catalog, *flags, "sql", "-c",
                    tickflow_sql(width, data, out, layout == "ordered")]
        script = {"duckdb": DUCKDB, "polars": POLARS}[engine]
        return [py, "-c", script, width, str(data), str(out)]
    lines = []
    try:
        for layout, width in [(l, w) for l in layouts for w in opt.widths.split(",")]:
            outs = {e: work / f"{e}-{layout}-{width}.parquet" for e in engines}
            for e in engines:  # one unmeasured run each: writes the bars to check, warms the cache
                timed(command(e, width, outs[e], layout))
            for e in engines[1:]:
                check_same(outs[engines[0]], outs[e], e)
            samples = {e: [] for e in engines}
            for _ in range(opt.runs):
                for e in engines:
                    samples[e].append(timed(command(e, width, outs[e], layout)))
            bars = duckdb.sql(f"SELECT count(*) FROM read_parquet('{outs[engines[0]]}')").fetchall()[0][0]
            lines.append(f"\n### {opt.rows} trades ({layout} layout) → {width}-minute bars ({bars:,} bars)\n")
            lines.append("| engine | wall (median) | CPU s | rows/s | peak RSS |")
            lines.append("|---|---|---|---|---|")
            local = statistics.median(s[0] for s in samples[engines[0]])
            for e in engines:
                wall = statistics.median(s[0] for s in samples[e])
                cpu = statistics.median(s[1] for s in samples[e])
                rss = max(s[2] for s in samples[e])
                lines.append(f"| {e} | {wall:.2f} s ({wall / local:.2f}×) | {cpu:.2f} | "
                             f"{rows / wall / 1e6:.1f} M | {rss:.0f} MB |")
    finally:
        if cluster:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)
    import polars
    header = (f"# tickflow vs DuckDB and Polars\n\nWritten by `benches/compare/run.sh --rows {opt.rows} "
              f"--runs {opt.runs}` on {time.strftime('%Y-%m-%d')}: {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores; DuckDB {duckdb.__version__}, Polars {polars.__version__}. "
              f"Median of {opt.runs} alternating runs after one unmeasured run per engine; every engine's "
              f"bars were checked equal to tickflow's first. The cluster row is the client process "
              f"(the executors' CPU and memory are not in it). Layouts: `tape` is `tickflow gen`'s output "
              f"(each day one file in time order across symbols); `ordered` is the same rows sorted by "
              f"(symbol, ts) per date, which tickflow is told with `WITH ORDER (symbol ASC, ts ASC)` "
              f"as `tickflow ingest` registers its output (DuckDB and Polars read the same files).\n")
    text = header + "\n".join(lines) + "\n"
    print(text)
    Path(opt.results).write_text(text)

if __name__ == "__main__":
    main()
