//! `SortedAggregateExec` against DataFusion's own aggregation, on seeded random key-sorted data
//! cut into batches of random sizes (so runs of equal keys cross batch boundaries, and some
//! batches are empty), across `target_partitions` and `batch_size`.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Decimal128Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::catalog::MemTable;
use datafusion::common::Result;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{SortExpr, col};
use datafusion::prelude::{SessionConfig, SessionContext};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::UseSortedAggregate;

const MINUTE: i64 = 60_000_000_000;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("sym", DataType::Utf8, true),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("price", DataType::Decimal128(18, 4), true),
        Field::new("x", DataType::Float64, true),
        Field::new("size", DataType::Int64, true),
        Field::new("seq", DataType::Int64, false),
    ]))
}

/// `partitions` partitions of rows sorted by (sym NULLS LAST, ts), each cut into batches of
/// random sizes (0 included). Symbols may be NULL; so may the measured columns.
fn sorted_partitions(rng: &mut SmallRng, partitions: usize) -> Result<Vec<Vec<RecordBatch>>> {
    let mut out = Vec::new();
    let mut seq = 0;
    for _ in 0..partitions {
        let rows: usize = rng.random_range(0..2_500);
        let mut data: Vec<(Option<String>, i64)> = (0..rows)
            .map(|_| {
                let sym = (rng.random_range(0..10) > 0)
                    .then(|| ["A", "B", "CC", "a-long-symbol-name-x", "E"][rng.random_range(0..5)])
                    .map(str::to_string);
                (sym, rng.random_range(0..30 * MINUTE))
            })
            .collect();
        // NULLS LAST, as the declared order says.
        data.sort_by(|a, b| (a.0.is_none(), &a.0, a.1).cmp(&(b.0.is_none(), &b.0, b.1)));
        let maybe = |rng: &mut SmallRng| rng.random_range(0..20) > 0;
        let sym: StringArray = data.iter().map(|d| d.0.clone()).collect();
        let ts = TimestampNanosecondArray::from(data.iter().map(|d| d.1).collect::<Vec<_>>())
            .with_timezone("UTC");
        let price: Decimal128Array = (0..rows)
            .map(|_| maybe(rng).then(|| rng.random_range(9_000..11_000_i128)))
            .collect::<Decimal128Array>()
            .with_precision_and_scale(18, 4)?;
        let x: Float64Array = (0..rows)
            .map(|_| maybe(rng).then(|| rng.random_range(-1.0..1.0)))
            .collect();
        let size: Int64Array = (0..rows)
            .map(|_| maybe(rng).then(|| rng.random_range(1..500)))
            .collect();
        let seqs: Int64Array = (0..rows as i64).map(|i| seq + i).collect();
        seq += rows as i64;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(sym),
            Arc::new(ts),
            Arc::new(price),
            Arc::new(x),
            Arc::new(size),
            Arc::new(seqs),
        ];
        let whole = RecordBatch::try_new(schema(), columns)?;
        let mut batches = Vec::new();
        let mut start = 0;
        while start < rows {
            let len = match rng.random_range(0..10) {
                0 => 0,
                1 => 1,
                2..=5 => rng.random_range(1..40),
                _ => rng.random_range(1..700),
            }
            .min(rows - start);
            batches.push(whole.slice(start, len));
            start += len;
        }
        out.push(batches);
    }
    Ok(out)
}

fn context(
    data: Vec<Vec<RecordBatch>>,
    sorted_rule: bool,
    target: usize,
    batch: usize,
) -> Result<SessionContext> {
    let config = SessionConfig::new()
        .with_target_partitions(target)
        .with_batch_size(batch);
    let mut builder = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config);
    if sorted_rule {
        builder = builder.with_physical_optimizer_rule(Arc::new(UseSortedAggregate));
    }
    let ctx = SessionContext::new_with_state(builder.build());
    tickflow_functions::register_all(&ctx)?;
    let order = vec![vec![
        SortExpr::new(col("sym"), true, false),
        SortExpr::new(col("ts"), true, false),
    ]];
    let table = MemTable::try_new(schema(), data)?.with_sort_order(order);
    ctx.register_table("t", Arc::new(table))?;
    Ok(ctx)
}

