//! `time_bucket_gapfill(width, ts [, origin | timezone | calendar [, calendar]])`: the GROUP BY
//! key of a gap-filled query.
//!
//! TimescaleDB's `time_bucket_gapfill` and InfluxDB 3's `date_bin_gapfill`: it buckets like
//! [`time_bucket`](tickflow_functions::time::time_bucket) and, in addition, makes the query return a row for every
//! bucket of the time range in its WHERE clause, for every series, also where no row fell. It
//! has no value of its own: the gap-fill analyzer rule ([`crate::gap_fill`]) turns it into
//! `time_bucket` and adds the `GapFill` step to the plan; a call that rule did not rewrite
//! (outside a GROUP BY) is a plan error.

use std::str::FromStr;
use std::sync::Arc;

use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion_macros::user_doc;

use tickflow_functions::args::{Arg, check_arity};
use tickflow_functions::time::time_bucket::{check_constant_grid, coerce_bucket_args};

pub const NAME: &str = "time_bucket_gapfill";
const USAGE: &str = "time_bucket_gapfill(width, ts [, origin | timezone | calendar [, calendar]])";

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "As a GROUP BY key: buckets `ts` as `time_bucket` does, and makes the query \
return one row per bucket of the time range for every series (the other GROUP BY keys), empty \
buckets included. The range is taken from the WHERE clause, which must bound `ts` below \
(`ts >= ...` or `ts > ...`) and above (`ts < ...` or `ts <= ...`) with constants. In an empty \
bucket each aggregate is what it gives over no rows (NULL; `count` 0), unless the SELECT list \
fills it: `locf(agg)` carries the last value forward, `locf(agg, prev)` starts from `prev` \
(e.g. a subquery for the last value before the range), `interpolate(agg)` is linear in time \
between the neighbouring buckets. Given a calendar ('XNYS', 'XNAS' or the path of a calendar \
file) as the last argument, only buckets that meet a session of that calendar are added: no \
bars at night, on weekends or holidays, or after an early close. Rows the aggregation returns \
are never dropped. Timescale's and InfluxDB's gap filling, with exchange calendars.",
    syntax_example = "time_bucket_gapfill(width, ts [, origin | timezone | calendar [, calendar]])",
    sql_example = r#"```sql
