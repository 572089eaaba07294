//! The bars of `sql/01_bars.sql`, computed in steps: partial aggregate states of new trades,
//! merged with the states of the buckets still open, and finished only when a bucket closes.
//!
//! The steps are DataFusion's own aggregation modes on the very aggregate `01_bars.sql` plans
//! (`count`, `bar_std`, `vwap`, `total_volume`, `ohlc`): `Partial` over new rows, `PartialReduce`
//! to merge states, `Final` to evaluate them. Every tickflow aggregate merges its states exactly
//! on DECIMAL prices, so a bar built over many triggers is the bar a batch run computes.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::{SessionConfig, SessionContext};

/// The bar query for one bar width.
pub struct BarQuery {
    width: String,
    ctx: SessionContext,
}

impl std::fmt::Debug for BarQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BarQuery")
            .field("width", &self.width)
            .finish()
    }
}

/// The aggregation DataFusion plans for the bars, taken apart.
struct Template {
    aggregate: Arc<AggregateExec>,
}

/// Names of the finished aggregate's columns, as `01_bars.sql` names them before its last
/// projection.
const AGGREGATE_COLUMNS: [&str; 8] = [
    "date",
    "ticker",
    "start",
    "activity_count",
    "std",
    "vwap",
    "volume",
    "bar",
];

impl BarQuery {
    /// `width`: any `time_bucket` width (`'1 minute'`, `'5 minutes'`, `'1 hour'`).
    pub fn new(width: &str) -> Result<BarQuery> {
        if width.contains('\'') {
            return Err(DataFusionError::Plan(format!(
                "bar width {width:?}: not an interval"
            )));
        }
        let ctx = tickflow_functions::session_context(
            SessionConfig::new()
                .with_target_partitions(1)
                .with_information_schema(false),
        )?;
        Ok(BarQuery {
            width: width.to_string(),
            ctx,
        })
    }

    pub fn width(&self) -> &str {
        &self.width
    }

    fn interval(&self) -> String {
        format!("INTERVAL '{}'", self.width)
    }

    /// Plans the aggregation of `01_bars.sql` over `rows` (trades with a `date` column).
    async fn template(&self, rows: Vec<RecordBatch>, schema: SchemaRef) -> Result<Template> {
        let ctx = self.ctx.clone();
        let _ = ctx.deregister_table("batch");
        let table = datafusion::datasource::MemTable::try_new(schema, vec![rows])?;
        ctx.register_table("batch", Arc::new(table))?;
        let sql = format!(
            "SELECT date, ticker, start, count(*), bar_std(price), vwap(price, size), \
                    total_volume(size), ohlc(ts, price, seq) \
             FROM (SELECT CAST(date AS DATE) AS date, symbol AS ticker, \
                          time_bucket({}, ts) AS start, ts, price, size, seq FROM batch) \
             GROUP BY date, ticker, start",
            self.interval()
        );
        let plan = ctx.sql(&sql).await?.create_physical_plan().await?;
        let aggregate = find_aggregate(&plan).ok_or_else(|| {
            DataFusionError::Internal(format!("no aggregation in the bar plan:\n{plan:?}"))
        })?;
        Ok(Template { aggregate })
    }

    /// Partial states of `rows`: one row per (date, ticker, start) with every aggregate's
    /// state.
    pub async fn partial(&self, rows: Vec<RecordBatch>, schema: SchemaRef) -> Result<States> {
        let t = self.template(rows, schema).await?;
        let a = &t.aggregate;
        let exec = AggregateExec::try_new(
            AggregateMode::Partial,
            a.group_expr().clone(),
            a.aggr_expr().to_vec(),
            a.filter_expr().to_vec(),
            Arc::clone(a.input()),
            a.input_schema(),
        )?;
        self.run(Arc::new(exec)).await
    }

    /// `states` merged: one row per bucket.
    pub async fn reduce(&self, states: States, rows_schema: SchemaRef) -> Result<States> {
        self.over_states(AggregateMode::PartialReduce, states, rows_schema)
            .await
    }

    /// The finished aggregates of `states` (columns [`AGGREGATE_COLUMNS`]).
    pub async fn finish(&self, states: States, rows_schema: SchemaRef) -> Result<Vec<RecordBatch>> {
        let out = self
            .over_states(AggregateMode::Final, states, rows_schema)
            .await?;
        out.batches.iter().map(rename).collect()
    }

