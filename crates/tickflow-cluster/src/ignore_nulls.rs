//! `IGNORE NULLS` of a window function survives the trip to Ballista's executors.
//!
//! `last_value(close) IGNORE NULLS OVER (PARTITION BY symbol ORDER BY bar)` — the usual way to
//! carry the last price forward over empty bars — is DataFusion's window function `last_value`
//! with a flag held by the physical window expression. DataFusion 55's protobuf form of a
//! window function has no place for that flag (it writes `false`), so every executor ran
//! `last_value` respecting NULLs: an empty bar would stay NULL instead of taking the last
//! close, silently. The same holds for `first_value`, `nth_value`, `lag` and `lead`.
//!
//! [`KeepIgnoreNulls`], a logical rule of the sessions that plan for the cluster, swaps such a
//! function for [`IgnoringNulls`] of it: the same function under the same name, which always
//! ignores NULLs, whatever the flag says. The codecs write it as its name plus a mark
//! ([`encode`]), and the executors rebuild it from DataFusion's own function ([`decode`]).
//!
//! ```sql
//! -- on the cluster as locally: an empty minute takes the last close
//! SELECT symbol, bar, last_value(close) IGNORE NULLS OVER (PARTITION BY symbol ORDER BY bar)
//! FROM grid LEFT JOIN bars USING (symbol, bar);
//! ```

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, internal_err};
use datafusion::functions_window::{lead_lag, nth_value};
use datafusion::logical_expr::expr::{NullTreatment, WindowFunction, WindowFunctionDefinition};
use datafusion::logical_expr::function::{
    ExpressionArgs, PartitionEvaluatorArgs, WindowUDFFieldArgs,
};
use datafusion::logical_expr::{
    Expr, LimitEffect, LogicalPlan, PartitionEvaluator, ReversedUDWF, Signature, WindowUDF,
    WindowUDFImpl,
};
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use datafusion::physical_expr::PhysicalExpr;

const MARK: &[u8] = b"TFIGNORENULLS01";

/// DataFusion's window functions that take `IGNORE NULLS`, by name.
fn builtin(name: &str) -> Option<Arc<WindowUDF>> {
    match name {
        "first_value" => Some(nth_value::first_value_udwf()),
        "last_value" => Some(nth_value::last_value_udwf()),
        "nth_value" => Some(nth_value::nth_value_udwf()),
        "lag" => Some(lead_lag::lag_udwf()),
        "lead" => Some(lead_lag::lead_udwf()),
        _ => None,
    }
}

/// A window function evaluated as if called with `IGNORE NULLS`, under its own name.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IgnoringNulls {
    inner: Arc<WindowUDF>,
}

impl IgnoringNulls {
    /// `inner` ignoring NULLs.
    pub fn udwf(inner: Arc<WindowUDF>) -> Arc<WindowUDF> {
        Arc::new(WindowUDF::new_from_impl(Self { inner }))
    }
}

impl WindowUDFImpl for IgnoringNulls {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn expressions(&self, expr_args: ExpressionArgs) -> Vec<Arc<dyn PhysicalExpr>> {
        self.inner.expressions(expr_args)
    }

    fn partition_evaluator(
        &self,
        args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        self.inner
            .partition_evaluator_factory(PartitionEvaluatorArgs::new(
                args.input_exprs(),
                args.input_fields(),
                args.is_reversed(),
                true,
            ))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        self.inner.field(field_args)
    }

