//! `RowsWindowExec` against DataFusion's own `BoundedWindowAggExec`, bit for bit, on seeded
//! random data sorted by (sym, ts): several symbols (one shorter than every frame, and NULL
//! symbols), NULLs in every measured column, NaN, infinities, -0.0 and large magnitudes in the
//! floats; across batch sizes 1, 7 and 8192 and `target_partitions` 1, 2 and 4.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema, SchemaRef};
use datafusion::catalog::MemTable;
use datafusion::common::Result;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{SortExpr, col};
use datafusion::physical_plan::{ExecutionPlan, displayable};
use datafusion::prelude::{SessionConfig, SessionContext};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::RowsWindowExtension;
use crate::Extensions;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("sym", DataType::Utf8, true),
        Field::new("ts", DataType::Int64, false),
        Field::new("x", DataType::Float64, true),
        Field::new("n", DataType::Int64, true),
        Field::new("d", DataType::Decimal128(18, 4), true),
    ]))
}

/// Rows sorted by (sym NULLS LAST, ts), in batches of `batch_size`.
fn data(seed: u64, batch_size: usize) -> Result<Vec<RecordBatch>> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut rows: Vec<(Option<&str>, i64)> = Vec::new();
    for (sym, count) in [
        (Some("A"), 500),
        (Some("BB"), 3),
        (Some("C"), 600),
        (Some("D"), 40),
        (None, 200),
    ] {
        for _ in 0..count {
            rows.push((sym, rng.random_range(0..1_000_000_000)));
        }
    }
    rows.sort_by(|a, b| (a.0.is_none(), a.0, a.1).cmp(&(b.0.is_none(), b.0, b.1)));
    let len = rows.len();
    let x: Float64Array = (0..len)
        .map(|_| match rng.random_range(0..100) {
            0..10 => None,
            10 => Some(f64::NAN),
            11 => Some(-0.0),
            12 => Some(f64::INFINITY),
            13..20 => Some(rng.random_range(-1e12..1e12)),
            _ => Some(rng.random_range(90.0..110.0)),
        })
        .collect();
    let n: Int64Array = (0..len)
        .map(|_| (rng.random_range(0..10) > 0).then(|| rng.random_range(-1_000_000..1_000_000)))
        .collect();
    let d = (0..len)
        .map(|_| (rng.random_range(0..10) > 0).then(|| rng.random_range(-10_000_000..10_000_000)))
        .collect::<Decimal128Array>()
        .with_precision_and_scale(18, 4)?;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(rows.iter().map(|r| r.0).collect::<StringArray>()),
        Arc::new(rows.iter().map(|r| r.1).collect::<Int64Array>()),
        Arc::new(x),
        Arc::new(n),
        Arc::new(d),
    ];
    let all = RecordBatch::try_new(schema(), columns)?;
    Ok((0..len)
        .step_by(batch_size)
        .map(|start| all.slice(start, batch_size.min(len - start)))
        .collect())
}

async fn context(
    batches: &[RecordBatch],
    partitions: usize,
    batch_size: usize,
    rows_window: bool,
) -> Result<SessionContext> {
    let config = SessionConfig::new()
        .with_target_partitions(partitions)
        .with_batch_size(batch_size);
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
    let table = MemTable::try_new(schema(), vec![batches.to_vec()])?.with_sort_order(vec![vec![
        SortExpr::new(col("sym"), true, false),
        SortExpr::new(col("ts"), true, false),
    ]]);
    ctx.register_table("t", Arc::new(table))?;
    Ok(ctx)
}

fn plan_has(plan: &Arc<dyn ExecutionPlan>, name: &str) -> bool {
    plan.name() == name || plan.children().iter().any(|c| plan_has(c, name))
}

/// The query's rows and whether its plan has a `RowsWindowExec`.
async fn run(ctx: &SessionContext, sql: &str) -> Result<(RecordBatch, bool)> {
    let df = ctx.sql(sql).await?;
    let plan = df.clone().create_physical_plan().await?;
    let rows_window = plan_has(&plan, "RowsWindowExec");
    let batches = df.collect().await?;
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| Arc::new(Schema::empty()));
    Ok((concat_batches(&schema, &batches)?, rows_window))
}

/// Asserts two columns are equal, floats bit for bit (the sign of zero too), except that any
/// NaN equals any NaN: Rust leaves the sign and payload of a NaN that an operation produces
/// unspecified (LLVM may swap the operands of an addition), so not even DataFusion's own
/// NaN bits are stable across builds.
fn assert_same(expected: &ArrayRef, actual: &ArrayRef, what: &str) {
    assert_eq!(expected.data_type(), actual.data_type(), "{what}: type");
    assert_eq!(expected.len(), actual.len(), "{what}: rows");
    if let DataType::Float64 = expected.data_type() {
        let (e, a) = (
            expected.as_primitive::<Float64Type>(),
            actual.as_primitive::<Float64Type>(),
        );
        for i in 0..e.len() {
            let bits = |v: f64| {
                if v.is_nan() {
                    f64::NAN.to_bits()
                } else {
                    v.to_bits()
                }
            };
            let (ev, av) = (
                e.is_valid(i).then(|| bits(e.value(i))),
                a.is_valid(i).then(|| bits(a.value(i))),
            );
            assert_eq!(
                ev,
                av,
                "{what}: row {i}: DataFusion {:?}, rows window {:?}",
                e.is_valid(i).then(|| e.value(i)),
                a.is_valid(i).then(|| a.value(i))
            );
        }
    } else {
        assert_eq!(expected.as_ref(), actual.as_ref(), "{what}");
    }
}

