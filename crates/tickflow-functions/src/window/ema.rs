//! `ema(value, n)`: exponential moving average, a window function.
//!
//! The smoothing every charting tool and pandas' `ewm` use: each row's average moves toward the
//! new value by `alpha`. Written with SQL's aggregates it needs a recursive query; as a window
//! function it is one pass over each series.

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::PartitionEvaluatorArgs;
use datafusion::logical_expr::{PartitionEvaluator, Signature};
use datafusion_macros::user_doc;

use crate::args::Arg;
use crate::window::smoothing::{alpha_of, array, constant_number, doubles, ema};

const NAME: &str = "ema";
const VALUE: Arg = Arg::new(NAME, 1, "value");
const N: Arg = Arg::new(NAME, 2, "n");

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "Exponential moving average in the window's order: the first non-NULL value, \
then `previous + alpha * (value - previous)` at each row. `n` is the span (alpha = 2 / (n + \
1)) when a whole number, or alpha itself when between 0 and 1. No warm-up: the first rows \
average what there is. A NULL value leaves the average unchanged (NULL before the first \
value). The same numbers as pandas' `ewm(span=n, adjust=False, ignore_na=True).mean()`.",
    syntax_example = "ema(value, n) OVER (PARTITION BY symbol ORDER BY bar)",
    sql_example = r#"```sql
> SELECT t, close, ema(close, 3) OVER (ORDER BY t) AS ema3 FROM (VALUES (1, 10.0), (2, 12.0), (3, NULL), (4, 9.0)) AS s(t, close);
+---+-------+------+
| t | close | ema3 |
+---+-------+------+
| 1 | 10.0  | 10.0 |
| 2 | 12.0  | 11.0 |
| 3 |       | 11.0 |
| 4 | 9.0   | 10.0 |
+---+-------+------+
```"#,
    argument(name = "value", description = "The series: a number."),
    argument(
        name = "n",
        description = "A constant: the span in rows (a whole number, 1 or more), or alpha (0 < \
alpha < 1)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Ema {
    signature: Signature,
}

crate::args::user_defined_signature!(Ema);

crate::window::smoothing::analytics_window!(
    Ema,
    "ema(value, n)",
    [VALUE, N],
    2,
    DataType::Float64,
    |args: &PartitionEvaluatorArgs| -> Result<Box<dyn PartitionEvaluator>> {
        let alpha = alpha_of(&N, constant_number(args, &N)?)?;
        Ok(Box::new(EmaEvaluator { alpha }))
    }
);

#[derive(Debug)]
struct EmaEvaluator {
    alpha: f64,
}

impl PartitionEvaluator for EmaEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let Some(value) = values.first() else {
            return exec_err!("{NAME}: expected two arguments");
        };
        Ok(array(ema(&doubles(value)?, self.alpha)))
    }
}
