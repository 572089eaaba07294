-- 03_prepare.sql: prepare. Daily bars from the filled session bars of 02_fill.sql (which only
-- hold regular trading hours, 09:30-16:00 America/New_York): open of the first bar, highest high,
-- lowest low, close of the last bar, total volume and trade count, and the day's vwap as the
-- volume-weighted average of the bars' vwaps. That sum is exact, but each bar's vwap was rounded
-- to 8 decimals in 01_bars.sql, so the day's vwap can differ from a trade-level vwap in the 8th
-- decimal.
--
-- Input: table `filled` (02_fill.sql). Output: table `daily`; prints its first rows.
-- Parameters: limit.

CREATE OR REPLACE TABLE daily AS
SELECT date, ticker,
       first_bar['open'] AS open, high, low, last_bar['close'] AS close,
       volume, activity_count, vwap
FROM (
    SELECT date, ticker,
           ohlc(start, open)       AS first_bar,
           ohlc(start, close)      AS last_bar,
           max(high)               AS high,
           min(low)                AS low,
           sum(volume)             AS volume,
           sum(activity_count)     AS activity_count,
           vwap(vwap, volume)      AS vwap
    FROM filled
    WHERE open IS NOT NULL
    GROUP BY date, ticker
);

SELECT * FROM daily ORDER BY ticker, date LIMIT ${limit:-10};
