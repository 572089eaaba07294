//! The [`Agg`]s: DataFusion 55's window accumulators, step for step, on native values.
//!
//! | SQL | DataFusion's accumulator | here |
//! |---|---|---|
//! | `sum` | `SlidingSumAccumulator` / `SumAccumulator` | [`Sum`] |
//! | `avg` (FLOAT64) | `AvgAccumulator` | [`Avg`] |
//! | `count` | `CountAccumulator` | [`Count`] |
//! | `min`, `max` | `SlidingMin/MaxAccumulator` (`MovingMin/Max`) / `Min/MaxAccumulator` | [`Extreme`] |
//! | `var`, `var_pop`, `stddev`, `stddev_pop` | `VarianceAccumulator` / `StddevAccumulator` | [`Variance`] |
//!
//! Sums: DataFusion adds (or subtracts) `arrow::compute::sum` of each slice entering (leaving)
//! the frame to a running total, wrapping on integer overflow. A one-row slice's Arrow sum is
//! `0 + x` (its lanes start at zero), which is what [`Sum`] adds; a longer slice (the first
//! rows of a frame that reaches `n FOLLOWING`) is summed by Arrow itself, so its lane order is
//! Arrow's. Welford updates and retractions are DataFusion's formulas, value by value.

use std::collections::VecDeque;
use std::marker::PhantomData;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use datafusion::arrow::buffer::{NullBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{
    ArrowNativeTypeOp, ArrowPrimitiveType, DataType, Float64Type, Int64Type,
};
use datafusion::common::{Result, internal_err};
use std::sync::Arc;

use super::kernel::Agg;

/// Appends a primitive array's values and validity.
fn extend_primitive<T: ArrowPrimitiveType>(
    values: &ArrayRef,
    out: &mut Vec<T::Native>,
    valid: &mut Vec<bool>,
) -> Result<()> {
    let Some(array) = values.as_primitive_opt::<T>() else {
        return internal_err!(
            "rows window: expected {} values, got {}",
            T::DATA_TYPE,
            values.data_type()
        );
    };
    out.extend_from_slice(array.values());
    match array.nulls() {
        Some(nulls) => valid.extend(nulls.iter()),
        None => valid.extend(std::iter::repeat_n(true, array.len())),
    }
    Ok(())
}

/// An array of `data_type` (a `T` type, e.g. with a decimal's precision) from results.
fn primitive_result<T: ArrowPrimitiveType>(
    values: Vec<T::Native>,
    valid: Vec<bool>,
    data_type: &DataType,
) -> Result<ArrayRef> {
    let nulls = if valid.iter().all(|v| *v) {
        None
    } else {
        Some(NullBuffer::from(valid))
    };
    let array = PrimitiveArray::<T>::try_new(ScalarBuffer::from(values), nulls)?
        .with_data_type(data_type.clone());
    Ok(Arc::new(array))
}

/// `arrow::compute::sum` of a slice DataFusion would pass to `update_batch`/`retract_batch`.
fn slice_sum<T: ArrowPrimitiveType>(values: &[T::Native], valid: &[bool]) -> Option<T::Native> {
    if let [value] = values {
        // Arrow's sum of one value: its lanes start at zero (so -0.0 becomes 0.0).
        return valid[0].then(|| T::Native::ZERO.add_wrapping(*value));
    }
    let nulls = if valid.iter().all(|v| *v) {
        None
    } else {
        Some(NullBuffer::from(valid.to_vec()))
    };
    let array = PrimitiveArray::<T>::new(ScalarBuffer::from(values.to_vec()), nulls);
    datafusion::arrow::compute::sum(&array)
}

fn count_valid(valid: &[bool]) -> u64 {
    valid.iter().filter(|v| **v).count() as u64
}

/// `sum`: a running total and the count of non-NULL values in the frame; NULL when there are
/// none. Integers and decimals wrap on overflow, as DataFusion's window `sum` does.
pub(crate) struct Sum<T: ArrowPrimitiveType> {
    sum: T::Native,
    count: u64,
    data_type: DataType,
}

impl<T: ArrowPrimitiveType> Sum<T> {
    pub(crate) fn new(data_type: DataType) -> Self {
        Self {
            sum: T::Native::ZERO,
            count: 0,
            data_type,
        }
    }
}

impl<T: ArrowPrimitiveType> Agg for Sum<T> {
    type In = T::Native;
    type Out = T::Native;

    fn extend(
        &self,
        values: &ArrayRef,
        out: &mut Vec<T::Native>,
        valid: &mut Vec<bool>,
    ) -> Result<()> {
        extend_primitive::<T>(values, out, valid)
    }

    #[inline]
    fn add(&mut self, values: &[T::Native], valid: &[bool]) {
        self.count += count_valid(valid);
        if let Some(x) = slice_sum::<T>(values, valid) {
            self.sum = self.sum.add_wrapping(x);
        }
    }

    #[inline]
    fn retract(&mut self, values: &[T::Native], valid: &[bool]) {
        if let Some(x) = slice_sum::<T>(values, valid) {
            self.sum = self.sum.sub_wrapping(x);
        }
        self.count -= count_valid(valid);
    }

    #[inline]
    fn evaluate(&self) -> Option<T::Native> {
        (self.count != 0).then_some(self.sum)
    }

    fn empty(&self) -> Option<T::Native> {
        None
    }

    fn clear(&mut self) {
        self.sum = T::Native::ZERO;
        self.count = 0;
    }

    fn finish(&self, values: Vec<T::Native>, valid: Vec<bool>) -> Result<ArrayRef> {
        primitive_result::<T>(values, valid, &self.data_type)
    }
}

/// `avg` of FLOAT64 (DataFusion casts integer and float arguments to it): the running sum of
/// [`Sum`] divided by the count; NULL when the frame holds no non-NULL value.
pub(crate) struct Avg(Sum<Float64Type>);

impl Avg {
    pub(crate) fn new() -> Self {
        Self(Sum::new(DataType::Float64))
    }
}

impl Agg for Avg {
    type In = f64;
    type Out = f64;

    fn extend(&self, values: &ArrayRef, out: &mut Vec<f64>, valid: &mut Vec<bool>) -> Result<()> {
        self.0.extend(values, out, valid)
    }

    #[inline]
    fn add(&mut self, values: &[f64], valid: &[bool]) {
        self.0.add(values, valid)
    }

    #[inline]
    fn retract(&mut self, values: &[f64], valid: &[bool]) {
        self.0.retract(values, valid)
    }

    #[inline]
    fn evaluate(&self) -> Option<f64> {
        (self.0.count != 0).then(|| self.0.sum / self.0.count as f64)
    }

    fn empty(&self) -> Option<f64> {
        None
    }

    fn clear(&mut self) {
        self.0.clear()
    }

    fn finish(&self, values: Vec<f64>, valid: Vec<bool>) -> Result<ArrayRef> {
        self.0.finish(values, valid)
    }
}

/// `count(x)` (and `count(*)`): the number of non-NULL values in the frame; 0 when empty.
pub(crate) struct Count {
    count: i64,
}

impl Count {
    pub(crate) fn new() -> Self {
        Self { count: 0 }
    }
}

impl Agg for Count {
    type In = ();
    type Out = i64;

    fn extend(&self, values: &ArrayRef, out: &mut Vec<()>, valid: &mut Vec<bool>) -> Result<()> {
        out.extend(std::iter::repeat_n((), values.len()));
        match values.logical_nulls() {
            Some(nulls) => valid.extend(nulls.iter()),
            None => valid.extend(std::iter::repeat_n(true, values.len())),
        }
        Ok(())
    }

    #[inline]
    fn add(&mut self, _values: &[()], valid: &[bool]) {
        self.count += count_valid(valid) as i64;
    }

    #[inline]
    fn retract(&mut self, _values: &[()], valid: &[bool]) {
        self.count -= count_valid(valid) as i64;
    }

    #[inline]
    fn evaluate(&self) -> Option<i64> {
        Some(self.count)
    }

    fn empty(&self) -> Option<i64> {
        Some(0)
    }

    fn clear(&mut self) {
        self.count = 0;
    }

    fn finish(&self, values: Vec<i64>, valid: Vec<bool>) -> Result<ArrayRef> {
        primitive_result::<Int64Type>(values, valid, &DataType::Int64)
    }
}

/// `min` (`MAX = false`) or `max` (`MAX = true`): DataFusion's monotonic deque (`MovingMin`/
/// `MovingMax`), ordered as `ScalarValue` orders values (floats by IEEE total order, so NaN is
/// the largest value and -0.0 < 0.0); NULLs are skipped.
pub(crate) struct Extreme<T: ArrowPrimitiveType, const MAX: bool> {
    deque: VecDeque<(u64, T::Native)>,
    push_seq: u64,
    pop_seq: u64,
    data_type: DataType,
    _type: PhantomData<fn() -> T>,
}

impl<T: ArrowPrimitiveType, const MAX: bool> Extreme<T, MAX> {
    pub(crate) fn new(data_type: DataType) -> Self {
        Self {
            deque: VecDeque::new(),
            push_seq: 0,
            pop_seq: 0,
            data_type,
            _type: PhantomData,
        }
    }

    #[inline]
    fn push(&mut self, value: T::Native) {
        let seq = self.push_seq;
        self.push_seq += 1;
        while let Some((_, back)) = self.deque.back() {
            let dominated = if MAX {
                back.is_le(value)
            } else {
                back.is_ge(value)
            };
            if !dominated {
                break;
            }
            self.deque.pop_back();
        }
        self.deque.push_back((seq, value));
    }

    #[inline]
    fn pop(&mut self) {
        if self.push_seq == self.pop_seq {
            return;
        }
        let seq = self.pop_seq;
        self.pop_seq += 1;
        if self.deque.front().is_some_and(|(front, _)| *front == seq) {
            self.deque.pop_front();
        }
    }
}

impl<T: ArrowPrimitiveType, const MAX: bool> Agg for Extreme<T, MAX> {
    type In = T::Native;
    type Out = T::Native;

    fn extend(
        &self,
        values: &ArrayRef,
        out: &mut Vec<T::Native>,
        valid: &mut Vec<bool>,
    ) -> Result<()> {
        extend_primitive::<T>(values, out, valid)
    }

    #[inline]
    fn add(&mut self, values: &[T::Native], valid: &[bool]) {
        for (value, valid) in values.iter().zip(valid) {
            if *valid {
                self.push(*value);
            }
        }
    }

    #[inline]
    fn retract(&mut self, _values: &[T::Native], valid: &[bool]) {
        for _ in 0..count_valid(valid) {
            self.pop();
        }
    }

    #[inline]
    fn evaluate(&self) -> Option<T::Native> {
        self.deque.front().map(|(_, value)| *value)
    }

    fn empty(&self) -> Option<T::Native> {
        None
    }

    fn clear(&mut self) {
        self.deque.clear();
        self.push_seq = 0;
        self.pop_seq = 0;
    }

    fn finish(&self, values: Vec<T::Native>, valid: Vec<bool>) -> Result<ArrayRef> {
        primitive_result::<T>(values, valid, &self.data_type)
    }
}

/// Which statistic [`Variance`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Statistic {
    /// `var`/`var_samp`: m2 / (n - 1); NULL for fewer than 2 values.
    VarianceSample,
    /// `var_pop`: m2 / n; 0 for one value.
    VariancePopulation,
    /// `stddev`/`stddev_samp`: the square root of the sample variance.
    StddevSample,
    /// `stddev_pop`: the square root of the population variance.
    StddevPopulation,
}

