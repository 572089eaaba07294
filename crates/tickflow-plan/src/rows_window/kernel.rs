//! The frame driver: one window expression over the rows of the current partition.
//!
//! DataFusion's `BoundedWindowAggExec` evaluates a ROWS frame one row at a time through the
//! `Accumulator` API: for each row it slices the argument array for the rows entering the frame
//! (`update_batch`) and for the rows leaving it (`retract_batch`), then builds a `ScalarValue`
//! (`evaluate`). [`Framed`] does the same steps, in the same order, on plain native values kept
//! in a `Vec` (the partition's rows from the frame's start on, carried across input batches), so
//! that each row costs a few arithmetic operations instead of two array slices, two dynamic
//! calls and a `ScalarValue`. The [`Agg`]s reproduce DataFusion's accumulators' arithmetic
//! step by step, which keeps the results bit for bit equal to DataFusion's (see the module
//! docs of [`super`] for the one place where they may not be).

use std::ops::Range;

use datafusion::arrow::array::ArrayRef;
use datafusion::common::Result;

use super::frame::RowsFrame;

/// One window expression's running computation over the partitions of a stream, row by row.
pub(crate) trait FrameKernel: Send {
    /// Appends the argument values of the next rows of the current partition.
    fn push(&mut self, values: &ArrayRef) -> Result<()>;

    /// Computes the rows of the current partition before `upto` not computed yet. The caller
    /// guarantees that each of them has its whole frame among the pushed rows, or that the
    /// partition has no more rows.
    fn compute(&mut self, upto: usize);

    /// Starts a new partition (every pushed row must have been computed).
    fn reset(&mut self);

    /// Removes the first `n` computed results as an array.
    fn take(&mut self, n: usize) -> Result<ArrayRef>;
}

/// The state of one aggregate over a frame: DataFusion's accumulator, on native values.
pub(crate) trait Agg: Send + 'static {
    /// The argument's native value.
    type In: Copy + Default + Send + 'static;
    /// The result's native value.
    type Out: Copy + Default + Send + 'static;

    /// Appends `values`' native values and validity.
    fn extend(
        &self,
        values: &ArrayRef,
        out: &mut Vec<Self::In>,
        valid: &mut Vec<bool>,
    ) -> Result<()>;

    /// The rows `values` (with `valid`) enter the frame, in one `update_batch` call.
    fn add(&mut self, values: &[Self::In], valid: &[bool]);

    /// The rows `values` leave the frame, in one `retract_batch` call.
    fn retract(&mut self, values: &[Self::In], valid: &[bool]);

    /// The result over the rows in the frame (`evaluate`).
    fn evaluate(&self) -> Option<Self::Out>;

    /// The result of an empty frame (the aggregate's `default_value`).
    fn empty(&self) -> Option<Self::Out>;

    /// Forgets every row (a new partition, or a frame that became empty).
    fn clear(&mut self);

    /// The results as an array of the window expression's type.
    fn finish(&self, values: Vec<Self::Out>, valid: Vec<bool>) -> Result<ArrayRef>;
}

/// Dead rows at the front of the buffer are dropped once there are at least this many.
const TRIM_AT: usize = 4096;

/// [`FrameKernel`] for any [`Agg`]: DataFusion's `get_aggregate_result_inside_range` loop.
pub(crate) struct Framed<A: Agg> {
    frame: RowsFrame,
    agg: A,
    /// Argument values of the partition's rows from `base` on.
    values: Vec<A::In>,
    valid: Vec<bool>,
    /// Partition row index of `values[0]`.
    base: usize,
    /// Rows of the partition pushed so far.
    len: usize,
    /// The next row to compute.
    next: usize,
    /// The frame of the last computed row (DataFusion's `last_range`).
    last: Range<usize>,
    results: Vec<A::Out>,
    results_valid: Vec<bool>,
}

impl<A: Agg> Framed<A> {
    pub(crate) fn new(frame: RowsFrame, agg: A) -> Self {
        Self {
            frame,
            agg,
            values: Vec::new(),
            valid: Vec::new(),
            base: 0,
            len: 0,
            next: 0,
            last: 0..0,
            results: Vec::new(),
            results_valid: Vec::new(),
        }
    }

    fn record(&mut self, value: Option<A::Out>) {
        self.results.push(value.unwrap_or_default());
        self.results_valid.push(value.is_some());
    }

    /// Drops the values no later frame can reach: the next frame adds rows from `last.end` on
    /// and retracts rows from `last.start` on.
    fn trim(&mut self) {
        let dead = self.last.start.saturating_sub(self.base);
        if dead >= TRIM_AT && dead * 2 >= self.values.len() {
            self.values.drain(..dead);
            self.valid.drain(..dead);
            self.base += dead;
        }
    }
}

impl<A: Agg> FrameKernel for Framed<A> {
    fn push(&mut self, values: &ArrayRef) -> Result<()> {
        self.agg.extend(values, &mut self.values, &mut self.valid)?;
        self.len += values.len();
        Ok(())
    }

    fn compute(&mut self, upto: usize) {
        let upto = upto.min(self.len);
        while self.next < upto {
            let range = self.frame.range(self.next, self.len);
            let result = if range.start == range.end {
                // DataFusion retracts the whole last frame here. A ROWS frame is empty only
                // before its first row or after its last, so no later frame of the partition
                // holds a row: forgetting them all gives the same results.
                if self.last.start != self.last.end {
                    self.agg.clear();
                }
                self.agg.empty()
            } else {
                if range.end > self.last.end {
                    let rows = self.last.end - self.base..range.end - self.base;
                    self.agg.add(&self.values[rows.clone()], &self.valid[rows]);
                }
                if range.start > self.last.start {
                    let rows = self.last.start - self.base..range.start - self.base;
                    self.agg
                        .retract(&self.values[rows.clone()], &self.valid[rows]);
                }
                self.agg.evaluate()
            };
            self.record(result);
            self.last = range;
            self.next += 1;
        }
        self.trim();
    }

    fn reset(&mut self) {
        self.agg.clear();
        self.values.clear();
        self.valid.clear();
        self.base = 0;
        self.len = 0;
        self.next = 0;
        self.last = 0..0;
    }

    fn take(&mut self, n: usize) -> Result<ArrayRef> {
        let n = n.min(self.results.len());
        let values: Vec<A::Out> = self.results.drain(..n).collect();
        let valid: Vec<bool> = self.results_valid.drain(..n).collect();
        self.agg.finish(values, valid)
    }
}
