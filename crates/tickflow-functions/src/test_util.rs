//! Unit-test harness for the aggregates: drives an [`AggregateUDF`] through every path DataFusion
//! can take — `Accumulator` and `GroupsAccumulator`, every batch size, partial states merged in
//! both orders, `convert_to_state`, `EmitTo::First` — and checks they all give the same answer.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::arrow::util::display::array_value_to_string;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{AggregateUDF, EmitTo, GroupsAccumulator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;

pub(crate) fn i64s(values: &[Option<i64>]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}

pub(crate) fn f64s(values: &[Option<f64>]) -> ArrayRef {
    Arc::new(Float64Array::from(values.to_vec()))
}

/// Text of one value, `NULL` for null (arrow's display otherwise).
pub(crate) fn show(array: &dyn Array, row: usize) -> String {
    if array.is_null(row) {
        "NULL".to_string()
    } else {
        array_value_to_string(array, row).unwrap_or_else(|e| format!("<{e}>"))
    }
}

fn show_all(array: &dyn Array) -> Vec<String> {
    (0..array.len()).map(|row| show(array, row)).collect()
}

fn slice_all(values: &[ArrayRef], offset: usize, len: usize) -> Vec<ArrayRef> {
    values.iter().map(|v| v.slice(offset, len)).collect()
}

pub(crate) struct AggTester {
    udaf: Arc<AggregateUDF>,
    schema: Schema,
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    fields: Vec<FieldRef>,
    return_field: FieldRef,
}

impl AggTester {
    /// `input_types` are the types after coercion (what the accumulators receive).
    pub(crate) fn new(udaf: Arc<AggregateUDF>, input_types: Vec<DataType>) -> Self {
        let fields: Vec<FieldRef> = input_types
            .iter()
            .enumerate()
            .map(|(i, t)| Arc::new(Field::new(format!("c{i}"), t.clone(), true)))
            .collect();
        let schema = Schema::new(fields.clone());
        let exprs = (0..fields.len())
            .map(|i| Arc::new(Column::new(&format!("c{i}"), i)) as Arc<dyn PhysicalExpr>)
            .collect();
        let return_type = udaf.return_type(&input_types).expect("return type");
        let return_field = Arc::new(Field::new("result", return_type, true));
        Self {
            udaf,
            schema,
            exprs,
            fields,
            return_field,
        }
    }

