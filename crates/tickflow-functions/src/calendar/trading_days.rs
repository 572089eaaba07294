//! `trading_days(start, end [, calendar])` in FROM: one row per trading day, with its session.
//!
//! The calendar as a table, to join daily data against or to build grids from: `(day, open,
//! close)` for every trading day from `start` to `end`, both included, open and close as
//! instants in UTC (13:00 New York on an early close).

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, Date32Array, RecordBatch, RecordBatchOptions, TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DFSchema, Result, ScalarValue, plan_err};
use datafusion::datasource::ViewTable;
use datafusion::execution::context::ExecutionProps;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{ColumnarValue, Expr, LogicalPlanBuilder, lit};
use datafusion::physical_expr::create_physical_expr;

use crate::args::Arg;
use crate::calendar::{Calendar, calendar_named};

pub const NAME: &str = "trading_days";

/// The value of a constant argument expression (a literal, `DATE '..'`, a cast of one).
pub(crate) fn constant(arg: &Arg, expr: &Expr) -> Result<ScalarValue> {
    let physical = create_physical_expr(
        expr,
        &DFSchema::empty(),
        &ExecutionProps::new(),
        &PhysicalPlanningContext::default(),
    )
    .map_err(|_| arg.error("must be a constant"))?;
    evaluate_constant(&physical).map_err(|_| arg.error("must be a constant"))
}

/// The value of a physical expression that reads no column, evaluated over one empty row.
pub fn evaluate_constant(
    physical: &Arc<dyn datafusion::physical_expr::PhysicalExpr>,
) -> Result<ScalarValue> {
    let one_row = RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )?;
    match physical.evaluate(&one_row)? {
        ColumnarValue::Scalar(value) => Ok(value),
        ColumnarValue::Array(array) => ScalarValue::try_from_array(&array, 0),
    }
}

/// A constant DATE argument (a date string is read as one).
pub(crate) fn date_constant(arg: &Arg, expr: &Expr) -> Result<NaiveDate> {
    let value = constant(arg, expr)?;
    let days = match value.cast_to(&DataType::Date32) {
        Ok(ScalarValue::Date32(Some(days))) => days,
        _ => return Err(arg.error(format!("must be a DATE, got {value}"))),
    };
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch");
    Ok(epoch + chrono::Duration::days(i64::from(days)))
}

/// The calendar named by the constant argument `expr` at `position`, or the default.
pub(crate) fn calendar_constant(
    function: &'static str,
    position: usize,
    expr: Option<&Expr>,
) -> Result<Arc<Calendar>> {
    let value = expr
        .map(|e| constant(&Arg::new(function, position, "calendar"), e))
        .transpose()?;
    calendar_named(function, position, value.as_ref())
}

/// The sessions of `calendar`'s trading days from `start` to `end`: a batch `(day, open, close)`.
pub(crate) fn sessions_batch(
    calendar: &Calendar,
    start: NaiveDate,
    end: NaiveDate,
) -> Result<RecordBatch> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch");
    let (mut days, mut opens, mut closes) = (vec![], vec![], vec![]);
    for (day, open, close) in calendar.sessions(start, end)? {
        days.push((day - epoch).num_days() as i32);
        opens.push(open.timestamp_nanos_opt());
        closes.push(close.timestamp_nanos_opt());
    }
    let instants = |values: Vec<Option<i64>>| {
        Arc::new(TimestampNanosecondArray::from(values).with_timezone("UTC")) as ArrayRef
    };
    Ok(RecordBatch::try_new(
        sessions_schema(),
        vec![
            Arc::new(Date32Array::from(days)),
            instants(opens),
            instants(closes),
        ],
    )?)
}

/// `(day, open, close)`: open and close are instants in UTC. Compared with a TIMESTAMP without
/// time zone (which tickflow takes as UTC) they mean the same instant, as with any zone's.
fn sessions_schema() -> SchemaRef {
    let instant = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("day", DataType::Date32, false),
        Field::new("open", instant.clone(), false),
        Field::new("close", instant, false),
    ]))
}

/// The most rows a calendar table function returns: its rows travel in the query plan.
const MAX_ROWS: usize = 500_000;

/// `batch` as the table a table function returns: a view of its rows written out as `VALUES`.
/// The rows are part of the plan, so they reach a cluster with it, and two calls with different
/// arguments are different plans (DataFusion tells table scans apart by name, and a table
/// function's scan is named after the function: two in-memory tables under one name would be
/// taken as one and computed once).
pub(crate) fn values_table(function: &str, batch: RecordBatch) -> Result<Arc<dyn TableProvider>> {
    if batch.num_rows() > MAX_ROWS {
        return plan_err!(
            "{function}: {} rows is more than the {MAX_ROWS} a calendar table function returns; \
             ask for fewer days or wider buckets",
            batch.num_rows()
        );
    }
    let schema = batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let builder = if batch.num_rows() == 0 {
        let nulls = schema
            .fields()
            .iter()
            .map(|f| Ok(lit(ScalarValue::try_from(f.data_type())?).alias(f.name())))
            .collect::<Result<Vec<_>>>()?;
        LogicalPlanBuilder::empty(true)
            .project(nulls)?
            .filter(lit(false))?
    } else {
        let rows = (0..batch.num_rows())
            .map(|row| {
                batch
                    .columns()
                    .iter()
                    .map(|c| Ok(lit(ScalarValue::try_from_array(c, row)?)))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let values = LogicalPlanBuilder::values(rows)?;
        let columns = values.schema().columns();
        values.project(
            columns
                .into_iter()
                .zip(&names)
                .map(|(c, n)| Expr::Column(c).alias(*n)),
        )?
    };
    Ok(Arc::new(ViewTable::new(builder.build()?, None)))
}

/// The `trading_days` table function.
#[derive(Debug, Default)]
pub struct TradingDays;

impl TradingDays {
    pub const DOC: &'static str = "trading_days(start, end [, calendar]) in FROM: one row \
(day, open, close) per trading day of the calendar from start to end, both included; open and \
close are the session's instants in UTC (the early close on such days; cast them to the \
exchange's zone to show local times). start and end are constant DATEs; calendar as for \
is_trading_day.";

    pub const SQL_EXAMPLE: &'static str = r#"```sql
> SELECT * FROM trading_days(DATE '2019-11-26', DATE '2019-11-30');
+------------+----------------------+----------------------+
| day        | open                 | close                |
+------------+----------------------+----------------------+
| 2019-11-26 | 2019-11-26T14:30:00Z | 2019-11-26T21:00:00Z |
| 2019-11-27 | 2019-11-27T14:30:00Z | 2019-11-27T21:00:00Z |
| 2019-11-29 | 2019-11-29T14:30:00Z | 2019-11-29T18:00:00Z |
+------------+----------------------+----------------------+
```"#;
}

impl TableFunctionImpl for TradingDays {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(2..=3).contains(&exprs.len()) {
            return plan_err!(
                "trading_days: expected trading_days(start, end [, calendar]), got {} argument(s)",
                exprs.len()
            );
        }
        let start = date_constant(&Arg::new(NAME, 1, "start"), &exprs[0])?;
        let end = date_constant(&Arg::new(NAME, 2, "end"), &exprs[1])?;
        let calendar = calendar_constant(NAME, 3, exprs.get(2))?;
        let batch = sessions_batch(&calendar, start, end)?;
        values_table(NAME, batch)
    }
}
