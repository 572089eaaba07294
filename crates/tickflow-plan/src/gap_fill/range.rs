//! The time range of a gap-filled query, read from its WHERE clause.
//!
//! The range is what makes gap filling finite: every bucket from the one holding the lower bound
//! up to the upper bound is a row. TimescaleDB and InfluxDB 3 take it from the WHERE clause, and
//! so does tickflow: the conjuncts that compare the bucketed column with a constant
//! (`ts >= x`, `ts > x`, `ts < y`, `ts <= y`, `ts BETWEEN x AND y`, either side). Constants may
//! be any expression without columns (`now() - INTERVAL '1 day'`); they are evaluated when the
//! plan is made physical, and the tightest bound on each side wins.

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, Result, plan_err};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, LogicalPlan, Operator};

/// One bound of the range.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct TimeBound {
    /// A constant expression.
    pub value: Expr,
    /// Whether the bound itself is in the range (`<=`, `>=`, BETWEEN).
    pub inclusive: bool,
}

/// The lower and upper bounds found for `time`.
#[derive(Debug, Default)]
pub(crate) struct TimeRange {
    pub lower: Vec<TimeBound>,
    pub upper: Vec<TimeBound>,
}

/// The bounds on `time` in the WHERE clause under an aggregation: the `Filter` that is its input,
/// looking through projections and aliases that keep the column.
pub(crate) fn find(input: &LogicalPlan, time: &Column) -> Result<TimeRange> {
    let mut range = TimeRange::default();
    let mut node = input;
    loop {
        match node {
            LogicalPlan::Filter(filter) => {
                for conjunct in split_conjunction(&filter.predicate) {
                    collect(conjunct, time, &mut range);
                }
                node = filter.input.as_ref();
            }
            LogicalPlan::Projection(p)
                if p.expr
                    .iter()
                    .any(|e| matches!(e, Expr::Column(c) if c.name == time.name)) =>
            {
                node = p.input.as_ref();
            }
            LogicalPlan::SubqueryAlias(a) => node = a.input.as_ref(),
            _ => break,
        }
    }
    let column = &time.name;
    match (range.lower.is_empty(), range.upper.is_empty()) {
        (false, false) => Ok(range),
        (true, true) => plan_err!(
            "time_bucket_gapfill: the WHERE clause must bound {column} on both sides with \
             constants, e.g. WHERE {column} >= TIMESTAMP '2024-01-02 14:30:00' AND {column} < \
             TIMESTAMP '2024-01-02 21:00:00'; it bounds it on neither"
        ),
        (true, false) => plan_err!(
            "time_bucket_gapfill: the WHERE clause has no lower bound on {column}; add one such \
             as {column} >= TIMESTAMP '2024-01-02 14:30:00'"
        ),
        (false, true) => plan_err!(
            "time_bucket_gapfill: the WHERE clause has no upper bound on {column}; add one such \
             as {column} < TIMESTAMP '2024-01-02 21:00:00'"
        ),
    }
}

/// Whether `expr` is the column `time`, possibly cast.
fn is_time(expr: &Expr, time: &Column) -> bool {
    super::rule::column_of(expr)
        .is_some_and(|c| c == time || (c.relation.is_none() && c.name == time.name))
}

/// Whether `expr` is a constant: no columns, no subqueries, nothing volatile.
fn is_constant(expr: &Expr) -> bool {
    let mut constant = true;
    let _ = expr.apply(|e| {
        if matches!(
            e,
            Expr::Column(_)
                | Expr::OuterReferenceColumn(..)
                | Expr::ScalarSubquery(_)
                | Expr::Exists(_)
                | Expr::InSubquery(_)
                | Expr::Placeholder(_)
        ) || e.is_volatile_node()
        {
            constant = false;
        }
        Ok(TreeNodeRecursion::Continue)
    });
    constant
}

fn collect(expr: &Expr, time: &Column, range: &mut TimeRange) {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (op, value) = if is_time(left, time) && is_constant(right) {
                (*op, right.as_ref())
            } else if is_time(right, time) && is_constant(left) {
                match op.swap() {
                    Some(op) => (op, left.as_ref()),
                    None => return,
                }
            } else {
                return;
            };
            let bound = |inclusive| TimeBound {
                value: value.clone(),
                inclusive,
            };
            match op {
                Operator::Gt => range.lower.push(bound(false)),
                Operator::GtEq => range.lower.push(bound(true)),
                Operator::Lt => range.upper.push(bound(false)),
                Operator::LtEq => range.upper.push(bound(true)),
                Operator::Eq => {
                    range.lower.push(bound(true));
                    range.upper.push(bound(true));
                }
                _ => {}
            }
        }
        Expr::Between(Between {
            expr,
            negated: false,
            low,
            high,
        }) if is_time(expr, time) && is_constant(low) && is_constant(high) => {
            range.lower.push(TimeBound {
                value: low.as_ref().clone(),
                inclusive: true,
            });
            range.upper.push(TimeBound {
                value: high.as_ref().clone(),
                inclusive: true,
            });
        }
        _ => {}
    }
}
