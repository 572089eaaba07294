//! Exponential smoothing shared by the analytics window functions (`ema`, `macd`, `rsi`).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, Float64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::PartitionEvaluatorArgs;
use datafusion::physical_expr::expressions::Literal;

use crate::args::Arg;

/// The exponential moving average of `values` with weight `alpha` for the newest value, seeded
/// with the first non-NULL value; a NULL leaves the average as it was (NULL before the first
/// value). pandas: `Series.ewm(alpha=alpha, adjust=False, ignore_na=True).mean()`.
pub(crate) fn ema(values: &[Option<f64>], alpha: f64) -> Vec<Option<f64>> {
    let mut average: Option<f64> = None;
    values
        .iter()
        .map(|v| {
            if let Some(v) = v {
                average = Some(match average {
                    None => *v,
                    Some(a) => a + alpha * (v - a),
                });
            }
            average
        })
        .collect()
}

/// Wilder's smoothing over `n` values (`rsi`, `atr`): the plain mean of the first `n`, then
/// `(previous * (n - 1) + x) / n`. NULL until `n` values have been pushed.
#[derive(Debug)]
pub(crate) struct Wilder {
    n: usize,
    seen: usize,
    average: f64,
}

impl Wilder {
    pub(crate) fn new(n: usize) -> Wilder {
        Wilder {
            n,
            seen: 0,
            average: 0.0,
        }
    }

    pub(crate) fn push(&mut self, x: f64) -> Option<f64> {
        let nf = self.n as f64;
        self.seen += 1;
        if self.seen <= self.n {
            self.average += x / nf;
            (self.seen == self.n).then_some(self.average)
        } else {
            self.average = (self.average * (nf - 1.0) + x) / nf;
            Some(self.average)
        }
    }
}

/// A column as DOUBLE values, NULLs kept.
pub(crate) fn doubles(values: &ArrayRef) -> Result<Vec<Option<f64>>> {
    let values = cast(values, &DataType::Float64)?;
    Ok(values.as_primitive::<Float64Type>().iter().collect())
}

/// DOUBLE values as an array.
pub(crate) fn array(values: Vec<Option<f64>>) -> ArrayRef {
    Arc::new(Float64Array::from(values))
}

/// The constant argument `arg` of a window function call, as a number.
pub(crate) fn constant_number(args: &PartitionEvaluatorArgs, arg: &Arg) -> Result<f64> {
    let Some(expr) = args.input_exprs().get(arg.position - 1) else {
        return exec_err!("{}: missing argument {}", arg.function, arg.position);
    };
    let value = expr
        .downcast_ref::<Literal>()
        .map(|l| l.value().clone())
        .ok_or_else(|| arg.error("must be a constant number"))?;
    match value.cast_to(&DataType::Float64) {
        Ok(ScalarValue::Float64(Some(v))) if v.is_finite() => Ok(v),
        _ => Err(arg.error(format!("must be a constant number, got {value}"))),
    }
}

/// A smoothing length or weight: an integer `n >= 1` is a span (alpha = 2 / (n + 1)), a number
/// in (0, 1) is alpha itself.
pub(crate) fn alpha_of(arg: &Arg, n: f64) -> Result<f64> {
    if n >= 1.0 && n.fract() == 0.0 {
        Ok(2.0 / (n + 1.0))
    } else if n > 0.0 && n < 1.0 {
        Ok(n)
    } else {
        Err(arg.error(format!(
            "must be a whole number of rows (1 or more) or a weight between 0 and 1, got {n}"
        )))
    }
}

/// The number of rows of a window length argument: a whole number, 1 or more.
pub(crate) fn rows_of(arg: &Arg, n: f64) -> Result<usize> {
    if n >= 1.0 && n.fract() == 0.0 && n <= 1e9 {
        Ok(n as usize)
    } else {
        Err(arg.error(format!(
            "must be a whole number of rows (1 or more), got {n}"
        )))
    }
}

/// For each row, the last `n` non-NULL values up to it (oldest first), when there are `n`; the
/// row's own value must be non-NULL. Rolling statistics over rows that have a value.
pub(crate) fn rolling<T>(
    values: &[Option<f64>],
    n: usize,
    mut f: impl FnMut(&[f64]) -> T,
) -> Vec<Option<T>> {
    let mut seen: Vec<f64> = Vec::with_capacity(values.len());
    values
        .iter()
        .map(|v| {
            let v = (*v)?;
            seen.push(v);
            (seen.len() >= n).then(|| f(&seen[seen.len() - n..]))
        })
        .collect()
}

/// The mean and the population standard deviation (divisor n) of `window`, in two passes.
pub(crate) fn mean_std(window: &[f64]) -> (f64, f64) {
    let n = window.len() as f64;
    let mean = window.iter().sum::<f64>() / n;
    let variance = window.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, variance.sqrt())
}

/// Numeric window arguments become DOUBLE.
pub(crate) fn coerce_doubles(args: &[Arg], arg_types: &[DataType]) -> Result<Vec<DataType>> {
    args.iter()
        .zip(arg_types)
        .map(|(arg, dt)| arg.coerce_numeric(dt, false).map(|_| DataType::Float64))
        .collect()
}

/// The `WindowUDFImpl` of an analytics window function named by the module's `NAME`: `args`
/// (numbers, passed as DOUBLE; at least `min` of them, `usage` shown when the count is wrong),
/// one nullable column of `output`, and `evaluator` making each partition's evaluator from the
/// call's arguments.
macro_rules! analytics_window {
    ($function:ident, $usage:expr, $args:expr, $min:expr, $output:expr, $evaluator:expr) => {
        impl datafusion::logical_expr::WindowUDFImpl for $function {
            fn name(&self) -> &str {
                NAME
            }

            fn signature(&self) -> &datafusion::logical_expr::Signature {
                &self.signature
            }

            fn coerce_types(
                &self,
                arg_types: &[datafusion::arrow::datatypes::DataType],
            ) -> datafusion::common::Result<Vec<datafusion::arrow::datatypes::DataType>> {
                let args = $args;
                crate::args::check_arity(NAME, arg_types, $min, args.len(), $usage)?;
                crate::window::smoothing::coerce_doubles(&args, arg_types)
            }

            fn partition_evaluator(
                &self,
                args: datafusion::logical_expr::function::PartitionEvaluatorArgs,
            ) -> datafusion::common::Result<Box<dyn datafusion::logical_expr::PartitionEvaluator>>
            {
                ($evaluator)(&args)
            }

            fn field(
                &self,
                field_args: datafusion::logical_expr::function::WindowUDFFieldArgs,
            ) -> datafusion::common::Result<datafusion::arrow::datatypes::FieldRef> {
                Ok(std::sync::Arc::new(
                    datafusion::arrow::datatypes::Field::new(field_args.name(), $output, true),
                ))
            }

            fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
                self.doc()
            }
        }
    };
}
pub(crate) use analytics_window;
