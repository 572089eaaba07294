//! The stream behind [`SortedAggregateExec`](super::SortedAggregateExec).
//!
//! Groups get consecutive indices in input order. At any moment the accumulators hold `done`
//! complete groups (indices `0..done`) and at most one open group (index `done`): the last run
//! seen, which the next batch may continue. Complete groups are emitted once there are
//! `batch_size` of them, and everything at the end of the input.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use datafusion::arrow::compute::{concat, partition, take};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::GroupsAccumulatorAdapter;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::aggregate::AggregateFunctionExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::{
    AggregateExec, AggregateMode, aggregate_expressions, evaluate_group_by,
};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet};
use futures::{Stream, StreamExt};

/// One aggregate expression: its argument (or partial-state) expressions, its FILTER, and the
/// accumulator of every group held.
struct Aggregate {
    args: Vec<Arc<dyn PhysicalExpr>>,
    filter: Option<Arc<dyn PhysicalExpr>>,
    accumulator: Box<dyn GroupsAccumulator>,
}

/// Aggregates one partition of key-sorted input; see the module docs.
pub(super) struct SortedAggregateStream {
    input: SendableRecordBatchStream,
    schema: SchemaRef,
    agg: Arc<AggregateExec>,
    /// Raw rows in (Partial, Single): `update_batch`; partial states in: `merge_batch`.
    raw_input: bool,
    /// Final values out (Final, Single), or partial states (Partial).
    final_output: bool,
    aggregates: Vec<Aggregate>,
    /// Key columns (one array per GROUP BY key) of the complete groups, piece by piece.
    done_keys: Vec<Vec<ArrayRef>>,
    /// Complete groups held by the accumulators.
    done: usize,
    /// The open group's key, as one-row arrays.
    open_key: Option<Vec<ArrayRef>>,
    group_indices: Vec<usize>,
    batch_size: usize,
    input_done: bool,
    metrics: BaselineMetrics,
    reservation: MemoryReservation,
}

/// A `GroupsAccumulator` for `expr`, as DataFusion's own aggregation makes it: the vectorized one
/// where the function has it, else its row accumulator behind an adapter.
fn groups_accumulator(expr: &Arc<AggregateFunctionExpr>) -> Result<Box<dyn GroupsAccumulator>> {
    if expr.groups_accumulator_supported() {
        expr.create_groups_accumulator()
    } else {
        let expr = Arc::clone(expr);
        Ok(Box::new(GroupsAccumulatorAdapter::new(move || {
            expr.create_accumulator()
        })))
    }
}

