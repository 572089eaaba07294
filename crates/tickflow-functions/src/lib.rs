//! tickflow's SQL functions for market tick data, as a plain [DataFusion] extension.
//!
//! | function | kind | what it computes |
//! |---|---|---|
//! | `ohlc(ts, price [, seq])` | aggregate | `{open, high, low, close}` of a bar |
//! | `vwap(price, volume)` | aggregate | Σ(price·volume) / Σvolume, exact for decimals |
//! | `bar_std(price)` | aggregate | sample standard deviation (n − 1) |
//! | `total_volume(volume)` | aggregate | Σvolume, overflow is an error |
//! | `time_bucket(width, ts [, origin \| timezone])` | scalar | bucket start of `ts` |
//! | `time_buckets(width, start, end [, origin \| timezone])` | scalar | every bucket meeting `[start, end)`, as a list |
//! | `time_bucket(width, start, end [, origin \| timezone])` | table | the same buckets as rows `(bucket_start, bucket_end)` |
//! | `locf(value)` | window | the last non-NULL value so far (fills empty bars) |
//! | `is_trading_day(date [, calendar])` | scalar | whether the exchange trades that day |
//! | `in_session(ts [, calendar])` | scalar | whether `ts` is in a regular session |
//! | `session_open(date [, calendar])`, `session_close(..)` | scalar | the session's open, close |
//! | `trading_days(start, end [, calendar])` | table | `(day, open, close)` per trading day |
//! | `session_buckets(width, start, end [, calendar])` | table | the buckets of the sessions only |
//! | `ema(value, n)` | window | exponential moving average (span or alpha) |
//! | `rsi(value, n)` | window | Wilder's relative strength index |
//! | `macd(value [, fast, slow, signal])` | window | `{line, signal, histogram}` |
//! | `bollinger(value, n, k)` | window | `{mid, upper, lower}` bands |
//! | `atr(high, low, close, n)` | window | Wilder's average true range |
//! | `realized_volatility(r, n)` | window | `sqrt(Σ r²)` over the last `n` returns |
//! | `interpolate(time, value)` | window | a NULL value linear in time between its non-NULL neighbours |
//! | `time_bucket_gapfill(width, ts [, ..])` with `locf(agg)`, `interpolate(agg)` | GROUP BY key | every bucket of the WHERE range, empty ones filled ([`gap_fill`]) |
//!
//! Register them all on a context and write bars in SQL:
//!
//! ```
//! # use datafusion::prelude::*;
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> datafusion::common::Result<()> {
//! let ctx = SessionContext::new();
//! tickflow_functions::register_all(&ctx)?;
//! ctx.sql("CREATE TABLE trades (ts TIMESTAMP, price DOUBLE, size BIGINT) AS VALUES
//!     ('2024-01-02T09:30:01', 10.0, 100), ('2024-01-02T09:30:40', 10.5, 300)").await?;
//! let bars = ctx.sql("SELECT time_bucket(INTERVAL '1 minute', ts) AS bucket,
//!     ohlc(ts, price) AS bar, vwap(price, size) AS vwap, total_volume(size) AS volume
//!     FROM trades GROUP BY 1").await?.collect().await?;
//! assert_eq!(bars[0].num_rows(), 1);
//! # Ok(()) }
//! ```
//!
//! [DataFusion]: https://datafusion.apache.org

use std::sync::Arc;

use datafusion::catalog::TableFunctionImpl;
use datafusion::common::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion::prelude::SessionContext;

mod accumulate;
mod args;
mod bucket;
mod compensated;
pub mod docs;
mod smoothing;
#[cfg(test)]
mod test_util;

pub mod atr;
pub mod bar_std;
pub mod bollinger;
pub mod calendar;
pub mod ema;
pub mod gap_fill;
pub mod in_session;
pub mod interpolate;
pub mod is_trading_day;
pub mod locf;
pub mod macd;
pub mod ohlc;
pub mod realized_volatility;
pub mod rsi;
pub mod session_buckets;
pub mod session_close;
pub mod session_open;
pub mod time_bucket;
pub mod time_bucket_gapfill;
pub mod time_bucket_table;
pub mod time_buckets;
pub mod total_volume;
pub mod trading_days;
pub mod vwap;

/// `ohlc` as an [`AggregateUDF`].
pub fn ohlc_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(ohlc::Ohlc::new()))
}

/// `vwap` as an [`AggregateUDF`].
pub fn vwap_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(vwap::Vwap::new()))
}

