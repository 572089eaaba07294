//! The machinery every tickflow aggregate shares.
//!
//! Each aggregate is written once, as a [`GroupKernel`]: what one group's state is, how one input
//! row updates it, how one partial state merges into it, and how states become arrays. From that
//! kernel, [`KernelAccumulator`] (DataFusion's row-at-a-time [`Accumulator`]) and
//! [`KernelGroupsAccumulator`] (the vectorized [`GroupsAccumulator`] fast path) are derived, so
//! the two can never disagree on semantics, only on plumbing — and the plumbing is tested.
//!
//! A row counts only when its first [`GroupKernel::REQUIRED`] inputs are all non-NULL and the
//! aggregate's `FILTER` (if any) is true; everything else about NULLs is the kernel's business.

use std::fmt::Debug;
use std::mem::size_of;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};

/// One aggregate function, described by what it does to a single group's state.
pub(crate) trait GroupKernel: Debug + Send + Sync + 'static {
    /// One group's running state. `Default` is the state of a group that has seen no rows.
    type State: Debug + Default + Clone + Send + Sync + 'static;
    /// Typed views of one batch of input columns (downcast once per batch).
    type Input<'a>;
    /// Typed views of one batch of partial-state columns.
    type Partial<'a>;

    /// How many leading input columns must be non-NULL for a row to be aggregated.
    const REQUIRED: usize;

    /// Downcasts the input columns of one batch.
    fn input<'a>(&self, values: &'a [ArrayRef]) -> Result<Self::Input<'a>>;
    /// Adds input row `row` (known to be valid) to `state`.
    fn update(&self, state: &mut Self::State, input: &Self::Input<'_>, row: usize) -> Result<()>;
    /// Downcasts the partial-state columns produced by [`Self::state`].
    fn partial<'a>(&self, states: &'a [ArrayRef]) -> Result<Self::Partial<'a>>;
    /// Merges partial state `row` into `state`; an empty partial must leave `state` unchanged.
    fn merge(&self, state: &mut Self::State, partial: &Self::Partial<'_>, row: usize)
    -> Result<()>;
    /// Encodes states as the partial-state columns (the aggregate's `state_fields`).
    fn state(&self, states: &[Self::State]) -> Result<Vec<ArrayRef>>;
    /// Computes the final value of each state.
    fn evaluate(&self, states: &[Self::State]) -> Result<ArrayRef>;
}

/// What to build from the kernel an aggregate picks for its argument types: each aggregate
/// chooses its kernel in one function, generic over this, and gets both accumulators from it.
pub(crate) trait KernelVisitor {
    type Output;
    fn visit<K: GroupKernel>(self, kernel: K) -> Self::Output;
}

/// Builds a [`KernelAccumulator`].
#[derive(Debug)]
pub(crate) struct MakeAccumulator;

impl KernelVisitor for MakeAccumulator {
    type Output = Box<dyn Accumulator>;
    fn visit<K: GroupKernel>(self, kernel: K) -> Self::Output {
        Box::new(KernelAccumulator::new(kernel))
    }
}

/// Builds a [`KernelGroupsAccumulator`].
#[derive(Debug)]
pub(crate) struct MakeGroupsAccumulator;

impl KernelVisitor for MakeGroupsAccumulator {
    type Output = Box<dyn GroupsAccumulator>;
    fn visit<K: GroupKernel>(self, kernel: K) -> Self::Output {
        Box::new(KernelGroupsAccumulator::new(kernel))
    }
}

/// The `AggregateUDFImpl` methods every tickflow aggregate implements alike: both accumulators
/// from the kernel its file's `kernel` function picks, and the `#[user_doc]` documentation.
macro_rules! kernel_accumulators {
    () => {
        fn accumulator(
            &self,
            args: datafusion::logical_expr::function::AccumulatorArgs,
        ) -> datafusion::common::Result<Box<dyn datafusion::logical_expr::Accumulator>> {
            kernel(&args, $crate::aggregate::accumulate::MakeAccumulator)
        }

        fn groups_accumulator_supported(
            &self,
            _args: datafusion::logical_expr::function::AccumulatorArgs,
        ) -> bool {
            true
        }

        fn create_groups_accumulator(
            &self,
            args: datafusion::logical_expr::function::AccumulatorArgs,
        ) -> datafusion::common::Result<Box<dyn datafusion::logical_expr::GroupsAccumulator>> {
            kernel(&args, $crate::aggregate::accumulate::MakeGroupsAccumulator)
        }

        fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
            self.doc()
        }
    };
}
pub(crate) use kernel_accumulators;

