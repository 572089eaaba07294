//! [`UseSortedAggregate`]: the physical rule that puts a [`SortedAggregateExec`] where the input
//! is sorted on the GROUP BY keys.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::AggregateExec;

use super::SortedAggregateExec;
use crate::replace_nodes;

/// Replaces each `AggregateExec` over input sorted by all its GROUP BY keys with a
/// [`SortedAggregateExec`]. Register it last, after DataFusion has settled the plan's
/// distribution and ordering.
#[derive(Debug, Default)]
pub struct UseSortedAggregate;

impl PhysicalOptimizerRule for UseSortedAggregate {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        replace_nodes(plan, |node| match node.downcast_ref::<AggregateExec>() {
            Some(agg) if SortedAggregateExec::supports(agg) => Ok(Some(Arc::new(
                SortedAggregateExec::try_new(Arc::new(agg.clone()))?,
            ))),
            _ => Ok(None),
        })
    }

    fn name(&self) -> &str {
        "use_sorted_aggregate"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
