//! Gap filling the way TimescaleDB and InfluxDB 3 do it: `time_bucket_gapfill` as a GROUP BY key,
//! `locf(agg)` and `interpolate(agg)` in the SELECT list, the time range from the WHERE clause.
//!
//! ```sql
//! SELECT symbol,
//!        time_bucket_gapfill(INTERVAL '1 minute', ts, 'XNYS') AS minute,
//!        coalesce(first_value(price ORDER BY ts), locf(last_value(price ORDER BY ts))) AS open,
//!        locf(last_value(price ORDER BY ts)) AS close,
//!        coalesce(total_volume(size), 0) AS volume
//! FROM trades
//! WHERE ts >= TIMESTAMP '2019-11-29 00:00:00' AND ts < TIMESTAMP '2019-11-30 00:00:00'
//! GROUP BY symbol, minute
//! ```
//!
//! The pieces, as InfluxDB 3 builds it:
//! - placeholders: [`TimeBucketGapfill`](crate::time_bucket_gapfill::TimeBucketGapfill), and
//!   `locf`/`interpolate` without OVER ([`fill`]), which have no value of their own;
//! - [`rule::HandleGapFill`], an analyzer rule that rewrites the aggregation to `time_bucket` and
//!   puts a [`node::GapFill`] over it, reading the range from the WHERE clause ([`range`]);
//! - [`exec::GapFillExec`], which requires hash partitioning by the series keys and (series,
//!   bucket) order, so it stays right however the plan is partitioned; made by
//!   [`planner::GapFillPlanner`] and shipped to Ballista executors by tickflow-engine's codecs.
//!
//! A session needs the rule and the planner: [`with_gap_fill`] adds both to a session being
//! built; [`crate::register_all`] adds the functions and the rule to a context.

pub mod exec;
pub mod fill;
pub mod grid;
pub mod node;
pub mod planner;
pub mod range;
pub mod rule;

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::execution::session_state::SessionStateBuilder;

pub use exec::{GapFillExec, GapFillParams};
pub use fill::FillKind;
pub use node::{GapFill, GapFillShape};
pub use planner::{GapFillPlanner, GapFillQueryPlanner};
pub use rule::HandleGapFill;

/// `builder` with the gap-fill analyzer rule and a query planner that plans `GapFill` nodes.
pub fn with_gap_fill(builder: SessionStateBuilder) -> SessionStateBuilder {
    builder
        .with_analyzer_rule(Arc::new(HandleGapFill))
        .with_query_planner(Arc::new(GapFillQueryPlanner))
}

/// Registers the names `locf` and `interpolate` for calls without OVER, and the expression
/// planner that tells the two forms apart.
pub fn register(registry: &mut dyn FunctionRegistry) -> Result<()> {
    for name in fill::fill_names() {
        registry.register_udaf(name)?;
    }
    registry.register_expr_planner(Arc::new(fill::GapFillExprPlanner))
}

#[cfg(test)]
mod tests;