    async fn over_states(
        &self,
        mode: AggregateMode,
        states: States,
        rows_schema: SchemaRef,
    ) -> Result<States> {
        let t = self.template(Vec::new(), rows_schema).await?;
        let a = &t.aggregate;
        let input = MemorySourceConfig::try_new_exec(&[states.batches], states.schema, None)?;
        let exec = AggregateExec::try_new(
            mode,
            a.group_expr().as_final(),
            a.aggr_expr().to_vec(),
            a.filter_expr().to_vec(),
            input,
            a.input_schema(),
        )?;
        self.run(Arc::new(exec)).await
    }

    async fn run(&self, exec: Arc<dyn ExecutionPlan>) -> Result<States> {
        let schema = exec.schema();
        let batches = collect(exec, self.ctx.task_ctx()).await?;
        Ok(States {
            schema,
            batches: batches.into_iter().filter(|b| b.num_rows() > 0).collect(),
        })
    }

    /// The bar table's rows (the columns of `01_bars.sql`'s `bars`) from finished aggregates.
    pub async fn bars(&self, finished: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
        let Some(first) = finished.first() else {
            return Ok(Vec::new());
        };
        let table = datafusion::datasource::MemTable::try_new(first.schema(), vec![finished])?;
        let ctx = self.ctx.clone();
        let _ = ctx.deregister_table("finished");
        ctx.register_table("finished", Arc::new(table))?;
        let sql = format!(
            "SELECT date, ticker, activity_count, std, vwap, volume, start, \
                    start + {} AS \"end\", bar['open'] AS open, bar['high'] AS high, \
                    bar['low'] AS low, bar['close'] AS close \
             FROM finished",
            self.interval()
        );
        let out = ctx.sql(&sql).await?.collect().await;
        ctx.deregister_table("finished")?;
        out
    }

    /// The rows of `batches` (any table with a timestamp column `column`) whose bucket ends at
    /// or before `watermark` (UTC nanoseconds), and the others.
    pub async fn split_closed(
        &self,
        batches: Vec<RecordBatch>,
        schema: SchemaRef,
        column: &str,
        bucketed: bool,
        watermark: i64,
    ) -> Result<(Vec<RecordBatch>, Vec<RecordBatch>)> {
        if batches.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let ctx = self.ctx.clone();
        let _ = ctx.deregister_table("split");
        let table = datafusion::datasource::MemTable::try_new(schema, vec![batches])?;
        ctx.register_table("split", Arc::new(table))?;
        let start = if bucketed {
            format!("\"{column}\"")
        } else {
            format!("time_bucket({}, \"{column}\")", self.interval())
        };
        let condition = format!(
            "{start} + {} <= to_timestamp_nanos({watermark}) AT TIME ZONE 'UTC'",
            self.interval()
        );
        let closed = ctx
            .sql(&format!("SELECT * FROM split WHERE {condition}"))
            .await?
            .collect()
            .await?;
        let open = ctx
            .sql(&format!("SELECT * FROM split WHERE NOT ({condition})"))
            .await?
            .collect()
            .await?;
        ctx.deregister_table("split")?;
        let keep = |b: Vec<RecordBatch>| b.into_iter().filter(|b| b.num_rows() > 0).collect();
        Ok((keep(closed), keep(open)))
    }
}

/// Aggregate states: group columns and every aggregate's state columns.
#[derive(Debug, Clone)]
pub struct States {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl States {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// `self` and `other` as one input (same schema).
    pub fn concat(mut self, other: States) -> States {
        self.batches.extend(other.batches);
        self
    }
}

fn find_aggregate(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<AggregateExec>> {
    if let Some(a) = plan.downcast_ref::<AggregateExec>()
        && matches!(
            a.mode(),
            AggregateMode::Partial | AggregateMode::Single | AggregateMode::SinglePartitioned
        )
    {
        return Some(Arc::new(a.clone()));
    }
    plan.children().into_iter().find_map(find_aggregate)
}

/// A finished batch with the column names of `01_bars.sql`.
fn rename(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    if schema.fields().len() != AGGREGATE_COLUMNS.len() {
        return Err(DataFusionError::Internal(format!(
            "the bar aggregate has {} columns, not {}",
            schema.fields().len(),
            AGGREGATE_COLUMNS.len()
        )));
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .zip(AGGREGATE_COLUMNS)
        .map(|(f, name)| f.as_ref().clone().with_name(name))
        .collect();
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        batch.columns().to_vec(),
    )?)
}
