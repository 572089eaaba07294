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
//!
//! Gap filling (`time_bucket_gapfill` with `locf(agg)` and `interpolate(agg)`) is a plan
//! extension, in the `tickflow-plan` crate. The map of the whole project is `ARCHITECTURE.md`.
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

pub mod aggregate;
pub mod args;
pub mod calendar;
pub mod docs;
#[cfg(test)]
mod test_util;
pub mod time;
pub mod window;

pub use aggregate::{bar_std_udaf, ohlc_udaf, total_volume_udaf, vwap_udaf};
pub use calendar::{in_session_udf, is_trading_day_udf, session_close_udf, session_open_udf};
pub use time::{time_bucket_udf, time_buckets_udf};
pub use window::{
    atr_udwf, bollinger_udwf, ema_udwf, interpolate_udwf, locf_udwf, macd_udwf,
    realized_volatility_udwf, rsi_udwf,
};

/// Every aggregate function of this crate.
pub fn all_udafs() -> Vec<Arc<AggregateUDF>> {
    aggregate::udafs()
}

/// Every scalar function of this crate.
pub fn all_udfs() -> Vec<Arc<ScalarUDF>> {
    let mut udfs = time::udfs();
    udfs.extend(calendar::udfs());
    udfs
}

/// Every window function of this crate.
pub fn all_udwfs() -> Vec<Arc<WindowUDF>> {
    window::udwfs()
}

/// Every table function of this crate, with its SQL name.
pub fn all_table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    let mut functions = time::table_functions();
    functions.extend(calendar::table_functions());
    functions
}

/// Registers the scalar, aggregate and window functions in any [`FunctionRegistry`]: a
/// `SessionState`, or a Ballista executor's registry. Table functions are not part of that
/// trait: [`register_all`] registers them on a context.
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
    Ok(())
}

/// Registers every function of this crate (scalar, aggregate, window and table) on a
/// [`SessionContext`].
pub fn register_all(ctx: &SessionContext) -> Result<()> {
    register_functions(&mut *ctx.state_ref().write())?;
    for (name, function) in all_table_functions() {
        ctx.register_udtf(name, function);
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    /// DataFusion resolves a call by name: two functions of one kind with the same name (or
    /// alias) would shadow each other silently, whichever registered last.
    #[test]
    fn no_two_functions_share_a_name() {
        let mut seen = HashSet::new();
        let names = super::all_udfs()
            .iter()
            .flat_map(|f| [vec![f.name().to_string()], f.aliases().to_vec()].concat())
            .chain(
                super::all_udafs()
                    .iter()
                    .flat_map(|f| [vec![f.name().to_string()], f.aliases().to_vec()].concat()),
            )
            .chain(
                super::all_udwfs()
                    .iter()
                    .flat_map(|f| [vec![f.name().to_string()], f.aliases().to_vec()].concat()),
            )
            .chain(
                super::all_table_functions()
                    .into_iter()
                    .map(|(name, _)| format!("{name} (table)")),
            )
            .collect::<Vec<_>>();
        for name in names {
            assert!(seen.insert(name.clone()), "two functions are named {name}");
        }
        assert!(seen.len() >= 20, "{seen:?}");
    }
}