    fn args(&self) -> AccumulatorArgs<'_> {
        AccumulatorArgs {
            return_field: Arc::clone(&self.return_field),
            schema: &self.schema,
            ignore_nulls: false,
            order_bys: &[],
            is_reversed: false,
            name: self.udaf.name(),
            is_distinct: false,
            exprs: &self.exprs,
            expr_fields: &self.fields,
        }
    }

    fn groups(&self) -> Box<dyn GroupsAccumulator> {
        assert!(self.udaf.groups_accumulator_supported(self.args()));
        self.udaf
            .create_groups_accumulator(self.args())
            .expect("groups accumulator")
    }

    /// One GroupsAccumulator, one update, evaluated.
    pub(crate) fn groups_result(
        &self,
        values: &[ArrayRef],
        groups: &[usize],
        num_groups: usize,
    ) -> Result<ArrayRef> {
        let mut acc = self.groups();
        acc.update_batch(values, groups, None, num_groups)?;
        acc.evaluate(EmitTo::All)
    }

    /// One Accumulator over all rows, evaluated.
    pub(crate) fn accumulator_result(&self, values: &[ArrayRef]) -> Result<ScalarValue> {
        let mut acc = self.udaf.accumulator(self.args())?;
        acc.update_batch(values)?;
        acc.evaluate()
    }

    /// The partial state of a GroupsAccumulator after one update.
    pub(crate) fn partial_state(
        &self,
        values: &[ArrayRef],
        groups: &[usize],
        num_groups: usize,
    ) -> Result<Vec<ArrayRef>> {
        let mut acc = self.groups();
        acc.update_batch(values, groups, None, num_groups)?;
        acc.state(EmitTo::All)
    }

    /// Merges partial states (in the order given) into a fresh GroupsAccumulator and evaluates.
    pub(crate) fn merge_states(
        &self,
        states: &[Vec<ArrayRef>],
        groups: &[Vec<usize>],
        num_groups: usize,
    ) -> Result<ArrayRef> {
        let mut acc = self.groups();
        for (state, groups) in states.iter().zip(groups) {
            acc.merge_batch(state, groups, num_groups)?;
        }
        acc.evaluate(EmitTo::All)
    }

    /// Checks that every evaluation path gives `expected` (one text per group, see [`show`]).
    pub(crate) fn check_all_paths(
        &self,
        values: &[ArrayRef],
        groups: &[usize],
        expected: &[&str],
    ) -> Result<()> {
        let n = groups.len();
        let num_groups = expected.len();
        let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();

        for batch in 1..=n.max(1) {
            // GroupsAccumulator, fed `batch` rows at a time.
            let mut acc = self.groups();
            for start in (0..n).step_by(batch) {
                let len = batch.min(n - start);
                let seen = groups[..start + len].iter().max().map_or(0, |g| g + 1);
                acc.update_batch(
                    &slice_all(values, start, len),
                    &groups[start..start + len],
                    None,
                    seen.max(1),
                )?;
            }
            acc.update_batch(&slice_all(values, 0, 0), &[], None, num_groups)?;
            let got = show_all(acc.evaluate(EmitTo::All)?.as_ref());
            assert_eq!(got, expected, "GroupsAccumulator, batch size {batch}");

            // One Accumulator per group, fed `batch` rows at a time, through state + merge.
            let mut got = Vec::new();
            for group in 0..num_groups {
                let rows: Vec<u64> = (0..n)
                    .filter(|&r| groups[r] == group)
                    .map(|r| r as u64)
                    .collect();
                let rows = datafusion::arrow::array::UInt64Array::from(rows);
                let take = |v: &ArrayRef| datafusion::arrow::compute::take(v, &rows, None);
                let group_values = values.iter().map(take).collect::<Result<Vec<_>, _>>()?;
                let mut first = self.udaf.accumulator(self.args())?;
                let mut second = self.udaf.accumulator(self.args())?;
                let m = rows.len();
                for start in (0..m).step_by(batch) {
                    let len = batch.min(m - start);
                    // Alternate batches between two accumulators, then merge: any split works.
                    let target = if (start / batch) % 2 == 0 {
                        &mut first
                    } else {
                        &mut second
                    };
                    target.update_batch(&slice_all(&group_values, start, len))?;
                }
                let state: Vec<ArrayRef> = second
                    .state()?
                    .iter()
                    .map(|s| s.to_array())
                    .collect::<Result<_>>()?;
                first.merge_batch(&state)?;
                let value = first.evaluate()?.to_array()?;
                got.push(show(value.as_ref(), 0));
            }
            assert_eq!(got, expected, "Accumulator, batch size {batch}");
        }

        // Two partial aggregations merged, in both orders.
        let half = n / 2;
        let a = self.partial_state(&slice_all(values, 0, half), &groups[..half], num_groups)?;
        let b = self.partial_state(
            &slice_all(values, half, n - half),
            &groups[half..],
            num_groups,
        )?;
        let identity: Vec<usize> = (0..num_groups).collect();
        for (order, states) in [("a, b", [a.clone(), b.clone()]), ("b, a", [b, a])] {
            let merged =
                self.merge_states(&states, &[identity.clone(), identity.clone()], num_groups)?;
            assert_eq!(
                show_all(merged.as_ref()),
                expected,
                "merge of partial states {order}"
            );
        }

        // convert_to_state (the skip-partial-aggregation path), then merge.
        let acc = self.groups();
        let state = acc.convert_to_state(values, None)?;
        let merged = self.merge_states(&[state], &[groups.to_vec()], num_groups)?;
        assert_eq!(
            show_all(merged.as_ref()),
            expected,
            "convert_to_state + merge"
        );

        // EmitTo::First: emit the first group alone, then the rest.
        if num_groups > 1 {
            let mut acc = self.groups();
            acc.update_batch(values, groups, None, num_groups)?;
            let mut got = show_all(acc.evaluate(EmitTo::First(1))?.as_ref());
            got.extend(show_all(acc.evaluate(EmitTo::All)?.as_ref()));
            assert_eq!(got, expected, "EmitTo::First(1) then All");
        }

        // A filter that keeps every row changes nothing; one that drops every row gives empties.
        let keep_all = BooleanArray::from(vec![true; n]);
        let mut acc = self.groups();
        acc.update_batch(values, groups, Some(&keep_all), num_groups)?;
        assert_eq!(
            show_all(acc.evaluate(EmitTo::All)?.as_ref()),
            expected,
            "filter all true"
        );
        let drop_all = BooleanArray::from(vec![Some(false); n]);
        let mut acc = self.groups();
        acc.update_batch(values, groups, Some(&drop_all), num_groups)?;
        let empty = self.groups_result(&slice_all(values, 0, 0), &[], num_groups)?;
        assert_eq!(
            show_all(acc.evaluate(EmitTo::All)?.as_ref()),
            show_all(empty.as_ref()),
            "filter all false"
        );
        let state = self.groups().convert_to_state(values, Some(&drop_all))?;
        let merged = self.merge_states(&[state], &[groups.to_vec()], num_groups)?;
        assert_eq!(
            show_all(merged.as_ref()),
            show_all(empty.as_ref()),
            "convert_to_state with filter"
        );
        Ok(())
    }
}

