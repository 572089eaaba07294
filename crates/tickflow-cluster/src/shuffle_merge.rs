//! [`ShuffleMergeExec`]: sort after a Ballista shuffle by merging the map outputs, which are
//! each sorted already, instead of sorting them again.
//!
//! Over data ordered by (symbol, ts) the cluster's plan is sorted at every step: each map task
//! aggregates its file into partial states in (symbol, bar) order, and a hash shuffle sends each
//! reduce partition its rows *in that order from every map task*. Ballista's shuffle reader then
//! concatenates those runs, so without this node the reduce stage sorts its whole input again
//! ([`crate::shuffle_order`]). Merging the runs costs a comparison per row against one open
//! batch per map task; sorting costs a full sort of every row.
//!
//! The node stands where that sort stood and means the same: every output partition is sorted
//! by `expr`. It executes as
//! - a k-way merge of the partition's map outputs, read one by one, when its input is Ballista's
//!   `ShuffleReaderExec` and each map output is one sorted run: a pass-through shuffle (the
//!   stage cut at a `SortPreservingMergeExec`) writes one file per map partition, and a hash
//!   shuffle writes one run per map task when each task reads one partition, which the client
//!   sets (`ballista.scheduler.max_partitions_per_task = 1`; with another value the node sorts);
//! - the input itself when it is sorted already (a local plan);
//! - a `SortExec` otherwise.
//!
//! Every merged run is checked to be sorted as it is read: a run that is not fails the query
//! with an error naming the map task, never a wrong result.
//!
//! ```sql
//! -- on the cluster, over `WITH ORDER (symbol, ts)` trades, EXPLAIN shows
//! --   SortPreservingMergeExec ← ShuffleMergeExec ← ... ← ShuffleMergeExec ← RepartitionExec
//! EXPLAIN COPY (SELECT symbol, time_bucket(INTERVAL '1 minute', ts) AS bar, vwap(price, size)
//!   FROM trades GROUP BY 1, 2) TO 'bars.parquet';
//! ```

use std::fmt;
use std::sync::Arc;

use ballista_core::execution_plans::ShuffleReaderExec;
use ballista_core::extension::SessionConfigExt;
use ballista_core::serde::scheduler::PartitionLocation;
use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::row::{OwnedRow, RowConverter, SortField};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::physical_expr::{LexOrdering, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::streaming_merge::StreamingMergeBuilder;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
    SendableRecordBatchStream,
};
use futures::StreamExt;

/// Every partition of `input` sorted by `expr`, merged from a shuffle's sorted map outputs
/// where it can be (see the [module docs](self)).
#[derive(Debug)]
pub struct ShuffleMergeExec {
    /// The sort this node replaces: its expressions, properties and fallback execution.
    sort: Arc<SortExec>,
    metrics: ExecutionPlanMetricsSet,
}

impl ShuffleMergeExec {
    /// Each partition of `input` sorted by `expr`.
    pub fn new(expr: LexOrdering, input: Arc<dyn ExecutionPlan>) -> Self {
        Self {
            sort: Arc::new(SortExec::new(expr, input).with_preserve_partitioning(true)),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// The `SortExec` this node stands for (and runs when it cannot merge).
    pub fn sort(&self) -> &Arc<SortExec> {
        &self.sort
    }

    /// The order every output partition has.
    pub fn expr(&self) -> &LexOrdering {
        self.sort.expr()
    }

    /// The node's input.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        self.sort.input()
    }

    /// The map outputs to merge for `partition`, when the input is a shuffle read whose map
    /// outputs are each one sorted run.
    fn sorted_runs<'a>(
        reader: &'a ShuffleReaderExec,
        partition: usize,
        context: &TaskContext,
    ) -> Option<&'a [PartitionLocation]> {
        let locations = reader.partition.get(partition)?;
        let one_partition_per_task = context
            .session_config()
            .ballista_config()
            .max_partitions_per_task()
            == 1;
        let runs = !reader.broadcast
            && locations
                .iter()
                .all(|location| !location.is_sort_shuffle || one_partition_per_task);
        runs.then_some(locations.as_slice())
    }

    /// One map output of `reader`'s `partition`, checked to be sorted by `expr` as it is read.
    fn read_run(
        &self,
        reader: &ShuffleReaderExec,
        partition: usize,
        location: &PartitionLocation,
        context: &Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let mut one = reader.clone();
        one.partition = (0..reader.partition.len())
            .map(|p| {
                if p == partition {
                    vec![location.clone()]
                } else {
                    vec![]
                }
            })
            .collect();
        let stream = one.execute(partition, Arc::clone(context))?;
        let what = format!(
            "the output of map partition {} of stage {} (on executor {}) for partition {partition}",
            location.map_partition_id, location.partition_id.stage_id, location.executor_meta.id
        );
        checked_run(stream, self.expr().clone(), what)
    }
}

