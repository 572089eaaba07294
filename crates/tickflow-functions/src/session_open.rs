//! `session_open(date [, calendar])`: the instant the exchange's session of a date opens.
//!
//! The function is [`SessionBoundary`](crate::calendar::SessionBoundary) with
//! [`Bound::Open`](crate::calendar::Bound); this file holds its documentation.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

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
