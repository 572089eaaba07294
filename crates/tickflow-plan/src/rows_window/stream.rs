//! [`RowsWindowStream`]: runs the kernels over input sorted by the PARTITION BY keys.
//!
//! A partition is a run of rows with equal keys, found per batch with Arrow's `partition` and
//! continued across batches by comparing a batch's first row with the previous batch's last.
//! Each input batch is held until every row in it has its results, which for a frame reaching
//! `n FOLLOWING` means until `n` more rows of its partition have arrived or the partition has
//! ended; it is then emitted with the window columns appended, in input order.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use datafusion::arrow::array::{Array, ArrayRef, make_comparator};
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::compute::kernels::partition::partition;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Result, internal_err};
use datafusion::execution::RecordBatchStream;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::metrics::BaselineMetrics;
use futures::{Stream, StreamExt};

use super::kernel::FrameKernel;
use super::spec::KernelSpec;

/// The stream of a [`RowsWindowExec`](super::RowsWindowExec) partition.
pub(crate) struct RowsWindowStream {
    input: SendableRecordBatchStream,
    schema: SchemaRef,
    partition_by: Vec<Arc<dyn PhysicalExpr>>,
    arguments: Vec<Arc<dyn PhysicalExpr>>,
    kernels: Vec<Box<dyn FrameKernel>>,
    /// Rows after a row that its results may need (the largest `n FOLLOWING`).
    lookahead: usize,
    /// The PARTITION BY values of the last row seen (one-row arrays).
    last_keys: Option<Vec<ArrayRef>>,
    /// Rows of the open partition pushed to the kernels.
    open_rows: usize,
    /// Input batches not emitted yet, oldest first.
    pending: VecDeque<RecordBatch>,
    /// Rows of the partitions before the open one, since the stream started.
    closed_rows: usize,
    /// Rows of the open partition with results (the same for every kernel).
    open_done: usize,
    /// Rows emitted since the stream started.
    emitted: usize,
    input_done: bool,
    metrics: BaselineMetrics,
}

impl RowsWindowStream {
    pub(crate) fn try_new(
        input: SendableRecordBatchStream,
        schema: SchemaRef,
        partition_by: Vec<Arc<dyn PhysicalExpr>>,
        specs: &[KernelSpec],
        metrics: BaselineMetrics,
    ) -> Result<Self> {
        let mut kernels = Vec::with_capacity(specs.len());
        for spec in specs {
            match spec.kernel() {
                Some(kernel) => kernels.push(kernel),
                None => return internal_err!("rows window: no kernel for {spec:?}"),
            }
        }
        Ok(Self {
            input,
            schema,
            partition_by,
            arguments: specs.iter().map(|s| Arc::clone(s.argument())).collect(),
            kernels,
            lookahead: specs.iter().map(|s| s.frame.lookahead()).max().unwrap_or(0),
            last_keys: None,
            open_rows: 0,
            pending: VecDeque::new(),
            closed_rows: 0,
            open_done: 0,
            emitted: 0,
            input_done: false,
            metrics,
        })
    }

    /// Computes the rows of the open partition whose frames are complete; all of them if the
    /// partition has ended (`closed`), after which the next rows start a new partition.
    fn compute(&mut self, closed: bool) {
        let upto = if closed {
            self.open_rows
        } else {
            self.open_rows.saturating_sub(self.lookahead)
        };
        for kernel in &mut self.kernels {
            kernel.compute(upto);
        }
        // Every kernel has computed the rows of the partition before `upto`.
        self.open_done = upto;
        if closed {
            for kernel in &mut self.kernels {
                kernel.reset();
            }
            self.closed_rows += self.open_rows;
            self.open_rows = 0;
            self.open_done = 0;
        }
    }

    /// Whether `keys`' first row continues the partition of the previous batch's last row.
    fn continues(&self, keys: &[ArrayRef]) -> Result<bool> {
        let Some(last) = &self.last_keys else {
            return Ok(false);
        };
        for (last, key) in last.iter().zip(keys) {
            let compare = make_comparator(last.as_ref(), key.as_ref(), SortOptions::default())?;
            if compare(0, 0).is_ne() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Pushes `batch`'s rows to the kernels and computes what they can.
    fn process(&mut self, batch: RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        let keys = self
            .partition_by
            .iter()
            .map(|e| e.evaluate(&batch)?.into_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let arguments = self
            .arguments
            .iter()
            .map(|e| e.evaluate(&batch)?.into_array(rows))
            .collect::<Result<Vec<_>>>()?;
        let ranges = if keys.is_empty() {
            std::iter::once(0..rows).collect()
        } else {
            partition(&keys)?.ranges()
        };
        if self.open_rows > 0 && !self.continues(&keys)? {
            self.compute(true);
        }
        let segments = ranges.len();
        for (i, range) in ranges.into_iter().enumerate() {
            for (kernel, argument) in self.kernels.iter_mut().zip(&arguments) {
                kernel.push(&argument.slice(range.start, range.len()))?;
            }
            self.open_rows += range.len();
            // Every segment but the last ends its partition within this batch.
            self.compute(i + 1 < segments);
        }
        self.last_keys = Some(keys.iter().map(|k| k.slice(rows - 1, 1)).collect());
        self.pending.push_back(batch);
        Ok(())
    }

    /// The oldest pending batch with its window columns, once all its rows have results.
    fn emit(&mut self) -> Result<Option<RecordBatch>> {
        let Some(front) = self.pending.front() else {
            return Ok(None);
        };
        let rows = front.num_rows();
        if self.closed_rows + self.open_done - self.emitted < rows {
            return Ok(None);
        }
        let Some(batch) = self.pending.pop_front() else {
            return Ok(None);
        };
        let mut columns = batch.columns().to_vec();
        for kernel in &mut self.kernels {
            columns.push(kernel.take(rows)?);
        }
        self.emitted += rows;
        Ok(Some(RecordBatch::try_new(
            Arc::clone(&self.schema),
            columns,
        )?))
    }
}

impl Stream for RowsWindowStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let emitted = {
                let elapsed = self.metrics.elapsed_compute().clone();
                let _timer = elapsed.timer();
                self.emit()
            };
            match emitted {
                Ok(Some(batch)) => {
                    return self.metrics.record_poll(Poll::Ready(Some(Ok(batch))));
                }
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
            if self.input_done {
                return Poll::Ready(None);
            }
            let polled = ready!(self.input.poll_next_unpin(cx));
            let elapsed = self.metrics.elapsed_compute().clone();
            let _timer = elapsed.timer();
            let processed = match polled {
                Some(Ok(batch)) => self.process(batch),
                Some(Err(e)) => Err(e),
                None => {
                    // The input has ended: so has the open partition.
                    self.input_done = true;
                    self.compute(true);
                    Ok(())
                }
            };
            if let Err(e) = processed {
                return Poll::Ready(Some(Err(e)));
            }
        }
    }
}

impl RecordBatchStream for RowsWindowStream {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
}
