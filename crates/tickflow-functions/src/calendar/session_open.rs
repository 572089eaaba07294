//! `session_open(date [, calendar])`: the instant the exchange's session of a date opens.
//!
//! [`SessionBoundary`] is one implementation for `session_open` and `session_close`
//! ([`Bound`] says which); this file holds it and `session_open`'s documentation.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

use super::{calendar_arg, local_dates};

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "The instant the calendar's regular session of `date` opens, in UTC; NULL on a day without a session. With `session_open` and `time_buckets` it builds a session grid from dates in a column (`trading_days` and `session_buckets` take constant dates).",
    syntax_example = "session_open(date [, calendar])",
    sql_example = r#"```sql
> SELECT d, session_open(d) AS open FROM (VALUES (DATE '2019-11-27'), (DATE '2019-11-28'), (DATE '2019-11-29')) AS t(d);
+------------+----------------------+
| d          | open                 |
+------------+----------------------+
| 2019-11-27 | 2019-11-27T14:30:00Z |
| 2019-11-28 |                      |
| 2019-11-29 | 2019-11-29T14:30:00Z |
+------------+----------------------+
```"#,
    argument(
        name = "date",
        description = "A DATE, a date string or a TIMESTAMP (its date in the calendar's zone)."
    ),
    argument(
        name = "calendar",
        description = "A constant: 'XNYS' (the default), 'XNAS', or the path of a calendar file."
    )
)]
#[derive(Debug)]
pub struct SessionOpen;

/// The documentation of `session_open`.
pub(crate) fn documentation() -> Option<&'static Documentation> {
    static DOC: SessionOpen = SessionOpen;
    DOC.doc()
}

/// Which end of a session [`SessionBoundary`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bound {
    Open,
    Close,
}

impl Bound {
    /// The SQL function that gives this end of a session.
    fn function(self) -> &'static str {
        match self {
            Bound::Open => "session_open",
            Bound::Close => "session_close",
        }
    }
}

/// `session_open(date [, calendar])` and `session_close(date [, calendar])`: the instant a
/// date's regular session opens or closes, in UTC (NULL on a day without a session). One
/// implementation for both; their documentation is in `session_open.rs` and `session_close.rs`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SessionBoundary {
    bound: Bound,
    signature: datafusion::logical_expr::Signature,
}

impl SessionBoundary {
    pub fn new(bound: Bound) -> Self {
        Self {
            bound,
            signature: datafusion::logical_expr::Signature::user_defined(
                datafusion::logical_expr::Volatility::Immutable,
            ),
        }
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for SessionBoundary {
    fn name(&self) -> &str {
        self.bound.function()
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn coerce_types(
        &self,
        arg_types: &[datafusion::arrow::datatypes::DataType],
    ) -> Result<Vec<datafusion::arrow::datatypes::DataType>> {
        use datafusion::arrow::datatypes::DataType;
        let name = self.bound.function();
        let usage = format!("{name}(date [, calendar])");
        crate::args::check_arity(name, arg_types, 1, 2, &usage)?;
        let date = crate::args::Arg::new(name, 1, "date");
        let mut types = vec![crate::calendar::is_trading_day::coerce_date(
            &date,
            &arg_types[0],
        )?];
        types.extend(arg_types.get(1).map(|_| DataType::Utf8));
        Ok(types)
    }

    fn return_type(
        &self,
        _arg_types: &[datafusion::arrow::datatypes::DataType],
    ) -> Result<datafusion::arrow::datatypes::DataType> {
        use datafusion::arrow::datatypes::{DataType, TimeUnit};
        Ok(DataType::Timestamp(
            TimeUnit::Nanosecond,
            Some("UTC".into()),
        ))
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> Result<datafusion::logical_expr::ColumnarValue> {
        session_bounds(self.bound.function(), &args, self.bound)
    }

    fn documentation(&self) -> Option<&Documentation> {
        match self.bound {
            Bound::Open => documentation(),
            Bound::Close => crate::calendar::session_close::documentation(),
        }
    }
}

/// The `bound` of each row's session, as UTC instants (NULL on a day without one, or for NULL).
fn session_bounds(
    function: &'static str,
    args: &datafusion::logical_expr::ScalarFunctionArgs,
    bound: Bound,
) -> Result<datafusion::logical_expr::ColumnarValue> {
    use datafusion::arrow::array::TimestampNanosecondArray;
    use datafusion::logical_expr::ColumnarValue;
    let calendar = calendar_arg(function, 2, &args.args)?;
    let dates = local_dates(&calendar, &args.args[0].to_array(args.number_rows)?)?;
    let instants = dates
        .into_iter()
        .map(|d| {
            let Some(d) = d else { return Ok(None) };
            Ok(calendar.session(d)?.and_then(|(open, close)| {
                match bound {
                    Bound::Open => open,
                    Bound::Close => close,
                }
                .timestamp_nanos_opt()
            }))
        })
        .collect::<Result<TimestampNanosecondArray>>()?;
    Ok(ColumnarValue::Array(Arc::new(
        instants.with_timezone("UTC"),
    )))
}
