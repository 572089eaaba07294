-- 04_analytics.sql: analytics on the prepared bars.
--   daily_returns: simple and log return of each day's close over the previous trading day's.
--   features: per bar of `filled`, the log return over the previous bar, the 20-bar moving
--   average of the close and the 20-bar rolling volatility (sample standard deviation of the
--   log returns). Warm-up: both are NULL until 20 bars (20 returns) are available, rather than
--   computed over fewer rows. Then tickflow's window functions: `ema20`, the 20-bar exponential
--   moving average (span 20, seeded with the first close, no warm-up), and `rsi14`, Wilder's
--   14-bar RSI (NULL for the first 14 bars). Bars without a price yet (before the first trade)
--   are skipped.
--
-- Input: tables `daily` (03_prepare.sql) and `filled` (02_fill.sql).
-- Output: tables `daily_returns` and `features`; prints the first features.
-- Parameters: limit.

CREATE OR REPLACE TABLE daily_returns AS
SELECT ticker, date, close,
       CAST(close AS DOUBLE) / CAST(lag(close) OVER w AS DOUBLE) - 1 AS simple_return,
       ln(CAST(close AS DOUBLE) / CAST(lag(close) OVER w AS DOUBLE)) AS log_return
FROM daily
WINDOW w AS (PARTITION BY ticker ORDER BY date);

CREATE OR REPLACE TABLE features AS
WITH r AS (
    SELECT ticker, date, start, CAST(close AS DOUBLE) AS close,
           ln(CAST(close AS DOUBLE) / CAST(lag(close) OVER (PARTITION BY ticker ORDER BY start) AS DOUBLE)) AS log_return
    FROM filled
    WHERE close IS NOT NULL
)
SELECT ticker, date, start, close, log_return,
       CASE WHEN count(close) OVER w = 20 THEN avg(close) OVER w END           AS ma,
       CASE WHEN count(log_return) OVER w = 20 THEN stddev(log_return) OVER w END AS volatility,
       ema(close, 20) OVER s AS ema20,
       rsi(close, 14) OVER s AS rsi14
FROM r
WINDOW w AS (PARTITION BY ticker ORDER BY start ROWS BETWEEN 19 PRECEDING AND CURRENT ROW),
       s AS (PARTITION BY ticker ORDER BY start);

SELECT * FROM features ORDER BY ticker, start LIMIT ${limit:-10};
