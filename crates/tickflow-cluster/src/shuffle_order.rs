//! Ballista's shuffle does not keep an order: re-sort after it where the plan relied on one.
//!
//! On sorted input DataFusion joins two aggregation stages with an order-preserving hash
//! repartition (`RepartitionExec: .. preserve_order=true`), and the operators above it — the
//! final aggregation, a window function over the bars — are planned on that order, without a
//! sort of their own. Ballista cuts the plan into stages at that repartition, and its shuffle
//! reader concatenates the map tasks' outputs: the order is gone, but nothing above knows. A
//! window function then reads rows out of order and returns wrong values
//! (`tests/tests/cluster.rs` compares such windows with the local result).
//!
//! [`ResortAfterShuffle`] rewrites each order-preserving hash repartition into a plain one with
//! a [`ShuffleMergeExec`] of the same order above it, so the order the plan relies on is
//! re-established after the shuffle, in the consuming stage: by merging the map tasks' outputs,
//! each of which is sorted, or by a sort where they cannot be merged. It is a rule of the
//! cluster's planning sessions only; locally the repartition keeps the order itself.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, Partitioning};

use super::shuffle_merge::ShuffleMergeExec;

/// Replaces `RepartitionExec(Hash, preserve_order=true)` with a plain hash repartition and a
/// [`ShuffleMergeExec`] (per partition) of the order it preserved, and leads every order a
/// shuffle merge or a sort establishes with the columns held constant below it
/// ([`with_constant_keys`]).
#[derive(Debug, Default)]
pub struct ResortAfterShuffle;

impl PhysicalOptimizerRule for ResortAfterShuffle {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        tickflow_plan::replace_nodes(plan, |node| {
            if let Some(sort) = node.downcast_ref::<SortExec>() {
                // A sort planned without the keys its input holds constant.
                let order = with_constant_keys(sort.input(), sort.expr());
                if order.len() == sort.expr().len() {
                    return Ok(None);
                }
                let sort = SortExec::new(order, Arc::clone(sort.input()))
                    .with_preserve_partitioning(sort.preserve_partitioning())
                    .with_fetch(sort.fetch());
                return Ok(Some(Arc::new(sort)));
            }
            let Some(repartition) = node.downcast_ref::<RepartitionExec>() else {
                return Ok(None);
            };
            let (true, Partitioning::Hash(..), Some(order)) = (
                repartition.preserve_order(),
                repartition.partitioning(),
                node.output_ordering(),
            ) else {
                return Ok(None);
            };
            let order = with_constant_keys(node, order);
            let plain = RepartitionExec::try_new(
                Arc::clone(repartition.input()),
                repartition.partitioning().clone(),
            )?;
            Ok(Some(Arc::new(ShuffleMergeExec::new(
                order,
                Arc::new(plain),
            ))))
        })
    }

    fn name(&self) -> &str {
        "resort_after_shuffle"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `order`, led by the columns `node` holds constant (a `WHERE symbol = 'B'` below it).
///
/// DataFusion leaves a constant column out of an order (every order satisfies it), and the
/// operators above plan on that: a window `PARTITION BY symbol ORDER BY b` takes input ordered by
/// `b` alone (`SortExec: expr=[b]` after the shuffle). The consuming stage is rebuilt from the
/// wire on an executor, where nothing knows the column is constant, and the window refused its
/// input ("Expects PARTITION BY expression to be ordered"). Ordering by the constant column first costs one comparison of
/// equal values and states what the plan relies on.
fn with_constant_keys(node: &Arc<dyn ExecutionPlan>, order: &LexOrdering) -> LexOrdering {
    let mut keys: Vec<PhysicalSortExpr> = node
        .equivalence_properties()
        .constants()
        .into_iter()
        .filter(|c| c.expr.downcast_ref::<Column>().is_some())
        .filter(|c| !order.iter().any(|s| s.expr.eq(&c.expr)))
        .map(|c| PhysicalSortExpr::new_default(c.expr))
        .collect();
    keys.extend(order.iter().cloned());
    LexOrdering::new(keys).unwrap_or_else(|| order.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_tables::{local, sorted_table};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::physical_plan::{collect, displayable};

    /// Over a table sorted by (sym, minute) the local plan keeps the order through an
    /// order-preserving repartition; the rewritten plan restores it after a plain one instead
    /// (locally, where there is no shuffle to merge, by sorting), and returns the same rows.
    #[tokio::test]
    async fn an_order_preserving_repartition_becomes_a_shuffle_merge() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let ctx = local(2)?;
        let files = [
            "('A', 1, 10), ('A', 2, 5), ('B', 1, 7)",
            "('A', 1, 2), ('C', 3, 1)",
        ];
        sorted_table(&ctx, dir.path(), "sym, minute, size", "sym, minute", &files).await?;
        let plan = ctx
            .sql(
                "SELECT sym, minute, sum(v) OVER (PARTITION BY sym ORDER BY minute) AS running \
                 FROM (SELECT sym, minute, sum(size) AS v FROM t GROUP BY 1, 2) ORDER BY 1, 2",
            )
            .await?
            .create_physical_plan()
            .await?;
        let before = displayable(plan.as_ref()).indent(false).to_string();
        assert!(before.contains("preserve_order=true"), "{before}");

        let rewritten = ResortAfterShuffle.optimize(Arc::clone(&plan), &ConfigOptions::new())?;
        let after = displayable(rewritten.as_ref()).indent(false).to_string();
        assert!(!after.contains("preserve_order=true"), "{after}");
        assert!(after.contains("ShuffleMergeExec"), "{after}");

        let expected = pretty_format_batches(&collect(plan, ctx.task_ctx()).await?)?.to_string();
        let actual = pretty_format_batches(&collect(rewritten, ctx.task_ctx()).await?)?.to_string();
        assert_eq!(actual, expected);
        assert!(
            expected.contains("| A   | 2      | 17      |"),
            "{expected}"
        );
        Ok(())
    }
}