impl SortedAggregateStream {
    pub(super) fn try_new(
        agg: &Arc<AggregateExec>,
        input: SendableRecordBatchStream,
        context: &TaskContext,
        metrics: &ExecutionPlanMetricsSet,
        partition: usize,
    ) -> Result<Self> {
        let mode = agg.mode();
        let (raw_input, final_output) = match mode {
            AggregateMode::Partial => (true, false),
            AggregateMode::Single | AggregateMode::SinglePartitioned => (true, true),
            AggregateMode::Final | AggregateMode::FinalPartitioned => (false, true),
            AggregateMode::PartialReduce => (false, false),
        };
        let args = aggregate_expressions(agg.aggr_expr(), mode, agg.group_expr().expr().len())?;
        let aggregates = agg
            .aggr_expr()
            .iter()
            .zip(args)
            .zip(agg.filter_expr())
            .map(|((expr, args), filter)| {
                Ok(Aggregate {
                    args,
                    // A FILTER applies where rows come in; partial states are already filtered.
                    filter: if raw_input { filter.clone() } else { None },
                    accumulator: groups_accumulator(expr)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let reservation = MemoryConsumer::new(format!("SortedAggregateExec[{partition}]"))
            .register(context.memory_pool());
        Ok(Self {
            input,
            schema: agg.schema(),
            agg: Arc::clone(agg),
            raw_input,
            final_output,
            aggregates,
            done_keys: Vec::new(),
            done: 0,
            open_key: None,
            group_indices: Vec::new(),
            batch_size: context.session_config().batch_size().max(1),
            input_done: false,
            metrics: BaselineMetrics::new(metrics, partition),
            reservation,
        })
    }

    /// Adds one input batch: splits it into runs of equal keys, numbers them (the first run
    /// continues the open group when its key is the same), and feeds the accumulators.
    fn aggregate(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        let keys = evaluate_group_by(self.agg.group_expr(), batch)?
            .into_iter()
            .next()
            .unwrap_or_default();
        let runs = partition(&keys)?.ranges();
        let continues = match &self.open_key {
            Some(open) => same_key(open, &keys)?,
            None => false,
        };

        let mut next = self.done + usize::from(self.open_key.is_some());
        self.group_indices.clear();
        self.group_indices.reserve(rows);
        for (i, run) in runs.iter().enumerate() {
            let group = if i == 0 && continues {
                self.done
            } else {
                next += 1;
                next - 1
            };
            self.group_indices
                .extend(std::iter::repeat_n(group, run.len()));
        }

        for aggregate in &mut self.aggregates {
            let values = aggregate
                .args
                .iter()
                .map(|e| e.evaluate(batch)?.into_array(rows))
                .collect::<Result<Vec<_>>>()?;
            let filter = match &aggregate.filter {
                Some(f) => Some(f.evaluate(batch)?.into_array(rows)?),
                None => None,
            };
            let filter = filter.as_ref().map(|f| f.as_boolean());
            if self.raw_input {
                aggregate
                    .accumulator
                    .update_batch(&values, &self.group_indices, filter, next)?;
            } else {
                aggregate
                    .accumulator
                    .merge_batch(&values, &self.group_indices, next)?;
            }
        }

        // The open group is complete unless this whole batch continued it.
        let new_runs = if continues { &runs[1..] } else { &runs[..] };
        if let Some(last) = new_runs.last() {
            if let Some(open) = self.open_key.take() {
                self.done_keys.push(open);
                self.done += 1;
            }
            let complete = &new_runs[..new_runs.len() - 1];
            if !complete.is_empty() {
                let starts: UInt32Array = complete
                    .iter()
                    .map(|r| u32::try_from(r.start).map_err(overflow))
                    .collect::<Result<_>>()?;
                let piece = keys
                    .iter()
                    .map(|k| take(k.as_ref(), &starts, None).map_err(Into::into))
                    .collect::<Result<Vec<_>>>()?;
                self.done_keys.push(piece);
                self.done += complete.len();
            }
            self.open_key = Some(keys.iter().map(|k| k.slice(last.start, 1)).collect());
        }
        self.reserve()
    }

    /// Emits the complete groups held.
    fn emit(&mut self) -> Result<Option<RecordBatch>> {
        if self.done == 0 {
            return Ok(None);
        }
        let emit_to = if self.open_key.is_some() {
            EmitTo::First(self.done)
        } else {
            EmitTo::All
        };
        let key_count = self.agg.group_expr().expr().len();
        let mut columns = Vec::with_capacity(self.schema.fields().len());
        for k in 0..key_count {
            let pieces: Vec<&dyn Array> = self.done_keys.iter().map(|p| p[k].as_ref()).collect();
            columns.push(concat(&pieces)?);
        }
        for aggregate in &mut self.aggregates {
            if self.final_output {
                columns.push(aggregate.accumulator.evaluate(emit_to)?);
            } else {
                columns.extend(aggregate.accumulator.state(emit_to)?);
            }
        }
        self.done_keys.clear();
        self.done = 0;
        let batch = RecordBatch::try_new(Arc::clone(&self.schema), columns)?;
        self.reserve()?;
        Ok(Some(batch))
    }

    /// Accounts the accumulators' and held keys' memory with the session's memory pool.
    fn reserve(&mut self) -> Result<()> {
        let keys: usize = self
            .done_keys
            .iter()
            .flatten()
            .map(|a| a.get_array_memory_size())
            .sum();
        let accumulators: usize = self.aggregates.iter().map(|a| a.accumulator.size()).sum();
        self.reservation.try_resize(keys + accumulators)
    }
}

/// Whether the one-row `open` key equals the first row of `keys`, by the same comparison the
/// runs are split with (NULLs equal, as GROUP BY has it).
fn same_key(open: &[ArrayRef], keys: &[ArrayRef]) -> Result<bool> {
    let pairs = open
        .iter()
        .zip(keys)
        .map(|(o, k)| concat(&[o.as_ref(), k.slice(0, 1).as_ref()]).map_err(Into::into))
        .collect::<Result<Vec<_>>>()?;
    Ok(partition(&pairs)?.len() == 1)
}

fn overflow(_: std::num::TryFromIntError) -> DataFusionError {
    DataFusionError::Execution("a batch of more than 2^32 rows cannot be aggregated".into())
}

impl Stream for SortedAggregateStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if self.input_done {
                return Poll::Ready(None);
            }
            let polled = ready!(self.input.poll_next_unpin(cx));
            let elapsed = self.metrics.elapsed_compute().clone();
            let _timer = elapsed.timer();
            let emitted = match polled {
                Some(Ok(batch)) => match self.aggregate(&batch) {
                    Ok(()) if self.done >= self.batch_size => self.emit(),
                    Ok(()) => continue,
                    Err(e) => Err(e),
                },
                Some(Err(e)) => Err(e),
                None => {
                    // The input has ended: the open group is complete too.
                    self.input_done = true;
                    if let Some(open) = self.open_key.take() {
                        self.done_keys.push(open);
                        self.done += 1;
                    }
                    self.emit()
                }
            };
            if let Ok(Some(batch)) = &emitted {
                self.metrics.record_output(batch.num_rows());
            }
            // `None` only when the input ended with no group held.
            return Poll::Ready(emitted.transpose());
        }
    }
}

impl RecordBatchStream for SortedAggregateStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}
