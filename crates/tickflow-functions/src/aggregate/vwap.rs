//! `vwap(price, volume)`: the volume-weighted average price of a bar, Σ(price·volume)/Σvolume.
//!
//! Two kernels:
//! - DECIMAL price × integer or DECIMAL volume (the TAQ case): both sums are exact integers, and
//!   only the final division rounds (half away from zero) to the result scale, so the result is the
//!   same under any partitioning or batch size. Result: DECIMAL(38, price scale + 4).
//! - everything else as DOUBLE, with compensated sums, so 10^8 rows do not drift.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int64Array,
};
use datafusion::arrow::datatypes::{
    DECIMAL128_MAX_PRECISION, DECIMAL128_MAX_SCALE, DataType, Decimal128Type, Field, FieldRef,
    Float64Type, Int64Type, i256,
};
use datafusion::common::{Result, exec_err, internal_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{AggregateUDFImpl, Signature, Volatility};
use datafusion_macros::user_doc;

use crate::aggregate::accumulate::{GroupKernel, KernelVisitor, kernel_accumulators};
use crate::aggregate::compensated::CompensatedSum;
use crate::args::{Arg, check_arity};

const NAME: &str = "vwap";
const PRICE: Arg = Arg::new(NAME, 1, "price");
const VOLUME: Arg = Arg::new(NAME, 2, "volume");
/// Extra decimal digits of the result over the price's scale (as SQL's `avg` of a decimal).
const EXTRA_SCALE: i8 = 4;

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "The volume-weighted average price: Σ(price·volume) / Σvolume over the rows \
where both are non-NULL. NULL when there are no such rows or Σvolume = 0. With a DECIMAL price \
and an integer or DECIMAL volume both sums are exact and only the final division rounds (half away \
from zero), giving DECIMAL(38, price scale + 4); otherwise the result is a DOUBLE computed with \
compensated sums.",
    syntax_example = "vwap(price, volume)",
    sql_example = r#"```sql
> SELECT vwap(price, size) AS vwap FROM (VALUES (10.0, 100), (10.5, 300), (NULL, 50)) AS trades(price, size);
+--------+
| vwap   |
+--------+
| 10.375 |
+--------+
> SELECT vwap(CAST(price AS DECIMAL(10, 2)), size) AS vwap FROM (VALUES (10.01, 100), (10.02, 200)) AS trades(price, size);
+-----------+
| vwap      |
+-----------+
| 10.016667 |
+-----------+
```"#,
    argument(
        name = "price",
        description = "Trade price: DECIMAL, float or integer."
    ),
    argument(
        name = "volume",
        description = "Trade size: integer, DECIMAL or float."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Vwap {
    signature: Signature,
}

impl Default for Vwap {
    fn default() -> Self {
        Self::new()
    }
}

impl Vwap {
    pub fn new() -> Self {
        Self {
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

/// Which kernel a pair of (coerced) argument types selects.
enum Kind {
    /// Scales of price and volume.
    Exact {
        price_scale: i8,
        volume_scale: i8,
    },
    Float,
}

fn kind(arg_types: &[DataType]) -> Result<Kind> {
    match arg_types {
        [
            DataType::Decimal128(_, price_scale),
            DataType::Decimal128(_, volume_scale),
        ] => Ok(Kind::Exact {
            price_scale: *price_scale,
            volume_scale: *volume_scale,
        }),
        [DataType::Decimal128(_, price_scale), DataType::Int64] => Ok(Kind::Exact {
            price_scale: *price_scale,
            volume_scale: 0,
        }),
        [DataType::Float64, DataType::Float64] => Ok(Kind::Float),
        other => internal_err!("{NAME}: unexpected argument types {other:?}"),
    }
}

/// Picks the kernel for the argument types and builds an accumulator of it.
fn kernel<V: KernelVisitor>(args: &AccumulatorArgs, make: V) -> Result<V::Output> {
    let types: Vec<DataType> = args
        .expr_fields
        .iter()
        .map(|f| f.data_type().clone())
        .collect();
    Ok(match kind(&types)? {
        Kind::Exact {
            price_scale,
            volume_scale,
        } => make.visit(ExactVwap::new(
            price_scale,
            volume_scale,
            args.return_type(),
        )?),
        Kind::Float => make.visit(FloatVwap),
    })
}

impl AggregateUDFImpl for Vwap {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, arg_types, 2, 2, "vwap(price, volume)")?;
        let price = PRICE.coerce_numeric(&arg_types[0], false)?;
        let volume = VOLUME.coerce_numeric(&arg_types[1], false)?;
        Ok(match (&price, &volume) {
            (DataType::Decimal128(_, ps), DataType::Decimal128(_, vs)) => {
                if ps + vs > DECIMAL128_MAX_SCALE {
                    return plan_err!(
                        "{NAME}: price scale {ps} + volume scale {vs} exceeds {DECIMAL128_MAX_SCALE}; \
                         cast one of them to a smaller scale"
                    );
                }
                vec![price, volume]
            }
            (DataType::Decimal128(_, _), DataType::Int64) => vec![price, volume],
            _ => vec![DataType::Float64, DataType::Float64],
        })
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(match kind(arg_types)? {
            Kind::Exact { price_scale, .. } => DataType::Decimal128(
                DECIMAL128_MAX_PRECISION,
                (price_scale + EXTRA_SCALE).min(DECIMAL128_MAX_SCALE),
            ),
            Kind::Float => DataType::Float64,
        })
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let types: Vec<DataType> = args
            .input_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let field = |suffix: &str, dt: DataType| {
            Arc::new(Field::new(format_state_name(args.name, suffix), dt, true))
        };
        Ok(match kind(&types)? {
            Kind::Exact {
                price_scale,
                volume_scale,
            } => vec![
                field(
                    "sum_pv",
                    DataType::Decimal128(DECIMAL128_MAX_PRECISION, price_scale + volume_scale),
                ),
                field(
                    "sum_v",
                    DataType::Decimal128(DECIMAL128_MAX_PRECISION, volume_scale),
                ),
            ],
            Kind::Float => vec![
                field("sum_pv", DataType::Float64),
                field("sum_pv_compensation", DataType::Float64),
                field("sum_v", DataType::Float64),
                field("sum_v_compensation", DataType::Float64),
            ],
        })
    }

    kernel_accumulators!();
}

/// The volume column of the exact kernel: integer or decimal, read as an unscaled i128.
#[derive(Debug)]
enum Volumes<'a> {
    Integer(&'a Int64Array),
    Decimal(&'a Decimal128Array),
}

impl Volumes<'_> {
    #[inline]
    fn value(&self, row: usize) -> i128 {
        match self {
            Volumes::Integer(a) => a.value(row) as i128,
            Volumes::Decimal(a) => a.value(row),
        }
    }
}

/// Exact sums of unscaled integers: Σ(p·v) at scale ps+vs, Σv at scale vs.
#[derive(Debug)]
struct ExactVwap {
    price_scale: i8,
    volume_scale: i8,
    result_scale: i8,
}

#[derive(Debug, Default, Clone, Copy)]
struct ExactSums {
    sum_pv: i128,
    sum_v: i128,
}

/// The largest unscaled value of a DECIMAL(38, _).
const DECIMAL38_MAX: i128 = 10_i128.pow(38) - 1;

fn checked(sum: Option<i128>, what: &str) -> Result<i128> {
    match sum {
        Some(s) if s.abs() <= DECIMAL38_MAX => Ok(s),
        _ => exec_err!(
            "{NAME}: arithmetic overflow: {what} exceeds DECIMAL(38); \
             cast price or volume to a smaller scale or to DOUBLE"
        ),
    }
}

impl ExactVwap {
    fn new(price_scale: i8, volume_scale: i8, return_type: &DataType) -> Result<Self> {
        let DataType::Decimal128(_, result_scale) = return_type else {
            return internal_err!("{NAME}: unexpected return type {return_type}");
        };
        Ok(Self {
            price_scale,
            volume_scale,
            result_scale: *result_scale,
        })
    }

    #[inline]
    fn add(&self, state: &mut ExactSums, pv: Option<i128>, v: i128) -> Result<()> {
        state.sum_pv = checked(
            pv.and_then(|pv| state.sum_pv.checked_add(pv)),
            "Σ(price·volume)",
        )?;
        state.sum_v = checked(state.sum_v.checked_add(v), "Σvolume")?;
        Ok(())
    }

    /// Σpv / Σv at the result scale, rounded half away from zero; None when Σv = 0.
    fn divide(&self, sums: &ExactSums) -> Option<i128> {
        if sums.sum_v == 0 {
            return None;
        }
        // value = (sum_pv / 10^(ps+vs)) / (sum_v / 10^vs) = (sum_pv / sum_v) / 10^ps, so the
        // unscaled result at scale rs is sum_pv · 10^(rs - ps) / sum_v: exact in 256 bits.
        let shift = (self.result_scale - self.price_scale) as u32;
        let numerator =
            i256::from_i128(sums.sum_pv).wrapping_mul(i256::from_i128(10_i128.pow(shift)));
        let denominator = i256::from_i128(sums.sum_v);
        let quotient = numerator.wrapping_div(denominator);
        let remainder = numerator.wrapping_rem(denominator);
        let twice = remainder.wrapping_abs().wrapping_mul(i256::from_i128(2));
        let rounded = if twice >= denominator.wrapping_abs() {
            if (numerator < i256::ZERO) == (denominator < i256::ZERO) {
                quotient.wrapping_add(i256::ONE)
            } else {
                quotient.wrapping_sub(i256::ONE)
            }
        } else {
            quotient
        };
        // |result| <= |sum_pv| · 10^4 / |sum_v| is bounded by max |price| · 10^4 only for
        // same-sign volumes; otherwise it may not fit: report that as NULL-free overflow below.
        rounded.to_i128()
    }
}

impl GroupKernel for ExactVwap {
    type State = ExactSums;
    type Input<'a> = (&'a Decimal128Array, Volumes<'a>);
    type Partial<'a> = (&'a Decimal128Array, &'a Decimal128Array);
    const REQUIRED: usize = 2;

    fn input<'a>(&self, values: &'a [ArrayRef]) -> Result<Self::Input<'a>> {
        let volumes = match values[1].data_type() {
            DataType::Int64 => Volumes::Integer(values[1].as_primitive::<Int64Type>()),
            _ => Volumes::Decimal(values[1].as_primitive::<Decimal128Type>()),
        };
        Ok((values[0].as_primitive::<Decimal128Type>(), volumes))
    }

    #[inline]
    fn update(&self, state: &mut ExactSums, input: &Self::Input<'_>, row: usize) -> Result<()> {
        let (prices, volumes) = input;
        let v = volumes.value(row);
        self.add(state, prices.value(row).checked_mul(v), v)
    }

    fn partial<'a>(&self, states: &'a [ArrayRef]) -> Result<Self::Partial<'a>> {
        Ok((
            states[0].as_primitive::<Decimal128Type>(),
            states[1].as_primitive::<Decimal128Type>(),
        ))
    }

    fn merge(&self, state: &mut ExactSums, partial: &Self::Partial<'_>, row: usize) -> Result<()> {
        let (sum_pv, sum_v) = partial;
        if sum_pv.is_valid(row) {
            self.add(state, Some(sum_pv.value(row)), sum_v.value(row))?;
        }
        Ok(())
    }

    fn state(&self, states: &[ExactSums]) -> Result<Vec<ArrayRef>> {
        let sum_pv = Decimal128Array::from_iter_values(states.iter().map(|s| s.sum_pv))
            .with_precision_and_scale(
                DECIMAL128_MAX_PRECISION,
                self.price_scale + self.volume_scale,
            )?;
        let sum_v = Decimal128Array::from_iter_values(states.iter().map(|s| s.sum_v))
            .with_precision_and_scale(DECIMAL128_MAX_PRECISION, self.volume_scale)?;
        Ok(vec![Arc::new(sum_pv), Arc::new(sum_v)])
    }

    fn evaluate(&self, states: &[ExactSums]) -> Result<ArrayRef> {
        let mut values = Vec::with_capacity(states.len());
        for s in states {
            let value = self.divide(s);
            if s.sum_v != 0 && value.is_none_or(|v| v.abs() > DECIMAL38_MAX) {
                return exec_err!(
                    "{NAME}: the result does not fit DECIMAL(38, {}) (Σvolume is tiny next to \
                     Σ(price·volume)); cast price to DOUBLE",
                    self.result_scale
                );
            }
            values.push(value);
        }
        let result = Decimal128Array::from(values)
            .with_precision_and_scale(DECIMAL128_MAX_PRECISION, self.result_scale)?;
        Ok(Arc::new(result))
    }
}

/// Compensated float sums.
#[derive(Debug)]
struct FloatVwap;

#[derive(Debug, Default, Clone, Copy)]
struct FloatSums {
    sum_pv: CompensatedSum,
    sum_v: CompensatedSum,
}

impl GroupKernel for FloatVwap {
    type State = FloatSums;
    type Input<'a> = (&'a Float64Array, &'a Float64Array);
    type Partial<'a> = [&'a Float64Array; 4];
    const REQUIRED: usize = 2;

    fn input<'a>(&self, values: &'a [ArrayRef]) -> Result<Self::Input<'a>> {
        Ok((
            values[0].as_primitive::<Float64Type>(),
            values[1].as_primitive::<Float64Type>(),
        ))
    }

    #[inline]
    fn update(&self, state: &mut FloatSums, input: &Self::Input<'_>, row: usize) -> Result<()> {
        let (p, v) = (input.0.value(row), input.1.value(row));
        state.sum_pv.add(p * v);
        state.sum_v.add(v);
        Ok(())
    }

    fn partial<'a>(&self, states: &'a [ArrayRef]) -> Result<Self::Partial<'a>> {
        Ok(std::array::from_fn(|i| {
            states[i].as_primitive::<Float64Type>()
        }))
    }

    fn merge(&self, state: &mut FloatSums, partial: &Self::Partial<'_>, row: usize) -> Result<()> {
        let [spv, cpv, sv, cv] = partial;
        state.sum_pv.merge(CompensatedSum {
            sum: spv.value(row),
            compensation: cpv.value(row),
        });
        state.sum_v.merge(CompensatedSum {
            sum: sv.value(row),
            compensation: cv.value(row),
        });
        Ok(())
    }

    fn state(&self, states: &[FloatSums]) -> Result<Vec<ArrayRef>> {
        let column = |f: fn(&FloatSums) -> f64| -> ArrayRef {
            Arc::new(Float64Array::from_iter_values(states.iter().map(f)))
        };
        Ok(vec![
            column(|s| s.sum_pv.sum),
            column(|s| s.sum_pv.compensation),
            column(|s| s.sum_v.sum),
            column(|s| s.sum_v.compensation),
        ])
    }

    fn evaluate(&self, states: &[FloatSums]) -> Result<ArrayRef> {
        Ok(Arc::new(Float64Array::from_iter(states.iter().map(|s| {
            let v = s.sum_v.value();
            (v != 0.0).then(|| s.sum_pv.value() / v)
        }))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{AggTester, f64s, i64s};

    fn decimals(values: &[Option<i128>], precision: u8, scale: i8) -> ArrayRef {
        Arc::new(
            Decimal128Array::from(values.to_vec())
                .with_precision_and_scale(precision, scale)
                .expect("valid decimal"),
        )
    }

    #[test]
    fn decimal_price_integer_volume_is_exact() -> Result<()> {
        let t = AggTester::new(
            Arc::new(Vwap::new().into()),
            vec![DataType::Decimal128(18, 4), DataType::Int64],
        );
        // 100.0000 x 100, 101.0000 x 200 -> 30200 / 300 = 100.666666...67 at scale 8
        let price = decimals(&[Some(1_000_000), Some(1_010_000), None, Some(5)], 18, 4);
        let volume = i64s(&[Some(100), Some(200), Some(7), None]);
        t.check_all_paths(&[price, volume], &[0, 0, 0, 1], &["100.66666667", "NULL"])
    }

    #[test]
    fn rounding_is_half_away_from_zero() -> Result<()> {
        let t = AggTester::new(
            Arc::new(Vwap::new().into()),
            vec![DataType::Decimal128(10, 0), DataType::Int64],
        );
        // (1·1 + 2·1) / 2 = 1.5 exactly at scale 4; (1·2 + 0·1)/3 = 0.66666.. -> 0.6667
        let price = decimals(
            &[Some(1), Some(2), Some(1), Some(0), Some(-1), Some(-2)],
            10,
            0,
        );
        let volume = i64s(&[Some(1), Some(1), Some(2), Some(1), Some(1), Some(2)]);
        t.check_all_paths(
            &[price, volume],
            &[0, 0, 1, 1, 2, 2],
            &["1.5000", "0.6667", "-1.6667"],
        )
    }

    #[test]
    fn zero_total_volume_is_null() -> Result<()> {
        let t = AggTester::new(
            Arc::new(Vwap::new().into()),
            vec![DataType::Float64, DataType::Float64],
        );
        let price = f64s(&[Some(10.0), Some(11.0), Some(12.0)]);
        let volume = f64s(&[Some(5.0), Some(-5.0), None]);
        t.check_all_paths(&[price, volume], &[0, 0, 1], &["NULL", "NULL"])
    }

    #[test]
    fn floats_weighted_by_volume() -> Result<()> {
        let t = AggTester::new(
            Arc::new(Vwap::new().into()),
            vec![DataType::Float64, DataType::Float64],
        );
        let price = f64s(&[Some(10.0), Some(20.0), Some(f64::NAN), Some(1.0)]);
        let volume = f64s(&[Some(3.0), Some(1.0), Some(1.0), Some(2.0)]);
        t.check_all_paths(&[price, volume], &[0, 0, 1, 1], &["12.5", "NaN"])
    }

    #[test]
    fn decimal_volumes_combine_scales() -> Result<()> {
        let t = AggTester::new(
            Arc::new(Vwap::new().into()),
            vec![DataType::Decimal128(10, 2), DataType::Decimal128(10, 3)],
        );
        // 1.50 x 0.500 + 2.50 x 1.500 = 4.5 / 2.0 = 2.25
        let price = decimals(&[Some(150), Some(250)], 10, 2);
        let volume = decimals(&[Some(500), Some(1500)], 10, 3);
        t.check_all_paths(&[price, volume], &[0, 0], &["2.250000"])
    }

    #[test]
    fn overflow_is_an_error() {
        let t = AggTester::new(
            Arc::new(Vwap::new().into()),
            vec![DataType::Decimal128(38, 0), DataType::Int64],
        );
        let price = decimals(&[Some(10_i128.pow(37))], 38, 0);
        let volume = i64s(&[Some(1000)]);
        let err = t.groups_result(&[price, volume], &[0], 1).unwrap_err();
        assert!(
            err.to_string().contains("vwap: arithmetic overflow"),
            "{err}"
        );
    }

    #[test]
    fn coercion_picks_the_exact_kernel_for_decimal_prices_only() -> Result<()> {
        let v = Vwap::new();
        let d = DataType::Decimal128(12, 4);
        assert_eq!(
            v.coerce_types(&[d.clone(), DataType::Int32])?,
            vec![d.clone(), DataType::Int64]
        );
        assert_eq!(
            v.coerce_types(&[d, DataType::Float32])?,
            vec![DataType::Float64, DataType::Float64]
        );
        assert_eq!(
            v.coerce_types(&[DataType::Int64, DataType::Int64])?,
            vec![DataType::Float64, DataType::Float64]
        );
        let err = v
            .coerce_types(&[DataType::Utf8, DataType::Int64])
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("vwap: argument 1 (price) must be a number"),
            "{err}"
        );
        Ok(())
    }
}