/// `bar_std` as an [`AggregateUDF`].
pub fn bar_std_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(bar_std::BarStd::new()))
}

/// `total_volume` as an [`AggregateUDF`].
pub fn total_volume_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(total_volume::TotalVolume::new()))
}

/// The scalar `time_bucket` as a [`ScalarUDF`].
pub fn time_bucket_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(time_bucket::TimeBucket::new()))
}

/// The `time_bucket_gapfill` placeholder as a [`ScalarUDF`] (see [`gap_fill`]).
pub fn time_bucket_gapfill_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(
        time_bucket_gapfill::TimeBucketGapfill::new(),
    ))
}

/// `time_buckets` (the list of buckets meeting a range) as a [`ScalarUDF`].
pub fn time_buckets_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(time_buckets::TimeBuckets::new()))
}

/// `locf` (last observation carried forward) as a [`WindowUDF`].
pub fn locf_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(locf::Locf::new()))
}

/// `interpolate` (linear in time between the neighbouring values) as a [`WindowUDF`].
pub fn interpolate_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(interpolate::Interpolate::new()))
}

/// `ema` (exponential moving average) as a [`WindowUDF`].
pub fn ema_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(ema::Ema::new()))
}

/// `rsi` (Wilder's relative strength index) as a [`WindowUDF`].
pub fn rsi_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(rsi::Rsi::new()))
}

/// `macd` (line, signal and histogram) as a [`WindowUDF`].
pub fn macd_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(macd::Macd::new()))
}

/// `bollinger` (mid, upper and lower bands) as a [`WindowUDF`].
pub fn bollinger_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(bollinger::Bollinger::new()))
}

/// `atr` (Wilder's average true range) as a [`WindowUDF`].
pub fn atr_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(atr::Atr::new()))
}

/// `realized_volatility` (root of the summed squared returns) as a [`WindowUDF`].
pub fn realized_volatility_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(
        realized_volatility::RealizedVolatility::new(),
    ))
}

/// Every window function of this crate.
pub fn all_udwfs() -> Vec<Arc<WindowUDF>> {
    vec![
        locf_udwf(),
        interpolate_udwf(),
        ema_udwf(),
        rsi_udwf(),
        macd_udwf(),
        bollinger_udwf(),
        atr_udwf(),
        realized_volatility_udwf(),
    ]
}

/// Every aggregate function of this crate.
pub fn all_udafs() -> Vec<Arc<AggregateUDF>> {
    vec![
        ohlc_udaf(),
        vwap_udaf(),
        bar_std_udaf(),
        total_volume_udaf(),
    ]
}

/// `is_trading_day` as a [`ScalarUDF`].
pub fn is_trading_day_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(is_trading_day::IsTradingDay::new()))
}

/// `in_session` as a [`ScalarUDF`].
pub fn in_session_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(in_session::InSession::new()))
}

/// `session_open` as a [`ScalarUDF`].
pub fn session_open_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(calendar::SessionBoundary::new(
        calendar::Bound::Open,
    )))
}

/// `session_close` as a [`ScalarUDF`].
pub fn session_close_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(calendar::SessionBoundary::new(
        calendar::Bound::Close,
    )))
}

/// Every scalar function of this crate.
pub fn all_udfs() -> Vec<Arc<ScalarUDF>> {
    vec![
        time_bucket_udf(),
        time_bucket_gapfill_udf(),
        time_buckets_udf(),
        is_trading_day_udf(),
        in_session_udf(),
        session_open_udf(),
        session_close_udf(),
    ]
}

/// Every table function of this crate, with its SQL name.
pub fn all_table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    vec![
        (
            time_bucket_table::NAME,
            Arc::new(time_bucket_table::TimeBucketTable) as Arc<dyn TableFunctionImpl>,
        ),
        (
            trading_days::NAME,
            Arc::new(trading_days::TradingDays) as Arc<dyn TableFunctionImpl>,
        ),
        (
            session_buckets::NAME,
            Arc::new(session_buckets::SessionBuckets) as Arc<dyn TableFunctionImpl>,
        ),
    ]
}

/// Registers the scalar, aggregate and window functions in any [`FunctionRegistry`] — a `SessionState`,
/// or a Ballista executor's registry. Table functions are not part of that trait: see
/// [`register_all`] or [`all_table_functions`].
pub fn register_functions(registry: &mut dyn FunctionRegistry) -> Result<()> {
    for udf in all_udfs() {
        registry.register_udf(udf)?;
    }
    for udaf in all_udafs() {
        registry.register_udaf(udaf)?;
    }
    for udwf in all_udwfs() {
        registry.register_udwf(udwf)?;
    }
    gap_fill::register(registry)
}

