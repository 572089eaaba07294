//! Optimizer rule [`SpellOutEmptyRelations`]: keeps queries that provably return no rows working
//! on Ballista.
//!
//! When DataFusion proves a subtree empty (`WHERE false`, `WHERE date >= '2025' AND date <
//! '2024'`, `LIMIT 0`) it replaces it with `EmptyRelation: rows=0`, whose columns live only in
//! the plan's schema. Ballista 55 loses them twice: the plan's protobuf form of an
//! `EmptyRelation` carries no schema, so the scheduler fails with "No field named p.x"; and a
//! plan that *is* an `EmptyRelation` is answered by the client with zero columns.
//!
//! This rule, the last on a cluster client, writes such a relation out as typed NULLs under one
//! row that a `false` filter removes, which keeps every column and serializes:
//!
//! ```text
//! before:  Aggregate: aggr=[bar_std(p.x)]          after:  Aggregate: aggr=[bar_std(p.x)]
//!            EmptyRelation: rows=0                           Projection: NULL AS p.x
//!                                                              Filter: Boolean(false)
//!                                                                EmptyRelation: rows=1
//! ```
//!
//! The scheduler optimizes the plan again and turns it back into an empty relation there, where
//! the schema is known, so nothing runs.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::{EmptyRelation, Expr, LogicalPlan, LogicalPlanBuilder, lit};
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

/// See the module documentation.
#[derive(Debug, Default)]
pub struct SpellOutEmptyRelations;

impl OptimizerRule for SpellOutEmptyRelations {
    fn name(&self) -> &str {
        "tickflow_spell_out_empty_relations"
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        plan.transform_up(|node| match node {
            LogicalPlan::EmptyRelation(EmptyRelation {
                produce_one_row: false,
                schema,
            }) if !schema.fields().is_empty() => Ok(Transformed::yes(spelled_out(&schema)?)),
            other => Ok(Transformed::no(other)),
        })
    }
}

/// `Projection: NULL AS <each column>` over `Filter: false` over one empty row.
fn spelled_out(schema: &DFSchema) -> Result<LogicalPlan> {
    let columns = schema
        .iter()
        .map(|(qualifier, field)| {
            let null = ScalarValue::try_from(field.data_type())?;
            Ok(Expr::Literal(null, None).alias_qualified(qualifier.cloned(), field.name()))
        })
        .collect::<Result<Vec<_>>>()?;
    LogicalPlanBuilder::empty(true)
        .filter(lit(false))?
        .project(columns)?
        .build()
}

/// Registers the rule last on `ctx`'s optimizer.
pub fn register(ctx: &datafusion::prelude::SessionContext) {
    ctx.add_optimizer_rule(Arc::new(SpellOutEmptyRelations));
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn an_empty_aggregate_input_keeps_its_columns() -> Result<()> {
        let ctx = SessionContext::new();
        register(&ctx);
        ctx.sql("CREATE TABLE p (g VARCHAR, x DOUBLE) AS VALUES ('a', 1.0)")
            .await?
            .collect()
            .await?;
        let df = ctx
            .sql("SELECT g, sum(x) FROM p WHERE false GROUP BY g")
            .await?;
        let plan = df.clone().into_optimized_plan()?;
        let text = plan.display_indent().to_string();
        assert!(!text.contains("EmptyRelation: rows=0"), "{text}");
        assert!(text.contains("Filter: Boolean(false)"), "{text}");
        // Same answer (no rows, same columns) as without the rule.
        let batches = df.collect().await?;
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
        let plain = SessionContext::new();
        plain
            .sql("CREATE TABLE p (g VARCHAR, x DOUBLE) AS VALUES ('a', 1.0)")
            .await?
            .collect()
            .await?;
        let expected = plain
            .sql("SELECT g, sum(x) FROM p WHERE false GROUP BY g")
            .await?
            .into_optimized_plan()?;
        assert_eq!(plan.schema().fields(), expected.schema().fields());

        // A plan-level empty relation (the whole query) is spelled out too.
        let whole = ctx
            .sql("SELECT x FROM p WHERE false")
            .await?
            .into_optimized_plan()?;
        assert!(matches!(whole, LogicalPlan::Projection(_)), "{whole}");
        Ok(())
    }
}
