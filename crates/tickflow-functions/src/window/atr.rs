//! `atr(high, low, close, n)`: Wilder's average true range, a window function.

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::PartitionEvaluatorArgs;
use datafusion::logical_expr::{PartitionEvaluator, Signature};
use datafusion_macros::user_doc;

use crate::args::Arg;
use crate::window::smoothing::{Wilder, array, constant_number, doubles, rows_of};

const NAME: &str = "atr";
const ARGS: [Arg; 4] = [
    Arg::new(NAME, 1, "high"),
    Arg::new(NAME, 2, "low"),
    Arg::new(NAME, 3, "close"),
    Arg::new(NAME, 4, "n"),
];

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "Wilder's average true range over the window's order. A bar's true range is \
`max(high - low, |high - previous close|, |low - previous close|)`, so the first bar has none. \
Warm-up as TA-Lib: NULL until `n` true ranges exist (the first `n` bars); the first ATR is \
their mean, each later one `(previous * (n - 1) + true range) / n`. A bar with a NULL high, \
low or close is skipped and gets NULL.",
    syntax_example = "atr(high, low, close, n) OVER (PARTITION BY symbol ORDER BY bar)",
    sql_example = r#"```sql
> SELECT t, atr(h, l, c, 2) OVER (ORDER BY t) AS atr2 FROM (VALUES (1, 11.0, 9.0, 10.0), (2, 12.0, 10.0, 11.0), (3, 11.5, 10.5, 11.0), (4, 14.0, 11.0, 13.0)) AS s(t, h, l, c);
+---+------+
| t | atr2 |
+---+------+
| 1 |      |
| 2 |      |
| 3 | 1.5  |
| 4 | 2.25 |
+---+------+
```"#,
    argument(name = "high", description = "The bar's high: a number."),
    argument(name = "low", description = "The bar's low: a number."),
    argument(name = "close", description = "The bar's close: a number."),
    argument(
        name = "n",
        description = "A constant: the number of true ranges (14 is usual)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Atr {
    signature: Signature,
}

crate::args::user_defined_signature!(Atr);

crate::window::smoothing::analytics_window!(
    Atr,
    "atr(high, low, close, n)",
    ARGS,
    4,
    DataType::Float64,
    |args: &PartitionEvaluatorArgs| -> Result<Box<dyn PartitionEvaluator>> {
        let n = rows_of(&ARGS[3], constant_number(args, &ARGS[3])?)?;
        Ok(Box::new(AtrEvaluator { n }))
    }
);

#[derive(Debug)]
struct AtrEvaluator {
    n: usize,
}

impl PartitionEvaluator for AtrEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        let [high, low, close, ..] = values else {
            return exec_err!("{NAME}: expected four arguments");
        };
        let (high, low, close) = (doubles(high)?, doubles(low)?, doubles(close)?);
        let (mut previous_close, mut average) = (None::<f64>, Wilder::new(self.n));
        let out = (0..num_rows)
            .map(|i| {
                let (h, l, c) = (high[i]?, low[i]?, close[i]?);
                let pc = previous_close.replace(c)?;
                average.push((h - l).max((h - pc).abs()).max((l - pc).abs()))
            })
            .collect();
        Ok(array(out))
    }
}
