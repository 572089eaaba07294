//! The 20-bar moving average and volatility of the harness's window job, as SQL over an
//! in-memory table of 1M bars (500 symbols × 2,000 bars, sorted by symbol and time, batches of
//! 8,192 rows, one partition): DataFusion's `BoundedWindowAggExec` against tickflow's
//! `RowsWindowExec` (`tickflow_plan::rows_window`), same query, same data.
//!
//! `cargo bench -p tickflow-benches --bench rows_window`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::MemTable;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{SortExpr, col};
use datafusion::prelude::{SessionConfig, SessionContext};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tickflow_plan::Extensions;
use tickflow_plan::rows_window::RowsWindowExtension;

const SYMBOLS: usize = 500;
const BARS: usize = 2_000;
const BATCH: usize = 8192;

const QUERY: &str = "SELECT sym, ts, close, \
       CASE WHEN count(close) OVER w = 20 THEN avg(close) OVER w END AS ma, \
       CASE WHEN count(close) OVER w = 20 THEN stddev(close) OVER w END AS volatility \
     FROM bars \
     WINDOW w AS (PARTITION BY sym ORDER BY ts ROWS BETWEEN 19 PRECEDING AND CURRENT ROW)";

fn bars() -> Vec<RecordBatch> {
    let mut rng = SmallRng::seed_from_u64(20);
    let schema = Arc::new(Schema::new(vec![
        Field::new("sym", DataType::Utf8, false),
        Field::new("ts", DataType::Int64, false),
        Field::new("close", DataType::Float64, true),
    ]));
    let rows = SYMBOLS * BARS;
    let sym: StringArray = (0..rows)
        .map(|i| Some(format!("S{:04}", i / BARS)))
        .collect();
    let ts: Int64Array = (0..rows).map(|i| (i % BARS) as i64 * 60_000_000).collect();
    let mut price = 100.0;
    let close: Float64Array = (0..rows)
        .map(|_| {
            price *= 1.0 + rng.random_range(-0.001..0.001);
            Some(price)
        })
        .collect();
    let columns: Vec<ArrayRef> = vec![Arc::new(sym), Arc::new(ts), Arc::new(close)];
    let all = RecordBatch::try_new(schema, columns).expect("bars");
    (0..rows)
        .step_by(BATCH)
        .map(|start| all.slice(start, BATCH.min(rows - start)))
        .collect()
}

fn context(batches: &[RecordBatch], rows_window: bool) -> SessionContext {
    let config = SessionConfig::new()
        .with_target_partitions(1)
        .with_batch_size(BATCH);
    let builder = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config);
    let builder = if rows_window {
        Extensions::new()
            .with(Arc::new(RowsWindowExtension))
            .apply(builder)
    } else {
        builder
    };
    let ctx = SessionContext::new_with_state(builder.build());
    let table = MemTable::try_new(batches[0].schema(), vec![batches.to_vec()])
        .expect("table")
        .with_sort_order(vec![vec![
            SortExpr::new(col("sym"), true, false),
            SortExpr::new(col("ts"), true, false),
        ]]);
    ctx.register_table("bars", Arc::new(table))
        .expect("register");
    ctx
}

fn bench_rows_window(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let batches = bars();
    let mut group = c.benchmark_group("ma20_volatility_1M_bars");
    group.throughput(Throughput::Elements((SYMBOLS * BARS) as u64));
    group.sample_size(10);
    for (name, rows_window) in [("datafusion_bounded_window", false), ("rows_window", true)] {
        let ctx = context(&batches, rows_window);
        let plan = runtime
            .block_on(async { ctx.sql(QUERY).await?.create_physical_plan().await })
            .expect("plan");
        let text = datafusion::physical_plan::displayable(plan.as_ref())
            .indent(false)
            .to_string();
        assert_eq!(text.contains("RowsWindowExec"), rows_window, "{text}");
        group.bench_function(name, |b| {
            b.iter(|| {
                let batches = runtime
                    .block_on(async { ctx.sql(QUERY).await?.collect().await })
                    .expect("query");
                black_box(batches)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_rows_window);
criterion_main!(benches);
