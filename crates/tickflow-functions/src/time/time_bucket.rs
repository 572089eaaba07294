//! `time_bucket(width, ts [, origin | timezone])`: the start of the bucket holding `ts`.
//!
//! The GROUP BY key of every bar query. DuckDB's semantics (see [`crate::time::bucket`]), with the
//! same output type (unit and time zone) as `ts`, and declared monotonic in `ts` so that a scan
//! sorted by `(symbol, ts)` stays sorted by `(symbol, time_bucket(.., ts))` and DataFusion can
//! aggregate it as a stream — unlike `date_bin`, which casts `ts` to nanoseconds first.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use datafusion::arrow::datatypes::{
    ArrowTimestampType, DataType, Field, FieldRef, IntervalUnit, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use crate::args::{Arg, check_arity};
use crate::time::bucket::{Grid, UnitBucketer, grid_from_scalars};

const NAME: &str = "time_bucket";
const USAGE: &str = "time_bucket(width, ts [, origin | timezone])";

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "The start of the time bucket holding `ts`: buckets are `[start, start + width)` \
on a grid anchored at `origin`, by default 2000-01-03 00:00 (a Monday) for widths without months \
and 2000-01-01 for month/year widths — DuckDB's and TimescaleDB's `time_bucket`. With a time zone \
(the argument, or else the zone of `ts`'s type), day, week and month buckets start at local \
midnight on both sides of a DST change, and sub-day buckets are counted from local midnight. \
Timestamps without a zone are UTC. Returns the type of `ts` (same unit and zone). Monotonic in \
`ts`, so sorted input stays sorted.",
    syntax_example = "time_bucket(width, ts [, origin | timezone])",
    sql_example = r#"```sql
