//! `interpolate(time, value)`: a missing value, linear in time between its neighbours.
//!
//! TimescaleDB's `interpolate`, QuestDB's `FILL(LINEAR)`: a bar with no trades takes the value
//! on the straight line between the last bar before it and the first bar after it that have a
//! value, at its own time. Where one side is missing (the series' first or last bars) there is
//! no line, and the value stays NULL; fill those with `locf` or leave them.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, Float64Array, PrimitiveArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Decimal128Type, Field, FieldRef, Float64Type, Int64Type, i256,
};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{Documentation, PartitionEvaluator, Signature, WindowUDFImpl};
use datafusion_macros::user_doc;

use crate::args::{Arg, check_arity};

const NAME: &str = "interpolate";
const TIME: Arg = Arg::new(NAME, 1, "time");
const VALUE: Arg = Arg::new(NAME, 2, "value");

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "Linear interpolation in time: in the window's order, the value of the current \
row, or when it is NULL the value at its `time` on the line between the nearest rows before \
and after it (in the partition) whose time and value are both non-NULL. NULL where either \
neighbour is missing (a series' leading and trailing gaps) or the row's time is NULL. DOUBLE \
for float and integer values; a DECIMAL keeps its type, rounded half away from zero at its \
scale. Order the window by `time`.",
    syntax_example = "interpolate(time, value) OVER (PARTITION BY series ORDER BY time)",
    sql_example = r#"```sql