/// `stream`, failing with an error naming `what` if a row is ever smaller than the one before.
fn checked_run(
    stream: SendableRecordBatchStream,
    expr: LexOrdering,
    what: String,
) -> Result<SendableRecordBatchStream> {
    let schema = stream.schema();
    let converter = RowConverter::new(
        expr.iter()
            .map(|e| {
                Ok(SortField::new_with_options(
                    e.expr.data_type(&schema)?,
                    e.options,
                ))
            })
            .collect::<Result<Vec<_>>>()?,
    )?;
    let mut last: Option<OwnedRow> = None;
    let checked = stream.map(move |batch| {
        let batch = batch?;
        if batch.num_rows() == 0 {
            return Ok(batch);
        }
        let keys = expr
            .iter()
            .map(|e| e.expr.evaluate(&batch)?.into_array(batch.num_rows()))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let rows = converter.convert_columns(&keys)?;
        let first_ok = last.as_ref().is_none_or(|l| l.row() <= rows.row(0));
        if !first_ok || (1..rows.num_rows()).any(|i| rows.row(i - 1) > rows.row(i)) {
            return Err(DataFusionError::Execution(format!(
                "{what} is not sorted by [{expr}], so it cannot be merged; tickflow merges a \
                 hash shuffle's outputs only when each map task reads one partition \
                 (ballista.scheduler.max_partitions_per_task = 1)"
            )));
        }
        last = Some(rows.row(rows.num_rows() - 1).owned());
        Ok::<RecordBatch, DataFusionError>(batch)
    });
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, checked)))
}

impl DisplayAs for ShuffleMergeExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        match t {
            DisplayFormatType::Default | DisplayFormatType::Verbose => {
                write!(f, "ShuffleMergeExec: expr=[{}]", self.expr())
            }
            DisplayFormatType::TreeRender => write!(f, "{}", self.expr()),
        }
    }
}