const FRAMES: &[&str] = &[
    "ROWS BETWEEN 19 PRECEDING AND CURRENT ROW",
    "ROWS BETWEEN 3 PRECEDING AND 2 FOLLOWING",
    "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
    "ROWS BETWEEN UNBOUNDED PRECEDING AND 4 FOLLOWING",
    "ROWS BETWEEN 5 PRECEDING AND 2 PRECEDING",
    "ROWS BETWEEN 1 FOLLOWING AND 3 FOLLOWING",
    "ROWS BETWEEN CURRENT ROW AND 10 FOLLOWING",
    "ROWS BETWEEN 0 PRECEDING AND 0 FOLLOWING",
];

const FUNCTIONS: &[&str] = &[
    "sum(x)",
    "avg(x)",
    "count(x)",
    "count(*)",
    "min(x)",
    "max(x)",
    "stddev(x)",
    "stddev_pop(x)",
    "var(x)",
    "var_pop(x)",
    "stddev_samp(x)",
    "var_samp(x)",
    "sum(n)",
    "avg(n)",
    "min(n)",
    "max(n)",
    "stddev(n)",
    "sum(d)",
    "min(d)",
    "max(d)",
    "max(ts)",
];

fn query(frame: &str, partition_by: &str) -> String {
    let calls: Vec<String> = FUNCTIONS
        .iter()
        .enumerate()
        .map(|(i, f)| format!("{f} OVER w AS c{i}"))
        .collect();
    format!(
        "SELECT sym, ts, {} FROM t WINDOW w AS ({partition_by} ORDER BY ts {frame}) ORDER BY sym, ts",
        calls.join(", ")
    )
}

async fn check(sql: &str, batch_size: usize, partitions: usize, seed: u64) -> Result<()> {
    let batches = data(seed, batch_size)?;
    let datafusion = context(&batches, partitions, batch_size, false).await?;
    let tickflow = context(&batches, partitions, batch_size, true).await?;
    let (expected, used) = run(&datafusion, sql).await?;
    assert!(!used);
    let (actual, used) = run(&tickflow, sql).await?;
    assert!(used, "no RowsWindowExec for {sql}");
    assert_eq!(expected.num_columns(), actual.num_columns());
    for c in 0..expected.num_columns() {
        let what = format!(
            "{sql} (batch {batch_size}, partitions {partitions}), column {}",
            expected.schema().field(c).name()
        );
        assert_same(expected.column(c), actual.column(c), &what);
    }
    Ok(())
}

#[tokio::test]
async fn rows_frames_equal_datafusion_bit_for_bit() -> Result<()> {
    for (i, frame) in FRAMES.iter().enumerate() {
        for batch_size in [1, 7, 8192] {
            for partitions in [1, 2, 4] {
                let sql = query(frame, "PARTITION BY sym");
                check(&sql, batch_size, partitions, 7 + i as u64).await?;
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_window_without_partitions_is_one_partition() -> Result<()> {
    for frame in [FRAMES[0], FRAMES[1], FRAMES[5]] {
        for batch_size in [7, 8192] {
            check(&query(frame, ""), batch_size, 2, 99).await?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn windows_it_does_not_compute_are_left_alone() -> Result<()> {
    let batches = data(3, 64)?;
    let ctx = context(&batches, 2, 64, true).await?;
    for sql in [
        // One expression it does not compute keeps the whole window DataFusion's.
        "SELECT sym, avg(x) OVER w, row_number() OVER w FROM t \
         WINDOW w AS (PARTITION BY sym ORDER BY ts ROWS BETWEEN 2 PRECEDING AND CURRENT ROW)",
        "SELECT sym, avg(x) OVER (PARTITION BY sym ORDER BY ts \
         RANGE BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t",
        "SELECT sym, sum(x) FILTER (WHERE x > 100) OVER (PARTITION BY sym ORDER BY ts \
         ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t",
        "SELECT sym, median(x) OVER (PARTITION BY sym ORDER BY ts \
         ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM t",
    ] {
        let (_, used) = run(&ctx, sql).await?;
        assert!(!used, "RowsWindowExec for {sql}");
    }
    Ok(())
}

#[tokio::test]
async fn explain_names_the_rows_window() -> Result<()> {
    let batches = data(5, 8192)?;
    let ctx = context(&batches, 1, 8192, true).await?;
    let plan = ctx
        .sql(
            "SELECT sym, avg(x) OVER w, stddev(x) OVER w FROM t \
             WINDOW w AS (PARTITION BY sym ORDER BY ts ROWS BETWEEN 19 PRECEDING AND CURRENT ROW)",
        )
        .await?
        .create_physical_plan()
        .await?;
    let text = displayable(plan.as_ref()).indent(false).to_string();
    assert!(text.contains("RowsWindowExec: wdw=[avg(t.x)"), "{text}");
    assert!(text.contains("mode=[Sorted]"), "{text}");
    Ok(())
}
