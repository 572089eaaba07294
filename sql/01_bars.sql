-- 01_bars.sql: collect and summarize. Trades become one row per (ticker, bar) in the summary
-- schema of AWS FinSpace's time-bar library:
--   date, ticker, activity_count, std, vwap, volume, start, end, open, high, low, close
--
-- Input: table `trades` (symbol, ts, price, size, seq, date) as `tickflow ingest` writes it.
-- Output: table `bars`; prints its first rows.
--
-- Parameters (tickflow sql -f sql/01_bars.sql --param NAME=VALUE):
--   bar_width   bar length, any time_bucket width ('1 minute', '9 minutes', '1 hour')   default 1 minute
--   start_date  first trade date, YYYY-MM-DD, inclusive                                  default: all
--   end_date    end trade date, YYYY-MM-DD, exclusive                                    default: all
--   symbols     quoted tickers, e.g. --param "symbols='AAPL','MSFT'"                     default: all
--   limit       rows printed                                                             default 10
--
-- open/close come from ohlc(ts, price, seq): trades sharing a timestamp are ordered by `seq`,
-- the source order ingest preserved, so the result is the same however the data is split.

CREATE OR REPLACE TABLE bars AS
SELECT date, ticker, activity_count, std, vwap, volume,
       start, start + INTERVAL '${bar_width:-1 minute}' AS "end",
       bar['open'] AS open, bar['high'] AS high, bar['low'] AS low, bar['close'] AS close
FROM (
    SELECT CAST(date AS DATE)                                 AS date,
           symbol                                             AS ticker,
           time_bucket(INTERVAL '${bar_width:-1 minute}', ts) AS start,
           count(*)                                           AS activity_count,
           bar_std(price)                                     AS std,
           vwap(price, size)                                  AS vwap,
           total_volume(size)                                 AS volume,
           ohlc(ts, price, seq)                               AS bar
    FROM trades
    WHERE date >= '${start_date:-0000-01-01}' AND date < '${end_date:-9999-12-31}'
      AND symbol IN (${symbols:-SELECT DISTINCT symbol FROM trades})
    GROUP BY 1, 2, 3
);

SELECT * FROM bars ORDER BY ticker, start LIMIT ${limit:-10};
