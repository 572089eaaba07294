//! `in_session(ts [, calendar])`: whether an instant falls in the exchange's regular session.
//!
//! The regular-hours filter: `WHERE in_session(ts)` keeps 09:30–16:00 New York on NYSE trading
//! days (to 13:00 on an early close), whatever the daylight-saving offset that day.

use std::sync::Arc;

use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature,
};
use datafusion_macros::user_doc;

use crate::args::{Arg, check_arity};
use crate::calendar::{calendar_arg, instants};

const NAME: &str = "in_session";
const TS: Arg = Arg::new(NAME, 1, "ts");

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "Whether `ts` falls in a regular session of the calendar: on a trading day, \
at or after the open and before the close (the early close on such days), in the exchange's \
time zone. A TIMESTAMP without time zone is taken as UTC. NULL for NULL.",
    syntax_example = "in_session(ts [, calendar])",
    sql_example = r#"```sql
> SELECT ts, in_session(ts) AS rth FROM (VALUES (TIMESTAMP '2019-11-29 14:29:59'), (TIMESTAMP '2019-11-29 14:30:00'), (TIMESTAMP '2019-11-29 17:59:59'), (TIMESTAMP '2019-11-29 18:00:00')) AS t(ts);
+---------------------+-------+
| ts                  | rth   |
+---------------------+-------+
| 2019-11-29T14:29:59 | false |
| 2019-11-29T14:30:00 | true  |
| 2019-11-29T17:59:59 | true  |
| 2019-11-29T18:00:00 | false |
+---------------------+-------+
```"#,
    argument(
        name = "ts",
        description = "The instant: a TIMESTAMP, with or without time zone."
    ),
    argument(
        name = "calendar",
        description = "A constant: 'XNYS' (the default), 'XNAS', or the path of a calendar file."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct InSession {
    signature: Signature,
}

crate::args::user_defined_signature!(InSession);

impl ScalarUDFImpl for InSession {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        use DataType::*;
        check_arity(NAME, arg_types, 1, 2, "in_session(ts [, calendar])")?;
        let ts = match &arg_types[0] {
            Timestamp(_, _) => arg_types[0].clone(),
            Utf8 | Utf8View | LargeUtf8 | Null => Timestamp(TimeUnit::Nanosecond, None),
            other => return Err(TS.error(format!("must be a TIMESTAMP, got {other}"))),
        };
        let mut types = vec![ts];
        types.extend(arg_types.get(1).map(|_| Utf8));
        Ok(types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let calendar = calendar_arg(NAME, 2, &args.args)?;
        let instants = instants(&args.args[0].to_array(args.number_rows)?)?;
        let out = BooleanArray::from(calendar.in_sessions(instants)?);
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
