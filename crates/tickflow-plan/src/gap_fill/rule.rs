//! [`HandleGapFill`]: the analyzer rule that turns `time_bucket_gapfill`, `locf(agg)` and
//! `interpolate(agg)` into a plan.
//!
//! ```text
//! Projection: symbol, time_bucket_gapfill(..) AS minute, locf(last_value(..)) AS close
//!   Aggregate: groupBy=[[symbol, time_bucket_gapfill(1 minute, ts)]], aggr=[[last_value(..)]]
//!     Filter: ts >= .. AND ts < ..
//! ```
//! becomes
//! ```text
//! Projection: symbol, time_bucket_gapfill(..) AS minute, locf(last_value(..)) AS close
//!   GapFill: series=[symbol], time=time_bucket_gapfill(..), range=[>= ..; < ..], fill=[locf(last_value(..))]
//!     Aggregate: groupBy=[[symbol, time_bucket(1 minute, ts) AS time_bucket_gapfill(..)]], aggr=[[last_value(..)]]
//!       Filter: ts >= .. AND ts < ..
//! ```
//! It runs after type coercion. Any placeholder it leaves (a `time_bucket_gapfill` outside a
//! GROUP BY, a `locf(agg)` outside the SELECT list of a gap-filled query) is a plan error.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, Result, plan_err};
use datafusion::logical_expr::expr::{Cast, ScalarFunction};
use datafusion::logical_expr::{
    Aggregate, Expr, Extension, LogicalPlan, Projection, UserDefinedLogicalNodeCore,
};
use datafusion::optimizer::AnalyzerRule;

use super::fill::{FillPlaceholder, misuse as fill_misuse};
use super::node::GapFill;
use super::placeholder::{NAME, TimeBucketGapfill, misuse, split_args};
use super::range;
use tickflow_functions::args::Arg;

/// See the [module docs](self).
#[derive(Debug, Default)]
pub struct HandleGapFill;

impl AnalyzerRule for HandleGapFill {
    fn name(&self) -> &str {
        "handle_gap_fill"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let plan = plan
            .transform_up_with_subqueries(|node| match node {
                LogicalPlan::Aggregate(agg) => aggregate(agg),
                LogicalPlan::Projection(p) if gap_fill_of(&p.input).is_some() => projection(p),
                other => Ok(Transformed::no(other)),
            })?
            .data;
        check_rewritten(&plan)?;
        Ok(plan)
    }
}

fn is_gapfill(f: &ScalarFunction) -> bool {
    f.func.inner().downcast_ref::<TimeBucketGapfill>().is_some()
}

fn is_gapfill_call(expr: &Expr) -> bool {
    matches!(expr, Expr::ScalarFunction(f) if is_gapfill(f))
}

fn gap_fill_of(plan: &LogicalPlan) -> Option<&GapFill> {
    match plan {
        LogicalPlan::Extension(Extension { node }) => node.as_any().downcast_ref::<GapFill>(),
        _ => None,
    }
}

/// The column under casts, if `expr` is one.
pub(super) fn column_of(expr: &Expr) -> Option<&Column> {
    match expr {
        Expr::Column(c) => Some(c),
        Expr::Cast(c) => column_of(&c.expr),
        Expr::TryCast(c) => column_of(&c.expr),
        _ => None,
    }
}

/// An aggregation grouped by `time_bucket_gapfill(..)`: by `time_bucket(..)` under a `GapFill`.
fn aggregate(agg: Aggregate) -> Result<Transformed<LogicalPlan>> {
    let found: Vec<usize> = agg
        .group_expr
        .iter()
        .enumerate()
        .filter(|(_, e)| e.exists(|e| Ok(is_gapfill_call(e))).unwrap_or(false))
        .map(|(i, _)| i)
        .collect();
    let index = match found[..] {
        [] => return Ok(Transformed::no(LogicalPlan::Aggregate(agg))),
        [i] => i,
        _ => return plan_err!("{NAME} may appear only once in GROUP BY"),
    };
    let call = match agg.group_expr[index].clone().unalias_nested().data {
        Expr::ScalarFunction(call) if is_gapfill(&call) => call,
        Expr::GroupingSet(_) => {
            return plan_err!("{NAME} cannot be used with GROUPING SETS, CUBE or ROLLUP");
        }
        other => {
            return plan_err!(
                "{NAME} must be a GROUP BY key by itself, not part of another expression: {other}"
            );
        }
    };
    let ScalarFunction { args, .. } = call;
    let Some(time) = args.get(1).and_then(column_of).cloned() else {
        return Err(Arg::new(NAME, 2, "ts").error("must be a column of the queried table"));
    };
    let literal = |e: &Expr| match e {
        Expr::Literal(v, _) => Some(v.clone()),
        _ => None,
    };
    let split = split_args(&args[2..], literal)?;
    let range = range::find(&agg.input, &time)?;
    let name = agg.schema.field(index).name().clone();
    let mut bucket_args = vec![args[0].clone(), args[1].clone()];
    bucket_args.extend(split.anchor.clone());
    let mut group_expr = agg.group_expr.clone();
    group_expr[index] = tickflow_functions::time_bucket_udf()
        .call(bucket_args)
        .alias(name);
    let n_groups = group_expr.len();
    let bucketed = Aggregate::try_new(Arc::clone(&agg.input), group_expr, agg.aggr_expr.clone())?;
    let schema = Arc::clone(&bucketed.schema);
    let column = |i: usize| Expr::Column(Column::from(schema.qualified_field(i)));
    let series = (0..n_groups).filter(|&i| i != index).map(column).collect();
    let mut gap_values = Vec::new();
    for (k, aggr) in bucketed.aggr_expr.iter().enumerate() {
        if let Expr::AggregateFunction(f) = aggr.clone().unalias_nested().data {
            let value = f
                .func
                .default_value(schema.field(n_groups + k).data_type())?;
            if !value.is_null() {
                gap_values.push((n_groups + k, value));
            }
        }
    }
    let node = GapFill::try_new(
        Arc::new(LogicalPlan::Aggregate(bucketed)),
        series,
        column(index),
        args[0].clone(),
        split.anchor,
        split.calendar,
        range.lower,
        range.upper,
        gap_values,
        Vec::new(),
    )?;
    Ok(Transformed::yes(LogicalPlan::Extension(Extension {
        node: Arc::new(node),
    })))
}

