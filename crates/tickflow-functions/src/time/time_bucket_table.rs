//! The table function `time_bucket(width, start, end [, origin | timezone])`: one row
//! `(bucket_start, bucket_end)` per bucket meeting `[start, end)`.
//!
//! ```sql
//! SELECT g.bucket_start, s.symbol, b.close
//! FROM time_bucket(INTERVAL '1 minute', TIMESTAMP '2024-01-02 14:30', TIMESTAMP '2024-01-02 21:00') g
//! CROSS JOIN symbols s
//! LEFT JOIN bars b ON b.symbol = s.symbol AND b.bucket = g.bucket_start;
//! ```
//!
//! It returns a view over `unnest(time_buckets(..))` rather than a materialized table: DataFusion
//! inlines the view into the query, so the plan holds only built-in nodes and tickflow's scalar
//! function, and serializes to a Ballista cluster like any other query.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DFSchema, Result, plan_err};
use datafusion::datasource::ViewTable;
use datafusion::functions::core::expr_fn::get_field;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlanBuilder, col};

use crate::time::bucket::grid_from_scalars;

/// Checks a constant width and anchor now, so errors name this function (not `time_buckets`).
fn validate_constants(exprs: &[Expr]) -> Result<()> {
    let literal = |e: &Expr| match e {
        Expr::Literal(v, _) => Some(v.clone()),
        _ => None,
    };
    let Some(width) = literal(&exprs[0]) else {
        return Ok(());
    };
    let anchor = exprs.get(3).map(literal);
    if matches!(anchor, Some(None)) {
        return Ok(());
    }
    let start_type = match exprs[1].get_type(&DFSchema::empty())? {
        DataType::Null => DataType::Timestamp(TimeUnit::Nanosecond, None),
        t @ DataType::Timestamp(_, _) => t,
        other => {
            return Err(crate::args::Arg::new(NAME, 2, "start")
                .error(format!("must be a TIMESTAMP, got {other}")));
        }
    };
    grid_from_scalars(NAME, &width, anchor.flatten().as_ref(), 4, &start_type)?;
    Ok(())
}

/// The SQL name of the table function.
pub const NAME: &str = "time_bucket";

/// The `time_bucket` table function. See the module docs.
#[derive(Debug, Default)]
pub struct TimeBucketTable;

impl TimeBucketTable {
    /// The table function's documentation (table functions have no `Documentation` slot).
    pub const DOC: &'static str = "time_bucket(width, start, end [, origin | timezone]) in FROM: \
one row (bucket_start, bucket_end) per time bucket meeting [start, end), the grid to LEFT JOIN \
bars against when filling gaps.";

    /// An example with its real output (executed by the docs test).
    pub const SQL_EXAMPLE: &'static str = r#"```sql
> SELECT * FROM time_bucket(INTERVAL '30 minutes', TIMESTAMP '2024-01-02 14:30:00', TIMESTAMP '2024-01-02 16:00:00');
+---------------------+---------------------+
| bucket_start        | bucket_end          |
+---------------------+---------------------+
| 2024-01-02T14:30:00 | 2024-01-02T15:00:00 |
| 2024-01-02T15:00:00 | 2024-01-02T15:30:00 |
| 2024-01-02T15:30:00 | 2024-01-02T16:00:00 |
+---------------------+---------------------+
```"#;
}

impl TableFunctionImpl for TimeBucketTable {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(3..=4).contains(&exprs.len()) {
            return plan_err!(
                "time_bucket: as a table function, expected time_bucket(width, start, end \
                 [, origin | timezone]), got {} argument(s)",
                exprs.len()
            );
        }
        validate_constants(exprs)?;
        let list = crate::time_buckets_udf().call(exprs.to_vec());
        let plan = LogicalPlanBuilder::empty(true)
            .project(vec![list.alias("__buckets")])?
            .unnest_column("__buckets")?
            .project(vec![
                get_field(col("__buckets"), "bucket_start").alias("bucket_start"),
                get_field(col("__buckets"), "bucket_end").alias("bucket_end"),
            ])?
            .build()?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}
