//! On the cluster, a sorted aggregation whose result goes to one place anyway is finished
//! after an order-preserving merge, in the task that takes the result, instead of after a hash
//! shuffle.
//!
//! `COPY (SELECT .. GROUP BY symbol, bar) TO 'bars.parquet'` writes one file, so every bar passes
//! through one task at the end. DataFusion plans the aggregation in two steps joined by a hash
//! repartition: partial states per file, then the final aggregation spread over the
//! partitions, then a merge into the writer. Ballista turns each of those joins into a shuffle
//! and a stage: the partial states are shuffled once, and the finished bars are shuffled again
//! to reach the writer. When the partial states are sorted by the group keys (a table declared
//! `WITH ORDER (symbol, ts)`), the final aggregation can instead run over a merge of the partial
//! states, in the writer's task, streaming, with memory bounded by one group: one shuffle (of
//! the partial states, as the map tasks wrote them) and two stages instead of three
//! (benches/RESULTS.md has what that saves).
//!
//! [`FinalAfterMerge`] makes that rewrite where a `SortPreservingMergeExec` or
//! `CoalescePartitionsExec` without a limit takes the output of projections and filters over a
//! `FinalPartitioned` aggregation, whose input is a hash repartition of a partial aggregation
//! sorted by its keys, and where the merged plan still has the order the merge promised. Locally
//! it is not used: there the partitions of the final aggregation run side by side with the
//! writer, and no shuffle costs anything.
//!
//! ```sql
//! -- cluster EXPLAIN: DataSinkExec ← ProjectionExec ← SortedAggregateExec mode=FinalPartitioned
//! --   ← SortPreservingMergeExec ← SortedAggregateExec mode=Partial ← DataSourceExec
//! EXPLAIN COPY (SELECT symbol, time_bucket(INTERVAL '1 minute', ts) AS bar, vwap(price, size)
//!   FROM trades GROUP BY 1, 2) TO 'bars.parquet';
//! ```

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::{
    ExecutionPlan, ExecutionPlanProperties, InputOrderMode, Partitioning,
};

use tickflow_plan::{replace_nodes, sorted_aggregate::SortedAggregateExec};

/// Finishes a sorted aggregation after an order-preserving merge where its result is merged
/// into one partition anyway (see the [module docs](self)).
#[derive(Debug, Default)]
pub struct FinalAfterMerge;

