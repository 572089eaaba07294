//! [`GapFill`]: the logical plan node that adds the empty buckets of a gap-filled query.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, FieldRef};
use datafusion::common::{
    Column, DFSchema, DFSchemaRef, Result, ScalarValue, TableReference, internal_err,
};
use datafusion::logical_expr::{Expr, LogicalPlan, UserDefinedLogicalNodeCore};

use super::fill::FillKind;
use super::range::TimeBound;

/// A column of the `GapFill` output that fills another one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct Fill {
    /// The input column it fills (a column expression).
    pub source: Expr,
    pub kind: FillKind,
}

/// The name of the column that fills `source` with `kind`.
pub fn fill_column_name(kind: FillKind, source: &str) -> String {
    format!("{}({source})", kind.name())
}

/// Adds, to its input — an aggregation grouped by series keys and a time bucket — a row for
/// every bucket of the range that a series has no row for, and the fill columns the SELECT list
/// asks for (`locf`, `interpolate`).
///
/// Output: the input's columns, in order (in an added row, the series keys, the bucket, and for
/// each other column its `gap_values` entry or NULL), then one column per [`Fill`].
#[derive(Debug, Clone)]
pub struct GapFill {
    pub input: Arc<LogicalPlan>,
    /// The series keys: column expressions of the input.
    pub series: Vec<Expr>,
    /// The time bucket: a column expression of the input.
    pub time: Expr,
    /// The bucket width, and the origin or time zone, as `time_bucket` takes them (constants).
    pub width: Expr,
    pub anchor: Option<Expr>,
    /// The calendar whose sessions the buckets must meet.
    pub calendar: Option<String>,
    /// The range's bounds (constants); the tightest on each side wins.
    pub lower: Vec<TimeBound>,
    pub upper: Vec<TimeBound>,
    /// For input columns (by index) whose empty-bucket value is not NULL: the value (`count` 0).
    pub gap_values: Vec<(usize, ScalarValue)>,
    pub fills: Vec<Fill>,
    schema: DFSchemaRef,
}

/// The parts of a [`GapFill`] besides its input and expressions: what a codec must carry.
#[derive(Debug, Clone, PartialEq)]
pub struct GapFillShape {
    pub series: usize,
    pub has_anchor: bool,
    pub calendar: Option<String>,
    pub lower_inclusive: Vec<bool>,
    pub upper_inclusive: Vec<bool>,
    pub gap_values: Vec<(usize, ScalarValue)>,
    pub fills: Vec<FillKind>,
}

/// The output fields of a gap fill over `input`, shared by the node and the operator: the input's
/// fields, nullable unless they are series keys (`series`), the bucket (`time`) or have a
/// non-NULL empty-bucket value; then one field per fill column.
pub(crate) fn output_fields(
    input: &[FieldRef],
    series: &[usize],
    time: usize,
    gap_values: &[(usize, ScalarValue)],
    fills: &[(usize, FillKind)],
) -> Result<Vec<FieldRef>> {
    let keeps_nulls = |i: usize| {
        series.contains(&i) || i == time || gap_values.iter().any(|(g, v)| *g == i && !v.is_null())
    };
    let mut fields: Vec<FieldRef> = input
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if keeps_nulls(i) || f.is_nullable() {
                Arc::clone(f)
            } else {
                Arc::new(f.as_ref().clone().with_nullable(true))
            }
        })
        .collect();
    for (source, kind) in fills {
        fields.push(fill_field(*kind, &input[*source])?);
    }
    Ok(fields)
}

/// The field of a fill column.
fn fill_field(kind: FillKind, source: &Field) -> Result<FieldRef> {
    Ok(Arc::new(Field::new(
        fill_column_name(kind, source.name()),
        kind.output_type(source.data_type())?,
        true,
    )))
}