async fn run(ctx: &SessionContext, sql: &str) -> Result<(String, String)> {
    let plan = ctx.sql(&format!("EXPLAIN {sql}")).await?.collect().await?;
    let plan = pretty_format_batches(&plan)?.to_string();
    let result = ctx.sql(sql).await?.collect().await?;
    Ok((plan, pretty_format_batches(&result)?.to_string()))
}

const BARS: &str = "SELECT sym, time_bucket(INTERVAL '1 minute', ts) AS bar, count(*) AS n, \
    count(x) AS nx, sum(size) AS volume, min(price) AS low, max(x) AS max_x, \
    ohlc(ts, price, seq)['open'] AS open, ohlc(ts, price, seq)['close'] AS close, \
    vwap(price, size) AS vwap, bar_std(price) AS std, total_volume(size) AS tv, \
    sum(size) FILTER (WHERE x > 0) AS up_volume, count(DISTINCT size % 3) AS d, \
    array_agg(seq ORDER BY ts) AS seqs \
    FROM t GROUP BY 1, 2 ORDER BY 1, 2";

/// Few groups: every run of one symbol spans many batches.
const BY_SYMBOL: &str = "SELECT sym, count(*), max(seq), min(ts), sum(size), \
    vwap(price, size), bar_std(x) IS NULL FROM t GROUP BY sym ORDER BY sym";

/// Aggregations DataFusion runs with `ordering_mode=Sorted` in `plan`.
fn sorted_aggregations(plan: &str) -> usize {
    plan.lines()
        .filter(|l| l.contains("AggregateExec:") && l.contains("ordering_mode=Sorted"))
        .count()
}

#[tokio::test]
async fn same_results_as_datafusion_aggregation() -> Result<()> {
    let mut rng = SmallRng::seed_from_u64(20261123);
    let mut replaced = 0;
    let mut cases = 0;
    for round in 0..12 {
        let partitions = rng.random_range(1..4);
        let data = sorted_partitions(&mut rng, partitions)?;
        for (target, batch) in [(1, 8192), (2, 7), (3, 1), (4, 100), (8, 33)] {
            for sql in [BARS, BY_SYMBOL] {
                let reference = context(data.clone(), false, target, batch)?;
                let sorted = context(data.clone(), true, target, batch)?;
                let (reference_plan, expected) = run(&reference, sql).await?;
                let (plan, actual) = run(&sorted, sql).await?;
                let context = format!(
                    "round {round}, {partitions} partitions, target_partitions {target}, \
                     batch_size {batch}: {sql}\n{plan}"
                );
                // Exactly the aggregations DataFusion runs as Sorted are replaced.
                assert!(!reference_plan.contains("SortedAggregateExec"));
                let swapped = plan.matches("SortedAggregateExec").count();
                assert_eq!(swapped, sorted_aggregations(&reference_plan), "{context}");
                assert_eq!(actual, expected, "{context}");
                replaced += swapped;
                cases += 1;
            }
        }
    }
    // Most cases must have exercised the sorted path, partial and final stages alike.
    assert!(
        replaced >= cases,
        "only {replaced} sorted aggregations in {cases} cases"
    );
    Ok(())
}

#[tokio::test]
async fn unsorted_keys_keep_datafusion_aggregation() -> Result<()> {
    let mut rng = SmallRng::seed_from_u64(7);
    let data = sorted_partitions(&mut rng, 2)?;
    let sql = "SELECT size, count(*) FROM t GROUP BY size ORDER BY size";
    let (plan, actual) = run(&context(data.clone(), true, 2, 64)?, sql).await?;
    assert!(!plan.contains("SortedAggregateExec"), "{plan}");
    assert!(plan.contains("AggregateExec"), "{plan}");
    let (_, expected) = run(&context(data, false, 2, 64)?, sql).await?;
    assert_eq!(actual, expected);
    Ok(())
}

