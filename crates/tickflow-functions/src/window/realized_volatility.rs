//! `realized_volatility(r, n)`: the square root of the sum of squared returns over the last `n`.

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::PartitionEvaluatorArgs;
use datafusion::logical_expr::{PartitionEvaluator, Signature};
use datafusion_macros::user_doc;

use crate::args::Arg;
use crate::window::smoothing::{array, constant_number, doubles, rolling, rows_of};

const NAME: &str = "realized_volatility";
const RETURNS: Arg = Arg::new(NAME, 1, "r");
const N: Arg = Arg::new(NAME, 2, "n");

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "Realized volatility over the window's order: `sqrt(Σ r²)` over the last `n` \
non-NULL returns, not annualized and not demeaned (multiply by `sqrt(periods per year)` to \
annualize). Warm-up: NULL until `n` returns have been seen; NULL on a row whose return is \
NULL. pandas: `(r ** 2).rolling(n).sum() ** 0.5`. Take `r` as log returns, `ln(close / \
lag(close))`, or simple returns.",
    syntax_example = "realized_volatility(r, n) OVER (PARTITION BY symbol ORDER BY bar)",
    sql_example = r#"```sql
> SELECT t, r, realized_volatility(r, 2) OVER (ORDER BY t) AS rv FROM (VALUES (1, 0.03), (2, -0.04), (3, 0.0)) AS s(t, r);
+---+-------+------+
| t | r     | rv   |
+---+-------+------+
| 1 | 0.03  |      |
| 2 | -0.04 | 0.05 |
| 3 | 0.0   | 0.04 |
+---+-------+------+
```"#,
    argument(name = "r", description = "Returns: a number."),
    argument(name = "n", description = "A constant: the number of returns.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RealizedVolatility {
    signature: Signature,
}

crate::args::user_defined_signature!(RealizedVolatility);

crate::window::smoothing::analytics_window!(
    RealizedVolatility,
    "realized_volatility(r, n)",
    [RETURNS, N],
    2,
    DataType::Float64,
    |args: &PartitionEvaluatorArgs| -> Result<Box<dyn PartitionEvaluator>> {
        let n = rows_of(&N, constant_number(args, &N)?)?;
        Ok(Box::new(RealizedVolatilityEvaluator { n }))
    }
);

#[derive(Debug)]
struct RealizedVolatilityEvaluator {
    n: usize,
}

impl PartitionEvaluator for RealizedVolatilityEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let Some(r) = values.first() else {
            return exec_err!("{NAME}: expected two arguments");
        };
        let rv = rolling(&doubles(r)?, self.n, |w| {
            w.iter().map(|x| x * x).sum::<f64>().sqrt()
        });
        Ok(array(rv))
    }
}
