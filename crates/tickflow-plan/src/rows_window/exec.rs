//! [`RowsWindowExec`]: DataFusion's `BoundedWindowAggExec`, with its ROWS frames computed by
//! the rows window's kernels.

use std::fmt;
use std::sync::Arc;

use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, internal_err};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{OrderingRequirements, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{
    CardinalityEffect, ChildrenPropertiesMode, ReplaceChildrenOptions,
};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::windows::BoundedWindowAggExec;
use datafusion::physical_plan::{
    ChildStats, DisplayAs, DisplayFormatType, ExecutionPlan, InputDistributionRequirements,
    InputOrderMode, PlanProperties, SendableRecordBatchStream, Statistics, StatisticsArgs,
};

use super::spec::KernelSpec;
use super::stream::RowsWindowStream;

/// A `BoundedWindowAggExec` whose every window expression is an aggregate over a ROWS frame
/// that the rows window computes (see the [module docs](super)), over input sorted by the
/// PARTITION BY keys (`mode=Sorted`).
///
/// It keeps the `BoundedWindowAggExec` it replaces, whose expressions, schema and plan
/// properties it uses unchanged; it only executes differently. Given a new input on which the
/// window is no longer supported ([`ExecutionPlan::with_new_children`]), it turns back into
/// that `BoundedWindowAggExec`.
#[derive(Debug)]
pub struct RowsWindowExec {
    window: Arc<BoundedWindowAggExec>,
    specs: Vec<KernelSpec>,
    metrics: ExecutionPlanMetricsSet,
}

impl RowsWindowExec {
    /// The kernels of `window`'s expressions, if it runs on sorted partitions and the rows
    /// window computes every one of its expressions.
    fn specs(window: &BoundedWindowAggExec) -> Result<Option<Vec<KernelSpec>>> {
        if window.input_order_mode != InputOrderMode::Sorted
            || window.state_observer().is_some()
            || window.window_expr().is_empty()
        {
            return Ok(None);
        }
        let schema = window.input().schema();
        let partition_by = window.window_expr()[0].partition_by();
        let mut specs = Vec::with_capacity(window.window_expr().len());
        for expr in window.window_expr() {
            let same_partitions = expr.partition_by().len() == partition_by.len()
                && expr
                    .partition_by()
                    .iter()
                    .zip(partition_by)
                    .all(|(a, b)| a.eq(b));
            if !same_partitions {
                return Ok(None);
            }
            match KernelSpec::of(expr, &schema)? {
                Some(spec) => specs.push(spec),
                None => return Ok(None),
            }
        }
        Ok(Some(specs))
    }

    /// Whether the rows window computes `window`.
    pub fn supports(window: &BoundedWindowAggExec) -> bool {
        matches!(Self::specs(window), Ok(Some(_)))
    }

    /// Wraps `window`, which must be [supported](Self::supports).
    pub fn try_new(window: Arc<BoundedWindowAggExec>) -> Result<Self> {
        let Some(specs) = Self::specs(&window)? else {
            return internal_err!(
                "RowsWindowExec needs a sorted BoundedWindowAggExec of ROWS-frame aggregates"
            );
        };
        Ok(Self {
            window,
            specs,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// `window` as a [`RowsWindowExec`] when it is supported, else `window` itself.
    pub fn or_window(window: Arc<BoundedWindowAggExec>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(match Self::specs(&window)? {
            Some(specs) => Arc::new(Self {
                window,
                specs,
                metrics: ExecutionPlanMetricsSet::new(),
            }),
            None => window,
        })
    }

    /// The `BoundedWindowAggExec` this node executes.
    pub fn window(&self) -> &Arc<BoundedWindowAggExec> {
        &self.window
    }
}

impl DisplayAs for RowsWindowExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        crate::replace::fmt_wrapped(
            "RowsWindowExec",
            "BoundedWindowAggExec",
            self.window.as_ref(),
            t,
            f,
        )
    }
}

impl ExecutionPlan for RowsWindowExec {
    fn name(&self) -> &str {
        "RowsWindowExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.window.properties()
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        self.window.input_distribution_requirements()
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        self.window.required_input_ordering()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        self.window.maintains_input_order()
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        self.window.benefits_from_input_partitioning()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.window.children()
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let window = Arc::clone(&self.window).replace_children(children, options)?;
        match window.downcast_ref::<BoundedWindowAggExec>() {
            Some(window) => Self::or_window(Arc::new(window.clone())),
            None => internal_err!(
                "BoundedWindowAggExec::replace_children returned {}",
                window.name()
            ),
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
        self.window.apply_expressions(f)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.window.input().execute(partition, context)?;
        let partition_by = self.window.window_expr()[0].partition_by().to_vec();
        let stream = RowsWindowStream::try_new(
            input,
            self.window.schema(),
            partition_by,
            &self.specs,
            BaselineMetrics::new(&self.metrics, partition),
        )?;
        Ok(Box::pin(stream))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn child_stats_requests(&self, partition: Option<usize>) -> Vec<ChildStats> {
        self.window.child_stats_requests(partition)
    }

    fn statistics_from_inputs(
        &self,
        input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        self.window.statistics_from_inputs(input_stats, args)
    }

    fn cardinality_effect(&self) -> CardinalityEffect {
        self.window.cardinality_effect()
    }
}
