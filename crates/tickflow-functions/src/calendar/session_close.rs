//! `session_close(date [, calendar])`: the instant the exchange's session of a date closes (the early close on such days).
//!
//! The function is [`SessionBoundary`](super::session_open::SessionBoundary) with
//! [`Bound::Close`](super::session_open::Bound); this file holds its documentation.

use datafusion::logical_expr::Documentation;
use datafusion_macros::user_doc;

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "The instant the calendar's regular session of `date` closes (the early close on such days), in UTC; NULL on a day without a session. With `session_open` and `time_buckets` it builds a session grid from dates in a column (`trading_days` and `session_buckets` take constant dates).",
    syntax_example = "session_close(date [, calendar])",
    sql_example = r#"```sql
> SELECT d, session_close(d) AS close FROM (VALUES (DATE '2019-11-27'), (DATE '2019-11-28'), (DATE '2019-11-29')) AS t(d);
+------------+----------------------+
| d          | close                |
+------------+----------------------+
| 2019-11-27 | 2019-11-27T21:00:00Z |
| 2019-11-28 |                      |
| 2019-11-29 | 2019-11-29T18:00:00Z |
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
pub struct SessionClose;

/// The documentation of `session_close`.
pub(crate) fn documentation() -> Option<&'static Documentation> {
    static DOC: SessionClose = SessionClose;
    DOC.doc()
}