> SELECT minute, close, interpolate(minute, close) OVER (ORDER BY minute) AS filled FROM (VALUES (1, 10.0), (2, NULL), (3, NULL), (4, 11.5), (5, NULL)) AS t(minute, close);
+--------+-------+--------+
| minute | close | filled |
+--------+-------+--------+
| 1      | 10.0  | 10.0   |
| 2      |       | 10.5   |
| 3      |       | 11.0   |
| 4      | 11.5  | 11.5   |
| 5      |       |        |
+--------+-------+--------+
```"#,
    argument(
        name = "time",
        description = "The position on the time axis: a TIMESTAMP or an integer."
    ),
    argument(
        name = "value",
        description = "The value to fill: float, integer or decimal."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Interpolate {
    signature: Signature,
}

crate::args::user_defined_signature!(Interpolate);

/// The result type for a (coerced) value type.
pub fn output_type(value: &DataType) -> DataType {
    match value {
        DataType::Decimal128(p, s) => DataType::Decimal128(*p, *s),
        _ => DataType::Float64,
    }
}

impl WindowUDFImpl for Interpolate {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, arg_types, 2, 2, "interpolate(time, value)")?;
        let value = if arg_types[1].is_integer() {
            DataType::Float64
        } else {
            VALUE.coerce_numeric(&arg_types[1], false)?
        };
        Ok(vec![TIME.coerce_event_time(&arg_types[0])?, value])
    }

    fn partition_evaluator(
        &self,
        _args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(InterpolateEvaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        let value = field_args
            .input_fields()
            .get(1)
            .map(|f| output_type(f.data_type()))
            .unwrap_or(DataType::Float64);
        Ok(Arc::new(Field::new(field_args.name(), value, true)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Fills one partition's NULL values on the line between their non-NULL neighbours.
#[derive(Debug)]
struct InterpolateEvaluator;

impl PartitionEvaluator for InterpolateEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let [time, value, ..] = values else {
            return exec_err!("{NAME}: expected two arguments");
        };
        interpolate_array(time, value)
    }
}

/// `value` with each NULL replaced by the point at its `time` on the line between the nearest
/// rows before and after it whose time and value are known: the kernel of the window function
/// and of gap filling's `interpolate`. `value` must be Float64 or Decimal128 ([`output_type`]).
pub fn interpolate_array(time: &ArrayRef, value: &ArrayRef) -> Result<ArrayRef> {
    let num_rows = value.len();
    // Times as i64 (a timestamp's own unit, or the integer itself).
    let time = cast(time, &DataType::Int64)?;
    let time = time.as_primitive::<Int64Type>();
    let known = |i: usize| time.is_valid(i) && value.is_valid(i);
    // The nearest known row at or after each row, scanning backwards.
    let mut next = vec![None; num_rows];
    let mut after = None;
    for i in (0..num_rows).rev() {
        if known(i) {
            after = Some(i);
        }
        next[i] = after;
    }
    // For each row: `Some((before, after, t))` when it is to be interpolated.
    let mut before = None;
    let mut spans = Vec::with_capacity(num_rows);
    for (i, &after) in next.iter().enumerate() {
        if known(i) {
            before = Some(i);
            spans.push(None);
        } else if value.is_valid(i) || time.is_null(i) {
            spans.push(None); // a value without a time is kept; a NULL time stays NULL
        } else {
            spans.push(before.zip(after).map(|(b, a)| (b, a, time.value(i))));
        }
    }
    let times = |b: usize, a: usize, t: i64| (time.value(b), time.value(a), t);
    match value.data_type() {
        DataType::Decimal128(p, s) => {
            let value = value.as_primitive::<Decimal128Type>();
            // Values of precision p are below 10^p in magnitude (p <= 38: fits a u128).
            let limit = 10u128.checked_pow(u32::from(*p)).unwrap_or(u128::MAX);
            let out: Decimal128Array = (0..num_rows)
                .map(|i| match spans[i] {
                    None => Ok(value.is_valid(i).then(|| value.value(i))),
                    Some((b, a, t)) => {
                        match decimal_point(value.value(b), value.value(a), times(b, a, t)) {
                            Some(v) if v.unsigned_abs() < limit => Ok(Some(v)),
                            _ => exec_err!(
                                "{NAME}: the point between {} and {} (unscaled) does not fit \
                                 {}",
                                value.value(b),
                                value.value(a),
                                value.data_type()
                            ),
                        }
                    }
                })
                .collect::<Result<_>>()?;
            Ok(Arc::new(out.with_precision_and_scale(*p, *s)?))
        }
        DataType::Float64 => {
            let value: &PrimitiveArray<Float64Type> = value.as_primitive();
            let out: Float64Array = (0..num_rows)
                .map(|i| match spans[i] {
                    None => value.is_valid(i).then(|| value.value(i)),
                    Some((b, a, t)) => {
                        Some(float_point(value.value(b), value.value(a), times(b, a, t)))
                    }
                })
                .collect();
            Ok(Arc::new(out))
        }
        other => exec_err!("{NAME}: value of type {other} was not coerced"),
    }
}

/// The value at `t` on the line from `(t0, y0)` to `(t1, y1)`; `y0` where the times are equal.
fn float_point(y0: f64, y1: f64, (t0, t1, t): (i64, i64, i64)) -> f64 {
    if t1 == t0 {
        return y0;
    }
    y0 + (y1 - y0) * ((t as f64 - t0 as f64) / (t1 as f64 - t0 as f64))
}

/// [`float_point`] on decimals' unscaled integers, exact, rounded half away from zero, in 256
/// bits (`y1 - y0` of two DECIMAL(38) values does not fit 128: it once wrapped, and the point
/// came out NULL); `None` if the result does not fit an i128.
fn decimal_point(y0: i128, y1: i128, (t0, t1, t): (i64, i64, i64)) -> Option<i128> {
    if t1 == t0 {
        return Some(y0);
    }
    // |y1 - y0| < 2^129 and |t - t0| < 2^65: the product fits 256 bits.
    let num = (i256::from_i128(y1).wrapping_sub(i256::from_i128(y0)))
        .wrapping_mul(i256::from_i128(i128::from(t) - i128::from(t0)));
    let den = i256::from_i128(i128::from(t1) - i128::from(t0));
    let (q, r) = (num.wrapping_div(den), num.wrapping_rem(den));
    // Round half away from zero: |2r| >= |den| moves q one step away from zero.
    let twice = r.wrapping_mul(i256::from_i128(2)).wrapping_abs();
    let q = if twice >= den.wrapping_abs() {
        if (num < i256::ZERO) != (den < i256::ZERO) {
            q.wrapping_sub(i256::ONE)
        } else {
            q.wrapping_add(i256::ONE)
        }
    } else {
        q
    };
    i256::from_i128(y0).wrapping_add(q).to_i128()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::window_results;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// The plain loop `interpolate` must equal: per series in time order, a NULL between two
    /// values takes the value on the line between them at its time.
    fn reference(rows: &[(i64, i64, Option<f64>)]) -> Vec<(i64, i64, Option<f64>)> {
        let mut sorted = rows.to_vec();
        sorted.sort_by_key(|&(s, t, _)| (s, t));
        let mut out = Vec::new();
        for (i, &(s, t, v)) in sorted.iter().enumerate() {
            let filled = v.or_else(|| {
                let before = sorted[..i]
                    .iter()
                    .rev()
                    .take_while(|r| r.0 == s)
                    .find(|r| r.2.is_some())?;
                let after = sorted[i + 1..]
                    .iter()
                    .take_while(|r| r.0 == s)
                    .find(|r| r.2.is_some())?;
                let (t0, y0, t1, y1) = (before.1 as f64, before.2?, after.1 as f64, after.2?);
                Some(y0 + (y1 - y0) * (t as f64 - t0) / (t1 - t0))
            });
            out.push((s, t, filled));
        }
        out
    }

    /// Seeded random series with NULL runs (times with gaps), at several batch sizes and
    /// partition counts, equal the reference within float rounding; a series with one value and
    /// an all-NULL series stay NULL where there is no line.
    #[tokio::test]
    async fn interpolate_equals_a_plain_loop() -> Result<()> {
        let mut rng = StdRng::seed_from_u64(11);
        let mut t = 0;
        let mut rows: Vec<(i64, i64, Option<f64>)> = (0..600)
            .map(|_| {
                t += rng.random_range(1..5);
                let v = rng.random_bool(0.5).then(|| rng.random_range(-5.0..5.0));
                (rng.random_range(0..7), t, v)
            })
            .collect();
        rows.extend([
            (100, 0, None),
            (100, 1, None),
            (200, 0, None),
            (200, 1, Some(2.0)),
        ]);
        rows.push((200, 2, None));
        let expected = reference(&rows);
        for (batch_size, partitions) in [(1, 1), (5, 2), (64, 3), (8192, 8)] {
            let got = window_results(&rows, "interpolate(t, v)", batch_size, partitions).await?;
            assert_eq!(got.len(), expected.len());
            for (g, e) in got.iter().zip(&expected) {
                let close = match (g.2, e.2) {
                    (Some(a), Some(b)) => (a - b).abs() <= 1e-12 * (1.0 + b.abs()),
                    (a, b) => a == b,
                };
                assert!(
                    close && g.0 == e.0 && g.1 == e.1,
                    "{g:?} vs {e:?} ({batch_size}, {partitions})"
                );
            }
        }
        Ok(())
    }

    /// Decimals are interpolated exactly and rounded half away from zero.
    #[test]
    fn decimal_points_round_half_away_from_zero() {
        assert_eq!(decimal_point(1000, 1001, (0, 2, 1)), Some(1001)); // 1000.5 -> 1001
        assert_eq!(decimal_point(-1000, -1001, (0, 2, 1)), Some(-1001)); // -1000.5 -> -1001
        assert_eq!(decimal_point(0, 10, (0, 3, 1)), Some(3)); // 3.33 -> 3
        assert_eq!(decimal_point(0, 10, (0, 3, 2)), Some(7)); // 6.67 -> 7
        assert_eq!(decimal_point(5, 9, (4, 4, 4)), Some(5));
        let big = i128::MAX / 4; // odd: its half rounds up
        assert_eq!(decimal_point(0, big, (0, 2, 1)), Some(big / 2 + 1));
        assert_eq!(
            decimal_point(0, big, (0, i64::MAX, 1)).map(|v| v > 0),
            Some(true)
        );
    }

    /// The extremes of DECIMAL(38,0): their difference needs 129 bits; the points are exact
    /// (once NULL, the difference having wrapped).
    #[test]
    fn decimal_38_extremes_interpolate_exactly() -> Result<()> {
        let m = 10i128.pow(38) - 1;
        assert_eq!(decimal_point(-m, m, (0, 2, 1)), Some(0));
        assert_eq!(decimal_point(m, -m, (0, 2, 1)), Some(0));
        // -M + round(2M / 4) = -M + 5e37 (M/2 ends in .5, away from zero).
        assert_eq!(
            decimal_point(-m, m, (0, 4, 1)),
            Some(-(5 * 10i128.pow(37) - 1))
        );
        let time: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from(vec![0, 1, 4]));
        let value: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(-m), None, Some(m)]).with_precision_and_scale(38, 0)?,
        );
        let out = interpolate_array(&time, &value)?;
        let out = out.as_primitive::<Decimal128Type>();
        assert_eq!(out.null_count(), 0);
        assert_eq!(out.value(1), -(5 * 10i128.pow(37) - 1));
        // A point outside the declared precision (times out of order extrapolate) is an error.
        let time: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from(vec![0, 4, 1]));
        let err = interpolate_array(&time, &value).expect_err("does not fit");
        assert!(
            err.to_string().contains("does not fit Decimal128(38, 0)"),
            "{err}"
        );
        Ok(())
    }
}
