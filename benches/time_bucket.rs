//! The scalar `time_bucket` on 1M `Timestamp(Microsecond)` values (random, seeded, over 2024;
//! once in random order and once sorted, as a file sorted by time reads),
//! invoked through the `ScalarUDF` in batches of 8192 rows as a query would call it — so the
//! per-batch cost of reading the width and time zone is included.
//!
//! `cargo bench -p tickflow-benches --bench time_bucket`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::{Array, ArrayRef, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, IntervalMonthDayNano, IntervalUnit};
use datafusion::common::ScalarValue;
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tickflow_functions::time_bucket_udf;

const ROWS: usize = 1_000_000;
const BATCH: usize = 8192;
/// 2024-01-01T00:00:00Z and 2025-01-01T00:00:00Z, in microseconds.
const START_US: i64 = 1_704_067_200_000_000;
const END_US: i64 = 1_735_689_600_000_000;

fn interval(months: i32, days: i32, nanos: i64) -> ScalarValue {
    ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(months, days, nanos)))
}

fn bench_time_bucket(c: &mut Criterion) {
    let mut rng = SmallRng::seed_from_u64(7);
    let mut values: Vec<i64> = (0..ROWS)
        .map(|_| rng.random_range(START_US..END_US))
        .collect();
    let ts = TimestampMicrosecondArray::from_iter_values(values.iter().copied());
    values.sort_unstable();
    let sorted = TimestampMicrosecondArray::from_iter_values(values);
    let batches_of = |ts: &TimestampMicrosecondArray| -> Vec<ArrayRef> {
        (0..ROWS)
            .step_by(BATCH)
            .map(|start| Arc::new(ts.slice(start, BATCH.min(ROWS - start))) as ArrayRef)
            .collect()
    };
    let orders = [("random", batches_of(&ts)), ("sorted", batches_of(&sorted))];

    let minute = 60_000_000_000;
    let cases = [
        ("1 minute", interval(0, 0, minute), None),
        ("9 minutes", interval(0, 0, 9 * minute), None),
        (
            "1 day, America/New_York",
            interval(0, 1, 0),
            Some("America/New_York"),
        ),
        ("1 month", interval(1, 0, 0), None),
    ];

    let udf = time_bucket_udf();
    let ts_field: FieldRef = Arc::new(Field::new("ts", ts.data_type().clone(), true));
    let width_field: FieldRef = Arc::new(Field::new(
        "width",
        DataType::Interval(IntervalUnit::MonthDayNano),
        false,
    ));
    let zone_field: FieldRef = Arc::new(Field::new("timezone", DataType::Utf8, false));
    let return_field: FieldRef = Arc::new(Field::new("time_bucket", ts.data_type().clone(), true));
    let config_options = Arc::new(ConfigOptions::default());

    let mut group = c.benchmark_group("time_bucket_1M_timestamp_us");
    group.throughput(Throughput::Elements(ROWS as u64));
    for (name, width, zone) in cases {
        let mut arg_fields = vec![Arc::clone(&width_field), Arc::clone(&ts_field)];
        if zone.is_some() {
            arg_fields.push(Arc::clone(&zone_field));
        }
        for (order, batches) in &orders {
            group.bench_function(format!("{name}, {order}"), |b| {
                b.iter(|| {
                    for batch in batches {
                        let mut args = vec![
                            ColumnarValue::Scalar(width.clone()),
                            ColumnarValue::Array(Arc::clone(batch)),
                        ];
                        if let Some(zone) = zone {
                            args.push(ColumnarValue::Scalar(ScalarValue::from(zone)));
                        }
                        let out = udf
                            .invoke_with_args(ScalarFunctionArgs {
                                args,
                                arg_fields: arg_fields.clone(),
                                number_rows: batch.len(),
                                return_field: Arc::clone(&return_field),
                                config_options: Arc::clone(&config_options),
                            })
                            .expect("time_bucket");
                        black_box(out);
                    }
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_time_bucket);
criterion_main!(benches);