#[tokio::test]
async fn empty_input_gives_no_groups() -> Result<()> {
    let ctx = context(vec![vec![], vec![]], true, 2, 16)?;
    let (plan, result) = run(&ctx, BY_SYMBOL).await?;
    assert!(plan.contains("SortedAggregateExec"), "{plan}");
    assert_eq!(result.trim(), "++\n++");
    Ok(())
}

#[tokio::test]
async fn explain_analyze_counts_output_rows() -> Result<()> {
    let mut rng = SmallRng::seed_from_u64(11);
    let data = sorted_partitions(&mut rng, 1)?;
    let ctx = context(data, true, 1, 50)?;
    let text = ctx
        .sql(&format!("EXPLAIN ANALYZE {BY_SYMBOL}"))
        .await?
        .collect()
        .await?;
    let text = pretty_format_batches(&text)?.to_string();
    let line = text
        .lines()
        .find(|l| l.contains("SortedAggregateExec"))
        .unwrap_or_default();
    assert!(line.contains("output_rows="), "{text}");
    Ok(())
}

/// A context over `files` sorted Parquet files registered `WITH ORDER (sym, ts)`, with
/// tickflow's physical rules or DataFusion's own.
async fn file_table(dir: &std::path::Path, files: usize, tickflow: bool) -> Result<SessionContext> {
    let config = SessionConfig::new().with_target_partitions(2);
    let mut builder = SessionStateBuilder::new()
        .with_default_features()
        .with_config(config);
    if tickflow {
        builder = crate::Extensions::new()
            .with(Arc::new(super::SortedAggregateExtension))
            .apply(builder);
    }
    let ctx = SessionContext::new_with_state(builder.build());
    tickflow_functions::register_all(&ctx)?;
    if !dir.join("part-0.parquet").exists() {
        let mut rng = SmallRng::seed_from_u64(3);
        for (i, batches) in sorted_partitions(&mut rng, files)?.into_iter().enumerate() {
            if batches.iter().all(|b| b.num_rows() == 0) {
                continue; // a file needs rows to carry its schema
            }
            let df = ctx.read_batches(batches)?;
            df.write_parquet(
                &dir.join(format!("part-{i}.parquet")).to_string_lossy(),
                Default::default(),
                None,
            )
            .await?;
        }
    }
    ctx.sql(&format!(
        "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{}/' \
         WITH ORDER (sym ASC NULLS LAST, ts ASC NULLS LAST)",
        dir.display()
    ))
    .await?
    .collect()
    .await?;
    Ok(ctx)
}

#[tokio::test]
async fn more_files_than_partitions_keep_their_order() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let (plan, actual) = run(&file_table(dir.path(), 5, true).await?, BARS).await?;
    let (reference_plan, expected) = run(&file_table(dir.path(), 5, false).await?, BARS).await?;
    // DataFusion packs the 5 files into 2 partitions and loses the order...
    assert!(
        reference_plan.contains("file_groups={2 groups"),
        "{reference_plan}"
    );
    assert_eq!(sorted_aggregations(&reference_plan), 0, "{reference_plan}");
    // ...tickflow reads each file as its own sorted partition and aggregates without hashing.
    assert!(plan.contains("file_groups={5 groups"), "{plan}");
    assert_eq!(plan.matches("SortedAggregateExec").count(), 2, "{plan}");
    assert_eq!(actual, expected);
    Ok(())
}

#[tokio::test]
async fn too_many_files_stay_as_datafusion_groups_them() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let files = super::MAX_FILES + 10;
    let (plan, actual) = run(&file_table(dir.path(), files, true).await?, BY_SYMBOL).await?;
    assert!(std::fs::read_dir(dir.path())?.count() > super::MAX_FILES);
    assert!(plan.contains("file_groups={2 groups"), "{plan}");
    assert!(!plan.contains("SortedAggregateExec"), "{plan}");
    let (_, expected) = run(&file_table(dir.path(), files, false).await?, BY_SYMBOL).await?;
    assert_eq!(actual, expected);
    Ok(())
}
