//! [`SortedAggregateExec`]: DataFusion's `AggregateExec`, executed as runs of equal keys.

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, internal_err};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{OrderingRequirements, PhysicalExpr};
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::execution_plan::{
    CardinalityEffect, ChildrenPropertiesMode, ReplaceChildrenOptions,
};
use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    ChildStats, DisplayAs, DisplayFormatType, ExecutionPlan, InputDistributionRequirements,
    InputOrderMode, PlanProperties, SendableRecordBatchStream, Statistics, StatisticsArgs,
};

use super::stream::SortedAggregateStream;

/// An `AggregateExec` whose input is sorted by all its GROUP BY keys, run without a hash table:
/// each run of equal keys is one group (see the [module docs](super)).
///
/// It keeps the `AggregateExec` it replaces, whose expressions, mode, schema and plan properties
/// it uses unchanged; it only executes differently. Given a new input that is no longer sorted by
/// the keys ([`ExecutionPlan::with_new_children`], e.g. when Ballista splits the plan into
/// stages), it turns back into that `AggregateExec`.
#[derive(Debug)]
pub struct SortedAggregateExec {
    agg: Arc<AggregateExec>,
    metrics: ExecutionPlanMetricsSet,
}

impl SortedAggregateExec {
    /// Whether `agg` can run as runs of equal keys: its input is sorted by every GROUP BY key,
    /// and it has keys, no grouping sets and no limit.
    pub fn supports(agg: &AggregateExec) -> bool {
        let group_by = agg.group_expr();
        *agg.input_order_mode() == InputOrderMode::Sorted
            && group_by.is_single()
            && !group_by.expr().is_empty()
            && agg.limit_options().is_none()
            && agg.dynamic_expressions_produced().is_empty()
    }

    /// Wraps `agg`, which must be [supported](Self::supports).
    pub fn try_new(agg: Arc<AggregateExec>) -> Result<Self> {
        if !Self::supports(&agg) {
            return internal_err!(
                "SortedAggregateExec needs an AggregateExec over input sorted by its keys"
            );
        }
        Ok(Self {
            agg,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The `AggregateExec` this node executes.
    pub fn aggregate(&self) -> &Arc<AggregateExec> {
        &self.agg
    }

    /// `agg` as a [`SortedAggregateExec`] when it is supported, else `agg` itself.
    pub fn or_aggregate(agg: Arc<AggregateExec>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(if Self::supports(&agg) {
            Arc::new(Self::try_new(agg)?)
        } else {
            agg
        })
    }
}

impl DisplayAs for SortedAggregateExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        crate::replace::fmt_wrapped(
            "SortedAggregateExec",
            "AggregateExec",
            self.agg.as_ref(),
            t,
            f,
        )
    }
}

impl ExecutionPlan for SortedAggregateExec {
    fn name(&self) -> &str {
        "SortedAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.agg.properties()
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        self.agg.input_distribution_requirements()
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        self.agg.required_input_ordering()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        self.agg.maintains_input_order()
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        self.agg.benefits_from_input_partitioning()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.agg.children()
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let agg = Arc::clone(&self.agg).replace_children(children, options)?;
        match agg.downcast_ref::<AggregateExec>() {
            Some(agg) => Self::or_aggregate(Arc::new(agg.clone())),
            None => internal_err!("AggregateExec::replace_children returned {}", agg.name()),
        }
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.agg.apply_expressions(f)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.agg.input().execute(partition, Arc::clone(&context))?;
        let stream =
            SortedAggregateStream::try_new(&self.agg, input, &context, &self.metrics, partition)?;
        Ok(Box::pin(stream))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        self.agg.child_stats_requests(partition)
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        self.agg.statistics_from_inputs(input_stats, args)
    }

    fn cardinality_effect(&self) -> CardinalityEffect {
        self.agg.cardinality_effect()
    }
}
