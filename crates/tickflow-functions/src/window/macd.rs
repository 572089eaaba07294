//! `macd(value [, fast, slow, signal])`: moving average convergence/divergence, a window
//! function returning `{line, signal, histogram}`.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StructArray};
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::PartitionEvaluatorArgs;
use datafusion::logical_expr::{PartitionEvaluator, Signature};
use datafusion_macros::user_doc;

use crate::args::Arg;
use crate::window::smoothing::{alpha_of, array, constant_number, doubles, ema, rows_of};

const NAME: &str = "macd";
const VALUE: Arg = Arg::new(NAME, 1, "value");
const FAST: Arg = Arg::new(NAME, 2, "fast");
const SLOW: Arg = Arg::new(NAME, 3, "slow");
const SIGNAL: Arg = Arg::new(NAME, 4, "signal");

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "MACD over the window's order: `line` = ema(value, fast) − ema(value, slow), \
`signal` = ema(line, signal), `histogram` = line − signal, the EMAs as `ema` computes them \
(spans, seeded with the first value, no warm-up; pandas `ewm(span=…, adjust=False)`). \
Defaults 12, 26, 9. A NULL value keeps the previous averages; NULL before the first value.",
    syntax_example = "macd(value [, fast, slow, signal]) OVER (PARTITION BY symbol ORDER BY bar)",
    sql_example = r#"```sql
> SELECT t, macd(close, 1, 3, 1) OVER (ORDER BY t) AS m FROM (VALUES (1, 10.0), (2, 12.0), (3, 11.0)) AS s(t, close);
+---+------------------------------------------+
| t | m                                        |
+---+------------------------------------------+
| 1 | {line: 0.0, signal: 0.0, histogram: 0.0} |
| 2 | {line: 1.0, signal: 1.0, histogram: 0.0} |
| 3 | {line: 0.0, signal: 0.0, histogram: 0.0} |
+---+------------------------------------------+
```"#,
    argument(name = "value", description = "The series, usually closes: a number."),
    argument(name = "fast", description = "A constant span, 12 by default."),
    argument(name = "slow", description = "A constant span, 26 by default."),
    argument(
        name = "signal",
        description = "A constant span for the signal line, 9 by default."
    )
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Macd {
    signature: Signature,
}

crate::args::user_defined_signature!(Macd);

fn fields() -> Fields {
    ["line", "signal", "histogram"]
        .iter()
        .map(|name| Field::new(*name, DataType::Float64, true))
        .collect()
}

crate::window::smoothing::analytics_window!(
    Macd,
    "macd(value [, fast, slow, signal])",
    [VALUE, FAST, SLOW, SIGNAL],
    1,
    DataType::Struct(fields()),
    |args: &PartitionEvaluatorArgs| -> Result<Box<dyn PartitionEvaluator>> {
        let span = |arg: &Arg, default: f64| -> Result<f64> {
            let n = if args.input_exprs().len() >= arg.position {
                constant_number(args, arg)?
            } else {
                default
            };
            rows_of(arg, n)?;
            alpha_of(arg, n)
        };
        Ok(Box::new(MacdEvaluator {
            fast: span(&FAST, 12.0)?,
            slow: span(&SLOW, 26.0)?,
            signal: span(&SIGNAL, 9.0)?,
        }))
    }
);

/// The three EMAs' weights.
#[derive(Debug)]
struct MacdEvaluator {
    fast: f64,
    slow: f64,
    signal: f64,
}

impl PartitionEvaluator for MacdEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let Some(value) = values.first() else {
            return exec_err!("{NAME}: expected at least one argument");
        };
        let values = doubles(value)?;
        let (fast, slow) = (ema(&values, self.fast), ema(&values, self.slow));
        let line: Vec<Option<f64>> = fast
            .iter()
            .zip(&slow)
            .map(|(f, s)| Some((*f)? - (*s)?))
            .collect();
        let signal = ema(&line, self.signal);
        let histogram: Vec<Option<f64>> = line
            .iter()
            .zip(&signal)
            .map(|(l, s)| Some((*l)? - (*s)?))
            .collect();
        let nulls = line.iter().map(Option::is_some).collect::<Vec<_>>();
        Ok(Arc::new(StructArray::try_new(
            fields(),
            vec![array(line), array(signal), array(histogram)],
            Some(nulls.into()),
        )?))
    }
}
