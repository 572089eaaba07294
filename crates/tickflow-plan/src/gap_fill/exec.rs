//! [`GapFillExec`]: adds the missing buckets of each series, streaming.
//!
//! Its input is the aggregation's output, hash-partitioned by the series keys and sorted by
//! (series, bucket) — requirements it states, so DataFusion adds the repartition and sort it
//! needs and a series is never split between partitions, whatever `target_partitions` is. It
//! holds the rows of one series at a time: each complete series is merged with the grid of
//! bucket starts (rows win; a grid bucket without a row becomes a row with NULLs, or the
//! aggregate's value over no rows), then the fill columns are computed over the series.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, UInt32Array,
};
use datafusion::arrow::compute::kernels::zip::zip;
use datafusion::arrow::compute::{SortOptions, cast, concat, concat_batches, partition, take};
use datafusion::arrow::datatypes::{DataType, Int64Type, Schema, SchemaRef};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{Result, ScalarValue, internal_err, plan_err};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{
    EquivalenceProperties, LexOrdering, LexRequirement, OrderingRequirements, PhysicalExpr,
    PhysicalSortExpr, PhysicalSortRequirement,
};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::expressions::Column;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, ExecutionPlanProperties,
    PlanProperties,
};
use futures::{Stream, StreamExt};

use super::fill::FillKind;
use super::grid::{GridSpec, bucket_starts};
use super::node::output_fields;

/// What [`GapFillExec`] does, by input column index.
#[derive(Debug, Clone, PartialEq)]
pub struct GapFillParams {
    /// The series keys.
    pub series: Vec<usize>,
    /// The bucket.
    pub time: usize,
    pub grid: GridSpec,
    /// Columns whose empty-bucket value is not NULL, and the value.
    pub gap_values: Vec<(usize, ScalarValue)>,
    /// The fill columns appended to the output, each filling an input column.
    pub fills: Vec<(usize, FillKind)>,
}

/// The operator; see the [module docs](self).
#[derive(Debug)]
pub struct GapFillExec {
    input: Arc<dyn ExecutionPlan>,
    params: Arc<GapFillParams>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
    /// The bucket starts, computed by the first partition to run and shared by the others.
    grid: OnceLock<Arc<Vec<i64>>>,
}

/// The (series, bucket) ordering, ascending, NULLs last.
fn sort_keys(params: &GapFillParams, schema: &SchemaRef) -> Vec<PhysicalSortExpr> {
    let options = SortOptions {
        descending: false,
        nulls_first: false,
    };
    params
        .series
        .iter()
        .chain([&params.time])
        .map(|&i| {
            let column = Arc::new(Column::new(schema.field(i).name(), i)) as Arc<dyn PhysicalExpr>;
            PhysicalSortExpr::new(column, options)
        })
        .collect()
}

impl GapFillExec {
    pub fn try_new(input: Arc<dyn ExecutionPlan>, params: GapFillParams) -> Result<Self> {
        let input_schema = input.schema();
        let n = input_schema.fields().len();
        let in_range = |i: &usize| *i < n;
        if !params.series.iter().all(in_range)
            || !in_range(&params.time)
            || !params.gap_values.iter().all(|(i, _)| in_range(i))
            || !params.fills.iter().all(|(i, _)| in_range(i))
        {
            return internal_err!("GapFillExec: a column index is out of range");
        }
        if !matches!(
            input_schema.field(params.time).data_type(),
            DataType::Timestamp(_, _)
        ) {
            return plan_err!(
                "time_bucket_gapfill: the bucket column {} is not a TIMESTAMP",
                input_schema.field(params.time).name()
            );
        }
        let fields = output_fields(
            input_schema.fields(),
            &params.series,
            params.time,
            &params.gap_values,
            &params.fills,
        )?;
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            input_schema.metadata().clone(),
        ));
        let mut equivalence = EquivalenceProperties::new(Arc::clone(&schema));
        if let Some(ordering) = LexOrdering::new(sort_keys(&params, &schema)) {
            equivalence.add_ordering(ordering);
        }
        let properties = PlanProperties::new(
            equivalence,
            input.output_partitioning().clone(),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        Ok(Self {
            input,
            params: Arc::new(params),
            schema,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
            grid: OnceLock::new(),
        })
    }

    pub fn params(&self) -> &GapFillParams {
        &self.params
    }

    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

