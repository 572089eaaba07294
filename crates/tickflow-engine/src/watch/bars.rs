//! The bars of a bar definition (`sql/01_bars.sql` unless `--bars FILE.sql` gives another),
//! computed in steps: partial aggregate states of new trades, merged with the states of the
//! buckets still open, and finished only when a bucket closes.
//!
//! The query is the definition itself ([`BarDefinition`]): its `CREATE TABLE ... AS SELECT` (or
//! its one `SELECT`) is planned over the new trades, and the steps are DataFusion's own
//! aggregation modes on the aggregate of that plan (for `01_bars.sql`: `count`, `bar_std`,
//! `vwap`, `total_volume`, `ohlc`): `Partial` over new rows, `PartialReduce` to merge states,
//! `Final` to evaluate them; the plan's part above the aggregate then computes the bar table's
//! columns. Every tickflow aggregate merges its states exactly on DECIMAL prices, so a bar built
//! over many triggers is the bar a batch run computes.
//!
//! A definition is checked before anything runs ([`BarQuery::check`]): one aggregation over
//! `trades`, grouped by `time_bucket(INTERVAL '${bar_width}', ts)`, of aggregates whose states
//! merge ([`MERGEABLE`]), with only projections, filters and sorts around it. Anything else (a
//! window function, a join, a second aggregation, a LIMIT, a `DISTINCT` or unknown aggregate, a
//! GROUP BY without the bucket) is refused naming the file and the expression.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::kernels::boolean::not;
use datafusion::arrow::compute::{concat, concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DataFusionError, Result, ScalarValue, internal_datafusion_err};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec};
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::session::{Role, session_state};
use datafusion::sql::parser::{DFParser, Statement};
use datafusion::sql::sqlparser::ast;

use crate::bars::{BARS_SQL, BARS_SQL_NAME, BarWidth};

/// Aggregates whose partial states merge in any order into the batch result, so a bar can be
/// built over many triggers. (`first_value`/`last_value` only with `ORDER BY`: without it their
/// value depends on the order files arrive in.)
pub const MERGEABLE: &[&str] = &[
    "ohlc",
    "vwap",
    "bar_std",
    "total_volume",
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "first_value",
    "last_value",
];

/// What a bar is: the text of a SQL file (`sql/01_bars.sql` by default) and how errors name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarDefinition {
    /// The file, as errors name it.
    pub name: String,
    /// Its text, parameters not yet substituted.
    pub text: String,
}

impl Default for BarDefinition {
    fn default() -> BarDefinition {
        BarDefinition {
            name: BARS_SQL_NAME.to_string(),
            text: BARS_SQL.to_string(),
        }
    }
}

impl BarDefinition {
    /// A `--bars FILE.sql`.
    pub fn from_file(path: &Path) -> crate::error::Result<BarDefinition> {
        use crate::error::Context;
        let text = std::fs::read_to_string(path).context(path.display())?;
        Ok(BarDefinition {
            name: path.display().to_string(),
            text,
        })
    }

    pub fn is_default(&self) -> bool {
        self.text == BARS_SQL
    }

    /// The text with `${bar_width}` = `width` and `${symbols}` = `symbol` (every symbol: `symbol
    /// IN (symbol)`, which the optimizer drops); other parameters take their defaults.
    fn sql(&self, width: &BarWidth) -> Result<String> {
        let params = BTreeMap::from([
            ("bar_width".to_string(), width.as_str().to_string()),
            ("symbols".to_string(), "symbol".to_string()),
        ]);
        crate::params::substitute(&self.text, &params, &self.name)
    }

    fn refuse(&self, why: impl std::fmt::Display) -> DataFusionError {
        DataFusionError::Plan(format!(
            "{}: {why}; watch can only build bars from one `GROUP BY symbol, \
             time_bucket(INTERVAL '${{bar_width}}', ts)` aggregation over trades of mergeable \
             aggregates ({})",
            self.name,
            MERGEABLE.join(", ")
        ))
    }
}

/// The bar query for one bar width.
pub struct BarQuery {
    width: BarWidth,
    definition: BarDefinition,
    /// The definition's `CREATE TABLE ... AS SELECT ...` or `SELECT ...`, for this width.
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
            .field("definition", &self.definition.name)
            .finish()
    }
}

