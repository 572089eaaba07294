//! `locf(value)`: last observation carried forward, a window function.
//!
//! Filling missing bars is a LEFT JOIN of a grid of buckets with the bars, then carrying the
//! last known value into the empty rows. SQL's own spelling of that is `last_value(value) IGNORE
//! NULLS OVER (PARTITION BY .. ORDER BY .. ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`;
//! `locf` is the short form TimescaleDB users know, with the frame fixed so it cannot be got
//! wrong (`last_value`'s default frame with ORDER BY is RANGE, which groups ties).

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, UInt32Array};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{Documentation, PartitionEvaluator, Signature, WindowUDFImpl};
use datafusion_macros::user_doc;

use crate::args::check_arity;

const NAME: &str = "locf";

#[user_doc(
    doc_section(label = "Tick data functions"),
    description = "Last observation carried forward: in the window's order, the value of the \
current row, or when it is NULL the last non-NULL value before it in the partition; NULL \
until the partition has one. Any type. The window's frame does not matter: `locf` always \
looks from the partition's start to the current row (as `last_value(value) IGNORE NULLS` over \
`ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW`). Use it over a grid of buckets LEFT JOINed \
with the bars to fill empty bars.",
    syntax_example = "locf(value) OVER (PARTITION BY series ORDER BY time)",
    sql_example = r#"```sql
> SELECT bucket, close, locf(close) OVER (ORDER BY bucket) AS filled FROM (VALUES (1, 10.5), (2, NULL), (3, NULL), (4, 11.0)) AS t(bucket, close);
+--------+-------+--------+
| bucket | close | filled |
+--------+-------+--------+
| 1      | 10.5  | 10.5   |
| 2      |       | 10.5   |
| 3      |       | 10.5   |
| 4      | 11.0  | 11.0   |
+--------+-------+--------+
```"#,
    argument(name = "value", description = "The column to fill, of any type.")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Locf {
    signature: Signature,
}

crate::args::user_defined_signature!(Locf);

impl WindowUDFImpl for Locf {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        check_arity(NAME, arg_types, 1, 1, "locf(value)")?;
        Ok(arg_types.to_vec())
    }

    fn partition_evaluator(
        &self,
        _args: PartitionEvaluatorArgs,
    ) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(LocfEvaluator))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        let data_type = field_args
            .input_fields()
            .first()
            .map(|f| f.data_type().clone())
            .unwrap_or(DataType::Null);
        Ok(Arc::new(Field::new(field_args.name(), data_type, true)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// Fills one partition: each row takes the row of the last non-NULL value up to it.
#[derive(Debug)]
struct LocfEvaluator;

impl PartitionEvaluator for LocfEvaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], _num_rows: usize) -> Result<ArrayRef> {
        let Some(value) = values.first() else {
            return exec_err!("{NAME}: expected one argument");
        };
        locf_array(value)
    }
}

/// Each row of `value` replaced by the last non-NULL value up to it (NULL before the first):
/// the kernel of the window function and of gap filling's `locf`.
pub fn locf_array(value: &ArrayRef) -> Result<ArrayRef> {
    let mut last = None;
    let rows: UInt32Array = (0..value.len())
        .map(|i| {
            if value.is_valid(i) {
                last = Some(i as u32);
            }
            last
        })
        .collect();
    Ok(take(value.as_ref(), &rows, None)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::window_results;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    /// The plain loop `locf` must equal: per series in time order, the last non-NULL so far.
    fn reference(rows: &[(i64, i64, Option<f64>)]) -> Vec<(i64, i64, Option<f64>)> {
        let mut sorted = rows.to_vec();
        sorted.sort_by_key(|&(s, t, _)| (s, t));
        let mut out = Vec::new();
        let mut last: Option<(i64, f64)> = None;
        for (s, t, v) in sorted {
            if last.is_some_and(|(series, _)| series != s) {
                last = None;
            }
            if let Some(v) = v {
                last = Some((s, v));
            }
            out.push((s, t, last.map(|(_, v)| v)));
        }
        out
    }

    /// Seeded random series with NULL runs, at several batch sizes and partition counts, equal
    /// the reference; so do an all-NULL series and a single row.
    #[tokio::test]
    async fn locf_equals_a_plain_loop() -> Result<()> {
        let mut rng = StdRng::seed_from_u64(7);
        let mut rows: Vec<(i64, i64, Option<f64>)> = (0..600)
            .map(|i| {
                let v = rng.random_bool(0.6).then(|| rng.random_range(-5.0..5.0));
                (rng.random_range(0..7), i, v)
            })
            .collect();
        rows.push((100, 0, None)); // all NULL
        rows.push((100, 1, None));
        rows.push((200, 0, Some(1.5))); // one row
        let expected = reference(&rows);
        for (batch_size, partitions) in [(1, 1), (7, 2), (64, 3), (8192, 8)] {
            let got = window_results(&rows, "locf(v)", batch_size, partitions).await?;
            assert_eq!(
                got, expected,
                "batch size {batch_size}, {partitions} partitions"
            );
        }
        Ok(())
    }
}
