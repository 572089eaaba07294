//! The bars of `sql/01_bars.sql`, computed in steps: partial aggregate states of new trades,
//! merged with the states of the buckets still open, and finished only when a bucket closes.
//!
//! The query is the script itself ([`crate::bars::BARS_SQL`]): its `CREATE TABLE bars AS SELECT`
//! is planned over the new trades, and the steps are DataFusion's own aggregation modes on the
//! aggregate of that plan (`count`, `bar_std`, `vwap`, `total_volume`, `ohlc`): `Partial` over
//! new rows, `PartialReduce` to merge states, `Final` to evaluate them; the plan's part above
//! the aggregate then computes the bar table's columns. Every tickflow aggregate merges its
//! states exactly on DECIMAL prices, so a bar built over many triggers is the bar a batch run
//! computes.

use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::kernels::boolean::not;
use datafusion::arrow::compute::{concat, concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result, internal_datafusion_err};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::session::{Role, session_state};
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::sqlparser::ast;

use crate::bars::{BARS_SQL_NAME, BarWidth, bars_sql};

/// The bar query for one bar width.
pub struct BarQuery {
    width: BarWidth,
    /// `01_bars.sql`'s `CREATE TABLE bars AS SELECT ...`, for this width.
    statement: Statement,
    /// The trades the bars are computed from.
    rows_schema: SchemaRef,
    ctx: SessionContext,
    /// The plan merging and finishing states reuse (see [`BarQuery::template`]).
    template: Mutex<Option<BarPlan>>,
}

impl std::fmt::Debug for BarQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BarQuery")
            .field("width", &self.width)
            .finish()
    }
}

/// The physical plan of `01_bars.sql`'s bar table, and the aggregation in it.
#[derive(Clone)]
struct BarPlan {
    plan: Arc<dyn ExecutionPlan>,
    /// The node of `plan` that aggregates the trades, one mode that takes them and finishes
    /// (`Single`): below it the trades are read and filtered, above it the bar's columns are
    /// computed from the aggregates.
    aggregate: Arc<dyn ExecutionPlan>,
}

impl BarPlan {
    fn aggregate(&self) -> Result<&AggregateExec> {
        self.aggregate
            .downcast_ref::<AggregateExec>()
            .ok_or_else(|| internal_datafusion_err!("the bar aggregate is not an AggregateExec"))
    }

    /// The aggregation's group column that is a bar's start: its `time_bucket` key.
    fn bucket_column(&self) -> Result<String> {
        self.aggregate()?
            .group_expr()
            .expr()
            .iter()
            .find(|(e, _)| {
                e.downcast_ref::<ScalarFunctionExpr>()
                    .is_some_and(|f| f.fun().name() == "time_bucket")
            })
            .map(|(_, name)| name.clone())
            .ok_or_else(|| internal_datafusion_err!("{BARS_SQL_NAME} groups by no time_bucket"))
    }
}

impl BarQuery {
    /// `rows_schema`: the trades (`symbol`, `ts`, `price`, `size`, `seq`, `date`), the table
    /// `trades` of `01_bars.sql`.
    pub fn new(width: &BarWidth, rows_schema: SchemaRef) -> Result<BarQuery> {
        let sql = bars_sql(width)?;
        let statement = DFParser::parse_sql(&sql)?
            .into_iter()
            .find(|s| matches!(s, Statement::Statement(s) if matches!(**s, ast::Statement::CreateTable(_))))
            .ok_or_else(|| {
                internal_datafusion_err!("{BARS_SQL_NAME} creates no table of bars")
            })?;
        // One partition: the bars of a trigger are planned and merged in one piece.
        let config = SessionConfig::new()
            .with_target_partitions(1)
            .with_information_schema(false);
        let ctx = SessionContext::new_with_state(session_state(Role::Local, config)?);
        Ok(BarQuery {
            width: width.clone(),
            statement,
            rows_schema,
            ctx,
            template: Mutex::new(None),
        })
    }

