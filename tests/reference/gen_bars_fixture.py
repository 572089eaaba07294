#!/usr/bin/env python3
"""Generate the pandas reference fixture for `sql/01_bars.sql`.

    pip install pandas
    python3 tests/reference/gen_bars_fixture.py

writes, next to this script:

  bars_fixture/trades_20240102.csv, bars_fixture/trades_20240103.csv
      TAQ-style trades (header date,time,symbol,price,size,exchange,conditions,seq),
      time local America/New_York HH:MM:SS.ffffff within 09:30-16:00, 3 symbols,
      prices with 2 decimals, rows in time order, bursts of trades sharing a timestamp.
  bars_expected.csv
      1-minute bars computed by pandas, which crates/tickflow-cli/tests/pipeline_pandas.rs
      checks `tickflow ingest` + `sql/01_bars.sql` against. It sits outside bars_fixture/
      so that `tickflow ingest bars_fixture` does not read it as trades.

Deterministic: every random choice comes from random.Random(20240102), so a rerun
gives byte-identical files.

Expected columns: ticker,start,open,high,low,close,volume,vwap,std,activity_count
  start   bar start, UTC, ISO 8601 with a Z (2024-01-02T14:30:00Z)
  open/high/low/close
          df.set_index('ts').groupby('symbol')['price'].resample('1min').ohlc(), empty
          minutes dropped; open/close follow row order among equal timestamps, i.e. file
          order, which tickflow keeps in `seq`
  volume  sum(size)
  vwap    sum(price*size)/sum(size), float64 written with repr
  std     sample standard deviation (ddof=1); empty for a one-trade bar (pandas NaN)
  activity_count  number of trades
"""

import os
import random

import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "bars_fixture")
EXPECTED = os.path.join(HERE, "bars_expected.csv")

DATES = ["2024-01-02", "2024-01-03"]
# symbol -> starting price in cents
SYMBOLS = {"AAPL": 18715, "MSFT": 37040, "XYZ": 1250}
ROWS_PER_DAY = 750
SESSION_START_US = (9 * 3600 + 30 * 60) * 1_000_000
SESSION_END_US = 16 * 3600 * 1_000_000  # exclusive
EXCHANGES = ["N", "Q", "P", "D", "Z", "V"]
CONDITIONS = ["@", "@", "@", "@F", "@I", "@ TI"]


def fmt_time(us):
    s, f = divmod(us, 1_000_000)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{h:02d}:{m:02d}:{s:02d}.{f:06d}"


def fmt_price(cents):
    return f"{cents // 100}.{cents % 100:02d}"


def gen_day(rng, date):
    """Rows (time_us, symbol, cents, size, exchange, conditions) in time order."""
    rows = []
    last = dict(SYMBOLS)
    # Fixed edge instants: the first and last microsecond of the session and minute
    # boundaries.
    edges = [SESSION_START_US, SESSION_END_US - 1, SESSION_START_US + 60_000_000,
             SESSION_START_US + 3_600_000_000 - 1]
    times = edges + [rng.randrange(SESSION_START_US, SESSION_END_US)
                     for _ in range(ROWS_PER_DAY // 3)]
    # Cluster most trades into a few busy minutes so bars have many trades, and leave
    # others with exactly one.
    busy = [rng.randrange(SESSION_START_US // 60_000_000, SESSION_END_US // 60_000_000)
            for _ in range(6)]
    while len(times) < ROWS_PER_DAY - 150:
        minute = rng.choice(busy)
        times.append(minute * 60_000_000 + rng.randrange(60_000_000))
    times.sort()
    for t in times:
        # A burst: 1..4 trades with the same timestamp, same or different symbols.
        burst = 1 if rng.random() < 0.75 else rng.randint(2, 4)
        for _ in range(burst):
            sym = rng.choice(sorted(SYMBOLS))
            step = rng.choice([-3, -2, -1, 0, 0, 1, 2, 3])
            last[sym] = max(100, last[sym] + step)
            size = rng.choice([1, 10, 50, 100, 100, 100, 200, 300, 500, 1000, 37])
            rows.append((t, sym, last[sym], size, rng.choice(EXCHANGES),
                         rng.choice(CONDITIONS)))
    return rows


def main():
    rng = random.Random(20240102)
    os.makedirs(FIXTURE, exist_ok=True)
    frames = []
    for date in DATES:
        rows = gen_day(rng, date)
        path = os.path.join(FIXTURE, f"trades_{date.replace('-', '')}.csv")
        with open(path, "w", newline="") as f:
            f.write("date,time,symbol,price,size,exchange,conditions,seq\n")
            for i, (t, sym, cents, size, ex, cond) in enumerate(rows, start=1):
                f.write(f"{date},{fmt_time(t)},{sym},{fmt_price(cents)},{size},{ex},{cond},{i}\n")
        # Read back what was written, as tickflow will.
        frames.append(pd.read_csv(path, dtype={"time": str, "conditions": str}))
        print(f"wrote {len(rows)} rows to {os.path.relpath(path, HERE)}")

    df = pd.concat(frames, ignore_index=True)
    df["ts"] = (pd.to_datetime(df["date"] + " " + df["time"], format="%Y-%m-%d %H:%M:%S.%f")
                .dt.tz_localize("America/New_York").dt.tz_convert("UTC"))
    # Files are in time order and dates ascend, so file order is time order; resample
    # then keeps file order among equal timestamps.
    assert df["ts"].is_monotonic_increasing
    df["pv"] = df["price"] * df["size"]

    g = df.set_index("ts").groupby("symbol")
    bars = g["price"].resample("1min").ohlc()
    bars["volume"] = g["size"].resample("1min").sum()
    bars["pv"] = g["pv"].resample("1min").sum()
    bars["std"] = g["price"].resample("1min").std(ddof=1)
    bars["activity_count"] = g["price"].resample("1min").count()
    bars = bars[bars["activity_count"] > 0].copy()
    bars["vwap"] = bars["pv"] / bars["volume"]
    bars = bars.reset_index().rename(columns={"symbol": "ticker", "ts": "start"})
    bars = bars.sort_values(["ticker", "start"], kind="mergesort")

    with open(EXPECTED, "w", newline="") as f:
        f.write("ticker,start,open,high,low,close,volume,vwap,std,activity_count\n")
        for r in bars.itertuples(index=False):
            std = "" if pd.isna(r.std) else repr(float(r.std))
            f.write(f"{r.ticker},{r.start.strftime('%Y-%m-%dT%H:%M:%SZ')},"
                    f"{r.open:.2f},{r.high:.2f},{r.low:.2f},{r.close:.2f},"
                    f"{int(r.volume)},{repr(float(r.vwap))},{std},{int(r.activity_count)}\n")
    single = int((bars["activity_count"] == 1).sum())
    print(f"wrote {len(bars)} bars ({single} with one trade) to {os.path.relpath(EXPECTED, HERE)}")


if __name__ == "__main__":
    main()
