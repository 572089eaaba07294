//! Makes a [`GapFill`] node a [`GapFillExec`]: its column expressions become indices and its
//! constants (width, origin, the range's bounds) are evaluated once, here.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, Result, ScalarValue, internal_err, plan_err};
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{Expr, LogicalPlan, UserDefinedLogicalNode};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};

use super::exec::{GapFillExec, GapFillParams};
use super::grid::GridSpec;
use super::node::GapFill;
use super::placeholder::NAME;
use tickflow_functions::args::Arg;
use tickflow_functions::time::bucket::origin_from_scalar;

/// Plans [`GapFill`] nodes.
#[derive(Debug, Default)]
pub struct GapFillPlanner;

/// The value of a constant expression.
fn constant(
    planner: &dyn PhysicalPlanner,
    expr: &Expr,
    session: &dyn Session,
    planning_ctx: &PhysicalPlanningContext,
) -> Result<ScalarValue> {
    let physical = planner.create_physical_expr(expr, &DFSchema::empty(), session, planning_ctx)?;
    tickflow_functions::calendar::trading_days::evaluate_constant(&physical)
}

/// A bound's value in nanoseconds since the epoch: a TIMESTAMP as `time_bucket` reads an
/// origin, anything else cast to one first.
fn bound_nanos(value: &ScalarValue, expr: &Expr) -> Result<i64> {
    let what = format!("the time bound {expr}");
    let arg = Arg::new(NAME, 2, "ts");
    let value = match value {
        ScalarValue::TimestampSecond(..)
        | ScalarValue::TimestampMillisecond(..)
        | ScalarValue::TimestampMicrosecond(..)
        | ScalarValue::TimestampNanosecond(..) => value.clone(),
        other => other
            .cast_to(&DataType::Timestamp(TimeUnit::Nanosecond, None))
            .map_err(|_| {
                arg.error(format!(
                    "{what} is a {}, not a TIMESTAMP",
                    other.data_type()
                ))
            })?,
    };
    // A TIMESTAMP now, so only NULL can fail.
    let nanos =
        origin_from_scalar(&value, &arg).map_err(|_| arg.error(format!("{what} is NULL")))?;
    i64::try_from(nanos)
        .or_else(|_| plan_err!("{NAME}: {what} is outside 1677-09-21 to 2262-04-11"))
}

#[async_trait]
impl ExtensionPlanner for GapFillPlanner {
    async fn plan_extension(
        &self,
        planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn Session,
        planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(gap) = node.as_any().downcast_ref::<GapFill>() else {
            return Ok(None);
        };
        let ([logical], [physical]) = (logical_inputs, physical_inputs) else {
            return internal_err!("GapFill has one input");
        };
        let schema = logical.schema();
        let index = |e: &Expr| match e {
            Expr::Column(c) => schema.index_of_column(c),
            other => internal_err!("GapFill: expected a column, got {other}"),
        };
        let value = |e: &Expr| constant(planner, e, session, planning_ctx);
        let mut lower: Option<i64> = None;
        for bound in &gap.lower {
            let ns = bound_nanos(&value(&bound.value)?, &bound.value)?;
            // `ts > x` and `ts >= x` start at the same bucket, the one holding x.
            lower = Some(lower.map_or(ns, |l| l.max(ns)));
        }
        let mut upper: Option<(i64, bool)> = None;
        for bound in &gap.upper {
            let ns = bound_nanos(&value(&bound.value)?, &bound.value)?;
            upper = Some(match upper {
                Some((u, inclusive)) if u < ns || (u == ns && !inclusive) => (u, inclusive),
                _ => (ns, bound.inclusive),
            });
        }
        let (Some(lower_ns), Some((upper_ns, upper_inclusive))) = (lower, upper) else {
            return internal_err!("GapFill without both time bounds");
        };
        let params = GapFillParams {
            series: gap.series.iter().map(index).collect::<Result<_>>()?,
            time: index(&gap.time)?,
            grid: GridSpec {
                width: value(&gap.width)?,
                anchor: gap.anchor.as_ref().map(value).transpose()?,
                calendar: gap.calendar.clone(),
                lower_ns,
                upper_ns,
                upper_inclusive,
            },
            gap_values: gap.gap_values.clone(),
            fills: gap
                .fills
                .iter()
                .map(|f| Ok((index(&f.source)?, f.kind)))
                .collect::<Result<_>>()?,
        };
        Ok(Some(Arc::new(GapFillExec::try_new(
            Arc::clone(physical),
            params,
        )?)))
    }
}
