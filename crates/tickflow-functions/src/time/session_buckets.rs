//! `session_buckets(width, start, end [, calendar])` in FROM: the time buckets of the exchange's
//! sessions only — the grid for filling gaps in intraday bars.
//!
//! A grid from `time_bucket(width, start, end)` covers nights, weekends and holidays, and a
//! gap-filled result would invent bars there. This grid has, for each trading day from `start`
//! to `end` (both included), the buckets that meet its session: 390 one-minute buckets on a
//! full NYSE day, 210 on an early close. Buckets are aligned as `time_bucket(width, ts)` aligns
//! them, so the grid joins the bars on `bucket_start`.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};

use crate::args::Arg;
use crate::calendar::trading_days::{
    calendar_constant, constant, date_constant, sessions_batch, values_table,
};
use crate::time::bucket::grid_from_scalars;
use crate::time::time_buckets::bucket_lists;

pub const NAME: &str = "session_buckets";

/// The `session_buckets` table function.
#[derive(Debug, Default)]
pub struct SessionBuckets;

impl SessionBuckets {
    pub const DOC: &'static str = "session_buckets(width, start, end [, calendar]) in FROM: one \
row (bucket_start, bucket_end) per time bucket meeting a session of the calendar on the trading \
days from start to end (constant DATEs, both included), aligned as time_bucket(width, ts) \
aligns them, as instants in UTC: the grid to LEFT JOIN bars against when filling \
gaps, with no buckets at night, on weekends or holidays, or after an early close.";

    pub const SQL_EXAMPLE: &'static str = r#"```sql
> SELECT count(*) AS buckets, min(bucket_start) AS first, max(bucket_end) AS last FROM session_buckets(INTERVAL '1 minute', DATE '2019-11-29', DATE '2019-11-29');
+---------+----------------------+----------------------+
| buckets | first                | last                 |
+---------+----------------------+----------------------+
| 210     | 2019-11-29T14:30:00Z | 2019-11-29T18:00:00Z |
+---------+----------------------+----------------------+
```"#;
}

impl TableFunctionImpl for SessionBuckets {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(3..=4).contains(&exprs.len()) {
            return plan_err!(
                "session_buckets: expected session_buckets(width, start, end [, calendar]), \
                 got {} argument(s)",
                exprs.len()
            );
        }
        let start = date_constant(&Arg::new(NAME, 2, "start"), &exprs[1])?;
        let end = date_constant(&Arg::new(NAME, 3, "end"), &exprs[2])?;
        let calendar = calendar_constant(NAME, 4, exprs.get(3))?;
        let width = constant(&Arg::new(NAME, 1, "width"), &exprs[0])?;
        let sessions = sessions_batch(&calendar, start, end)?;
        let ts_type = sessions.column(1).data_type().clone();
        let grid = grid_from_scalars(NAME, &width, None, 5, &ts_type)?;
        let lists = bucket_lists(&grid, sessions.column(1), sessions.column(2))?;
        let buckets = lists.as_list::<i32>().values().as_struct().clone();
        let batch = RecordBatch::from(buckets);
        values_table(NAME, batch)
    }
}
