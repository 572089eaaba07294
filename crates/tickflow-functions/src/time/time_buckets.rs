//! `time_buckets(width, start, end [, origin | timezone])`: every bucket meeting `[start, end)`,
//! as a list of `{bucket_start, bucket_end}`.
//!
//! The grid that gap filling joins against. It is a scalar function (a list per row, so `start`
//! and `end` may be columns: one range per symbol or per session) and the `time_bucket` table
//! function is a view that unnests it — a plan of built-in nodes that serializes to Ballista,
//! unlike an in-memory table.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, ListArray, StructArray};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use crate::time::bucket::{Grid, naive_from_nanos};
use crate::time::time_bucket::{check_constant_grid, coerce_bucket_args, grid_from_args};

const NAME: &str = "time_buckets";
const USAGE: &str = "time_buckets(width, start, end [, origin | timezone])";

/// The most buckets one range may produce: a guard against `INTERVAL '1 microsecond'` over a year.
pub const MAX_BUCKETS: usize = 10_000_000;

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "Every time bucket meeting `[start, end)`, as a list of structs \
`{bucket_start, bucket_end}` in order: the first holds `start`, the last starts before `end`. \
Buckets are those of `time_bucket(width, ts [, origin | timezone])`. An empty list when \
`start >= end`; NULL when start or end is NULL. At most 10,000,000 buckets per range.",
    syntax_example = "time_buckets(width, start, end [, origin | timezone])",
    sql_example = r#"```sql
