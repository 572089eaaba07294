//! The bars of `sql/01_bars.sql`, computed in steps: partial aggregate states of new trades,
//! merged with the states of the buckets still open, and finished only when a bucket closes.
//!
//! The steps are DataFusion's own aggregation modes on the very aggregate `01_bars.sql` plans
//! (`count`, `bar_std`, `vwap`, `total_volume`, `ohlc`): `Partial` over new rows, `PartialReduce`
//! to merge states, `Final` to evaluate them. Every tickflow aggregate merges its states exactly
//! on DECIMAL prices, so a bar built over many triggers is the bar a batch run computes.

use std::sync::Arc;

use std::sync::Mutex;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::kernels::boolean::not;
use datafusion::arrow::compute::{concat, concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::{DataFusionError, Result};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::{SessionConfig, SessionContext};

/// The bar query for one bar width.
pub struct BarQuery {
    width: String,
    /// The trades the bars are computed from.
    rows_schema: SchemaRef,
    ctx: SessionContext,
    /// The aggregation merging and finishing states reuse (see [`BarQuery::template`]).
    template: Mutex<Option<Arc<AggregateExec>>>,
}

impl std::fmt::Debug for BarQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BarQuery")
            .field("width", &self.width)
            .finish()
    }
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
    /// `width`: any `time_bucket` width (`'1 minute'`, `'5 minutes'`, `'1 hour'`); `rows_schema`:
    /// the trades (`symbol`, `ts`, `price`, `size`, `seq`, `date`).
    pub fn new(width: &str, rows_schema: SchemaRef) -> Result<BarQuery> {
        if width.contains('\'') {
            return Err(DataFusionError::Plan(format!(
                "bar width {width:?}: not an interval"
            )));
        }
        let ctx = tickflow_plan::session_context(
            SessionConfig::new()
                .with_target_partitions(1)
                .with_information_schema(false),
        )?;
        Ok(BarQuery {
            width: width.to_string(),
            rows_schema,
            ctx,
            template: Mutex::new(None),
        })
    }

    pub fn width(&self) -> &str {
        &self.width
    }

    fn interval(&self) -> String {
        format!("INTERVAL '{}'", self.width)
    }

    /// Plans the aggregation of `01_bars.sql` over `rows` (trades with a `date` column).
    async fn plan(&self, rows: Vec<RecordBatch>) -> Result<Arc<AggregateExec>> {
        let table = self.register("batch", Arc::clone(&self.rows_schema), rows)?;
        let sql = format!(
            "SELECT date, ticker, start, count(*), bar_std(price), vwap(price, size), \
                    total_volume(size), ohlc(ts, price, seq) \
             FROM (SELECT CAST(date AS DATE) AS date, symbol AS ticker, \
                          time_bucket({}, ts) AS start, ts, price, size, seq FROM {table}) \
             GROUP BY date, ticker, start",
            self.interval()
        );
        let plan = self.ctx.sql(&sql).await?.create_physical_plan().await?;
        let aggregate = find_aggregate(&plan).ok_or_else(|| {
            DataFusionError::Internal(format!("no aggregation in the bar plan:\n{plan:?}"))
        })?;
        Ok(aggregate)
    }

    /// The aggregation to merge or finish states with, planned once (over no rows, so it holds
    /// no data).
    async fn template(&self) -> Result<Arc<AggregateExec>> {
        let kept = self
            .template
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(template) = kept {
            return Ok(template);
        }
        let template = self.plan(Vec::new()).await?;
        *self.template.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&template));
        Ok(template)
    }

    /// Registers `batches` as the table `name` (replacing it) and returns the name.
    fn register(
        &self,
        name: &'static str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<&'static str> {
        let _ = self.ctx.deregister_table(name);
        let table = datafusion::datasource::MemTable::try_new(schema, vec![batches])?;
        self.ctx.register_table(name, Arc::new(table))?;
        Ok(name)
    }

    /// Partial states of `rows`: one row per (date, ticker, start) with every aggregate's
    /// state.
    pub async fn partial(&self, rows: Vec<RecordBatch>) -> Result<States> {
        let a = self.plan(rows).await?;
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

    /// Merges `states` (one row per bucket) and finishes the buckets that end at or before
    /// `watermark` (every bucket when it is `None`): the bar table's rows of the closed buckets,
    /// and the states of the open ones.
    pub async fn close(
        &self,
        states: States,
        watermark: Option<i64>,
    ) -> Result<(Vec<RecordBatch>, Option<States>)> {
        let merged = self
            .over_states(AggregateMode::PartialReduce, states)
            .await?;
        let schema = Arc::clone(&merged.schema);
        let (closed, open) = match watermark {
            None => (merged.batches, Vec::new()),
            Some(watermark) => {
                self.split_closed(
                    merged.batches,
                    Arc::clone(&schema),
                    "start",
                    true,
                    watermark,
                )
                .await?
            }
        };
        let open = (!open.is_empty()).then(|| States {
            schema: Arc::clone(&schema),
            batches: open,
        });
        if closed.is_empty() {
            return Ok((Vec::new(), open));
        }
        let finished = self
            .over_states(
                AggregateMode::Final,
                States {
                    schema,
                    batches: closed,
                },
            )
            .await?;
        let finished = finished
            .batches
            .iter()
            .map(rename)
            .collect::<Result<Vec<_>>>()?;
        Ok((self.bars(finished).await?, open))
    }

    async fn over_states(&self, mode: AggregateMode, states: States) -> Result<States> {
        let a = self.template().await?;
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
    async fn bars(&self, finished: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
        let Some(first) = finished.first() else {
            return Ok(Vec::new());
        };
        let table = self.register("finished", first.schema(), finished)?;
        let sql = format!(
            "SELECT date, ticker, activity_count, std, vwap, volume, start, \
                    start + {} AS \"end\", bar['open'] AS open, bar['high'] AS high, \
                    bar['low'] AS low, bar['close'] AS close \
             FROM {table}",
            self.interval()
        );
        self.ctx.sql(&sql).await?.collect().await
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
        // One pass: the condition of every row, in order (one partition, a projection), then
        // both sides taken out of the rows.
        let rows = concat_batches(&schema, &batches)?;
        let table = self.register("split", schema, vec![rows.clone()])?;
        let start = if bucketed {
            format!("\"{column}\"")
        } else {
            format!("time_bucket({}, \"{column}\")", self.interval())
        };
        let sql = format!(
            "SELECT {start} + {} <= to_timestamp_nanos({watermark}) AT TIME ZONE 'UTC' FROM {table}",
            self.interval()
        );
        let masks = self.ctx.sql(&sql).await?.collect().await?;
        let masks: Vec<&dyn Array> = masks.iter().map(|b| b.column(0).as_ref()).collect();
        let closed = concat(&masks)?;
        let closed = closed.as_boolean();
        let open = not(closed)?;
        let keep = |b: RecordBatch| {
            if b.num_rows() > 0 {
                vec![b]
            } else {
                Vec::new()
            }
        };
        Ok((
            keep(filter_record_batch(&rows, closed)?),
            keep(filter_record_batch(&rows, &open)?),
        ))
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
