//! `locf(agg [, prev])` and `interpolate(agg)` in the SELECT list of a gap-filled query.
//!
//! Both names are also window functions (`locf(x) OVER (..)`, `interpolate(t, x) OVER (..)`),
//! and DataFusion's SQL planner resolves a scalar function of the same name before it looks at
//! OVER, so the gap-fill forms cannot be registered scalar functions. Instead each name is also
//! registered as an aggregate that is never run ([`FillName`]), and [`GapFillExprPlanner`] —
//! which DataFusion asks about every aggregate and window call it plans — turns a call with OVER
//! back into the window function, and one without OVER into [`FillPlaceholder`], a scalar the
//! gap-fill rule replaces with a column of the `GapFill` node.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::expr::{ScalarFunction, WindowFunctionDefinition};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::planner::{
    ExprPlanner, PlannerResult, RawAggregateExpr, RawWindowExpr,
};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Expr, ScalarFunctionArgs,
    ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// How a gap-filled column is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FillKind {
    /// The last non-NULL value of the series so far.
    Locf,
    /// Linear in time between the neighbouring non-NULL values of the series.
    Interpolate,
}

impl FillKind {
    /// The SQL name.
    pub fn name(self) -> &'static str {
        match self {
            FillKind::Locf => "locf",
            FillKind::Interpolate => "interpolate",
        }
    }

    /// The type of the filled column for a column of type `source`.
    pub fn output_type(self, source: &DataType) -> Result<DataType> {
        match self {
            FillKind::Locf => Ok(source.clone()),
            FillKind::Interpolate if source.is_numeric() => {
                let coerced = tickflow_functions::args::Arg::new("interpolate", 1, "value")
                    .coerce_numeric(source, false)?;
                Ok(tickflow_functions::window::interpolate::output_type(
                    &coerced,
                ))
            }
            FillKind::Interpolate => plan_err!(
                "interpolate: argument 1 (value) must be a number (float, integer or decimal), \
                 got {source}"
            ),
        }
    }

    /// The filled form of one series' `value` at bucket starts `time`.
    pub(crate) fn fill(self, time: &ArrayRef, value: &ArrayRef) -> Result<ArrayRef> {
        match self {
            FillKind::Locf => tickflow_functions::window::locf::locf_array(value),
            FillKind::Interpolate => {
                let target = self.output_type(value.data_type())?;
                let value = datafusion::arrow::compute::cast(value, &target)?;
                tickflow_functions::window::interpolate::interpolate_array(time, &value)
            }
        }
    }

    fn usage(self) -> &'static str {
        match self {
            FillKind::Locf => "locf(value [, prev])",
            FillKind::Interpolate => "interpolate(value)",
        }
    }

    fn arity(self) -> std::ops::RangeInclusive<usize> {
        match self {
            FillKind::Locf => 1..=2,
            FillKind::Interpolate => 1..=1,
        }
    }
}

/// The error for a fill call outside the SELECT list of a gap-filled query.
pub(crate) fn misuse(kind: FillKind) -> String {
    format!(
        "{}(..) without OVER fills empty buckets and only works in the SELECT list of a query \
         grouped by time_bucket_gapfill, as {} around an aggregate or GROUP BY column; for the \
         window function write {} OVER (PARTITION BY .. ORDER BY ..)",
        kind.name(),
        kind.usage(),
        match kind {
            FillKind::Locf => "locf(value)",
            FillKind::Interpolate => "interpolate(time, value)",
        }
    )
}

/// The scalar stand-in for `locf(agg [, prev])` / `interpolate(agg)` until the gap-fill rule
/// replaces it. Never registered under its name (that would hide the window function).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FillPlaceholder {
    kind: FillKind,
    signature: Signature,
}

impl FillPlaceholder {
    pub fn new(kind: FillKind) -> Self {
        Self {
            kind,
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }

    pub fn kind(&self) -> FillKind {
        self.kind
    }
}

impl ScalarUDFImpl for FillPlaceholder {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types.first() {
            Some(t) => self.kind.output_type(t),
            None => plan_err!("{}: expected {}", self.kind.name(), self.kind.usage()),
        }
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        plan_err!("{}", misuse(self.kind))
    }
}

/// `locf` / `interpolate` as aggregate names, so that DataFusion's SQL planner hands their calls
/// to [`GapFillExprPlanner`]. Never run.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FillName {
    kind: FillKind,
    signature: Signature,
}

impl FillName {
    pub fn new(kind: FillKind) -> Self {
        Self {
            kind,
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for FillName {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        FillPlaceholder::new(self.kind).return_type(arg_types)
    }

    fn accumulator(&self, _acc_args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        plan_err!(
            "{}: this session plans SQL without tickflow's expression planner; register the \
             gap-fill extension (tickflow_plan::gap_fill::GapFillExtension)",
            self.kind.name()
        )
    }

    fn state_fields(
        &self,
        _args: datafusion::logical_expr::function::StateFieldsArgs,
    ) -> Result<Vec<FieldRef>> {
        plan_err!("{}", misuse(self.kind))
    }
}

/// The two aggregate names.
pub fn fill_names() -> Vec<Arc<AggregateUDF>> {
    [FillKind::Locf, FillKind::Interpolate]
        .into_iter()
        .map(|kind| Arc::new(AggregateUDF::from(FillName::new(kind))))
        .collect()
}

/// Turns `locf`/`interpolate` calls into the window functions (with OVER) or the gap-fill
/// placeholders (without).
#[derive(Debug, Default)]
pub struct GapFillExprPlanner;

fn fill_kind_of(udaf: &AggregateUDF) -> Option<FillKind> {
    udaf.inner().downcast_ref::<FillName>().map(|f| f.kind)
}

impl ExprPlanner for GapFillExprPlanner {
    fn plan_aggregate(&self, expr: RawAggregateExpr) -> Result<PlannerResult<RawAggregateExpr>> {
        let Some(kind) = fill_kind_of(&expr.func) else {
            return Ok(PlannerResult::Original(expr));
        };
        if !kind.arity().contains(&expr.args.len()) {
            return plan_err!(
                "{}: expected {}, got {} argument(s)",
                kind.name(),
                kind.usage(),
                expr.args.len()
            );
        }
        if expr.distinct || expr.filter.is_some() || !expr.order_by.is_empty() {
            return plan_err!(
                "{}: DISTINCT, FILTER and ORDER BY do not apply; write {}",
                kind.name(),
                kind.usage()
            );
        }
        let placeholder = Arc::new(ScalarUDF::from(FillPlaceholder::new(kind)));
        Ok(PlannerResult::Planned(Expr::ScalarFunction(
            ScalarFunction::new_udf(placeholder, expr.args),
        )))
    }

    fn plan_window(&self, mut expr: RawWindowExpr) -> Result<PlannerResult<RawWindowExpr>> {
        if let WindowFunctionDefinition::AggregateUDF(udaf) = &expr.func_def
            && let Some(kind) = fill_kind_of(udaf)
        {
            expr.func_def = WindowFunctionDefinition::WindowUDF(match kind {
                FillKind::Locf => tickflow_functions::locf_udwf(),
                FillKind::Interpolate => tickflow_functions::interpolate_udwf(),
            });
        }
        Ok(PlannerResult::Original(expr))
    }
}
