-- 02_fill.sql: fill missing bars. Every bar of the exchange's regular session on every date
-- that has bars, for every ticker, LEFT JOIN the bars of 01_bars.sql. The sessions come from the
-- calendar (`calendar`, default XNYS: 09:30-16:00 America/New_York, 13:00 on early closes such as
-- 2019-11-29, none on holidays), so no bar is invented after an early close or on a holiday. An
-- empty bar is a flat candle at the last close before it (carried forward within the day with
-- `locf`): open = high = low = close = that close, volume 0, activity_count 0, vwap and std NULL.
-- Before a ticker's first trade of the day there is nothing to carry, and the prices stay NULL.
-- Bars outside the regular session are left out.
--
-- Input: table `bars` (01_bars.sql). Output: table `filled`; prints its first rows.
-- Parameters: bar_width (as in 01_bars.sql), calendar, limit.

CREATE OR REPLACE TABLE sessions AS
SELECT date,
       session_open(date, '${calendar:-XNYS}') AS open_at,
       session_close(date, '${calendar:-XNYS}') AS close_at
FROM (SELECT DISTINCT date FROM bars)
WHERE is_trading_day(date, '${calendar:-XNYS}');

CREATE OR REPLACE TABLE filled AS
WITH grid AS (
    SELECT s.date, t.ticker, s.slot['bucket_start'] AS start, s.slot['bucket_end'] AS "end"
    FROM (SELECT date, unnest(time_buckets(INTERVAL '${bar_width:-1 minute}', open_at, close_at)) AS slot
          FROM sessions) AS s
    CROSS JOIN (SELECT DISTINCT ticker FROM bars) AS t
),
joined AS (
    SELECT g.date, g.ticker, g.start, g."end",
           b.activity_count, b.std, b.vwap, b.volume, b.open, b.high, b.low, b.close,
           locf(b.close) OVER (PARTITION BY g.ticker, g.date ORDER BY g.start) AS carried_close
    FROM grid AS g
    LEFT JOIN bars AS b ON b.ticker = g.ticker AND b.start = g.start
)
SELECT date, ticker,
       coalesce(activity_count, 0) AS activity_count, std, vwap,
       coalesce(volume, 0)         AS volume,
       start, "end",
       coalesce(open, carried_close)  AS open,
       coalesce(high, carried_close)  AS high,
       coalesce(low, carried_close)   AS low,
       coalesce(close, carried_close) AS close
FROM joined;

SELECT * FROM filled ORDER BY ticker, start LIMIT ${limit:-10};