/// Welford's running count, mean and sum of squared deviations, updated and retracted value by
/// value with DataFusion's `VarianceAccumulator` formulas.
pub(crate) struct Variance {
    count: u64,
    mean: f64,
    m2: f64,
    statistic: Statistic,
}

impl Variance {
    pub(crate) fn new(statistic: Statistic) -> Self {
        Self {
            count: 0,
            mean: 0.0,
            m2: 0.0,
            statistic,
        }
    }
}

impl Agg for Variance {
    type In = f64;
    type Out = f64;

    fn extend(&self, values: &ArrayRef, out: &mut Vec<f64>, valid: &mut Vec<bool>) -> Result<()> {
        extend_primitive::<Float64Type>(values, out, valid)
    }

    #[inline]
    fn add(&mut self, values: &[f64], valid: &[bool]) {
        for (value, valid) in values.iter().zip(valid) {
            if *valid {
                let count = self.count + 1;
                let delta1 = value - self.mean;
                let mean = delta1 / count as f64 + self.mean;
                let delta2 = value - mean;
                self.m2 += delta1 * delta2;
                self.mean = mean;
                self.count = count;
            }
        }
    }

    #[inline]
    fn retract(&mut self, values: &[f64], valid: &[bool]) {
        for (value, valid) in values.iter().zip(valid) {
            if *valid {
                if self.count <= 1 {
                    self.clear();
                    continue;
                }
                let count = self.count - 1;
                let delta1 = self.mean - value;
                let mean = delta1 / count as f64 + self.mean;
                let delta2 = mean - value;
                self.m2 -= delta1 * delta2;
                self.mean = mean;
                self.count = count;
            }
        }
    }

    #[inline]
    fn evaluate(&self) -> Option<f64> {
        let population = matches!(
            self.statistic,
            Statistic::VariancePopulation | Statistic::StddevPopulation
        );
        let variance = match self.count {
            0 => None,
            1 => population.then_some(0.0),
            n => Some(self.m2 / if population { n } else { n - 1 } as f64),
        };
        match self.statistic {
            Statistic::StddevSample | Statistic::StddevPopulation => variance.map(f64::sqrt),
            Statistic::VarianceSample | Statistic::VariancePopulation => variance,
        }
    }

    fn empty(&self) -> Option<f64> {
        None
    }

    fn clear(&mut self) {
        self.count = 0;
        self.mean = 0.0;
        self.m2 = 0.0;
    }

    fn finish(&self, values: Vec<f64>, valid: Vec<bool>) -> Result<ArrayRef> {
        primitive_result::<Float64Type>(values, valid, &DataType::Float64)
    }
}
