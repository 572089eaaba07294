//! `total_volume(volume)`: the traded volume of a bar, Σvolume.
//!
//! Unlike `sum`, integer overflow is an error, never a silent wrap: a bar's volume is a number
//! people reconcile against the exchange's.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int64Array, PrimitiveArray,
};
use datafusion::arrow::datatypes::{
    DECIMAL128_MAX_PRECISION, DataType, Decimal128Type, Field, FieldRef, Float64Type, Int64Type,
};
use datafusion::common::{Result, exec_err, internal_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{AggregateUDFImpl, Signature, Volatility};
use datafusion_macros::user_doc;

use crate::aggregate::accumulate::{GroupKernel, KernelVisitor, kernel_accumulators};
use crate::aggregate::compensated::CompensatedSum;
use crate::args::{Arg, check_arity};

const NAME: &str = "total_volume";
const VOLUME: Arg = Arg::new(NAME, 1, "volume");

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "The total traded volume of a group of rows: Σvolume over non-NULL volumes. \
Integer and decimal sums are exact, and an overflow is an error (never a wrap-around); float \
sums are compensated. NULL when the group has no non-NULL volume.",
    syntax_example = "total_volume(volume)",
    sql_example = r#"```sql
> SELECT total_volume(size) AS volume FROM (VALUES (100), (NULL), (250)) AS t(size);
+--------+
| volume |
+--------+
| 350    |
+--------+
```"#,
    argument(
        name = "volume",
        description = "Traded quantity: integer (summed as BIGINT), decimal (summed as \
DECIMAL(38, scale)) or float (DOUBLE)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TotalVolume {
    signature: Signature,
}

impl Default for TotalVolume {
    fn default() -> Self {
        Self::new()
    }
}

impl TotalVolume {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// Picks the kernel for the volume type and builds an accumulator of it.
fn kernel<V: KernelVisitor>(args: &AccumulatorArgs, make: V) -> Result<V::Output> {
    Ok(match args.return_type() {
        DataType::Int64 => make.visit(IntegerSum),
        DataType::Decimal128(_, s) => make.visit(DecimalSum { scale: *s }),
        DataType::Float64 => make.visit(FloatSum),
        other => return internal_err!("{NAME}: unexpected return type {other}"),
    })
}

impl AggregateUDFImpl for TotalVolume {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, arg_types, 1, 1, "total_volume(volume)")?;
        Ok(vec![VOLUME.coerce_numeric(&arg_types[0], false)?])
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match &arg_types[0] {
            DataType::Decimal128(_, s) => DataType::Decimal128(DECIMAL128_MAX_PRECISION, *s),
            other => other.clone(),
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let sum = Field::new(
            format_state_name(args.name, "sum"),
            args.return_type().clone(),
            true,
        );
        let mut fields = vec![Arc::new(sum)];
        if args.return_type() == &DataType::Float64 {
            let comp = Field::new(
                format_state_name(args.name, "compensation"),
                DataType::Float64,
                true,
            );
            fields.push(Arc::new(comp));
        }
        Ok(fields)
    }

    kernel_accumulators!();
}

fn overflow<T>(what: &str) -> Result<T> {
    exec_err!(
        "{NAME}: arithmetic overflow: the sum of volume exceeds the range of {what}; \
         cast volume to a wider DECIMAL, e.g. CAST(size AS DECIMAL(38, 0))"
    )
}

/// Integer volumes, summed exactly in an i64 with overflow checks.
#[derive(Debug)]
struct IntegerSum;

impl GroupKernel for IntegerSum {
    type State = Option<i64>;
    type Input<'a> = &'a Int64Array;
    type Partial<'a> = &'a Int64Array;
    const REQUIRED: usize = 1;

    fn input<'a>(&self, values: &'a [ArrayRef]) -> Result<Self::Input<'a>> {
        Ok(values[0].as_primitive::<Int64Type>())
    }

    #[inline]
    fn update(&self, state: &mut Option<i64>, input: &&Int64Array, row: usize) -> Result<()> {
        add_i64(state, input.value(row))
    }

    fn partial<'a>(&self, states: &'a [ArrayRef]) -> Result<Self::Partial<'a>> {
        Ok(states[0].as_primitive::<Int64Type>())
    }

    fn merge(&self, state: &mut Option<i64>, partial: &&Int64Array, row: usize) -> Result<()> {
        if partial.is_valid(row) {
            add_i64(state, partial.value(row))?;
        }
        Ok(())
    }

    fn state(&self, states: &[Option<i64>]) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.evaluate(states)?])
    }

    fn evaluate(&self, states: &[Option<i64>]) -> Result<ArrayRef> {
        Ok(Arc::new(Int64Array::from_iter(states.iter().copied())))
    }
}

#[inline]
fn add_i64(state: &mut Option<i64>, x: i64) -> Result<()> {
    match state.unwrap_or(0).checked_add(x) {
        Some(sum) => {
            *state = Some(sum);
            Ok(())
        }
        None => overflow("BIGINT"),
    }
}

/// Decimal volumes, summed exactly as DECIMAL(38, scale).
#[derive(Debug)]
struct DecimalSum {
    scale: i8,
}

/// The largest unscaled value of a DECIMAL(38, _).
const DECIMAL38_MAX: i128 = 10_i128.pow(38) - 1;

impl DecimalSum {
    fn add(&self, state: &mut Option<i128>, x: i128) -> Result<()> {
        match state.unwrap_or(0).checked_add(x) {
            Some(sum) if sum.abs() <= DECIMAL38_MAX => {
                *state = Some(sum);
                Ok(())
            }
            _ => overflow(&format!("DECIMAL(38, {})", self.scale)),
        }
    }
}

impl GroupKernel for DecimalSum {
    type State = Option<i128>;
    type Input<'a> = &'a Decimal128Array;
    type Partial<'a> = &'a Decimal128Array;
    const REQUIRED: usize = 1;

    fn input<'a>(&self, values: &'a [ArrayRef]) -> Result<Self::Input<'a>> {
        Ok(values[0].as_primitive::<Decimal128Type>())
    }

    #[inline]
    fn update(&self, state: &mut Option<i128>, input: &&Decimal128Array, row: usize) -> Result<()> {
        self.add(state, input.value(row))
    }

    fn partial<'a>(&self, states: &'a [ArrayRef]) -> Result<Self::Partial<'a>> {
        Ok(states[0].as_primitive::<Decimal128Type>())
    }

    fn merge(
        &self,
        state: &mut Option<i128>,
        partial: &&Decimal128Array,
        row: usize,
    ) -> Result<()> {
        if partial.is_valid(row) {
            self.add(state, partial.value(row))?;
        }
        Ok(())
    }

    fn state(&self, states: &[Option<i128>]) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.evaluate(states)?])
    }

    fn evaluate(&self, states: &[Option<i128>]) -> Result<ArrayRef> {
        let sums = PrimitiveArray::<Decimal128Type>::from_iter(states.iter().copied())
            .with_precision_and_scale(DECIMAL128_MAX_PRECISION, self.scale)?;
        Ok(Arc::new(sums))
    }
}

/// Float volumes, with a compensated sum.
#[derive(Debug)]
struct FloatSum;

impl GroupKernel for FloatSum {
    type State = Option<CompensatedSum>;
    type Input<'a> = &'a Float64Array;
    type Partial<'a> = (&'a Float64Array, &'a Float64Array);
    const REQUIRED: usize = 1;

    fn input<'a>(&self, values: &'a [ArrayRef]) -> Result<Self::Input<'a>> {
        Ok(values[0].as_primitive::<Float64Type>())
    }

    #[inline]
    fn update(&self, state: &mut Self::State, input: &&Float64Array, row: usize) -> Result<()> {
        state.get_or_insert_default().add(input.value(row));
        Ok(())
    }

    fn partial<'a>(&self, states: &'a [ArrayRef]) -> Result<Self::Partial<'a>> {
        Ok((
            states[0].as_primitive::<Float64Type>(),
            states[1].as_primitive::<Float64Type>(),
        ))
    }

    fn merge(
        &self,
        state: &mut Self::State,
        partial: &Self::Partial<'_>,
        row: usize,
    ) -> Result<()> {
        let (sums, compensations) = partial;
        if sums.is_valid(row) {
            state.get_or_insert_default().merge(CompensatedSum {
                sum: sums.value(row),
                compensation: compensations.value(row),
            });
        }
        Ok(())
    }

    fn state(&self, states: &[Self::State]) -> Result<Vec<ArrayRef>> {
        let sums = Float64Array::from_iter(states.iter().map(|s| s.map(|s| s.sum)));
        let comps = Float64Array::from_iter(states.iter().map(|s| s.map(|s| s.compensation)));
        Ok(vec![Arc::new(sums), Arc::new(comps)])
    }

    fn evaluate(&self, states: &[Self::State]) -> Result<ArrayRef> {
        Ok(Arc::new(Float64Array::from_iter(
            states.iter().map(|s| s.map(|s| s.value())),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{AggTester, f64s, i64s};
    use datafusion::arrow::array::Decimal128Array;

    fn tester(input: DataType) -> AggTester {
        AggTester::new(Arc::new(TotalVolume::new().into()), vec![input])
    }

    #[test]
    fn integers_sum_exactly_and_skip_nulls() -> Result<()> {
        let t = tester(DataType::Int64);
        let volume = i64s(&[Some(100), None, Some(250), Some(1)]);
        t.check_all_paths(&[volume], &[0, 0, 1, 0], &["101", "250"])
    }

    #[test]
    fn empty_and_all_null_groups_are_null() -> Result<()> {
        let t = tester(DataType::Int64);
        t.check_all_paths(&[i64s(&[None, Some(5)])], &[0, 2], &["NULL", "NULL", "5"])
    }

    #[test]
    fn integer_overflow_is_an_error() {
        let t = tester(DataType::Int64);
        let err = t
            .groups_result(&[i64s(&[Some(i64::MAX), Some(1)])], &[0, 0], 1)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("total_volume: arithmetic overflow"),
            "{err}"
        );
        let err = t
            .accumulator_result(&[i64s(&[Some(i64::MIN), Some(-1)])])
            .unwrap_err();
        assert!(err.to_string().contains("overflow"), "{err}");
    }

    #[test]
    fn overflow_across_partial_states_is_an_error() -> Result<()> {
        let t = tester(DataType::Int64);
        let a = t.partial_state(&[i64s(&[Some(i64::MAX - 1)])], &[0], 1)?;
        let b = t.partial_state(&[i64s(&[Some(2)])], &[0], 1)?;
        let err = t.merge_states(&[a, b], &[vec![0], vec![0]], 1).unwrap_err();
        assert!(err.to_string().contains("overflow"), "{err}");
        Ok(())
    }

    #[test]
    fn decimals_keep_their_scale() -> Result<()> {
        let t = tester(DataType::Decimal128(10, 2));
        let volume: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(150), Some(-25), None])
                .with_precision_and_scale(10, 2)?,
        );
        t.check_all_paths(&[volume], &[0, 0, 0], &["1.25"])
    }

    #[test]
    fn floats_are_compensated() -> Result<()> {
        let t = tester(DataType::Float64);
        let volume = f64s(&[Some(1e16), Some(1.0), Some(-1e16), Some(1.0)]);
        t.check_all_paths(&[volume], &[0, 0, 0, 0], &["2.0"])
    }
}
