//! `bollinger(value, n, k)`: Bollinger bands, a window function returning `{mid, upper, lower}`.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::PartitionEvaluatorArgs;
use datafusion::logical_expr::{PartitionEvaluator, Signature};
use datafusion_macros::user_doc;

use crate::args::Arg;
use crate::window::smoothing::{array, constant_number, doubles, mean_std, rolling, rows_of};

const NAME: &str = "bollinger";
const VALUE: Arg = Arg::new(NAME, 1, "value");
const N: Arg = Arg::new(NAME, 2, "n");
const K: Arg = Arg::new(NAME, 3, "k");

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "Bollinger bands over the window's order: `mid` is the mean of the last `n` \
non-NULL values, `upper` and `lower` are `mid ± k` population standard deviations (divisor \
n, as Bollinger and TA-Lib define them). Warm-up: NULL until `n` values have been seen; NULL \
on a row whose value is NULL. pandas: `rolling(n).mean()` and `rolling(n).std(ddof=0)`.",
    syntax_example = "bollinger(value, n, k) OVER (PARTITION BY symbol ORDER BY bar)",
    sql_example = r#"```sql
> SELECT t, close, bollinger(close, 3, 2) OVER (ORDER BY t) AS bands FROM (VALUES (1, 10.0), (2, 12.0), (3, 11.0), (4, 14.0)) AS s(t, close);
+---+-------+-------------------------------------------------------------------------------+
| t | close | bands                                                                         |
+---+-------+-------------------------------------------------------------------------------+
| 1 | 10.0  |                                                                               |
| 2 | 12.0  |                                                                               |
| 3 | 11.0  | {mid: 11.0, upper: 12.632993161855453, lower: 9.367006838144547}              |
| 4 | 14.0  | {mid: 12.333333333333334, upper: 14.827771591182628, lower: 9.83889507548404} |
+---+-------+-------------------------------------------------------------------------------+
```"#,
    argument(name = "value", description = "The series, usually closes: a number."),
    argument(
        name = "n",
        description = "A constant: the number of values (20 is usual)."
    ),
    argument(
        name = "k",
        description = "A constant: the width in standard deviations (2 is usual)."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Bollinger {
    signature: Signature,
}

crate::args::user_defined_signature!(Bollinger);

fn fields() -> Fields {
    ["mid", "upper", "lower"]
        .iter()
        .map(|name| Field::new(*name, DataType::Float64, true))
        .collect()
}

crate::window::smoothing::analytics_window!(
    Bollinger,
    "bollinger(value, n, k)",
    [VALUE, N, K],
    3,
    DataType::Struct(fields()),
    |args: &PartitionEvaluatorArgs| -> Result<Box<dyn PartitionEvaluator>> {
        let n = rows_of(&N, constant_number(args, &N)?)?;
        let k = constant_number(args, &K)?;
        Ok(Box::new(BollingerEvaluator { n, k }))
    }
);

#[derive(Debug)]
struct BollingerEvaluator {
    n: usize,
    k: f64,
}

impl PartitionEvaluator for BollingerEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let Some(value) = values.first() else {
            return exec_err!("{NAME}: expected three arguments");
        };
        let k = self.k;
        let bands = rolling(&doubles(value)?, self.n, |w| {
            let (mid, std) = mean_std(w);
            (mid, mid + k * std, mid - k * std)
        });
        let nulls = bands.iter().map(|b| b.is_some()).collect::<Vec<_>>();
        let column = |f: fn(&(f64, f64, f64)) -> f64| {
            array(bands.iter().map(|b| b.as_ref().map(f)).collect())
        };
        let columns = vec![column(|b| b.0), column(|b| b.1), column(|b| b.2)];
        Ok(Arc::new(StructArray::try_new(
            fields(),
            columns,
            Some(nulls.into()),
        )?))
    }
}
