//! What tickflow does to a stage plan when it is decoded, before a Ballista executor runs it.
//!
//! **Orders the shuffle lost.** Ballista's shuffle reader concatenates the map tasks' outputs,
//! so whatever order a stage's input had is gone after it. The scheduler's plan re-sorts where
//! tickflow's rules run ([`super::shuffle_order`]), but not every plan is made by them: Ballista
//! 55's adaptive planner (`ballista.planner.adaptive.enabled`) re-plans each stage with its own
//! fixed rule list, and keeps an input's ordering in the properties of the exchange that
//! replaces a hash repartition, so `EnforceSorting` drops the sorts the next stage needs. Every
//! stage reaches the executor through tickflow's codec, and there the plan is rebuilt bottom-up
//! from its real inputs (a shuffle reader claims no order); [`prepare`] then adds a
//! per-partition `SortExec` under every operator whose hard ordering requirement its input does
//! not meet. A sort added here is not in the scheduler's copy of the stage, so the cluster's
//! `EXPLAIN ANALYZE` cannot line up that stage's metrics ("Stage metrics size mismatch"): a
//! visible sign that the net caught something, never a wrong result.
//!
//! One reader is trusted without a sort: a pass-through shuffle's (each partition one map
//! partition's output as it was written), which Ballista's static planner makes only below a
//! `SortPreservingMergeExec` or `CoalescePartitionsExec`; the plan had sorted that input as the
//! merge requires before it was cut, and the map task wrote it in that order.
//!
//! This is not enough for the adaptive planner: on Ballista 55 it also scatters a symbol's bars
//! across the window's partitions (`row_number()` numbered one symbol's first bars 916, 1, 408),
//! which no sort mends. `tickflow --cluster` therefore plans with the static planner
//! ([`super::client`]).
//!
//! **Sorted aggregation.** An aggregation over a sorted scan that reaches the executor as
//! DataFusion's hashing `AggregateExec` (the adaptive planner's rule list lacks
//! [`UseSortedAggregate`](tickflow_plan::sorted_aggregate::UseSortedAggregate)) becomes a
//! `SortedAggregateExec` here, where the input's order is known for certain; this replaces a
//! node and adds none.
//!
//! ```sql
//! CREATE EXTERNAL TABLE bars STORED AS PARQUET LOCATION 'bars/' WITH ORDER (symbol, bucket);
//! -- on the cluster the window below is correct: the stage that computes it sorts its input
//! SELECT symbol, bucket, avg(close) OVER (PARTITION BY symbol ORDER BY bucket
//!   ROWS BETWEEN 19 PRECEDING AND CURRENT ROW) FROM bars;
//! ```

use std::sync::Arc;

use ballista_core::execution_plans::ShuffleReaderExec;
use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::physical_expr::{LexOrdering, OrderingRequirements};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

use tickflow_plan::{replace_nodes, sorted_aggregate::UseSortedAggregate};

/// `plan` with the sorts its operators need and the sorted aggregations its input allows.
pub fn prepare(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    let plan = restore_input_orders(plan)?;
    UseSortedAggregate.optimize(plan, &ConfigOptions::default())
}

/// `plan` with a per-partition `SortExec` under each operator whose hard ordering requirement
/// its input does not satisfy. A plan whose requirements all hold comes back unchanged.
pub fn restore_input_orders(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    replace_nodes(plan, |node| {
        let children = node.children();
        let mut changed = false;
        let mut new_children = Vec::with_capacity(children.len());
        for (child, requirement) in children.into_iter().zip(node.required_input_ordering()) {
            let requirement = requirement.filter(|_| !reads_pass_through_shuffle(child));
            match requirement.and_then(|r| missing_order(child, r).transpose()) {
                Some(order) => {
                    changed = true;
                    new_children.push(Arc::new(
                        SortExec::new(order?, Arc::clone(child)).with_preserve_partitioning(true),
                    ) as Arc<dyn ExecutionPlan>);
                }
                None => new_children.push(Arc::clone(child)),
            }
        }
        if changed {
            Ok(Some(Arc::clone(node).replace_children(
                new_children,
                ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
            )?))
        } else {
            Ok(None)
        }
    })
}

