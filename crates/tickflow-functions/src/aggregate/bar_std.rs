//! `bar_std(price)`: the sample standard deviation of prices in a bar, as Spark's `std`.
//!
//! Two kernels:
//!
//! - DECIMAL prices (how exchanges quote): the state is the exact integer sums (n, Σx, Σx²) in
//!   i128 / i256, so partial states merge without error and the result — one conversion of the
//!   exact n·Σx² − (Σx)² to DOUBLE, then a division and a square root — is the same bits however
//!   the rows were split across batches, partitions or cluster executors.
//! - DOUBLE prices: Welford's (count, mean, M2), merged with Chan et al.'s parallel formula, so
//!   prices far from zero with tiny spreads keep their precision (a naive Σx² − (Σx)²/n in
//!   floating point loses it entirely); the last bits depend on the merge order.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, Decimal256Array, Float64Array, UInt64Array,
};
use datafusion::arrow::datatypes::{
    DECIMAL128_MAX_PRECISION, DECIMAL256_MAX_PRECISION, DataType, Decimal128Type, Decimal256Type,
    Field, FieldRef, Float64Type, UInt64Type, i256,
};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{AggregateUDFImpl, Signature, Volatility};
use datafusion_macros::user_doc;

use crate::aggregate::accumulate::{GroupKernel, KernelVisitor, kernel_accumulators};
use crate::args::{Arg, check_arity};

const NAME: &str = "bar_std";
const PRICE: Arg = Arg::new(NAME, 1, "price");

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "The sample standard deviation (divisor n − 1) of the non-NULL prices of a \
group, as Spark's `std` and pandas' `std()`. NULL for fewer than 2 rows. A NaN price makes the \
result NaN. DECIMAL prices are summed exactly, so the result does not depend on how the rows \
were split (partitions, batches, cluster executors); DOUBLE prices use Welford's update and \
Chan's merge, which are numerically stable.",
    syntax_example = "bar_std(price)",
    sql_example = r#"```sql
