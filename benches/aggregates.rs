//! The `GroupsAccumulator` of each tickflow aggregate, driven directly (no SQL, no hash table):
//! 1M rows into 10k groups with random (seeded) group indices, fed in batches of 8192 rows as a
//! hash aggregate would feed it, then `evaluate(EmitTo::All)`.
//!
//! `cargo bench -p tickflow-benches --bench aggregates`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::{
    ArrayRef, Decimal128Array, Float64Array, Int64Array, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, TimeUnit};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{AggregateUDF, EmitTo};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Column;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tickflow_functions::{bar_std_udaf, ohlc_udaf, total_volume_udaf, vwap_udaf};

const ROWS: usize = 1_000_000;
const GROUPS: usize = 10_000;
const BATCH: usize = 8192;

/// The raw input columns (any supported type), before the UDAF's type coercion.
struct Columns {
    groups: Vec<usize>,
    /// Microseconds since the epoch, increasing, as on a tape.
    ts: Vec<i64>,
    price: Vec<f64>,
    /// The same prices in units of 0.0001 (Decimal128(18, 4)).
    price_units: Vec<i128>,
    size: Vec<i64>,
}

fn columns() -> Columns {
    let mut rng = SmallRng::seed_from_u64(42);
    let groups = (0..ROWS).map(|_| rng.random_range(0..GROUPS)).collect();
    let ts = (0..ROWS as i64)
        .map(|i| 1_704_205_800_000_000 + i * 500)
        .collect();
    let price_units: Vec<i128> = (0..ROWS)
        .map(|_| rng.random_range(1_000_000..2_000_000))
        .collect();
    let price = price_units.iter().map(|&p| p as f64 / 1e4).collect();
    let size = (0..ROWS).map(|_| rng.random_range(1..1_000)).collect();
    Columns {
        groups,
        ts,
        price,
        price_units,
        size,
    }
}

/// One aggregate call: the UDAF, its coerced argument arrays and fields, ready to feed.
struct Case {
    udaf: Arc<AggregateUDF>,
    schema: Schema,
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    fields: Vec<FieldRef>,
    return_field: FieldRef,
    /// (argument arrays, group indices) per batch.
    batches: Vec<(Vec<ArrayRef>, Vec<usize>)>,
}

impl Case {
    /// Coerces `raw` as DataFusion's planner would, then slices it into batches.
    fn new(udaf: Arc<AggregateUDF>, raw: Vec<ArrayRef>, groups: &[usize]) -> Self {
        let raw_types: Vec<DataType> = raw.iter().map(|a| a.data_type().clone()).collect();
        let types = udaf.coerce_types(&raw_types).expect("coerce types");
        let values: Vec<ArrayRef> = raw
            .iter()
            .zip(&types)
            .map(|(a, t)| cast(a, t).expect("cast"))
            .collect();
        let fields: Vec<FieldRef> = types
            .iter()
            .enumerate()
            .map(|(i, t)| Arc::new(Field::new(format!("c{i}"), t.clone(), true)))
            .collect();
        let exprs = (0..fields.len())
            .map(|i| Arc::new(Column::new(&format!("c{i}"), i)) as Arc<dyn PhysicalExpr>)
            .collect();
        let return_type = udaf.return_type(&types).expect("return type");
        let batches = (0..ROWS)
            .step_by(BATCH)
            .map(|start| {
                let len = BATCH.min(ROWS - start);
                let arrays = values.iter().map(|v| v.slice(start, len)).collect();
                (arrays, groups[start..start + len].to_vec())
            })
            .collect();
        Self {
            udaf,
            schema: Schema::new(fields.clone()),
            exprs,
            fields,
            return_field: Arc::new(Field::new("result", return_type, true)),
            batches,
        }
    }

    /// Creates the GroupsAccumulator, feeds every batch, evaluates all groups.
    fn run(&self) -> ArrayRef {
        let args = AccumulatorArgs {
            return_field: Arc::clone(&self.return_field),
            schema: &self.schema,
            ignore_nulls: false,
            order_bys: &[],
            is_reversed: false,
            name: self.udaf.name(),
            is_distinct: false,
            exprs: &self.exprs,
            expr_fields: &self.fields,
        };
        let mut acc = self
            .udaf
            .create_groups_accumulator(args)
            .expect("groups accumulator");
        for (values, groups) in &self.batches {
            acc.update_batch(values, groups, None, GROUPS)
                .expect("update");
        }
        acc.evaluate(EmitTo::All).expect("evaluate")
    }
}

fn bench_aggregates(c: &mut Criterion) {
    let cols = columns();
    let ts: ArrayRef = Arc::new(TimestampMicrosecondArray::from(cols.ts.clone()));
    assert_eq!(
        ts.data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    let price: ArrayRef = Arc::new(Float64Array::from(cols.price.clone()));
    let price_decimal: ArrayRef = Arc::new(
        Decimal128Array::from(cols.price_units.clone())
            .with_precision_and_scale(18, 4)
            .expect("decimal"),
    );
    let size: ArrayRef = Arc::new(Int64Array::from(cols.size.clone()));
    let seq: ArrayRef = Arc::new(Int64Array::from_iter_values(0..ROWS as i64));

    let cases = [
        (
            "ohlc(ts, price f64, seq)",
            Case::new(ohlc_udaf(), vec![ts, Arc::clone(&price), seq], &cols.groups),
        ),
        (
            "vwap(price f64, size i64)",
            Case::new(
                vwap_udaf(),
                vec![Arc::clone(&price), Arc::clone(&size)],
                &cols.groups,
            ),
        ),
        (
            "vwap(price decimal(18,4), size i64)",
            Case::new(
                vwap_udaf(),
                vec![Arc::clone(&price_decimal), Arc::clone(&size)],
                &cols.groups,
            ),
        ),
        (
            "bar_std(price f64)",
            Case::new(bar_std_udaf(), vec![price], &cols.groups),
        ),
        (
            "bar_std(price decimal(18,4))",
            Case::new(bar_std_udaf(), vec![price_decimal], &cols.groups),
        ),
        (
            "total_volume(size i64)",
            Case::new(total_volume_udaf(), vec![size], &cols.groups),
        ),
    ];

    let mut group = c.benchmark_group("groups_accumulator_1M_rows_10k_groups");
    group.throughput(Throughput::Elements(ROWS as u64));
    for (name, case) in &cases {
        group.bench_function(*name, |b| b.iter(|| black_box(case.run())));
    }
    group.finish();
}

criterion_group!(benches, bench_aggregates);
criterion_main!(benches);
