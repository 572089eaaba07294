//! `rsi(value, n)`: Wilder's relative strength index, a window function.
//!
//! RSI compares the average gain with the average loss of the last `n` changes, smoothed the
//! way Wilder defined it (and TA-Lib computes it): the first average is the plain mean of the
//! first `n` changes, each later one `(previous * (n - 1) + change) / n`.

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::PartitionEvaluatorArgs;
use datafusion::logical_expr::{PartitionEvaluator, Signature};
use datafusion_macros::user_doc;

use crate::args::Arg;
use crate::window::smoothing::{Wilder, array, constant_number, doubles, rows_of};

const NAME: &str = "rsi";
const VALUE: Arg = Arg::new(NAME, 1, "value");
const N: Arg = Arg::new(NAME, 2, "n");

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "Wilder's relative strength index over the window's order, 0 to 100: \
`100 - 100 / (1 + average gain / average loss)` of the changes between consecutive non-NULL \
values. Warm-up: NULL until `n` changes have been seen (the first `n` values); the first \
averages are the plain means of those `n` gains and losses, later ones Wilder-smoothed, \
`(previous * (n - 1) + current) / n`, as TA-Lib computes them. 100 when there is no loss, 50 \
when there is neither gain nor loss. NULL on a row whose value is NULL.",
    syntax_example = "rsi(value, n) OVER (PARTITION BY symbol ORDER BY bar)",
    sql_example = r#"```sql
> SELECT t, close, rsi(close, 2) OVER (ORDER BY t) AS rsi2 FROM (VALUES (1, 10.0), (2, 11.0), (3, 10.5), (4, 11.5), (5, 11.0)) AS s(t, close);
+---+-------+-------------------+
| t | close | rsi2              |
+---+-------+-------------------+
| 1 | 10.0  |                   |
| 2 | 11.0  |                   |
| 3 | 10.5  | 66.66666666666666 |
| 4 | 11.5  | 85.71428571428571 |
| 5 | 11.0  | 54.54545454545455 |
+---+-------+-------------------+
```"#,
    argument(name = "value", description = "The series, usually closes: a number."),
    argument(
        name = "n",
        description = "A constant: the number of changes averaged (14 is usual)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Rsi {
    signature: Signature,
}

crate::args::user_defined_signature!(Rsi);

crate::window::smoothing::analytics_window!(
    Rsi,
    "rsi(value, n)",
    [VALUE, N],
    2,
    DataType::Float64,
    |args: &PartitionEvaluatorArgs| -> Result<Box<dyn PartitionEvaluator>> {
        let n = rows_of(&N, constant_number(args, &N)?)?;
        Ok(Box::new(RsiEvaluator { n }))
    }
);

#[derive(Debug)]
struct RsiEvaluator {
    n: usize,
}

/// Wilder's RSI of `values` over `n` changes (see the function's documentation).
fn rsi(values: &[Option<f64>], n: usize) -> Vec<Option<f64>> {
    let mut previous = None::<f64>;
    let (mut gains, mut losses) = (Wilder::new(n), Wilder::new(n));
    values
        .iter()
        .map(|v| {
            let v = (*v)?;
            let p = previous.replace(v)?;
            let (gain, loss) = (gains.push((v - p).max(0.0)), losses.push((p - v).max(0.0)));
            let (gain, loss) = (gain?, loss?);
            Some(match (gain > 0.0, loss > 0.0) {
                (_, true) => 100.0 - 100.0 / (1.0 + gain / loss),
                (true, false) => 100.0,
                (false, false) => 50.0,
            })
        })
        .collect()
}

impl PartitionEvaluator for RsiEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let Some(value) = values.first() else {
            return exec_err!("{NAME}: expected two arguments");
        };
        Ok(array(rsi(&doubles(value)?, self.n)))
    }
}