/// The rows of a batch that count: the first `required` columns non-NULL and the filter true.
fn valid_rows(
    values: &[ArrayRef],
    required: usize,
    opt_filter: Option<&BooleanArray>,
) -> Option<NullBuffer> {
    let mut valid: Option<NullBuffer> = None;
    for column in values.iter().take(required) {
        let nulls = column.logical_nulls();
        valid = NullBuffer::union(valid.as_ref(), nulls.as_ref());
    }
    if let Some(filter) = opt_filter {
        // A NULL filter value counts as false, as in SQL's `FILTER (WHERE ...)`.
        let keep = match filter.nulls() {
            Some(nulls) => filter.values() & nulls.inner(),
            None => filter.values().clone(),
        };
        valid = NullBuffer::union(valid.as_ref(), Some(&NullBuffer::new(keep)));
    }
    valid
}

/// Calls `f(row)` for every row of the batch that counts.
fn for_each_valid_row(
    values: &[ArrayRef],
    required: usize,
    opt_filter: Option<&BooleanArray>,
    mut f: impl FnMut(usize) -> Result<()>,
) -> Result<()> {
    let rows = values.first().map_or(0, |v| v.len());
    match valid_rows(values, required, opt_filter) {
        None => (0..rows).try_for_each(f),
        Some(valid) if valid.null_count() == rows => Ok(()),
        Some(valid) => valid.valid_indices().try_for_each(&mut f),
    }
}

/// DataFusion's [`Accumulator`] (one group) over a [`GroupKernel`].
#[derive(Debug)]
pub(crate) struct KernelAccumulator<K: GroupKernel> {
    kernel: K,
    state: K::State,
}

impl<K: GroupKernel> KernelAccumulator<K> {
    pub(crate) fn new(kernel: K) -> Self {
        Self {
            kernel,
            state: K::State::default(),
        }
    }
}

impl<K: GroupKernel> Accumulator for KernelAccumulator<K> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let input = self.kernel.input(values)?;
        let (kernel, state) = (&self.kernel, &mut self.state);
        for_each_valid_row(values, K::REQUIRED, None, |row| {
            kernel.update(state, &input, row)
        })
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let partial = self.kernel.partial(states)?;
        let rows = states.first().map_or(0, |s| s.len());
        for row in 0..rows {
            self.kernel.merge(&mut self.state, &partial, row)?;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.kernel
            .state(std::slice::from_ref(&self.state))?
            .iter()
            .map(|column| ScalarValue::try_from_array(column, 0))
            .collect()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let value = self.kernel.evaluate(std::slice::from_ref(&self.state))?;
        ScalarValue::try_from_array(&value, 0)
    }

    fn size(&self) -> usize {
        size_of::<Self>()
    }
}

/// DataFusion's [`GroupsAccumulator`] over a [`GroupKernel`]: one state per group index.
#[derive(Debug)]
pub(crate) struct KernelGroupsAccumulator<K: GroupKernel> {
    kernel: K,
    states: Vec<K::State>,
}

impl<K: GroupKernel> KernelGroupsAccumulator<K> {
    pub(crate) fn new(kernel: K) -> Self {
        Self {
            kernel,
            states: Vec::new(),
        }
    }

    fn take(&mut self, emit_to: EmitTo) -> Vec<K::State> {
        emit_to.take_needed(&mut self.states)
    }
}

impl<K: GroupKernel> GroupsAccumulator for KernelGroupsAccumulator<K> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        if group_indices.len() != values.first().map_or(0, |v| v.len()) {
            return internal_err!("group_indices and input columns differ in length");
        }
        self.states.resize(total_num_groups, K::State::default());
        let input = self.kernel.input(values)?;
        let (kernel, states) = (&self.kernel, &mut self.states);
        for_each_valid_row(values, K::REQUIRED, opt_filter, |row| {
            kernel.update(&mut states[group_indices[row]], &input, row)
        })
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        self.states.resize(total_num_groups, K::State::default());
        let partial = self.kernel.partial(values)?;
        for (row, &group) in group_indices.iter().enumerate() {
            self.kernel.merge(&mut self.states[group], &partial, row)?;
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let states = self.take(emit_to);
        self.kernel.evaluate(&states)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let states = self.take(emit_to);
        self.kernel.state(&states)
    }

    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        // Every row becomes its own group; rows that do not count become empty states.
        let rows = values.first().map_or(0, |v| v.len());
        let mut states = vec![K::State::default(); rows];
        let input = self.kernel.input(values)?;
        for_each_valid_row(values, K::REQUIRED, opt_filter, |row| {
            self.kernel.update(&mut states[row], &input, row)
        })?;
        self.kernel.state(&states)
    }

    fn size(&self) -> usize {
        self.states.capacity() * size_of::<K::State>() + size_of::<Self>()
    }
}