    pub fn width(&self) -> &BarWidth {
        &self.width
    }

    /// Plans `01_bars.sql`'s bar table over `rows` (trades with a `date` column).
    async fn plan(&self, rows: Vec<RecordBatch>) -> Result<BarPlan> {
        self.register("trades", Arc::clone(&self.rows_schema), rows)?;
        let state = self.ctx.state();
        let query = match state.statement_to_plan(self.statement.clone()).await? {
            LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(create)) => create.input,
            other => {
                return Err(internal_datafusion_err!(
                    "{BARS_SQL_NAME}: expected CREATE TABLE ... AS SELECT, planned {}",
                    other.display()
                ));
            }
        };
        let plan = state.create_physical_plan(&query).await?;
        let aggregate = find_aggregate(&plan).ok_or_else(|| {
            DataFusionError::Internal(format!("no aggregation in the bar plan:\n{plan:?}"))
        })?;
        Ok(BarPlan { plan, aggregate })
    }

    /// The plan to merge and finish states with, planned once (over no rows, so it holds no
    /// data).
    async fn template(&self) -> Result<BarPlan> {
        let kept = self
            .template
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(template) = kept {
            return Ok(template);
        }
        let template = self.plan(Vec::new()).await?;
        *self.template.lock().unwrap_or_else(|p| p.into_inner()) = Some(template.clone());
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
        let plan = self.plan(rows).await?;
        let a = plan.aggregate()?;
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
                let start = self.template().await?.bucket_column()?;
                self.split_closed(merged.batches, Arc::clone(&schema), &start, true, watermark)
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
        Ok((self.bars(finished).await?, open))
    }

    async fn over_states(&self, mode: AggregateMode, states: States) -> Result<States> {
        let template = self.template().await?;
        let a = template.aggregate()?;
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

    /// The bar table's rows from finished aggregates: `01_bars.sql`'s plan above its
    /// aggregation, run over them (the aggregation's output has the finished states' columns).
    async fn bars(&self, finished: States) -> Result<Vec<RecordBatch>> {
        if finished.batches.is_empty() {
            return Ok(Vec::new());
        }
        let template = self.template().await?;
        let schema = template.aggregate.schema();
        let batches = finished
            .batches
            .into_iter()
            .map(|b| RecordBatch::try_new(Arc::clone(&schema), b.columns().to_vec()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let source: Arc<dyn ExecutionPlan> =
            MemorySourceConfig::try_new_exec(&[batches], schema, None)?;
        let plan = Arc::clone(&template.plan)
            .transform_down(|node| {
                Ok(if Arc::ptr_eq(&node, &template.aggregate) {
                    Transformed::yes(Arc::clone(&source))
                } else {
                    Transformed::no(node)
                })
            })?
            .data;
        collect(plan, self.ctx.task_ctx()).await
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
        let column = format!("\"{}\"", column.replace('"', "\"\""));
        let interval = self.width.to_sql();
        let start = if bucketed {
            column
        } else {
            format!("time_bucket({interval}, {column})")
        };
        let sql = format!(
            "SELECT {start} + {interval} <= to_timestamp_nanos({watermark}) AT TIME ZONE 'UTC' FROM {table}"
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

/// The topmost aggregation of `plan` that takes the trades.
fn find_aggregate(plan: &Arc<dyn ExecutionPlan>) -> Option<Arc<dyn ExecutionPlan>> {
    if let Some(a) = plan.downcast_ref::<AggregateExec>()
        && matches!(
            a.mode(),
            AggregateMode::Partial | AggregateMode::Single | AggregateMode::SinglePartitioned
        )
    {
        return Some(Arc::clone(plan));
    }
    plan.children().into_iter().find_map(find_aggregate)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use datafusion::arrow::array::Date32Array;
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::MemTable;

    use super::*;
    use crate::ingest::parse::{ParseOptions, Shape, parse_file};
    use crate::watch::rows_schema;

    const HEADER: &str = "date,time,symbol,price,size,exchange,conditions,seq\n";

    /// The watcher's rows of a trades CSV (UTC times).
    fn trades(rows: &str) -> Result<RecordBatch> {
        let opts = ParseOptions {
            shape: Some(Shape::Trades),
            source_tz: chrono_tz::UTC,
            ..ParseOptions::default()
        };
        let text = format!("{HEADER}{rows}");
        let parsed = parse_file(
            "t.csv",
            "t.csv",
            text.as_bytes(),
            crate::ingest::seq::SeqBase::new(0, 0).map_err(DataFusionError::from)?,
            &opts,
            true,
            &AtomicU64::new(0),
        )
        .map_err(DataFusionError::from)?;
        let mut columns = parsed.batch.columns().to_vec();
        columns.push(Arc::new(Date32Array::from(parsed.dates)));
        Ok(RecordBatch::try_new(rows_schema(), columns)?)
    }

    fn nanos(time: &str) -> i64 {
        chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S")
            .ok()
            .and_then(|t| t.and_utc().timestamp_nanos_opt())
            .unwrap_or_else(|| panic!("not a time: {time}"))
    }

    async fn sorted(ctx: &SessionContext, name: &str, batches: Vec<RecordBatch>) -> Result<String> {
        let schema = batches[0].schema();
        ctx.register_table(name, Arc::new(MemTable::try_new(schema, vec![batches])?))?;
        let sorted = ctx
            .sql(&format!("SELECT * FROM {name} ORDER BY ticker, start"))
            .await?
            .collect()
            .await?;
        Ok(pretty_format_batches(&sorted)?.to_string())
    }

    /// Bars built in steps (partial states, merged across triggers, closed by the watermark)
    /// are the bars a batch run of `01_bars.sql` computes over the same trades.
    #[tokio::test]
    async fn steps_give_the_bars_of_01_bars_sql() -> Result<()> {
        let width = BarWidth::parse("5 minutes").map_err(|e| DataFusionError::Plan(e.0))?;
        let first = trades(
            "2024-01-02,09:30:00,A,10.0,100,Q,,1\n\
             2024-01-02,09:31:00,B,20.5,5,Q,,2\n\
             2024-01-02,09:33:00,A,10.5,50,Q,,3\n\
             2024-01-02,09:36:00,A,9.5,10,Q,,4\n",
        )?;
        let second = trades(
            "2024-01-02,09:37:00,A,11,10,Q,,5\n\
             2024-01-02,09:38:00,B,20.0,7,Q,,6\n\
             2024-01-02,09:38:00,B,20.25,8,Q,,7\n\
             2024-01-02,09:44:00,A,12,1,Q,,8\n",
        )?;
        let query = BarQuery::new(&width, rows_schema())?;
        let states = query.partial(vec![first.clone()]).await?;
        let (mut bars, open) = query
            .close(states, Some(nanos("2024-01-02 09:36:00")))
            .await?;
        assert_eq!(bars.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
        let open = open.expect("the 09:35 bar is open");
        let states = open.concat(query.partial(vec![second.clone()]).await?);
        let (more, open) = query.close(states, None).await?;
        assert!(open.is_none());
        bars.extend(more);

        let ctx = tickflow_plan::session_context(SessionConfig::new())?;
        ctx.register_batch("trades", concat_batches(&rows_schema(), &[first, second])?)?;
        let create = DFParser::parse_sql(&bars_sql(&width)?)?
            .pop_front()
            .expect("CREATE TABLE bars");
        let plan = ctx.state().statement_to_plan(create).await?;
        ctx.execute_logical_plan(plan).await?.collect().await?;
        let batch = ctx.table("bars").await?.collect().await?;

        let watched = sorted(&ctx, "watched", bars).await?;
        assert_eq!(watched, sorted(&ctx, "batch", batch).await?);
        assert!(watched.contains("| end "), "{watched}");
        Ok(())
    }
}