> SELECT time_bucket(INTERVAL '9 minutes', TIMESTAMP '2024-03-05 09:31:59') AS bucket;
+---------------------+
| bucket              |
+---------------------+
| 2024-03-05T09:27:00 |
+---------------------+
> SELECT time_bucket('1 day', TIMESTAMP '2024-03-10 12:00:00', 'America/New_York') AS bucket;
+---------------------+
| bucket              |
+---------------------+
| 2024-03-10T05:00:00 |
+---------------------+
```"#,
    argument(
        name = "width",
        description = "A positive INTERVAL (`INTERVAL '1 minute'`) or string (`'9 minutes'`): \
either a fixed length (micro/milli/seconds, minutes, hours, days, weeks) or whole months/years, \
never both."
    ),
    argument(
        name = "ts",
        description = "The TIMESTAMP to bucket, of any unit and time zone."
    ),
    argument(
        name = "origin",
        description = "Optional TIMESTAMP the grid is anchored at."
    ),
    argument(
        name = "timezone",
        description = "Optional time zone to bucket in: an IANA name ('America/New_York') or an \
offset ('+05:30')."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimeBucket {
    signature: Signature,
}

impl Default for TimeBucket {
    fn default() -> Self {
        Self::new()
    }
}

impl TimeBucket {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// Coerces `(width, ts [, origin | timezone])`, shared with the functions that take a width and
/// an anchor: `ts_positions` are the arguments that are timestamps.
pub fn coerce_bucket_args(
    function: &'static str,
    arg_types: &[DataType],
    ts_names: &[&'static str],
    usage: &str,
) -> Result<Vec<DataType>> {
    let n_ts = ts_names.len();
    check_arity(function, arg_types, 1 + n_ts, 2 + n_ts, usage)?;
    let mut types = Vec::with_capacity(arg_types.len());
    types.push(match &arg_types[0] {
        DataType::Interval(_) => DataType::Interval(IntervalUnit::MonthDayNano),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
            arg_types[0].clone()
        }
        other => {
            return Err(Arg::new(function, 1, "width").error(format!(
                "must be an INTERVAL or a string such as '9 minutes', got {other}"
            )));
        }
    });
    for (i, name) in ts_names.iter().enumerate() {
        types.push(match &arg_types[1 + i] {
            DataType::Timestamp(_, _) => arg_types[1 + i].clone(),
            DataType::Null => DataType::Timestamp(TimeUnit::Nanosecond, None),
            other => {
                return Err(Arg::new(function, 2 + i, name).error(format!(
                    "must be a TIMESTAMP, got {other}; cast it, e.g. CAST(x AS TIMESTAMP)"
                )));
            }
        });
    }
    if let Some(anchor) = arg_types.get(1 + n_ts) {
        types.push(match anchor {
            DataType::Timestamp(_, _)
            | DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View => anchor.clone(),
            DataType::Null => DataType::Utf8,
            other => {
                return Err(
                    Arg::new(function, 2 + n_ts, "origin | timezone").error(format!(
                        "must be a TIMESTAMP (origin) or a string (time zone), got {other}"
                    )),
                );
            }
        });
    }
    Ok(types)
}

/// The constant value of argument `i`, or an error naming it.
pub(crate) fn constant_arg(args: &[ColumnarValue], i: usize, arg: Arg) -> Result<&ScalarValue> {
    match &args[i] {
        ColumnarValue::Scalar(v) => Ok(v),
        ColumnarValue::Array(_) => Err(arg.error("must be a constant, not a column")),
    }
}

/// Plan time: when the width and the anchor (argument `anchor_index`, if given) are literals,
/// builds the grid so that a bad width or zone fails before any data is read. Arguments that are
/// expressions not yet folded are checked when evaluated (see [`grid_from_args`]).
pub fn check_constant_grid(
    function: &'static str,
    scalar_arguments: &[Option<&ScalarValue>],
    anchor_index: usize,
    ts_type: &DataType,
) -> Result<()> {
    let Some(Some(width)) = scalar_arguments.first() else {
        return Ok(());
    };
    match scalar_arguments.get(anchor_index) {
        Some(None) => Ok(()),
        anchor => grid_from_scalars(
            function,
            width,
            anchor.copied().flatten(),
            anchor_index + 1,
            ts_type,
        )
        .map(|_| ()),
    }
}

/// Run time: the grid of a call whose width and anchor (argument `anchor_index`) are constants.
pub(crate) fn grid_from_args(
    function: &'static str,
    args: &[ColumnarValue],
    anchor_index: usize,
    ts_type: &DataType,
) -> Result<Grid> {
    let width = constant_arg(args, 0, Arg::new(function, 1, "width"))?;
    let anchor = match args.get(anchor_index) {
        Some(_) => Some(constant_arg(
            args,
            anchor_index,
            Arg::new(function, anchor_index + 1, "origin | timezone"),
        )?),
        None => None,
    };
    grid_from_scalars(function, width, anchor, anchor_index + 1, ts_type)
}

fn bucket_array<T: ArrowTimestampType>(
    ts: &ArrayRef,
    bucketer: &UnitBucketer<'_>,
) -> Result<ArrayRef> {
    let ts = ts.as_primitive::<T>();
    // `try_unary` only calls the function on valid (non-NULL) slots.
    let out: PrimitiveArray<T> = ts.try_unary(|t| bucketer.bucket(t))?;
    Ok(Arc::new(out.with_data_type(ts.data_type().clone())))
}

/// Buckets a column of timestamps of any unit on `grid`.
pub(crate) fn bucket_timestamps(ts: &ArrayRef, grid: &Grid) -> Result<ArrayRef> {
    let DataType::Timestamp(unit, _) = ts.data_type() else {
        return exec_err!(
            "{NAME}: expected a timestamp column, got {}",
            ts.data_type()
        );
    };
    let bucketer = grid.for_unit(*unit);
    match unit {
        TimeUnit::Second => bucket_array::<TimestampSecondType>(ts, &bucketer),
        TimeUnit::Millisecond => bucket_array::<TimestampMillisecondType>(ts, &bucketer),
        TimeUnit::Microsecond => bucket_array::<TimestampMicrosecondType>(ts, &bucketer),
        TimeUnit::Nanosecond => bucket_array::<TimestampNanosecondType>(ts, &bucketer),
    }
}

impl ScalarUDFImpl for TimeBucket {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce_bucket_args(NAME, arg_types, &["ts"], USAGE)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[1].clone())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let ts_field = &args.arg_fields[1];
        check_constant_grid(NAME, args.scalar_arguments, 2, ts_field.data_type())?;
        Ok(Arc::new(Field::new(
            NAME,
            ts_field.data_type().clone(),
            ts_field.is_nullable(),
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let grid = grid_from_args(NAME, &args.args, 2, args.arg_fields[1].data_type())?;
        match &args.args[1] {
            ColumnarValue::Array(ts) => Ok(ColumnarValue::Array(bucket_timestamps(ts, &grid)?)),
            ColumnarValue::Scalar(ts) => {
                let bucketed = bucket_timestamps(&ts.to_array()?, &grid)?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                    &bucketed, 0,
                )?))
            }
        }
    }

    fn output_ordering(&self, inputs: &[ExprProperties]) -> Result<SortProperties> {
        // Monotonic (non-decreasing) in ts when the width and the anchor are constants.
        let constant = |i: usize| {
            inputs
                .get(i)
                .is_none_or(|p| p.sort_properties == SortProperties::Singleton)
        };
        if constant(0) && constant(2) {
            Ok(inputs[1].sort_properties)
        } else {
            Ok(SortProperties::Unordered)
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