/// Registers every tickflow function — scalar, aggregate, window and table — on a
/// [`SessionContext`], with the gap-fill analyzer rule. Gap-filled queries also need the
/// session's query planner to plan `GapFill` nodes: build the session with
/// [`gap_fill::with_gap_fill`].
pub fn register_all(ctx: &SessionContext) -> Result<()> {
    for udf in all_udfs() {
        ctx.register_udf(Arc::unwrap_or_clone(udf));
    }
    for udaf in all_udafs() {
        ctx.register_udaf(Arc::unwrap_or_clone(udaf));
    }
    for udwf in all_udwfs() {
        ctx.register_udwf(Arc::unwrap_or_clone(udwf));
    }
    for (name, function) in all_table_functions() {
        ctx.register_udtf(name, function);
    }
    gap_fill::register(&mut *ctx.state_ref().write())?;
    let rule = gap_fill::HandleGapFill;
    let has_rule = {
        use datafusion::optimizer::AnalyzerRule;
        ctx.state_ref()
            .read()
            .analyzer()
            .rules
            .iter()
            .any(|r| r.name() == rule.name())
    };
    if !has_rule {
        ctx.add_analyzer_rule(Arc::new(rule));
    }
    Ok(())
}

/// A new [`SessionContext`] with DataFusion's defaults, `config`, every tickflow function and gap
/// filling: the shortest way to use tickflow's SQL in an application.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> datafusion::common::Result<()> {
/// let ctx = tickflow_functions::session_context(datafusion::prelude::SessionConfig::new())?;
/// let rows = ctx.sql("SELECT time_bucket_gapfill(INTERVAL '1 hour', ts) AS hour, count(*) AS n
///     FROM (VALUES (TIMESTAMP '2024-01-02 10:15:00')) t(ts)
///     WHERE ts >= TIMESTAMP '2024-01-02 09:00:00' AND ts < TIMESTAMP '2024-01-02 12:00:00'
///     GROUP BY 1").await?.collect().await?;
/// assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 3);
/// # Ok(()) }
/// ```
pub fn session_context(config: datafusion::prelude::SessionConfig) -> Result<SessionContext> {
    let state = gap_fill::with_gap_fill(
        datafusion::execution::session_state::SessionStateBuilder::new()
            .with_default_features()
            .with_config(config),
    )
    .build();
    let ctx = SessionContext::new_with_state(state);
    register_all(&ctx)?;
    Ok(ctx)
}

/// Expression builders, for the DataFrame API: `df.aggregate(vec![col("symbol")], vec![vwap(col("price"), col("size"))])`.
pub mod expr_fn {
    use datafusion::logical_expr::Expr;

    /// `ohlc(ts, price)`
    pub fn ohlc(ts: Expr, price: Expr) -> Expr {
        super::ohlc_udaf().call(vec![ts, price])
    }

    /// `ohlc(ts, price, seq)`
    pub fn ohlc_with_seq(ts: Expr, price: Expr, seq: Expr) -> Expr {
        super::ohlc_udaf().call(vec![ts, price, seq])
    }

    /// `vwap(price, volume)`
    pub fn vwap(price: Expr, volume: Expr) -> Expr {
        super::vwap_udaf().call(vec![price, volume])
    }

    /// `bar_std(price)`
    pub fn bar_std(price: Expr) -> Expr {
        super::bar_std_udaf().call(vec![price])
    }

    /// `total_volume(volume)`
    pub fn total_volume(volume: Expr) -> Expr {
        super::total_volume_udaf().call(vec![volume])
    }

    /// `time_bucket(width, ts)`
    pub fn time_bucket(width: Expr, ts: Expr) -> Expr {
        super::time_bucket_udf().call(vec![width, ts])
    }

    /// `time_bucket(width, ts, origin_or_timezone)`
    pub fn time_bucket_with(width: Expr, ts: Expr, origin_or_timezone: Expr) -> Expr {
        super::time_bucket_udf().call(vec![width, ts, origin_or_timezone])
    }

    /// `time_buckets(width, start, end)`
    pub fn time_buckets(width: Expr, start: Expr, end: Expr) -> Expr {
        super::time_buckets_udf().call(vec![width, start, end])
    }
}