/// Whether `child` reads a pass-through shuffle: each of its partitions is one map partition's
/// output as the map task wrote it. Ballista's static planner cuts a plan there only below a
/// `SortPreservingMergeExec` or a `CoalescePartitionsExec`, whose input the plan had already
/// sorted as its consumer requires, so that order holds although the reader does not claim it.
/// (Sorting again would cost a sort of every row, and add a node the scheduler's copy of the
/// stage lacks.)
fn reads_pass_through_shuffle(child: &Arc<dyn ExecutionPlan>) -> bool {
    child
        .downcast_ref::<ShuffleReaderExec>()
        .is_some_and(|reader| {
            !reader.broadcast
                && reader.partition.iter().all(|locations| {
                    locations.len() <= 1 && locations.iter().all(|l| !l.is_sort_shuffle)
                })
        })
}

/// The order to sort `child` by when it satisfies none of `requirement`'s alternatives and the
/// requirement is hard; `None` when nothing is missing (or the operator works without it).
fn missing_order(
    child: &Arc<dyn ExecutionPlan>,
    requirement: OrderingRequirements,
) -> Result<Option<LexOrdering>> {
    let (alternatives, soft) = requirement.into_alternatives();
    if soft {
        return Ok(None);
    }
    let properties = child.equivalence_properties();
    for alternative in &alternatives {
        if properties.ordering_satisfy_requirement(alternative.clone())? {
            return Ok(None);
        }
    }
    Ok(alternatives.into_iter().next().map(LexOrdering::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_tables::{local, sorted_table};
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::physical_plan::{collect, displayable};

    /// A window whose sort was dropped reads its rows out of order; `prepare` sorts again and
    /// the rows come back as the local plan computes them. Symbol A's rows are in two files
    /// ((3, 5) and (4)), so no way of concatenating them is in order.
    #[tokio::test]
    async fn a_window_over_a_lost_order_gets_its_sort_back() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let ctx = local(3)?;
        let files = [
            "('A', 3, 1.0), ('A', 5, 2.0), ('B', 1, 4.0)",
            "('A', 1, 8.0), ('B', 2, 16.0), ('C', 9, 32.0)",
            "('A', 4, 0.5), ('B', 4, 64.0), ('C', 7, 128.0)",
        ];
        sorted_table(&ctx, dir.path(), "sym, minute, px", "sym, minute", &files).await?;
        let sql = "SELECT sym, minute, sum(px) OVER (PARTITION BY sym ORDER BY minute \
                   ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS s FROM t";
        let plan = ctx.sql(sql).await?.create_physical_plan().await?;
        let expected = sort_rows(collect(plan, ctx.task_ctx()).await?);

        // A fresh plan: a repartition runs once.
        let lossy = lose_order(ctx.sql(sql).await?.create_physical_plan().await?)?;
        let text = displayable(lossy.as_ref()).indent(true).to_string();
        assert!(
            !text.contains("SortExec"),
            "the test needs a plan that relies on the repartition's order:\n{text}"
        );
        let wrong = lose_order(ctx.sql(sql).await?.create_physical_plan().await?)?;
        // Without its sort the window reads A out of order: a wrong sum, or DataFusion notices.
        match collect(wrong, ctx.task_ctx()).await {
            Ok(rows) => assert_ne!(sort_rows(rows), expected),
            Err(e) => assert!(e.to_string().contains("to be ordered"), "{e}"),
        }
        let fixed = prepare(Arc::clone(&lossy))?;
        let text = displayable(fixed.as_ref()).indent(true).to_string();
        assert!(text.contains("SortExec"), "{text}");
        let got = sort_rows(collect(fixed, ctx.task_ctx()).await?);
        assert_eq!(got, expected);

        // A plan whose orders hold is left as it is.
        let plan = ctx.sql(sql).await?.create_physical_plan().await?;
        let before = displayable(plan.as_ref()).indent(true).to_string();
        let after = displayable(restore_input_orders(plan)?.as_ref())
            .indent(true)
            .to_string();
        assert_eq!(before, after);
        Ok(())
    }

    /// `plan` without its sorts, each operator above keeping the mode it was planned in: what
    /// the scheduler hands over when it believed a shuffle kept the order.
    fn lose_order(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
        replace_nodes(plan, |node| {
            Ok(node
                .downcast_ref::<SortExec>()
                .map(|sort| Arc::clone(sort.input())))
        })
    }

    /// The rows of `batches` as table lines in sorted order: the same rows compare equal
    /// however the partitions interleaved them.
    fn sort_rows(batches: Vec<datafusion::arrow::record_batch::RecordBatch>) -> String {
        let text = pretty_format_batches(&batches)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        lines.join("\n")
    }
}