    fn sort_options(&self) -> Option<datafusion::arrow::compute::SortOptions> {
        self.inner.sort_options()
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn reverse_expr(&self) -> ReversedUDWF {
        match self.inner.reverse_expr() {
            ReversedUDWF::Reversed(reversed) => ReversedUDWF::Reversed(Self::udwf(reversed)),
            other => other,
        }
    }

    fn limit_effect(&self, args: &[Arc<dyn PhysicalExpr>]) -> LimitEffect {
        self.inner.inner().limit_effect(args)
    }
}

/// Writes the mark if `udwf` is [`IgnoringNulls`]; `false` if it is not.
pub(crate) fn encode(udwf: &WindowUDF, buf: &mut Vec<u8>) -> bool {
    let ignoring = udwf.inner().downcast_ref::<IgnoringNulls>().is_some();
    if ignoring {
        buf.extend_from_slice(MARK);
    }
    ignoring
}

/// The function [`encode`] wrote as `name`; `None` if `buf` holds no mark.
pub(crate) fn decode(name: &str, buf: &[u8]) -> Result<Option<Arc<WindowUDF>>> {
    if !buf.starts_with(MARK) {
        return Ok(None);
    }
    match builtin(name) {
        Some(inner) => Ok(Some(IgnoringNulls::udwf(inner))),
        None => internal_err!("{name} IGNORE NULLS arrived, but tickflow knows no {name}"),
    }
}

/// Replaces each of DataFusion's window functions called with `IGNORE NULLS` by
/// [`IgnoringNulls`] of it (see the [module docs](self)).
#[derive(Debug, Default)]
pub struct KeepIgnoreNulls;

impl OptimizerRule for KeepIgnoreNulls {
    fn name(&self) -> &str {
        "keep_ignore_nulls"
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        _config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        plan.transform_up_with_subqueries(|node| {
            node.map_expressions(|expr| expr.transform_up(ignoring_nulls))
        })
    }
}

/// `expr` with [`IgnoringNulls`] for a built-in window function that ignores NULLs.
fn ignoring_nulls(expr: Expr) -> Result<Transformed<Expr>> {
    let Expr::WindowFunction(window) = &expr else {
        return Ok(Transformed::no(expr));
    };
    let WindowFunction { fun, params } = window.as_ref();
    let WindowFunctionDefinition::WindowUDF(udwf) = fun else {
        return Ok(Transformed::no(expr));
    };
    let wrapped = udwf.inner().downcast_ref::<IgnoringNulls>().is_some();
    if wrapped
        || params.null_treatment != Some(NullTreatment::IgnoreNulls)
        || builtin(udwf.name()).is_none()
    {
        return Ok(Transformed::no(expr));
    }
    Ok(Transformed::yes(Expr::WindowFunction(Box::new(
        WindowFunction {
            fun: WindowFunctionDefinition::WindowUDF(IgnoringNulls::udwf(Arc::clone(udwf))),
            params: params.clone(),
        },
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::TickflowPhysicalCodec;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::physical_plan::collect;
    use datafusion::prelude::SessionContext;
    use datafusion_proto::bytes::{
        physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
    };

    const SQL: &str = "SELECT s, b, \
        last_value(v) IGNORE NULLS OVER (PARTITION BY s ORDER BY b) AS locf, \
        first_value(v) IGNORE NULLS OVER (PARTITION BY s ORDER BY b) AS first, \
        lag(v) IGNORE NULLS OVER (PARTITION BY s ORDER BY b) AS prev \
        FROM (VALUES ('A', 1, 1.0), ('A', 2, NULL), ('A', 3, 3.0), ('A', 4, NULL), \
                     ('B', 1, NULL), ('B', 2, 5.0), ('B', 3, NULL)) t(s, b, v) ORDER BY s, b";

    /// Rows of `SQL` after its physical plan went through `codec` and back, in a session with
    /// or without [`KeepIgnoreNulls`].
    async fn shipped(keep: bool) -> Result<String> {
        let mut builder = SessionStateBuilder::new().with_default_features();
        if keep {
            builder = builder.with_optimizer_rule(Arc::new(KeepIgnoreNulls));
        }
        let ctx = SessionContext::new_with_state(builder.build());
        let plan = ctx.sql(SQL).await?.create_physical_plan().await?;
        let codec = TickflowPhysicalCodec::default();
        let bytes = physical_plan_to_bytes_with_extension_codec(plan, &codec)?;
        let plan = physical_plan_from_bytes_with_extension_codec(&bytes, &ctx.task_ctx(), &codec)?;
        Ok(pretty_format_batches(&collect(plan, ctx.task_ctx()).await?)?.to_string())
    }

    /// Without the rule the flag is lost on the wire: the NULL bars stay NULL. With it they
    /// take the last value, as DataFusion computes locally.
    #[tokio::test]
    async fn ignore_nulls_survives_the_codec() -> Result<()> {
        let local = SessionContext::new().sql(SQL).await?.collect().await?;
        let local = pretty_format_batches(&local)?.to_string();
        assert!(local.contains("| A | 4 | 3.0  | 1.0   | 3.0  |"), "{local}");
        assert_ne!(
            shipped(false).await?,
            local,
            "DataFusion's codec keeps the flag now"
        );
        assert_eq!(shipped(true).await?, local);
        Ok(())
    }
}
