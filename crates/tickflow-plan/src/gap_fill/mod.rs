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
//! - placeholders: [`TimeBucketGapfill`](super::placeholder::TimeBucketGapfill), and
//!   `locf`/`interpolate` without OVER ([`fill`]), which have no value of their own;
//! - [`rule::HandleGapFill`], an analyzer rule that rewrites the aggregation to `time_bucket` and
//!   puts a [`node::GapFill`] over it, reading the range from the WHERE clause ([`range`]);
//! - [`exec::GapFillExec`], which requires hash partitioning by the series keys and (series,
//!   bucket) order, so it stays right however the plan is partitioned; made by
//!   [`planner::GapFillPlanner`] and shipped to Ballista executors by tickflow-cluster's codecs.
//!
//! [`GapFillExtension`] is all of it as one [`PlanExtension`]: the placeholders, the rule and the
//! planner.

mod exec;
mod fill;
mod grid;
mod node;
pub mod placeholder;
mod planner;
mod range;
mod rule;

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::ScalarUDF;
use datafusion::optimizer::AnalyzerRule;
use datafusion::physical_planner::ExtensionPlanner;

use crate::PlanExtension;

pub use exec::{GapFillExec, GapFillParams};
pub use fill::FillKind;
pub use grid::GridSpec;
pub use node::{GapFill, GapFillShape};
pub use planner::GapFillPlanner;
pub use rule::HandleGapFill;

/// The `time_bucket_gapfill` placeholder as a [`ScalarUDF`].
pub fn time_bucket_gapfill_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(placeholder::TimeBucketGapfill::new()))
}

/// Gap filling as a plan extension: `time_bucket_gapfill`, the names `locf` and `interpolate`
/// for calls without OVER (and the expression planner that tells the two forms apart), the
/// [`HandleGapFill`] rule and the [`GapFillPlanner`].
#[derive(Debug, Default)]
pub struct GapFillExtension;

impl PlanExtension for GapFillExtension {
    fn name(&self) -> &'static str {
        "gap_fill"
    }

    fn register(&self, registry: &mut dyn FunctionRegistry) -> Result<()> {
        registry.register_udf(time_bucket_gapfill_udf())?;
        for name in fill::fill_names() {
            registry.register_udaf(name)?;
        }
        registry.register_expr_planner(Arc::new(fill::GapFillExprPlanner))
    }

    fn analyzer_rules(&self) -> Vec<Arc<dyn AnalyzerRule + Send + Sync>> {
        vec![Arc::new(HandleGapFill)]
    }

    fn planners(&self) -> Vec<Arc<dyn ExtensionPlanner + Send + Sync>> {
        vec![Arc::new(GapFillPlanner)]
    }
}

#[cfg(test)]
mod tests;
