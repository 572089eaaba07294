//! `session_open(date [, calendar])`: the instant the exchange's session of a date opens.

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion_macros::user_doc;

use crate::args::{Arg, check_arity};
use crate::calendar::{Bound, session_bounds};
use crate::is_trading_day::coerce_date;

const NAME: &str = "session_open";
const DATE: Arg = Arg::new(NAME, 1, "date");

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
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SessionOpen {
    signature: Signature,
}

impl Default for SessionOpen {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionOpen {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for SessionOpen {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, arg_types, 1, 2, "session_open(date [, calendar])")?;
        let mut types = vec![coerce_date(&DATE, &arg_types[0])?];
        types.extend(arg_types.get(1).map(|_| DataType::Utf8));
        Ok(types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(
            TimeUnit::Nanosecond,
            Some("UTC".into()),
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        session_bounds(NAME, &args, Bound::Open)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
