//! `bar_std(price)`: the sample standard deviation of prices in a bar, as Spark's `std`.
//!
//! The state is Welford's (count, mean, M2) and partial states merge with Chan et al.'s parallel
//! formula, so the result does not depend on how rows were split across partitions or batches
//! (beyond rounding), and prices far from zero with tiny spreads keep their precision — which a
//! naive Σx² − (Σx)²/n loses entirely.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, UInt64Type};
use datafusion::common::Result;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{AggregateUDFImpl, Signature, Volatility};
use datafusion_macros::user_doc;

use crate::accumulate::{GroupKernel, KernelVisitor, kernel_accumulators};
use crate::args::{Arg, check_arity};

const NAME: &str = "bar_std";
const PRICE: Arg = Arg::new(NAME, 1, "price");

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "The sample standard deviation (divisor n − 1) of the non-NULL prices of a \
group, as Spark's `std` and pandas' `std()`. NULL for fewer than 2 rows. A NaN price makes the \
result NaN. Numerically stable: Welford's update within a partition, Chan's merge across them.",
    syntax_example = "bar_std(price)",
    sql_example = r#"```sql
> SELECT bar_std(price) AS sd FROM (VALUES (10.0), (11.0), (12.0)) AS t(price);
+-----+
| sd  |
+-----+
| 1.0 |
+-----+
```"#,
    argument(name = "price", description = "Numeric values (computed as DOUBLE).")
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

/// bar_std has one kernel, for DOUBLE.
fn kernel<V: KernelVisitor>(_args: &AccumulatorArgs, make: V) -> Result<V::Output> {
    Ok(make.visit(Welford))
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
        PRICE.coerce_numeric(&arg_types[0], false)?;
        Ok(vec![DataType::Float64])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let field = |suffix: &str, dt: DataType| {
            Arc::new(Field::new(format_state_name(args.name, suffix), dt, true))
        };
        Ok(vec![
            field("count", DataType::UInt64),
            field("mean", DataType::Float64),
            field("m2", DataType::Float64),
        ])
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