impl DisplayAs for GapFillExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let schema = self.input.schema();
        let name = |i: usize| format!("{}@{i}", schema.field(i).name());
        let series: Vec<_> = self.params.series.iter().map(|&i| name(i)).collect();
        let grid = &self.params.grid;
        let instant = |ns: i64| {
            chrono::DateTime::from_timestamp_nanos(ns)
                .naive_utc()
                .format("%Y-%m-%dT%H:%M:%S%.f")
                .to_string()
        };
        write!(
            f,
            "GapFillExec: series=[{}], time={}, width={}, range=[{}, {}{}",
            series.join(", "),
            name(self.params.time),
            describe_width(&grid.width),
            instant(grid.lower_ns),
            instant(grid.upper_ns),
            if grid.upper_inclusive { "]" } else { ")" }
        )?;
        if let Some(anchor) = &grid.anchor {
            write!(f, ", anchor={anchor}")?;
        }
        if let Some(calendar) = &grid.calendar {
            write!(f, ", calendar={calendar}")?;
        }
        if !self.params.fills.is_empty() {
            let fills: Vec<_> = self
                .params
                .fills
                .iter()
                .map(|(i, kind)| format!("{}({})", kind.name(), name(*i)))
                .collect();
            write!(f, ", fill=[{}]", fills.join(", "))?;
        }
        Ok(())
    }
}

/// A width as a person writes it: `1 minute`, `90 seconds`, `1 month`.
fn describe_width(width: &ScalarValue) -> String {
    let ScalarValue::IntervalMonthDayNano(Some(w)) = width else {
        return width.to_string();
    };
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    if w.months != 0 {
        parts.push(plural(i64::from(w.months), "month"));
    }
    if w.days != 0 {
        parts.push(plural(i64::from(w.days), "day"));
    }
    let ns = w.nanoseconds;
    if ns != 0 || parts.is_empty() {
        let units = [
            (3_600_000_000_000, "hour"),
            (60_000_000_000, "minute"),
            (1_000_000_000, "second"),
            (1_000_000, "millisecond"),
            (1_000, "microsecond"),
            (1, "nanosecond"),
        ];
        let (size, unit) = units
            .into_iter()
            .find(|(size, _)| ns % size == 0)
            .unwrap_or((1, "nanosecond"));
        parts.push(plural(ns / size, unit));
    }
    parts.join(" ")
}

impl ExecutionPlan for GapFillExec {
    fn name(&self) -> &str {
        "GapFillExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        if self.params.series.is_empty() {
            return vec![Distribution::SinglePartition];
        }
        let schema = self.input.schema();
        let keys = self
            .params
            .series
            .iter()
            .map(|&i| Arc::new(Column::new(schema.field(i).name(), i)) as Arc<dyn PhysicalExpr>)
            .collect();
        vec![Distribution::KeyPartitioned(keys)]
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        let requirement = sort_keys(&self.params, &self.input.schema())
            .into_iter()
            .map(PhysicalSortRequirement::from);
        vec![LexRequirement::new(requirement).map(OrderingRequirements::new)]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(Self::try_new(
                input,
                self.params.as_ref().clone(),
            )?)),
            _ => internal_err!("GapFillExec has one input"),
        }
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input_schema = self.input.schema();
        let grid = match self.grid.get() {
            Some(grid) => Arc::clone(grid),
            None => {
                let grid = Arc::new(bucket_starts(
                    &self.params.grid,
                    input_schema.field(self.params.time).data_type(),
                )?);
                Arc::clone(self.grid.get_or_init(|| grid))
            }
        };
        let input = self.input.execute(partition, Arc::clone(&context))?;
        let converter = RowConverter::new(
            self.params
                .series
                .iter()
                .map(|&i| SortField::new(input_schema.field(i).data_type().clone()))
                .collect(),
        )?;
        Ok(Box::pin(GapFillStream {
            input,
            input_schema,
            schema: Arc::clone(&self.schema),
            params: Arc::clone(&self.params),
            grid,
            converter,
            pending: Vec::new(),
            ready: VecDeque::new(),
            batch_size: context.session_config().batch_size(),
            done: false,
            seen_rows: false,
            baseline: BaselineMetrics::new(&self.metrics, partition),
            filled: MetricBuilder::new(&self.metrics).counter("filled_rows", partition),
        }))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