> SELECT time_bucket_gapfill(INTERVAL '1 minute', ts) AS minute, count(*) AS trades, locf(last_value(price ORDER BY ts)) AS close FROM (VALUES (TIMESTAMP '2024-01-02 14:30:05', 10.0), (TIMESTAMP '2024-01-02 14:33:10', 10.5)) AS t(ts, price) WHERE ts >= TIMESTAMP '2024-01-02 14:30:00' AND ts < TIMESTAMP '2024-01-02 14:35:00' GROUP BY 1 ORDER BY 1;
+---------------------+--------+-------+
| minute              | trades | close |
+---------------------+--------+-------+
| 2024-01-02T14:30:00 | 1      | 10.0  |
| 2024-01-02T14:31:00 | 0      | 10.0  |
| 2024-01-02T14:32:00 | 0      | 10.0  |
| 2024-01-02T14:33:00 | 1      | 10.5  |
| 2024-01-02T14:34:00 | 0      | 10.5  |
+---------------------+--------+-------+
```"#,
    argument(
        name = "width",
        description = "A positive INTERVAL or string, as for `time_bucket`."
    ),
    argument(
        name = "ts",
        description = "The TIMESTAMP column to bucket; the WHERE clause must bound it on both sides."
    ),
    argument(
        name = "origin",
        description = "Optional TIMESTAMP the grid is anchored at, as for `time_bucket`."
    ),
    argument(
        name = "timezone",
        description = "Optional time zone to bucket in, as for `time_bucket`."
    ),
    argument(
        name = "calendar",
        description = "Optional exchange calendar ('XNYS', 'XNAS' or a calendar file's path): \
only buckets meeting its sessions are filled."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimeBucketGapfill {
    signature: Signature,
}

impl Default for TimeBucketGapfill {
    fn default() -> Self {
        Self::new()
    }
}

impl TimeBucketGapfill {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// What the arguments after `ts` of a `time_bucket_gapfill` call mean.
#[derive(Debug, Clone, PartialEq)]
pub struct GapfillArgs<T> {
    /// The origin or time zone `time_bucket` gets.
    pub anchor: Option<T>,
    /// The calendar whose sessions the grid keeps to.
    pub calendar: Option<String>,
}

/// Splits the arguments after `width` and `ts`: with one, a string that is not a time zone names
/// a calendar; with two, the first is the anchor (or NULL) and the second the calendar.
/// `constant` gives an argument's constant value, if it has one.
pub fn split_args<T: Clone>(
    rest: &[T],
    constant: impl Fn(&T) -> Option<ScalarValue>,
) -> Result<GapfillArgs<T>> {
    let calendar_name = |value: Option<ScalarValue>, position: usize| -> Result<String> {
        let arg = Arg::new(NAME, position, "calendar");
        match value {
            Some(
                ScalarValue::Utf8(Some(s))
                | ScalarValue::Utf8View(Some(s))
                | ScalarValue::LargeUtf8(Some(s)),
            ) => Ok(s),
            _ => Err(arg.error("must be a constant string such as 'XNYS'")),
        }
    };
    match rest {
        [] => Ok(GapfillArgs {
            anchor: None,
            calendar: None,
        }),
        [one] => match constant(one) {
            Some(
                ScalarValue::Utf8(Some(s))
                | ScalarValue::Utf8View(Some(s))
                | ScalarValue::LargeUtf8(Some(s)),
            ) if Tz::from_str(&s).is_err() => Ok(GapfillArgs {
                anchor: None,
                calendar: Some(s),
            }),
            _ => Ok(GapfillArgs {
                anchor: Some(one.clone()),
                calendar: None,
            }),
        },
        [anchor, calendar] => {
            let anchor = match constant(anchor) {
                Some(v) if v.is_null() => None,
                _ => Some(anchor.clone()),
            };
            Ok(GapfillArgs {
                anchor,
                calendar: Some(calendar_name(constant(calendar), 4)?),
            })
        }
        more => plan_err!(
            "{NAME}: expected {USAGE}, got {} argument(s)",
            more.len() + 2
        ),
    }
}

impl ScalarUDFImpl for TimeBucketGapfill {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, arg_types, 2, 4, USAGE)?;
        let mut types =
            coerce_bucket_args(NAME, &arg_types[..arg_types.len().min(3)], &["ts"], USAGE)?;
        if let Some(calendar) = arg_types.get(3) {
            types.push(match calendar {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => calendar.clone(),
                other => {
                    return Err(Arg::new(NAME, 4, "calendar")
                        .error(format!("must be a string such as 'XNYS', got {other}")));
                }
            });
        }
        Ok(types)
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[1].clone())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let ts_field = &args.arg_fields[1];
        let split = split_args(&args.scalar_arguments[2..], |v| v.cloned())?;
        let scalars = [
            args.scalar_arguments[0],
            args.scalar_arguments[1],
            split.anchor.flatten(),
        ];
        let anchor_given = split.anchor.is_some();
        check_constant_grid(
            NAME,
            &scalars[..if anchor_given { 3 } else { 2 }],
            2,
            ts_field.data_type(),
        )?;
        if let Some(name) = &split.calendar {
            tickflow_functions::calendar::lookup(name).map_err(|e| {
                Arg::new(NAME, args.arg_fields.len(), "calendar").error(e.strip_backtrace())
            })?;
        }
        Ok(Arc::new(Field::new(
            NAME,
            ts_field.data_type().clone(),
            ts_field.is_nullable(),
        )))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        plan_err!("{}", misuse())
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// The error for a call the gap-fill rule did not rewrite.
pub(crate) fn misuse() -> String {
    format!(
        "{NAME} only works as a GROUP BY key of a query whose WHERE clause bounds its time \
         column on both sides, e.g. SELECT symbol, {NAME}(INTERVAL '1 minute', ts) AS minute, \
         avg(price) FROM trades WHERE ts >= TIMESTAMP '2024-01-02 14:30:00' AND ts < TIMESTAMP \
         '2024-01-02 21:00:00' GROUP BY symbol, minute (and the session must plan gap filling: \
         tickflow_plan::session_context, or tickflow_plan::gap_fill::GapFillExtension on its builder)"
    )
}