/// `SELECT s, t, <call> OVER (PARTITION BY s ORDER BY t)` over `rows` of `(s, t, v)` (BIGINT,
/// BIGINT, DOUBLE), split round-robin into `partitions` in-memory partitions of batches of
/// `batch_size` rows, in a session with tickflow's functions, the same batch size and
/// `target_partitions`: the window function's results as `(s, t, value)`, ordered by (s, t).
pub(crate) async fn window_results(
    rows: &[(i64, i64, Option<f64>)],
    call: &str,
    batch_size: usize,
    partitions: usize,
) -> Result<Vec<(i64, i64, Option<f64>)>> {
    use datafusion::arrow::array::{AsArray, RecordBatch};
    use datafusion::arrow::datatypes::{Float64Type, Int64Type};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    let schema = Arc::new(Schema::new(vec![
        Field::new("s", DataType::Int64, false),
        Field::new("t", DataType::Int64, false),
        Field::new("v", DataType::Float64, true),
    ]));
    let mut parts = vec![vec![]; partitions];
    for (p, part) in parts.iter_mut().enumerate() {
        let mine: Vec<_> = rows.iter().skip(p).step_by(partitions).collect();
        for chunk in mine.chunks(batch_size) {
            part.push(RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    i64s(&chunk.iter().map(|r| Some(r.0)).collect::<Vec<_>>()),
                    i64s(&chunk.iter().map(|r| Some(r.1)).collect::<Vec<_>>()),
                    f64s(&chunk.iter().map(|r| r.2).collect::<Vec<_>>()),
                ],
            )?);
        }
    }
    let config = SessionConfig::new()
        .with_batch_size(batch_size)
        .with_target_partitions(partitions);
    let ctx = SessionContext::new_with_config(config);
    crate::register_all(&ctx)?;
    ctx.register_table("rows", Arc::new(MemTable::try_new(schema, parts)?))?;
    let sql = format!(
        "SELECT s, t, {call} OVER (PARTITION BY s ORDER BY t) AS w FROM rows ORDER BY s, t"
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let mut out = Vec::new();
    for batch in batches {
        let (s, t) = (batch.column(0), batch.column(1));
        let w = batch.column(2).as_primitive::<Float64Type>();
        let (s, t) = (s.as_primitive::<Int64Type>(), t.as_primitive::<Int64Type>());
        for row in 0..batch.num_rows() {
            out.push((
                s.value(row),
                t.value(row),
                w.is_valid(row).then(|| w.value(row)),
            ));
        }
    }
    Ok(out)
}