impl GapFill {
    #[allow(clippy::too_many_arguments)]
    pub fn try_new(
        input: Arc<LogicalPlan>,
        series: Vec<Expr>,
        time: Expr,
        width: Expr,
        anchor: Option<Expr>,
        calendar: Option<String>,
        lower: Vec<TimeBound>,
        upper: Vec<TimeBound>,
        gap_values: Vec<(usize, ScalarValue)>,
        fills: Vec<Fill>,
    ) -> Result<Self> {
        let input_schema = input.schema();
        let index = |e: &Expr| match e {
            Expr::Column(c) => input_schema.index_of_column(c),
            other => internal_err!("GapFill: expected a column, got {other}"),
        };
        let series_index = series.iter().map(index).collect::<Result<Vec<_>>>()?;
        let fill_index = fills
            .iter()
            .map(|f| Ok((index(&f.source)?, f.kind)))
            .collect::<Result<Vec<_>>>()?;
        let output = output_fields(
            input_schema.fields(),
            &series_index,
            index(&time)?,
            &gap_values,
            &fill_index,
        )?;
        let qualifiers = input_schema
            .iter()
            .map(|(q, _)| q.cloned())
            .chain(std::iter::repeat(None));
        let fields: Vec<(Option<TableReference>, FieldRef)> = qualifiers.zip(output).collect();
        let schema = DFSchema::new_with_metadata(fields, input_schema.metadata().clone())?;
        Ok(Self {
            input,
            series,
            time,
            width,
            anchor,
            calendar,
            lower,
            upper,
            gap_values,
            fills,
            schema: Arc::new(schema),
        })
    }

    /// This node over `input` with `fills`, everything else the same.
    fn rebuilt(&self, input: Arc<LogicalPlan>, fills: Vec<Fill>) -> Result<Self> {
        Self::try_new(
            input,
            self.series.clone(),
            self.time.clone(),
            self.width.clone(),
            self.anchor.clone(),
            self.calendar.clone(),
            self.lower.clone(),
            self.upper.clone(),
            self.gap_values.clone(),
            fills,
        )
    }

    /// This node with one more fill column (or the same, if it has it); and that column.
    pub fn with_fill(&self, source: Column, kind: FillKind) -> Result<(Self, Column)> {
        let fill = Fill {
            source: Expr::Column(source.clone()),
            kind,
        };
        let name = fill_column_name(kind, &source.name);
        if self.fills.contains(&fill) {
            return Ok((self.clone(), Column::from_name(name)));
        }
        let mut fills = self.fills.clone();
        fills.push(fill);
        let node = self.rebuilt(Arc::clone(&self.input), fills)?;
        Ok((node, Column::from_name(name)))
    }

    /// This node over its input plus one column computing `expr` (an expression of the input's
    /// columns), unless the input has it; and that column. In an added bucket it is NULL.
    pub fn with_computed_column(&self, expr: Expr) -> Result<(Self, Column)> {
        let name = expr.schema_name().to_string();
        let schema = self.input.schema();
        if let Ok((qualifier, _)) = schema.qualified_field_with_unqualified_name(&name) {
            return Ok((self.clone(), Column::new(qualifier.cloned(), name)));
        }
        let mut exprs: Vec<Expr> = schema.columns().into_iter().map(Expr::Column).collect();
        exprs.push(expr.alias(name.clone()));
        let input = LogicalPlan::Projection(datafusion::logical_expr::Projection::try_new(
            exprs,
            Arc::clone(&self.input),
        )?);
        let node = self.rebuilt(Arc::new(input), self.fills.clone())?;
        Ok((node, Column::from_name(name)))
    }

    /// What a codec carries besides the input and [`UserDefinedLogicalNodeCore::expressions`].
    pub fn shape(&self) -> GapFillShape {
        GapFillShape {
            series: self.series.len(),
            has_anchor: self.anchor.is_some(),
            calendar: self.calendar.clone(),
            lower_inclusive: self.lower.iter().map(|b| b.inclusive).collect(),
            upper_inclusive: self.upper.iter().map(|b| b.inclusive).collect(),
            gap_values: self.gap_values.clone(),
            fills: self.fills.iter().map(|f| f.kind).collect(),
        }
    }