/// The SELECT list over a `GapFill`: each `locf(col [, prev])` / `interpolate(col)` becomes a
/// fill column of the node (with `prev` where it is still NULL).
fn projection(p: Projection) -> Result<Transformed<LogicalPlan>> {
    let Some(node) = gap_fill_of(&p.input) else {
        return Ok(Transformed::no(LogicalPlan::Projection(p)));
    };
    let mut node = node.clone();
    let mut exprs = Vec::with_capacity(p.expr.len());
    let mut changed = false;
    for (i, expr) in p.expr.iter().enumerate() {
        let rewritten = expr.clone().transform_up(|e| {
            let Expr::ScalarFunction(f) = &e else {
                return Ok(Transformed::no(e));
            };
            let Some(placeholder) = f.func.inner().downcast_ref::<FillPlaceholder>() else {
                return Ok(Transformed::no(e));
            };
            let kind = placeholder.kind();
            let source = match f.args.first() {
                Some(Expr::Column(c)) if node.input.schema().has_column(c) => c.clone(),
                // An expression of the aggregates, such as ohlc(..)['close']: computed under
                // the node as one more input column.
                Some(arg)
                    if !arg.column_refs().is_empty()
                        && arg
                            .column_refs()
                            .iter()
                            .all(|c| node.input.schema().has_column(c)) =>
                {
                    let (with_source, column) = node.with_computed_column(arg.clone())?;
                    node = with_source;
                    column
                }
                other => {
                    return plan_err!(
                        "{}: the value to fill must be an aggregate, a GROUP BY column or an \
                         expression of them of the gap-filled query, such as {}(avg(price)); \
                         got {}",
                        kind.name(),
                        kind.name(),
                        other.map_or("nothing".to_string(), |o| o.to_string())
                    );
                }
            };
            let (with_fill, column) = node.with_fill(source, kind)?;
            node = with_fill;
            let data_type = node
                .schema()
                .field_with_unqualified_name(&column.name)?
                .data_type()
                .clone();
            let filled = Expr::Column(column);
            Ok(Transformed::yes(match f.args.get(1) {
                None => filled,
                Some(prev) => {
                    let prev = Expr::Cast(Cast::new(Box::new(prev.clone()), data_type));
                    datafusion::functions::expr_fn::coalesce(vec![filled, prev])
                }
            }))
        })?;
        if rewritten.transformed {
            changed = true;
            let (qualifier, field) = p.schema.qualified_field(i);
            exprs.push(
                rewritten
                    .data
                    .unalias()
                    .alias_qualified(qualifier.cloned(), field.name()),
            );
        } else {
            exprs.push(expr.clone());
        }
    }
    if !changed {
        return Ok(Transformed::no(LogicalPlan::Projection(p)));
    }
    let input = LogicalPlan::Extension(Extension {
        node: Arc::new(node),
    });
    Ok(Transformed::yes(LogicalPlan::Projection(
        Projection::try_new(exprs, Arc::new(input))?,
    )))
}

/// A plan error for any placeholder left in `plan`.
fn check_rewritten(plan: &LogicalPlan) -> Result<()> {
    let mut error = None;
    plan.apply_with_subqueries(|node| {
        for expr in node.expressions() {
            expr.apply(|e| {
                if let Expr::ScalarFunction(f) = e {
                    if is_gapfill(f) {
                        error = Some(misuse());
                    } else if let Some(p) = f.func.inner().downcast_ref::<FillPlaceholder>() {
                        error = Some(fill_misuse(p.kind()));
                    }
                }
                Ok(if error.is_some() {
                    TreeNodeRecursion::Stop
                } else {
                    TreeNodeRecursion::Continue
                })
            })?;
            if error.is_some() {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    match error {
        Some(message) => plan_err!("{message}"),
        None => Ok(()),
    }
}