> SELECT time_buckets(INTERVAL '1 hour', TIMESTAMP '2024-01-02 09:30:00', TIMESTAMP '2024-01-02 11:00:00') AS buckets;
+----------------------------------------------------------------------------------------------------------------------------------------------+
| buckets                                                                                                                                      |
+----------------------------------------------------------------------------------------------------------------------------------------------+
| [{bucket_start: 2024-01-02T09:00:00, bucket_end: 2024-01-02T10:00:00}, {bucket_start: 2024-01-02T10:00:00, bucket_end: 2024-01-02T11:00:00}] |
+----------------------------------------------------------------------------------------------------------------------------------------------+
```"#,
    argument(name = "width", description = "Bucket width, as for `time_bucket`."),
    argument(
        name = "start",
        description = "Start of the range (TIMESTAMP, inclusive)."
    ),
    argument(name = "end", description = "End of the range (TIMESTAMP, exclusive)."),
    argument(
        name = "origin",
        description = "Optional TIMESTAMP the grid is anchored at."
    ),
    argument(name = "timezone", description = "Optional time zone to bucket in.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimeBuckets {
    signature: Signature,
}

impl Default for TimeBuckets {
    fn default() -> Self {
        Self::new()
    }
}

impl TimeBuckets {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The fields of one bucket: start and end, both of the timestamps' type.
pub fn bucket_fields(ts_type: &DataType) -> Fields {
    Fields::from(vec![
        Field::new("bucket_start", ts_type.clone(), false),
        Field::new("bucket_end", ts_type.clone(), false),
    ])
}

fn list_type(ts_type: &DataType) -> DataType {
    DataType::new_list(DataType::Struct(bucket_fields(ts_type)), false)
}

/// Appends the buckets meeting `[start, end)` (raw values of one unit) to `starts`/`ends`.
fn push_buckets(
    grid: &Grid,
    unit: datafusion::arrow::datatypes::TimeUnit,
    start: i64,
    end: i64,
    starts: &mut Vec<i64>,
    ends: &mut Vec<i64>,
) -> Result<()> {
    let bucketer = grid.for_unit(unit);
    let (start_ns, end_ns) = (
        start as i128 * crate::time::bucket::unit_nanos(unit),
        end as i128 * crate::time::bucket::unit_nanos(unit),
    );
    if start_ns >= end_ns {
        return Ok(());
    }
    let (first, mut s) = grid.locate(start_ns)?;
    let (last, _) = grid.locate(end_ns - 1)?;
    let count = last - first + 1;
    if count > MAX_BUCKETS as i128 {
        let show =
            |ns: i128| naive_from_nanos(ns).map_or_else(|_| format!("{ns} ns"), |t| t.to_string());
        return exec_err!(
            "{NAME}: [{}, {}) holds {count} buckets, more than the limit of {MAX_BUCKETS}; \
             use a wider bucket or a shorter range",
            show(start_ns),
            show(end_ns)
        );
    }
    starts.reserve(count as usize);
    ends.reserve(count as usize);
    for k in first..=last {
        let e = grid.start(k + 1)?;
        starts.push(bucketer.to_unit(s)?);
        ends.push(bucketer.to_unit(e)?);
        s = e;
    }
    Ok(())
}

/// For each row, the list of buckets meeting `[start, end)`.
pub(crate) fn bucket_lists(grid: &Grid, start: &ArrayRef, end: &ArrayRef) -> Result<ArrayRef> {
    let ts_type = start.data_type().clone();
    let DataType::Timestamp(unit, _) = ts_type else {
        return exec_err!("{NAME}: expected timestamps, got {ts_type}");
    };
    // Timestamps are i64 underneath; `end` was coerced to `start`'s type.
    let end = cast(end, &ts_type)?;
    let (start_raw, end_raw) = (
        cast(start, &DataType::Int64)?,
        cast(&end, &DataType::Int64)?,
    );
    let (start_raw, end_raw): (&Int64Array, &Int64Array) = (
        start_raw.as_primitive::<Int64Type>(),
        end_raw.as_primitive::<Int64Type>(),
    );
    let (mut starts, mut ends) = (Vec::new(), Vec::new());
    let mut offsets = Vec::with_capacity(start.len() + 1);
    offsets.push(0i32);
    for row in 0..start.len() {
        if start_raw.is_valid(row) && end_raw.is_valid(row) {
            push_buckets(
                grid,
                unit,
                start_raw.value(row),
                end_raw.value(row),
                &mut starts,
                &mut ends,
            )?;
        }
        let Ok(offset) = i32::try_from(starts.len()) else {
            return exec_err!("{NAME}: more than {} buckets in one batch", i32::MAX);
        };
        offsets.push(offset);
    }
    let column = |values: Vec<i64>| -> Result<ArrayRef> {
        Ok(cast(
            &(Arc::new(Int64Array::from(values)) as ArrayRef),
            &ts_type,
        )?)
    };
    let buckets = StructArray::try_new(
        bucket_fields(&ts_type),
        vec![column(starts)?, column(ends)?],
        None,
    )?;
    let nulls = NullBuffer::union(start.logical_nulls().as_ref(), end.logical_nulls().as_ref());
    let list_field = Arc::new(Field::new_list_field(
        DataType::Struct(bucket_fields(&ts_type)),
        false,
    ));
    Ok(Arc::new(ListArray::try_new(
        list_field,
        OffsetBuffer::new(offsets.into()),
        Arc::new(buckets),
        nulls,
    )?))
}

impl ScalarUDFImpl for TimeBuckets {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let mut types = coerce_bucket_args(NAME, arg_types, &["start", "end"], USAGE)?;
        // The range's end takes the type of its start.
        types[2] = types[1].clone();
        Ok(types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_type(&arg_types[1]))
    }

    fn return_field_from_args(
        &self,
        args: datafusion::logical_expr::ReturnFieldArgs,
    ) -> Result<FieldRef> {
        let ts_type = args.arg_fields[1].data_type();
        check_constant_grid(NAME, args.scalar_arguments, 3, ts_type)?;
        Ok(Arc::new(Field::new(NAME, list_type(ts_type), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let grid = grid_from_args(NAME, &args.args, 3, args.arg_fields[1].data_type())?;
        let all_scalar = args.args[1..3]
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { args.number_rows };
        let start = args.args[1].to_array(rows)?;
        let end = args.args[2].to_array(rows)?;
        let lists = bucket_lists(&grid, &start, &end)?;
        if all_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &lists, 0,
            )?))
        } else {
            Ok(ColumnarValue::Array(lists))
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