    /// Rebuilds a node from its [`shape`](Self::shape), expressions and input.
    pub fn from_shape(shape: GapFillShape, exprs: Vec<Expr>, input: LogicalPlan) -> Result<Self> {
        let expected = shape.series
            + 2
            + usize::from(shape.has_anchor)
            + shape.lower_inclusive.len()
            + shape.upper_inclusive.len()
            + shape.fills.len();
        if exprs.len() != expected {
            return internal_err!(
                "GapFill: expected {expected} expressions, got {}",
                exprs.len()
            );
        }
        // Optimizer rules that rewrite a constant keep its name with an alias, which means
        // nothing here.
        let mut exprs = exprs.into_iter().map(|e| e.unalias_nested().data);
        let mut next = |n: usize| exprs.by_ref().take(n).collect::<Vec<_>>();
        let series = next(shape.series);
        let mut time_width = next(2).into_iter();
        let (Some(time), Some(width)) = (time_width.next(), time_width.next()) else {
            return internal_err!("GapFill: missing time or width");
        };
        let anchor = next(usize::from(shape.has_anchor)).pop();
        let bounds = |values: Vec<Expr>, inclusive: &[bool]| {
            values
                .into_iter()
                .zip(inclusive)
                .map(|(value, &inclusive)| TimeBound { value, inclusive })
                .collect::<Vec<_>>()
        };
        let lower = bounds(next(shape.lower_inclusive.len()), &shape.lower_inclusive);
        let upper = bounds(next(shape.upper_inclusive.len()), &shape.upper_inclusive);
        let fills = next(shape.fills.len())
            .into_iter()
            .zip(shape.fills)
            .map(|(source, kind)| Fill { source, kind })
            .collect();
        Self::try_new(
            Arc::new(input),
            series,
            time,
            width,
            anchor,
            shape.calendar,
            lower,
            upper,
            shape.gap_values,
            fills,
        )
    }
}

impl PartialEq for GapFill {
    fn eq(&self, other: &Self) -> bool {
        self.input == other.input
            && self.expressions() == other.expressions()
            && self.shape() == other.shape()
    }
}

impl Eq for GapFill {}

impl Hash for GapFill {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.input.hash(state);
        self.expressions().hash(state);
        self.calendar.hash(state);
    }
}

impl PartialOrd for GapFill {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.input.partial_cmp(&other.input)? {
            Ordering::Equal => self.expressions().partial_cmp(&other.expressions()),
            other => Some(other),
        }
    }
}

impl UserDefinedLogicalNodeCore for GapFill {
    fn name(&self) -> &str {
        "GapFill"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![self.input.as_ref()]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        let mut exprs = self.series.clone();
        exprs.push(self.time.clone());
        exprs.push(self.width.clone());
        exprs.extend(self.anchor.clone());
        exprs.extend(self.lower.iter().map(|b| b.value.clone()));
        exprs.extend(self.upper.iter().map(|b| b.value.clone()));
        exprs.extend(self.fills.iter().map(|f| f.source.clone()));
        exprs
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let list = |exprs: &[Expr]| {
            exprs
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let bounds = |bounds: &[TimeBound], lower: bool| {
            bounds
                .iter()
                .map(|b| {
                    let op = match (lower, b.inclusive) {
                        (true, true) => ">=",
                        (true, false) => ">",
                        (false, true) => "<=",
                        (false, false) => "<",
                    };
                    format!("{op} {}", b.value)
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(
            f,
            "GapFill: series=[{}], time={}, width={}",
            list(&self.series),
            self.time,
            self.width
        )?;
        if let Some(anchor) = &self.anchor {
            write!(f, ", anchor={anchor}")?;
        }
        if let Some(calendar) = &self.calendar {
            write!(f, ", calendar={calendar}")?;
        }
        write!(
            f,
            ", range=[{}; {}]",
            bounds(&self.lower, true),
            bounds(&self.upper, false)
        )?;
        if !self.fills.is_empty() {
            let fills = self
                .fills
                .iter()
                .map(|fill| format!("{}({})", fill.kind.name(), fill.source))
                .collect::<Vec<_>>()
                .join(", ");
            write!(f, ", fill=[{fills}]")?;
        }
        Ok(())
    }

    fn with_exprs_and_inputs(
        &self,
        exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        let Some(input) = inputs.pop() else {
            return internal_err!("GapFill has one input");
        };
        Self::from_shape(self.shape(), exprs, input)
    }
}
