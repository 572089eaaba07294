//! `is_trading_day(date [, calendar])`: whether an exchange has a session that day.
//!
//! The filter for daily data and the building block of session-aware grids: weekends, full
//! holidays and unscheduled closings are not trading days; an early close is one.

use std::sync::Arc;

use datafusion::arrow::array::BooleanArray;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature,
};
use datafusion_macros::user_doc;

use crate::args::{Arg, check_arity};
use crate::calendar::{calendar_arg, local_dates};

const NAME: &str = "is_trading_day";
const DATE: Arg = Arg::new(NAME, 1, "date");

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "Whether the exchange trades on `date`: false on weekends, full holidays and \
unscheduled closings, true on other days (early closes included). A TIMESTAMP counts on its \
date in the calendar's time zone (one without time zone is taken as UTC). NULL for NULL. An \
error for a date the calendar does not cover (XNYS and XNAS: 2000-2030).",
    syntax_example = "is_trading_day(date [, calendar])",
    sql_example = r#"```sql
> SELECT d, is_trading_day(d) AS xnys FROM (VALUES (DATE '2019-11-27'), (DATE '2019-11-28'), (DATE '2019-11-29'), (DATE '2019-11-30')) AS t(d);
+------------+-------+
| d          | xnys  |
+------------+-------+
| 2019-11-27 | true  |
| 2019-11-28 | false |
| 2019-11-29 | true  |
| 2019-11-30 | false |
+------------+-------+
```"#,
    argument(
        name = "date",
        description = "A DATE, a date string ('2019-11-29') or a TIMESTAMP."
    ),
    argument(
        name = "calendar",
        description = "A constant: 'XNYS' (NYSE, the default) or 'XNAS' (Nasdaq), or the path \
of a calendar file ending in .json (see the README's calendars section)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IsTradingDay {
    signature: Signature,
}

crate::args::user_defined_signature!(IsTradingDay);

/// A date argument: DATE (strings and DATE64 cast to it) or a TIMESTAMP as it is.
pub(crate) fn coerce_date(arg: &Arg, dt: &DataType) -> Result<DataType> {
    use DataType::*;
    Ok(match dt {
        Timestamp(_, _) => dt.clone(),
        Date32 | Date64 | Utf8 | Utf8View | LargeUtf8 | Null => Date32,
        other => return Err(arg.error(format!("must be a DATE or a TIMESTAMP, got {other}"))),
    })
}

impl ScalarUDFImpl for IsTradingDay {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, arg_types, 1, 2, "is_trading_day(date [, calendar])")?;
        let mut types = vec![coerce_date(&DATE, &arg_types[0])?];
        types.extend(arg_types.get(1).map(|_| DataType::Utf8));
        Ok(types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let calendar = calendar_arg(NAME, 2, &args.args)?;
        let dates = local_dates(&calendar, &args.args[0].to_array(args.number_rows)?)?;
        let out = dates
            .into_iter()
            .map(|d| d.map(|d| calendar.is_trading_day(d)).transpose())
            .collect::<Result<BooleanArray>>()?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
