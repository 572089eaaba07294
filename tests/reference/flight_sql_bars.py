"""Runs tickflow SQL through Arrow Flight SQL (Python ADBC) against a tickflow-scheduler.

Usage: python flight_sql_bars.py grpc://127.0.0.1:PORT
Prints one JSON object per query result (list of rows) on stdout; the Rust test checks them.
"""
import json
import sys

import adbc_driver_flightsql.dbapi as flight_sql

QUERIES = [
    # ohlc, vwap and total_volume on trades given inline: open/close by (ts, seq).
    """
    SELECT time_bucket(INTERVAL '1 minute', ts) AS bar,
           ohlc(ts, price, seq)['open']  AS open,
           ohlc(ts, price, seq)['high']  AS high,
           ohlc(ts, price, seq)['low']   AS low,
           ohlc(ts, price, seq)['close'] AS close,
           vwap(price, size)             AS vwap,
           total_volume(size)            AS volume
    FROM (VALUES
        (TIMESTAMP '2024-01-02 09:30:05', 10.0, 100, 1),
        (TIMESTAMP '2024-01-02 09:30:40', 12.0, 300, 2),
        (TIMESTAMP '2024-01-02 09:30:40', 11.0, 100, 3),
        (TIMESTAMP '2024-01-02 09:31:10', 13.0, 200, 4)
    ) t(ts, price, size, seq)
    GROUP BY 1 ORDER BY 1
    """,
    # The time_bucket table function: the bucket grid of a New York trading day, 1 hour wide.
    """
    SELECT count(*) AS buckets,
           CAST(min(bucket_start) AS VARCHAR) AS first,
           CAST(max(bucket_end) AS VARCHAR) AS last
    FROM time_bucket('1 hour', TIMESTAMP '2024-01-02 09:00:00', TIMESTAMP '2024-01-02 16:00:00')
    """,
]


def main() -> None:
    uri = sys.argv[1]
    with flight_sql.connect(uri) as conn:
        for sql in QUERIES:
            with conn.cursor() as cur:
                cur.execute(sql)
                rows = [[str(v) for v in row] for row in cur.fetchall()]
                print(json.dumps(rows))


if __name__ == "__main__":
    main()