/// The physical plan of a definition's bar table, and the aggregation in it.
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
            .find(|(e, _)| is_time_bucket(e.as_ref()))
            .map(|(_, name)| name.clone())
            .ok_or_else(|| internal_datafusion_err!("the bar definition groups by no time_bucket"))
    }
}

fn is_time_bucket(e: &dyn datafusion::physical_expr::PhysicalExpr) -> bool {
    e.downcast_ref::<ScalarFunctionExpr>()
        .is_some_and(|f| f.fun().name() == "time_bucket")
}

impl BarQuery {
    /// `rows_schema`: the trades (`symbol`, `ts`, `price`, `size`, `seq`, `date`), the table
    /// `trades` of the definition. Parses the definition; [`BarQuery::check`] plans and checks it.
    pub fn new(
        width: &BarWidth,
        rows_schema: SchemaRef,
        definition: &BarDefinition,
    ) -> Result<BarQuery> {
        let sql = definition.sql(width)?;
        let statements = DFParser::parse_sql(&sql)
            .map_err(|e| DataFusionError::Plan(format!("{}: {e}", definition.name)))?;
        let is_create = |s: &Statement| matches!(s, Statement::Statement(s) if matches!(**s, ast::Statement::CreateTable(_)));
        let is_query = |s: &Statement| matches!(s, Statement::Statement(s) if matches!(**s, ast::Statement::Query(_)));
        // `01_bars.sql`'s shape (a CREATE TABLE AS, then queries to show it), or one SELECT.
        let statement = match statements.iter().find(|s| is_create(s)) {
            Some(create) => create.clone(),
            None => match statements
                .iter()
                .filter(|s| is_query(s))
                .collect::<Vec<_>>()[..]
            {
                [query] => query.clone(),
                _ => {
                    return Err(definition.refuse(
                        "it has no `CREATE TABLE ... AS SELECT` and not exactly one SELECT",
                    ));
                }
            },
        };
        // One partition: the bars of a trigger are planned and merged in one piece.
        let config = SessionConfig::new()
            .with_target_partitions(1)
            .with_information_schema(false);
        let ctx = SessionContext::new_with_state(session_state(Role::Local, config)?);
        Ok(BarQuery {
            width: width.clone(),
            definition: definition.clone(),
            statement,
            rows_schema,
            ctx,
            template: Mutex::new(None),
        })
    }

    pub fn width(&self) -> &BarWidth {
        &self.width
    }