> SELECT bar_std(price) AS sd FROM (VALUES (10.0), (11.0), (12.0)) AS t(price);
+-----+
| sd  |
+-----+
| 1.0 |
+-----+
```"#,
    argument(
        name = "price",
        description = "Numeric values: DECIMAL is summed exactly, any other number as DOUBLE."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BarStd {
    signature: Signature,
}

impl Default for BarStd {
    fn default() -> Self {
        Self::new()
    }
}

impl BarStd {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// The scale of a DECIMAL price (the exact kernel), or None (DOUBLE, Welford).
fn decimal_scale(price: &DataType) -> Option<i8> {
    match price {
        DataType::Decimal128(_, scale) => Some(*scale),
        _ => None,
    }
}

/// Picks the kernel for the price type.
fn kernel<V: KernelVisitor>(args: &AccumulatorArgs, make: V) -> Result<V::Output> {
    Ok(match decimal_scale(args.expr_fields[0].data_type()) {
        Some(scale) => make.visit(ExactMoments { scale }),
        None => make.visit(Welford),
    })
}

impl AggregateUDFImpl for BarStd {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, arg_types, 1, 1, "bar_std(price)")?;
        Ok(match PRICE.coerce_numeric(&arg_types[0], false)? {
            decimal @ DataType::Decimal128(_, _) => vec![decimal],
            _ => vec![DataType::Float64],
        })
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let field = |suffix: &str, dt: DataType| {
            Arc::new(Field::new(format_state_name(args.name, suffix), dt, true))
        };
        Ok(match decimal_scale(args.input_fields[0].data_type()) {
            Some(scale) => vec![
                field("count", DataType::UInt64),
                field("sum", DataType::Decimal128(DECIMAL128_MAX_PRECISION, scale)),
                field(
                    "sum_sq",
                    DataType::Decimal256(DECIMAL256_MAX_PRECISION, scale.saturating_mul(2)),
                ),
            ],
            None => vec![
                field("count", DataType::UInt64),
                field("mean", DataType::Float64),
                field("m2", DataType::Float64),
            ],
        })
    }

    kernel_accumulators!();
}

#[derive(Debug)]
struct Welford;

/// Count, mean and M2 = Σ(x − mean)² of the rows seen so far.
#[derive(Debug, Default, Clone, Copy)]
struct Moments {
    count: u64,
    mean: f64,
    m2: f64,
}

impl Moments {
    #[inline]
    fn add(&mut self, x: f64) {
        self.count += 1;
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Chan, Golub and LeVeque's pairwise combination.
    #[inline]
    fn merge(&mut self, other: Moments) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = other;
            return;
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * (nb / n);
        self.m2 += other.m2 + delta * delta * (na * nb / n);
        self.count += other.count;
    }

    fn sample_std(&self) -> Option<f64> {
        (self.count >= 2).then(|| (self.m2 / (self.count - 1) as f64).sqrt())
    }
}

impl GroupKernel for Welford {
    type State = Moments;
    type Input<'a> = &'a Float64Array;
    type Partial<'a> = (&'a UInt64Array, &'a Float64Array, &'a Float64Array);
    const REQUIRED: usize = 1;

    fn input<'a>(&self, values: &'a [ArrayRef]) -> Result<Self::Input<'a>> {
        Ok(values[0].as_primitive::<Float64Type>())
    }

    #[inline]
    fn update(&self, state: &mut Moments, input: &&Float64Array, row: usize) -> Result<()> {
        state.add(input.value(row));
        Ok(())
    }

    fn partial<'a>(&self, states: &'a [ArrayRef]) -> Result<Self::Partial<'a>> {
        Ok((
            states[0].as_primitive::<UInt64Type>(),
            states[1].as_primitive::<Float64Type>(),
            states[2].as_primitive::<Float64Type>(),
        ))
    }

    fn merge(&self, state: &mut Moments, partial: &Self::Partial<'_>, row: usize) -> Result<()> {
        let (count, mean, m2) = partial;
        if count.is_valid(row) {
            state.merge(Moments {
                count: count.value(row),
                mean: mean.value(row),
                m2: m2.value(row),
            });
        }
        Ok(())
    }

    fn state(&self, states: &[Moments]) -> Result<Vec<ArrayRef>> {
        Ok(vec![
            Arc::new(UInt64Array::from_iter_values(
                states.iter().map(|s| s.count),
            )),
            Arc::new(Float64Array::from_iter_values(
                states.iter().map(|s| s.mean),
            )),
            Arc::new(Float64Array::from_iter_values(states.iter().map(|s| s.m2))),
        ])
    }

    fn evaluate(&self, states: &[Moments]) -> Result<ArrayRef> {
        Ok(Arc::new(Float64Array::from_iter(
            states.iter().map(Moments::sample_std),
        )))
    }
}

/// The exact kernel for DECIMAL prices of scale `scale`.
#[derive(Debug)]
struct ExactMoments {
    scale: i8,
}

/// n, Σx and Σx² of the scaled integer prices seen so far. Σx² is `sum_sq_wide + sum_sq`: rows
/// add into the i128 `sum_sq` (the fast path: prices below 2^63 units square within i128), which
/// spills into the i256 `sum_sq_wide` when it would overflow.
#[derive(Debug, Default, Clone, Copy)]
struct ExactSums {
    count: u64,
    sum: i128,
    sum_sq: i128,
    sum_sq_wide: i256,
}

fn overflow() -> DataFusionError {
    DataFusionError::Execution(format!(
        "{NAME}: the sum of squared prices overflows DECIMAL(76); cast the price to DOUBLE"
    ))
}

impl ExactSums {
    #[inline]
    fn add(&mut self, x: i128) -> Result<()> {
        self.count += 1;
        self.sum = self.sum.checked_add(x).ok_or_else(overflow)?;
        // A price that fits i64 squares with one widening multiply, which cannot overflow.
        let square = match i64::try_from(x) {
            Ok(small) => Some(i128::from(small) * i128::from(small)),
            Err(_) => x.checked_mul(x),
        };
        match square.map(|sq| (sq, self.sum_sq.checked_add(sq))) {
            Some((_, Some(total))) => self.sum_sq = total,
            Some((sq, None)) => {
                self.spill()?;
                self.sum_sq = sq;
            }
            None => {
                let wide = i256::from_i128(x);
                let sq = wide.checked_mul(wide).ok_or_else(overflow)?;
                self.sum_sq_wide = self.sum_sq_wide.checked_add(sq).ok_or_else(overflow)?;
            }
        }
        Ok(())
    }

    /// Moves the i128 part of Σx² into the i256 part.
    fn spill(&mut self) -> Result<()> {
        self.sum_sq_wide = self
            .sum_sq_wide
            .checked_add(i256::from_i128(self.sum_sq))
            .ok_or_else(overflow)?;
        self.sum_sq = 0;
        Ok(())
    }

    /// Σx², exact.
    fn total_sq(&self) -> Result<i256> {
        self.sum_sq_wide
            .checked_add(i256::from_i128(self.sum_sq))
            .ok_or_else(overflow)
    }

    fn merge(&mut self, count: u64, sum: i128, sum_sq: i256) -> Result<()> {
        self.count += count;
        self.sum = self.sum.checked_add(sum).ok_or_else(overflow)?;
        self.sum_sq_wide = self.sum_sq_wide.checked_add(sum_sq).ok_or_else(overflow)?;
        Ok(())
    }

    /// sqrt((n·Σx² − (Σx)²) / (n·(n − 1)) / 10^(2·scale)); the numerator is exact.
    fn sample_std(&self, scale: i8) -> Result<Option<f64>> {
        if self.count < 2 {
            return Ok(None);
        }
        let n = i256::from_i128(i128::from(self.count));
        let sum = i256::from_i128(self.sum);
        let numerator = n
            .checked_mul(self.total_sq()?)
            .zip(sum.checked_mul(sum))
            .and_then(|(a, b)| a.checked_sub(b))
            .ok_or_else(overflow)?;
        // Correctly rounded to f64: `i128 as f64` rounds to nearest; the rare numerator beyond
        // i128 goes through its exact decimal text (arrow's i256::to_f64 truncates).
        let numerator: f64 = match numerator.to_i128() {
            Some(small) => small as f64,
            None => numerator.to_string().parse().map_err(|_| overflow())?,
        };
        let n = self.count as f64;
        let denominator = n * (n - 1.0) * 10f64.powi(2 * i32::from(scale));
        Ok(Some((numerator / denominator).sqrt()))
    }
}

impl GroupKernel for ExactMoments {
    type State = ExactSums;
    type Input<'a> = &'a Decimal128Array;
    type Partial<'a> = (&'a UInt64Array, &'a Decimal128Array, &'a Decimal256Array);
    const REQUIRED: usize = 1;

    fn input<'a>(&self, values: &'a [ArrayRef]) -> Result<Self::Input<'a>> {
        Ok(values[0].as_primitive::<Decimal128Type>())
    }

    #[inline]
    fn update(&self, state: &mut ExactSums, input: &&Decimal128Array, row: usize) -> Result<()> {
        state.add(input.value(row))
    }

    fn partial<'a>(&self, states: &'a [ArrayRef]) -> Result<Self::Partial<'a>> {
        Ok((
            states[0].as_primitive::<UInt64Type>(),
            states[1].as_primitive::<Decimal128Type>(),
            states[2].as_primitive::<Decimal256Type>(),
        ))
    }

    fn merge(&self, state: &mut ExactSums, partial: &Self::Partial<'_>, row: usize) -> Result<()> {
        let (count, sum, sum_sq) = partial;
        if count.is_valid(row) {
            state.merge(count.value(row), sum.value(row), sum_sq.value(row))?;
        }
        Ok(())
    }

    fn state(&self, states: &[ExactSums]) -> Result<Vec<ArrayRef>> {
        let sum = Decimal128Array::from_iter_values(states.iter().map(|s| s.sum))
            .with_precision_and_scale(DECIMAL128_MAX_PRECISION, self.scale)?;
        let sum_sq = states
            .iter()
            .map(ExactSums::total_sq)
            .collect::<Result<Decimal256Array>>()?
            .with_precision_and_scale(DECIMAL256_MAX_PRECISION, self.scale.saturating_mul(2))?;
        Ok(vec![
            Arc::new(UInt64Array::from_iter_values(
                states.iter().map(|s| s.count),
            )),
            Arc::new(sum),
            Arc::new(sum_sq),
        ])
    }

    fn evaluate(&self, states: &[ExactSums]) -> Result<ArrayRef> {
        let values = states
            .iter()
            .map(|s| s.sample_std(self.scale))
            .collect::<Result<Float64Array>>()?;
        Ok(Arc::new(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{AggTester, f64s};

    fn tester() -> AggTester {
        AggTester::new(Arc::new(BarStd::new().into()), vec![DataType::Float64])
    }

    #[test]
    fn sample_std_with_nulls_and_small_groups() -> Result<()> {
        let price = f64s(&[
            Some(10.0),
            Some(11.0),
            None,
            Some(12.0),
            Some(5.0),
            None,
            Some(1.0),
            Some(f64::NAN),
        ]);
        // group 0: 10, 11, 12 -> 1; group 1: one row -> NULL; group 2: none -> NULL;
        // group 3: 1, NaN -> NaN
        t_check(
            price,
            &[0, 0, 0, 0, 1, 2, 3, 3],
            &["1.0", "NULL", "NULL", "NaN"],
        )
    }

    fn t_check(price: ArrayRef, groups: &[usize], expected: &[&str]) -> Result<()> {
        tester().check_all_paths(&[price], groups, expected)
    }

    #[test]
    fn stable_far_from_zero() -> Result<()> {
        // 1e9 + {4, 7, 13, 16}: sample variance 30, a naive sum of squares loses it entirely.
        let price = f64s(&[
            Some(1e9 + 4.0),
            Some(1e9 + 7.0),
            Some(1e9 + 13.0),
            Some(1e9 + 16.0),
        ]);
        let result = tester().groups_result(&[price], &[0, 0, 0, 0], 1)?;
        let got = result.as_primitive::<Float64Type>().value(0);
        assert!((got - 30f64.sqrt()).abs() < 1e-9, "{got}");
        Ok(())
    }

    #[test]
    fn identical_prices_give_exactly_zero() -> Result<()> {
        let price = f64s(&[Some(101.25); 9]);
        t_check(price, &[0; 9], &["0.0"])
    }

    fn decimal_tester() -> AggTester {
        AggTester::new(
            Arc::new(BarStd::new().into()),
            vec![DataType::Decimal128(18, 4)],
        )
    }

    fn decimals(values: &[Option<i128>]) -> ArrayRef {
        Arc::new(
            Decimal128Array::from(values.to_vec())
                .with_precision_and_scale(18, 4)
                .unwrap_or_else(|e| panic!("{e}")),
        )
    }

    #[test]
    fn decimal_prices_are_exact_on_every_path() -> Result<()> {
        // 10.0000, 11.0000, 12.0000 -> 1 exactly; one row -> NULL; no rows -> NULL;
        // 160.0000 + {0.0100, 0.0200, 0.0400} -> sqrt(0.0002333..) = 0.015275252316519466
        let price = decimals(&[
            Some(100_000),
            Some(110_000),
            None,
            Some(120_000),
            Some(50_000),
            None,
            Some(1_600_100),
            Some(1_600_200),
            Some(1_600_400),
        ]);
        decimal_tester().check_all_paths(
            &[price],
            &[0, 0, 0, 0, 1, 2, 3, 3, 3],
            &["1.0", "NULL", "NULL", "0.015275252316519466"],
        )
    }

    #[test]
    fn decimal_result_is_the_same_bits_for_every_split() -> Result<()> {
        let xs: Vec<i128> = (0..1000).map(|i| 1_600_000 + ((i * 37) % 101)).collect();
        let mut all = ExactSums::default();
        for &x in &xs {
            all.add(x)?;
        }
        let whole = all.sample_std(4)?;
        for split in [1, 10, 500, 999] {
            let (mut a, mut b) = (ExactSums::default(), ExactSums::default());
            for &x in &xs[..split] {
                a.add(x)?;
            }
            for &x in &xs[split..] {
                b.add(x)?;
            }
            b.merge(a.count, a.sum, a.total_sq()?)?;
            assert_eq!(b.sample_std(4)?.map(f64::to_bits), whole.map(f64::to_bits));
        }
        Ok(())
    }

    #[test]
    fn squares_spill_from_i128_to_i256_exactly() -> Result<()> {
        // Squares near 2^124: the i128 part overflows after a few rows and spills; one price's
        // square (2^130) does not fit i128 at all.
        let big = 1_i128 << 62;
        let xs = [big, big + 3, big - 7, big, 1_i128 << 65, big + 1];
        let mut s = ExactSums::default();
        for &x in &xs {
            s.add(x)?;
        }
        let expected = xs.iter().fold(i256::ZERO, |acc, &x| {
            acc.wrapping_add(i256::from_i128(x).wrapping_mul(i256::from_i128(x)))
        });
        assert_eq!(s.total_sq()?, expected);
        assert_eq!(s.sum, xs.iter().sum::<i128>());
        // n·Σx² − (Σx)² has 132 bits here: the conversion beyond i128 (Python: exact
        // sqrt(Decimal(num) / 30) rounded to double).
        assert_eq!(s.sample_std(0)?, Some(1.317899053225356e19));
        Ok(())
    }

    #[test]
    fn decimal_overflow_is_an_error() {
        let mut s = ExactSums::default();
        let big = i128::MAX / 2 + 1;
        let err = s
            .add(big)
            .and_then(|()| s.add(big))
            .expect_err("Σx overflows i128");
        assert!(err.to_string().contains("bar_std"), "{err}");
    }

    #[test]
    fn merge_matches_sequential_for_uneven_splits() {
        let xs: Vec<f64> = (0..1000)
            .map(|i| 100.0 + ((i * 37) % 101) as f64 * 0.01)
            .collect();
        let mut all = Moments::default();
        xs.iter().for_each(|&x| all.add(x));
        for split in [1, 10, 500, 999] {
            let (mut a, mut b) = (Moments::default(), Moments::default());
            xs[..split].iter().for_each(|&x| a.add(x));
            xs[split..].iter().for_each(|&x| b.add(x));
            b.merge(a);
            let (x, y) = (
                all.sample_std().unwrap_or_default(),
                b.sample_std().unwrap_or_default(),
            );
            assert!((x - y).abs() <= 1e-12 * x, "split {split}: {x} vs {y}");
        }
    }
}