impl ExecutionPlan for ShuffleMergeExec {
    fn name(&self) -> &str {
        "ShuffleMergeExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.sort.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.input()]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children).map_err(|c| {
            DataFusionError::Internal(format!("ShuffleMergeExec has one input, got {}", c.len()))
        })?;
        Ok(Arc::new(Self::new(self.expr().clone(), input)))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.sort.apply_expressions(f)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input();
        if let Some(reader) = input.downcast_ref::<ShuffleReaderExec>()
            && let Some(locations) = Self::sorted_runs(reader, partition, &context)
        {
            MetricBuilder::new(&self.metrics)
                .counter("merged_runs", partition)
                .add(locations.len());
            let mut runs = locations
                .iter()
                .map(|location| self.read_run(reader, partition, location, &context))
                .collect::<Result<Vec<_>>>()?;
            if runs.len() <= 1 {
                return match runs.pop() {
                    Some(run) => Ok(run),
                    None => input.execute(partition, context),
                };
            }
            let reservation = MemoryConsumer::new(format!("ShuffleMergeExec[{partition}]"))
                .register(&context.runtime_env().memory_pool);
            return StreamingMergeBuilder::new()
                .with_streams(runs)
                .with_schema(input.schema())
                .with_expressions(self.expr())
                .with_metrics(BaselineMetrics::new(&self.metrics, partition))
                .with_batch_size(context.session_config().batch_size())
                .with_reservation(reservation)
                .build();
        }
        let sorted = input
            .equivalence_properties()
            .ordering_satisfy(self.expr().clone())?;
        if sorted {
            return input.execute(partition, context);
        }
        self.sort.execute(partition, context)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        let mut metrics = self.metrics.clone_inner();
        for metric in self.sort.metrics().iter().flat_map(|m| m.iter()) {
            metrics.push(Arc::clone(metric));
        }
        Some(metrics)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballista_core::serde::scheduler::{
        ExecutorMetadata, ExecutorOperatingSystemSpecification, ExecutorSpecification, PartitionId,
    };
    use datafusion::arrow::array::{Array, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
    use datafusion::arrow::ipc::writer::StreamWriter;
    use datafusion::physical_expr::PhysicalSortExpr;
    use datafusion::physical_expr::expressions::col;
    use datafusion::physical_plan::{Partitioning, collect};
    use datafusion::prelude::{SessionConfig, SessionContext};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false)]))
    }

    /// A shuffle reader of one partition whose map outputs are `outputs` (each written as the
    /// map task's Arrow file, in batches of two rows), in `work_dir`.
    fn reader(
        work_dir: &std::path::Path,
        outputs: &[&[i64]],
        is_sort_shuffle: bool,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut locations = vec![];
        for (task, keys) in outputs.iter().enumerate() {
            let location = PartitionLocation {
                map_partition_id: task,
                partition_id: PartitionId {
                    job_id: "job".into(),
                    stage_id: 1,
                    partition_id: 0,
                },
                executor_meta: ExecutorMetadata {
                    id: format!("executor-{task}"),
                    host: "127.0.0.1".into(),
                    port: 1,
                    grpc_port: 2,
                    specification: ExecutorSpecification::default(),
                    os_info: ExecutorOperatingSystemSpecification::default(),
                },
                partition_stats: Default::default(),
                file_id: Some(task as u64),
                is_sort_shuffle,
            };
            let path = location.path(&work_dir.display().to_string())?;
            std::fs::create_dir_all(path.parent().expect("a shuffle file is in a directory"))?;
            let mut writer = StreamWriter::try_new(std::fs::File::create(&path)?, &schema())?;
            for pair in keys.chunks(2) {
                let column = Arc::new(Int64Array::from(pair.to_vec()));
                writer.write(&RecordBatch::try_new(schema(), vec![column])?)?;
            }
            writer.finish()?;
            locations.push(location);
        }
        let reader = ShuffleReaderExec::try_new(
            1,
            vec![locations],
            schema(),
            Partitioning::UnknownPartitioning(1),
        )?
        .with_work_dir(work_dir.display().to_string());
        Ok(Arc::new(reader))
    }

    fn by_k() -> Result<LexOrdering> {
        Ok(
            LexOrdering::new([PhysicalSortExpr::new_default(col("k", &schema())?)])
                .expect("one sort key"),
        )
    }

    fn keys(batches: &[RecordBatch]) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| {
                let k = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                (0..k.len()).map(|i| k.value(i)).collect::<Vec<_>>()
            })
            .collect()
    }

    fn context(max_partitions_per_task: Option<&str>) -> Arc<TaskContext> {
        let mut config = SessionConfig::new_with_ballista();
        if let Some(value) = max_partitions_per_task {
            config
                .options_mut()
                .set("ballista.scheduler.max_partitions_per_task", value)
                .unwrap();
        }
        SessionContext::new_with_config(config).task_ctx()
    }

    /// Three map outputs, each sorted, interleaved in value: merged into one sorted partition,
    /// one run per map output, reading the real shuffle files through Ballista's reader.
    #[tokio::test]
    async fn sorted_map_outputs_are_merged() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let input = reader(
            dir.path(),
            &[&[1, 4, 7, 10], &[2, 5, 8], &[0, 3, 6, 9, 11]],
            false,
        )?;
        let merge = Arc::new(ShuffleMergeExec::new(by_k()?, input));
        let batches = collect(Arc::clone(&merge) as _, context(None)).await?;
        assert_eq!(keys(&batches), (0..=11).collect::<Vec<_>>());
        let metrics = merge.metrics().expect("metrics");
        assert_eq!(
            metrics.sum_by_name("merged_runs").map(|m| m.as_usize()),
            Some(3)
        );
        Ok(())
    }

    /// A hash shuffle's map output holds one run per partition its task read, one after the
    /// other: such an output is sorted, not merged, unless each task reads one partition. If it
    /// still holds two runs, the merge fails loudly instead of returning rows out of order.
    #[tokio::test]
    async fn an_output_of_several_runs_is_sorted_or_refused() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let outputs: &[&[i64]] = &[&[1, 5, 9, 2, 6], &[0, 3]];
        let merge = Arc::new(ShuffleMergeExec::new(
            by_k()?,
            reader(dir.path(), outputs, true)?,
        ));
        let batches = collect(Arc::clone(&merge) as _, context(None)).await?;
        assert_eq!(keys(&batches), vec![0, 1, 2, 3, 5, 6, 9]);
        assert!(
            merge
                .metrics()
                .unwrap()
                .sum_by_name("merged_runs")
                .is_none()
        );

        let err = collect(merge, context(Some("1")))
            .await
            .expect_err("two runs in one map output cannot be merged");
        let message = err.to_string();
        assert!(
            message.contains("map partition 0 of stage 1 (on executor executor-0)")
                && message.contains("is not sorted by [k@0 ASC]")
                && message.contains("max_partitions_per_task"),
            "{message}"
        );
        Ok(())
    }
}