    /// Checks that the definition can be computed in steps (see the module docs): an error
    /// names the file and the expression that cannot.
    pub async fn check(&self) -> Result<()> {
        let def = &self.definition;
        // What the physical plan may optimize away over no rows (a LIMIT), or reshape.
        let mut problem = None;
        self.logical_plan(Vec::new()).await?.apply(|node| {
            problem = problem.take().or_else(|| match node {
                LogicalPlan::Limit(_) => Some("a LIMIT".to_string()),
                LogicalPlan::Window(w) => Some(format!(
                    "a window function ({})",
                    w.window_expr
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                LogicalPlan::Join(_) => Some("a join".to_string()),
                LogicalPlan::Union(_) => Some("a UNION".to_string()),
                _ => None,
            });
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })?;
        if let Some(problem) = problem {
            return Err(def.refuse(problem));
        }
        let template = self.template().await?;
        let aggregate = template.aggregate()?;
        // Around the aggregation: only row-wise operators (which a trigger's closed bars can go
        // through alone) and the trades' scan.
        template.plan.apply(|node| {
            if Arc::ptr_eq(node, &template.aggregate) {
                // Below it: the trades, filtered and projected.
                for child in node.children() {
                    child.apply(|n| {
                        problem = problem.take().or_else(|| operator_problem(n.as_ref()));
                        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
                    })?;
                }
                return Ok(datafusion::common::tree_node::TreeNodeRecursion::Jump);
            }
            problem = problem.take().or_else(|| operator_problem(node.as_ref()));
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })?;
        if let Some(problem) = problem {
            return Err(def.refuse(problem));
        }
        if aggregate.limit_options().is_some() || aggregate.fetch().is_some() {
            return Err(def.refuse("a LIMIT (over the groups)"));
        }
        // GROUP BY: the bucket of `ts` at the bar width, plain (no origin, no time zone).
        let groups = aggregate.group_expr();
        if groups.has_grouping_set() {
            return Err(def.refuse("GROUPING SETS / ROLLUP / CUBE cannot be merged by bucket"));
        }
        let Some((bucket, _)) = groups
            .expr()
            .iter()
            .find(|(e, _)| is_time_bucket(e.as_ref()))
        else {
            let keys: Vec<String> = groups.expr().iter().map(|(_, n)| n.clone()).collect();
            return Err(def.refuse(format!(
                "GROUP BY {} has no time_bucket(INTERVAL '${{bar_width}}', ts): a bar would never close",
                if keys.is_empty() { "()".to_string() } else { keys.join(", ") }
            )));
        };
        let plain = bucket.downcast_ref::<ScalarFunctionExpr>().is_some_and(|f| {
            let args = f.args();
            args.len() == 2
                && args[0].downcast_ref::<Literal>().is_some_and(|l| {
                    matches!(l.value(), ScalarValue::IntervalMonthDayNano(Some(w)) if *w == self.width.interval())
                })
                && args[1]
                    .downcast_ref::<Column>()
                    .is_some_and(|c| c.name() == "ts")
        });
        if !plain {
            return Err(def.refuse(format!(
                "{bucket} is not time_bucket(INTERVAL '{}', ts) (the --bar-width bucket of the \
                 trade time, with no origin or time zone)",
                self.width
            )));
        }
        // Aggregates whose states merge.
        for a in aggregate.aggr_expr() {
            let name = a.fun().name().to_ascii_lowercase();
            if !MERGEABLE.contains(&name.as_str()) {
                return Err(def.refuse(format!("{} is not a mergeable aggregate", a.name())));
            }
            if a.is_distinct() {
                return Err(def.refuse(format!(
                    "{} is a DISTINCT aggregate (its state is every value seen)",
                    a.name()
                )));
            }
            if matches!(name.as_str(), "first_value" | "last_value") && a.order_bys().is_empty() {
                return Err(def.refuse(format!(
                    "{} has no ORDER BY (its value would depend on the order files arrive in)",
                    a.name()
                )));
            }
        }
        Ok(())
    }

    /// Plans the definition's bar table over `rows` (trades with a `date` column).
    async fn plan(&self, rows: Vec<RecordBatch>) -> Result<BarPlan> {
        let def = &self.definition;
        let query = self.logical_plan(rows).await?;
        let state = self.ctx.state();
        let in_file = |e: DataFusionError| DataFusionError::Plan(format!("{}: {e}", def.name));
        let plan = state.create_physical_plan(&query).await.map_err(in_file)?;
        let aggregate = find_aggregate(&plan)
            .ok_or_else(|| def.refuse("it has no GROUP BY aggregation over trades"))?;
        Ok(BarPlan { plan, aggregate })
    }

    /// The definition's bar table over `rows`, as a logical plan.
    async fn logical_plan(&self, rows: Vec<RecordBatch>) -> Result<Arc<LogicalPlan>> {
        let def = &self.definition;
        self.register("trades", Arc::clone(&self.rows_schema), rows)?;
        let state = self.ctx.state();
        let in_file = |e: DataFusionError| DataFusionError::Plan(format!("{}: {e}", def.name));
        let query = match state
            .statement_to_plan(self.statement.clone())
            .await
            .map_err(in_file)?
        {
            LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(create)) => create.input,
            LogicalPlan::Ddl(other) => {
                return Err(def.refuse(format!("it plans {}, not a table of bars", other.name())));
            }
            query => Arc::new(query),
        };
        Ok(query)
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

    /// The bar table's rows of `open` states as they stand (the states are kept: more trades
    /// may still merge into them): the live values of the bars still open.
    pub async fn current(&self, open: &States) -> Result<Vec<RecordBatch>> {
        let finished = self.over_states(AggregateMode::Final, open.clone()).await?;
        self.bars(finished).await
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

/// Why `node`, outside the bar aggregation, stops the bars from being computed in steps; `None`
/// for the row-wise operators (projection, filter, sort, repartitioning) and the trades' scan.
fn operator_problem(node: &dyn ExecutionPlan) -> Option<String> {
    if let Some(w) = node.downcast_ref::<BoundedWindowAggExec>() {
        return Some(window_problem(w.window_expr()));
    }
    if let Some(w) = node.downcast_ref::<WindowAggExec>() {
        return Some(window_problem(w.window_expr()));
    }
    if let Some(a) = node.downcast_ref::<AggregateExec>() {
        let what: Vec<String> = a
            .group_expr()
            .expr()
            .iter()
            .map(|(_, n)| n.clone())
            .chain(a.aggr_expr().iter().map(|e| e.name().to_string()))
            .collect();
        return Some(format!(
            "a second aggregation ({}; a DISTINCT, a subquery or a nested GROUP BY)",
            what.join(", ")
        ));
    }
    let name = node.name();
    if node.fetch().is_some() {
        return Some(format!("a LIMIT ({name} with a fetch)"));
    }
    let allowed = [
        "ProjectionExec",
        "FilterExec",
        "SortExec",
        "CoalesceBatchesExec",
        "CoalescePartitionsExec",
        "RepartitionExec",
        "SortPreservingMergeExec",
        "DataSourceExec",
        "EmptyExec",
    ];
    if allowed.contains(&name) {
        return None;
    }
    Some(if name.contains("Join") || name.contains("CrossJoin") {
        format!("a join ({name})")
    } else if name.contains("Limit") {
        format!("a LIMIT ({name})")
    } else if name.contains("Union") {
        format!("a UNION ({name})")
    } else {
        format!("{name} cannot run over one trigger's bars alone")
    })
}

fn window_problem(exprs: &[Arc<dyn datafusion::physical_plan::WindowExpr>]) -> String {
    let names: Vec<&str> = exprs.iter().map(|e| e.name()).collect();
    format!("a window function ({})", names.join(", "))
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
    use crate::bars::bars_sql;
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
        let query = BarQuery::new(&width, rows_schema(), &BarDefinition::default())?;
        query.check().await?;
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

    fn definition(text: &str) -> BarDefinition {
        BarDefinition {
            name: "my_bars.sql".to_string(),
            text: text.to_string(),
        }
    }

    /// A `--bars` definition (a subset of columns, `count(*)`, an expression over aggregates)
    /// built in steps equals its batch run.
    #[tokio::test]
    async fn a_custom_definition_in_steps_equals_its_batch_run() -> Result<()> {
        let width = BarWidth::parse("5 minutes").map_err(|e| DataFusionError::Plan(e.0))?;
        let select = "SELECT symbol AS ticker, time_bucket(INTERVAL '${bar_width}', ts) AS start, \
                      count(*) AS trades, max(price) - min(price) AS price_range, \
                      ohlc(ts, price, seq)['close'] AS close, \
                      first_value(price ORDER BY ts, seq) AS first \
                      FROM trades WHERE size > 1 GROUP BY 1, 2";
        let def = definition(select);
        let first = trades(
            "2024-01-02,09:30:00,A,10.0,100,Q,,1\n\
             2024-01-02,09:31:00,B,20.5,5,Q,,2\n\
             2024-01-02,09:33:00,A,10.5,50,Q,,3\n\
             2024-01-02,09:36:00,A,9.5,10,Q,,4\n",
        )?;
        let second = trades(
            "2024-01-02,09:37:00,A,11,10,Q,,5\n\
             2024-01-02,09:38:00,B,20.0,7,Q,,6\n\
             2024-01-02,09:38:00,B,20.25,1,Q,,7\n\
             2024-01-02,09:44:00,A,12,3,Q,,8\n",
        )?;
        let query = BarQuery::new(&width, rows_schema(), &def)?;
        query.check().await?;
        let states = query.partial(vec![first.clone()]).await?;
        let (mut bars, open) = query
            .close(states, Some(nanos("2024-01-02 09:36:00")))
            .await?;
        let open = open.expect("the 09:35 bar is open");
        let states = open.concat(query.partial(vec![second.clone()]).await?);
        let (more, open) = query.close(states, None).await?;
        assert!(open.is_none());
        bars.extend(more);

        let ctx = tickflow_plan::session_context(SessionConfig::new())?;
        ctx.register_batch("trades", concat_batches(&rows_schema(), &[first, second])?)?;
        let sql = def.sql(&width)?;
        let batch = ctx.sql(&sql).await?.collect().await?;
        let watched = sorted(&ctx, "watched", bars).await?;
        assert_eq!(watched, sorted(&ctx, "batch", batch).await?);
        assert!(watched.contains("| price_range |"), "{watched}");
        Ok(())
    }

    /// The open bars' current values are the bars a batch run computes over the same trades.
    #[tokio::test]
    async fn current_values_of_open_bars() -> Result<()> {
        let width = BarWidth::parse("5 minutes").map_err(|e| DataFusionError::Plan(e.0))?;
        let rows = trades(
            "2024-01-02,09:30:00,A,10.0,100,Q,,1\n\
             2024-01-02,09:33:00,A,10.5,50,Q,,2\n",
        )?;
        let query = BarQuery::new(&width, rows_schema(), &BarDefinition::default())?;
        let states = query.partial(vec![rows.clone()]).await?;
        let (closed, open) = query
            .close(states, Some(nanos("2024-01-02 09:33:00")))
            .await?;
        assert!(closed.is_empty());
        let open = open.expect("the 09:30 bar is open");
        let live = query.current(&open).await?;
        // The states are kept: closing them later gives the same bar.
        let (closed, _) = query.close(open, None).await?;
        let ctx = tickflow_plan::session_context(SessionConfig::new())?;
        assert_eq!(
            sorted(&ctx, "live", live).await?,
            sorted(&ctx, "closed", closed).await?
        );
        Ok(())
    }

    /// What cannot be computed in steps is refused, naming the file and the expression.
    #[tokio::test]
    async fn non_incremental_definitions_are_refused() -> Result<()> {
        let width = BarWidth::parse("1 minute").map_err(|e| DataFusionError::Plan(e.0))?;
        let bucket = "time_bucket(INTERVAL '${bar_width}', ts)";
        for (select, why) in [
            (
                "SELECT symbol, count(*) AS n FROM trades GROUP BY symbol".to_string(),
                "GROUP BY symbol has no time_bucket".to_string(),
            ),
            (
                format!(
                    "SELECT symbol, {bucket} AS start, median(price) AS m FROM trades GROUP BY 1, 2"
                ),
                "median(trades.price) is not a mergeable aggregate".to_string(),
            ),
            (
                format!(
                    "SELECT symbol, {bucket} AS start, count(DISTINCT price) AS m FROM trades GROUP BY 1, 2"
                ),
                "DISTINCT".to_string(),
            ),
            (
                format!(
                    "SELECT symbol, {bucket} AS start, count(*) AS n, \
                         row_number() OVER (ORDER BY symbol) AS rn FROM trades GROUP BY 1, 2"
                ),
                "a window function (row_number()".to_string(),
            ),
            (
                "SELECT t.symbol, time_bucket(INTERVAL '${bar_width}', t.ts) AS start, count(*) AS n \
                 FROM trades t JOIN trades u ON t.seq = u.seq GROUP BY 1, 2"
                    .to_string(),
                "a join".to_string(),
            ),
            (
                "SELECT symbol, time_bucket(INTERVAL '5 minutes', ts) AS start, count(*) AS n \
                 FROM trades GROUP BY 1, 2"
                    .to_string(),
                "is not time_bucket(INTERVAL '1 minute', ts)".to_string(),
            ),
            (
                format!(
                    "SELECT symbol, {bucket} AS start, last_value(price) AS c FROM trades GROUP BY 1, 2"
                ),
                "has no ORDER BY".to_string(),
            ),
            (
                format!(
                    "SELECT symbol, {bucket} AS start, count(*) AS n FROM trades GROUP BY 1, 2 LIMIT 3"
                ),
                "a LIMIT".to_string(),
            ),
        ] {
            let def = definition(&select);
            let refused = match BarQuery::new(&width, rows_schema(), &def) {
                Err(e) => e,
                Ok(q) => match q.check().await {
                    Err(e) => e,
                    Ok(()) => panic!("accepted: {select}"),
                },
            };
            let message = refused.to_string();
            assert!(message.contains("my_bars.sql: "), "{select}: {message}");
            assert!(message.contains(&why), "{select}: {message}");
        }
        Ok(())
    }
}