impl PhysicalOptimizerRule for FinalAfterMerge {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        replace_nodes(plan, |node| {
            let (input, order) = if let Some(merge) = node.downcast_ref::<SortPreservingMergeExec>()
            {
                if merge.fetch().is_some() {
                    return Ok(None);
                }
                (merge.input(), Some(merge.expr()))
            } else if let Some(coalesce) = node.downcast_ref::<CoalescePartitionsExec>() {
                if coalesce.fetch().is_some() {
                    return Ok(None);
                }
                (coalesce.input(), None)
            } else {
                return Ok(None);
            };
            let Some(gathered) = final_after_merge(input)? else {
                return Ok(None);
            };
            if let Some(order) = order
                && !gathered
                    .equivalence_properties()
                    .ordering_satisfy(order.clone())?
            {
                return Ok(None);
            }
            Ok(Some(gathered))
        })
    }

    fn name(&self) -> &str {
        "final_after_merge"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `plan` — projections and filters over a `FinalPartitioned` aggregation fed by a hash
/// repartition of a partial aggregation sorted by its keys — rebuilt as one partition whose
/// final aggregation streams over a merge of the partial states; `None` for any other plan.
fn final_after_merge(plan: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    if plan.downcast_ref::<ProjectionExec>().is_some()
        || plan.downcast_ref::<FilterExec>().is_some()
    {
        let [input] = plan.children()[..] else {
            return Ok(None);
        };
        return match final_after_merge(input)? {
            Some(input) => Ok(Some(over(plan, input)?)),
            None => Ok(None),
        };
    }
    let Some(agg) = aggregate(plan) else {
        return Ok(None);
    };
    if *agg.mode() != AggregateMode::FinalPartitioned {
        return Ok(None);
    }
    let mut below = agg.input();
    if let Some(sort) = below.downcast_ref::<SortExec>()
        && sort.preserve_partitioning()
    {
        below = sort.input();
    }
    let Some(repartition) = below.downcast_ref::<RepartitionExec>() else {
        return Ok(None);
    };
    let partial = repartition.input();
    let is_partial = aggregate(partial).is_some_and(|p| *p.mode() == AggregateMode::Partial);
    let (true, Partitioning::Hash(..), Some(order)) = (
        is_partial,
        repartition.partitioning(),
        partial.output_ordering(),
    ) else {
        return Ok(None);
    };
    let merged = SortPreservingMergeExec::new(order.clone(), Arc::clone(partial));
    let finished = over(plan, Arc::new(merged))?;
    let streams =
        aggregate(&finished).is_some_and(|f| *f.input_order_mode() == InputOrderMode::Sorted);
    Ok(streams.then_some(finished))
}

/// The aggregation `plan` is, hashing or (tickflow's) sorted.
fn aggregate(plan: &Arc<dyn ExecutionPlan>) -> Option<&AggregateExec> {
    plan.downcast_ref::<AggregateExec>().or_else(|| {
        plan.downcast_ref::<SortedAggregateExec>()
            .map(|sorted| sorted.aggregate().as_ref())
    })
}

/// `plan` over `input` instead of its one child, its properties recomputed.
fn over(
    plan: &Arc<dyn ExecutionPlan>,
    input: Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn ExecutionPlan>> {
    Arc::clone(plan).replace_children(
        vec![input],
        ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_tables::{local, sorted_table};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::physical_plan::{collect, displayable};
    use datafusion::prelude::SessionContext;

    async fn plan(ctx: &SessionContext, sql: &str) -> Result<Arc<dyn ExecutionPlan>> {
        ctx.sql(sql).await?.create_physical_plan().await
    }

    fn text(plan: &Arc<dyn ExecutionPlan>) -> String {
        displayable(plan.as_ref()).indent(false).to_string()
    }

    /// Over a sorted table, the grouped result merged into one partition is finished after
    /// the merge: no hash repartition is left, and the rows come back the same, in order.
    #[tokio::test]
    async fn a_sorted_aggregation_is_finished_after_the_merge() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let ctx = local(3)?;
        let files = [
            "('A', 1, 10), ('A', 2, 5), ('B', 1, 7), ('C', 4, 1)",
            "('A', 1, 2), ('B', 1, 1), ('C', 3, 1)",
            "('A', 2, 3), ('D', 9, 9)",
        ];
        sorted_table(&ctx, dir.path(), "sym, minute, size", "sym, minute", &files).await?;
        let sql = "SELECT sym, minute, sum(size) * 2 AS v, count(*) AS n FROM t \
                   GROUP BY 1, 2 HAVING count(*) > 0 ORDER BY 1, 2";
        let before = plan(&ctx, sql).await?;
        assert!(
            text(&before).contains("mode=FinalPartitioned"),
            "{}",
            text(&before)
        );
        assert!(text(&before).contains("RepartitionExec: partitioning=Hash"));

        let after = FinalAfterMerge.optimize(plan(&ctx, sql).await?, &ConfigOptions::new())?;
        let shown = text(&after);
        assert!(!shown.contains("RepartitionExec"), "{shown}");
        let merge = shown.find("SortPreservingMergeExec").expect(&shown);
        let partial = shown.find("mode=Partial").expect(&shown);
        assert!(shown.find("mode=FinalPartitioned").expect(&shown) < merge && merge < partial);
        assert_eq!(after.output_partitioning().partition_count(), 1);

        let expected = pretty_format_batches(&collect(before, ctx.task_ctx()).await?)?.to_string();
        let actual = pretty_format_batches(&collect(after, ctx.task_ctx()).await?)?.to_string();
        assert_eq!(actual, expected);
        assert!(expected.contains("| A   | 1      | 24 | 2 |"), "{expected}");
        Ok(())
    }

    /// A merge with a limit, and an aggregation over unsorted input (whose final step would
    /// have to hash every group in one task), keep their plans.
    #[tokio::test]
    async fn other_plans_are_left_alone() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let ctx = local(3)?;
        let files = ["('A', 1, 10), ('B', 1, 7)", "('A', 1, 2), ('C', 3, 1)"];
        sorted_table(&ctx, dir.path(), "sym, minute, size", "sym, minute", &files).await?;
        for sql in [
            "SELECT sym, minute, sum(size) FROM t GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 2",
            "SELECT size, count(*) FROM t GROUP BY 1 ORDER BY 1",
        ] {
            let before = text(&plan(&ctx, sql).await?);
            assert!(
                before.contains("RepartitionExec: partitioning=Hash"),
                "{before}"
            );
            let after = FinalAfterMerge.optimize(plan(&ctx, sql).await?, &ConfigOptions::new())?;
            assert_eq!(text(&after), before, "{sql}");
        }
        Ok(())
    }
}