struct GapFillStream {
    input: SendableRecordBatchStream,
    input_schema: SchemaRef,
    schema: SchemaRef,
    params: Arc<GapFillParams>,
    /// Bucket starts, in the bucket column's unit.
    grid: Arc<Vec<i64>>,
    converter: RowConverter,
    /// The rows of the series that may continue in the next batch.
    pending: Vec<RecordBatch>,
    ready: VecDeque<RecordBatch>,
    batch_size: usize,
    done: bool,
    /// Whether any input row arrived: without series keys, no rows at all is still one series.
    seen_rows: bool,
    baseline: BaselineMetrics,
    filled: Count,
}

impl GapFillStream {
    /// Whether row `a` of `x` and row `b` of `y` have the same series keys.
    fn same_series(&self, x: &RecordBatch, a: usize, y: &RecordBatch, b: usize) -> Result<bool> {
        if self.params.series.is_empty() {
            return Ok(true);
        }
        let keys = |batch: &RecordBatch, row: usize| -> Vec<ArrayRef> {
            self.params
                .series
                .iter()
                .map(|&i| batch.column(i).slice(row, 1))
                .collect()
        };
        let left = self.converter.convert_columns(&keys(x, a))?;
        let right = self.converter.convert_columns(&keys(y, b))?;
        Ok(left.row(0) == right.row(0))
    }

    /// Takes in one input batch: fills every series that is complete now.
    fn push(&mut self, batch: RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.seen_rows = true;
        let runs = self.series_runs(&batch)?;
        let last_start = runs.last().map_or(0, |r| r.start);
        let continues = match self.pending.last() {
            Some(last) => self.same_series(last, last.num_rows() - 1, &batch, 0)?,
            None => false,
        };
        if last_start == 0 && continues {
            self.pending.push(batch);
            return Ok(());
        }
        let mut complete = std::mem::take(&mut self.pending);
        complete.push(batch.slice(0, last_start));
        self.pending
            .push(batch.slice(last_start, batch.num_rows() - last_start));
        self.fill(complete)
    }

    /// The runs of equal series keys of a batch sorted by them.
    fn series_runs(&self, batch: &RecordBatch) -> Result<Vec<Range<usize>>> {
        if self.params.series.is_empty() {
            return Ok(std::iter::once(0..batch.num_rows()).collect());
        }
        let keys: Vec<ArrayRef> = self
            .params
            .series
            .iter()
            .map(|&i| Arc::clone(batch.column(i)))
            .collect();
        Ok(partition(&keys)?.ranges())
    }

    /// Fills whole series, queuing output batches of about `batch_size` rows.
    fn fill(&mut self, batches: Vec<RecordBatch>) -> Result<()> {
        let batch = concat_batches(&self.input_schema, &batches)?;
        if batch.num_rows() == 0 {
            if self.done
                && !self.seen_rows
                && self.params.series.is_empty()
                && !self.grid.is_empty()
            {
                // The one series of a query without series keys has every bucket, rows or not.
                let out = self.fill_runs(&batch, std::slice::from_ref(&(0..0)))?;
                self.ready.push_back(out);
            }
            return Ok(());
        }
        let runs = self.series_runs(&batch)?;
        let mut group = Vec::new();
        let mut size = 0;
        for run in runs {
            size += run.len() + self.grid.len();
            group.push(run);
            if size >= self.batch_size {
                let out = self.fill_runs(&batch, &std::mem::take(&mut group))?;
                self.ready.push_back(out);
                size = 0;
            }
        }
        if !group.is_empty() {
            let out = self.fill_runs(&batch, &group)?;
            self.ready.push_back(out);
        }
        Ok(())
    }

    /// The filled rows of the series `runs` of `batch`.
    fn fill_runs(&self, batch: &RecordBatch, runs: &[Range<usize>]) -> Result<RecordBatch> {
        let time = cast(batch.column(self.params.time), &DataType::Int64)?;
        let time = time.as_primitive::<Int64Type>();
        let grid = &self.grid;
        // Per output row: the input row (None in an added bucket), the bucket, the series' row.
        let mut rows: Vec<Option<u32>> = Vec::new();
        let mut times: Vec<Option<i64>> = Vec::new();
        let mut keys: Vec<u32> = Vec::new();
        let mut spans = Vec::with_capacity(runs.len());
        for run in runs {
            let first = rows.len();
            let key = run.start as u32;
            let mut g = 0;
            let mut add_buckets = |until: Option<i64>,
                                   rows: &mut Vec<Option<u32>>,
                                   times: &mut Vec<Option<i64>>,
                                   keys: &mut Vec<u32>| {
                while g < grid.len() && until.is_none_or(|t| grid[g] <= t) {
                    if until != Some(grid[g]) {
                        rows.push(None);
                        times.push(Some(grid[g]));
                        keys.push(key);
                    }
                    g += 1;
                }
            };
            for i in run.clone() {
                if time.is_valid(i) {
                    add_buckets(Some(time.value(i)), &mut rows, &mut times, &mut keys);
                    times.push(Some(time.value(i)));
                } else {
                    add_buckets(None, &mut rows, &mut times, &mut keys);
                    times.push(None);
                }
                rows.push(Some(i as u32));
                keys.push(i as u32);
            }
            add_buckets(None, &mut rows, &mut times, &mut keys);
            spans.push(first..rows.len());
        }
        let added = rows.iter().filter(|r| r.is_none()).count();
        self.filled.add(added);
        let is_added = BooleanArray::from(rows.iter().map(Option::is_none).collect::<Vec<_>>());
        let rows = UInt32Array::from(rows);
        let keys = UInt32Array::from(keys);
        let times: ArrayRef = Arc::new(Int64Array::from(times));
        let mut columns = Vec::with_capacity(self.schema.fields().len());
        for (j, column) in batch.columns().iter().enumerate() {
            let out = if self.params.series.contains(&j) {
                take(column.as_ref(), &keys, None)?
            } else if j == self.params.time {
                cast(&times, column.data_type())?
            } else {
                let taken = take(column.as_ref(), &rows, None)?;
                match self.params.gap_values.iter().find(|(i, _)| *i == j) {
                    Some((_, value)) if !value.is_null() && added > 0 => {
                        let value = value.cast_to(column.data_type())?.to_scalar()?;
                        zip(&is_added, &value, &taken)?
                    }
                    _ => taken,
                }
            };
            columns.push(out);
        }
        for (source, kind) in &self.params.fills {
            let time = &columns[self.params.time];
            let value = &columns[*source];
            let parts = spans
                .iter()
                .map(|span| {
                    kind.fill(
                        &time.slice(span.start, span.len()),
                        &value.slice(span.start, span.len()),
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            let parts: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
            columns.push(if parts.is_empty() {
                datafusion::arrow::array::new_empty_array(
                    self.schema.field(columns.len()).data_type(),
                )
            } else {
                concat(&parts)?
            });
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

impl Stream for GapFillStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(batch) = self.ready.pop_front() {
                // Output batches of at most `batch_size` rows.
                if batch.num_rows() > self.batch_size {
                    let rest = batch.slice(self.batch_size, batch.num_rows() - self.batch_size);
                    self.ready.push_front(rest);
                    let head = batch.slice(0, self.batch_size);
                    return self.baseline.record_poll(Poll::Ready(Some(Ok(head))));
                }
                return self.baseline.record_poll(Poll::Ready(Some(Ok(batch))));
            }
            if self.done {
                return Poll::Ready(None);
            }
            let polled = self.input.poll_next_unpin(cx);
            let elapsed = self.baseline.elapsed_compute().clone();
            let timer = elapsed.timer();
            let step = match polled {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(batch))) => self.push(batch),
                Poll::Ready(Some(Err(e))) => Err(e),
                Poll::Ready(None) => {
                    self.done = true;
                    let rest = std::mem::take(&mut self.pending);
                    self.fill(rest)
                }
            };
            timer.done();
            if let Err(e) = step {
                self.done = true;
                self.ready.clear();
                return Poll::Ready(Some(Err(e)));
            }
        }
    }
}

impl RecordBatchStream for GapFillStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}
