//! Gap filling against a plain loop on seeded random trades, at every `target_partitions` from
//! 1 to 8 and several batch sizes.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, AsArray, Float64Array, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::{
    DataType, Field, Float64Type, Int64Type, Schema, TimeUnit, TimestampNanosecondType,
};
use datafusion::common::Result;
use datafusion::prelude::SessionConfig;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const MINUTE: i64 = 60_000_000_000;
/// 2024-01-02 14:30 UTC; bucket grids are anchored at 2000-01-03, a whole number of minutes
/// before it.
const T0: i64 = 1_704_205_800_000_000_000;
const ORIGIN: i64 = 946_857_600_000_000_000;

#[derive(Debug, Clone)]
struct Trade {
    symbol: String,
    ts: i64,
    price: Option<f64>,
    size: i64,
}

/// One output row: symbol, bucket, count, sum(size), locf(max(price)), interpolate(avg(price)).
type Row = (String, i64, i64, Option<i64>, Option<f64>, Option<f64>);

/// A grid bucket of one series: bucket, count, sum(size), max(price), avg(price).
type Bucket = (i64, i64, Option<i64>, Option<f64>, Option<f64>);

fn random_trades(rng: &mut StdRng) -> Vec<Trade> {
    let mut trades = Vec::new();
    for s in 0..rng.random_range(1..7) {
        let symbol = format!("S{s}");
        for _ in 0..rng.random_range(0..30) {
            trades.push(Trade {
                symbol: symbol.clone(),
                ts: T0 + rng.random_range(-10 * MINUTE..70 * MINUTE),
                price: rng
                    .random_bool(0.85)
                    .then(|| (rng.random_range(1000..2000) as f64) / 100.0),
                size: rng.random_range(1..500),
            });
        }
    }
    trades
}

/// The plain loop: filter, group, the grid per series, merge, fill.
fn reference(trades: &[Trade], width: i64, lower: i64, upper: i64, inclusive: bool) -> Vec<Row> {
    let in_range = |t: i64| t >= lower && (t < upper || (inclusive && t == upper));
    let bucket = |t: i64| ORIGIN + (t - ORIGIN).div_euclid(width) * width;
    let mut groups: BTreeMap<(String, i64), Vec<&Trade>> = BTreeMap::new();
    for t in trades.iter().filter(|t| in_range(t.ts)) {
        groups
            .entry((t.symbol.clone(), bucket(t.ts)))
            .or_default()
            .push(t);
    }
    let mut grid = Vec::new();
    let mut b = bucket(lower);
    while b < upper || (inclusive && b == upper) {
        grid.push(b);
        b += width;
    }
    let symbols: Vec<String> = {
        let mut s: Vec<String> = groups.keys().map(|(s, _)| s.clone()).collect();
        s.dedup();
        s
    };
    let mut out = Vec::new();
    for symbol in symbols {
        // (bucket, count, sum, max, avg) over the grid, rows and gaps.
        let mut rows: Vec<Bucket> = Vec::new();
        for &b in &grid {
            match groups.get(&(symbol.clone(), b)) {
                Some(ts) => {
                    let prices: Vec<f64> = ts.iter().filter_map(|t| t.price).collect();
                    let max = prices.iter().copied().reduce(f64::max);
                    let avg = (!prices.is_empty())
                        .then(|| prices.iter().sum::<f64>() / prices.len() as f64);
                    let sum = ts.iter().map(|t| t.size).sum();
                    rows.push((b, ts.len() as i64, Some(sum), max, avg));
                }
                None => rows.push((b, 0, None, None, None)),
            }
        }
        let mut last = None;
        for (i, &(b, n, sum, max, _)) in rows.iter().enumerate() {
            last = max.or(last);
            let known = |j: usize| rows[j].4.map(|v| (rows[j].0, v));
            let interpolated = match known(i) {
                Some((_, v)) => Some(v),
                None => {
                    let before = (0..i).rev().find_map(known);
                    let after = (i + 1..rows.len()).find_map(known);
                    before.zip(after).map(|((t0, y0), (t1, y1))| {
                        y0 + (y1 - y0) * ((b - t0) as f64 / (t1 - t0) as f64)
                    })
                }
            };
            out.push((symbol.clone(), b, n, sum, last, interpolated));
        }
    }
    out
}

fn batch(trades: &[Trade]) -> Result<RecordBatch> {
    let schema = Schema::new(vec![
        Field::new("symbol", DataType::Utf8, false),
        Field::new("ts", DataType::Timestamp(TimeUnit::Nanosecond, None), false),
        Field::new("price", DataType::Float64, true),
        Field::new("size", DataType::Int64, false),
    ]);
    Ok(RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(StringArray::from_iter_values(
                trades.iter().map(|t| t.symbol.as_str()),
            )),
            Arc::new(TimestampNanosecondArray::from_iter_values(
                trades.iter().map(|t| t.ts),
            )),
            Arc::new(Float64Array::from_iter(trades.iter().map(|t| t.price))),
            Arc::new(Int64Array::from_iter_values(trades.iter().map(|t| t.size))),
        ],
    )?)
}

fn rows_of(batches: &[RecordBatch]) -> Vec<Row> {
    let mut out = Vec::new();
    for b in batches {
        let symbol = b.column(0).as_string::<i32>();
        let bucket = b.column(1).as_primitive::<TimestampNanosecondType>();
        let n = b.column(2).as_primitive::<Int64Type>();
        let sum = b.column(3).as_primitive::<Int64Type>();
        let locf = b.column(4).as_primitive::<Float64Type>();
        let line = b.column(5).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            out.push((
                symbol.value(i).to_string(),
                bucket.value(i),
                n.value(i),
                sum.is_valid(i).then(|| sum.value(i)),
                locf.is_valid(i).then(|| locf.value(i)),
                line.is_valid(i).then(|| line.value(i)),
            ));
        }
    }
    out
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(1.0),
        (None, None) => true,
        _ => false,
    }
}

#[tokio::test]
async fn gap_filling_equals_a_plain_loop_at_every_partitioning() -> Result<()> {
    for seed in 0..24u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let trades = random_trades(&mut rng);
        let width = MINUTE * [1, 2, 5, 7][rng.random_range(0..4)];
        let lower = T0 + rng.random_range(0..5 * MINUTE);
        let upper = lower + rng.random_range(0..50 * MINUTE);
        let inclusive = rng.random_bool(0.5);
        let expected = reference(&trades, width, lower, upper, inclusive);
        let literal = |ns: i64| format!("to_timestamp_nanos({ns})");
        let sql = format!(
            "SELECT symbol, time_bucket_gapfill(INTERVAL '{} minutes', ts) AS b, count(*) AS n, \
             sum(size) AS s, locf(max(price)) AS m, interpolate(avg(price)) AS a \
             FROM trades WHERE ts >= {} AND ts {} {} GROUP BY symbol, b ORDER BY symbol, b",
            width / MINUTE,
            literal(lower),
            if inclusive { "<=" } else { "<" },
            literal(upper)
        );
        for partitions in 1..=8 {
            let batch_size = [1, 3, 7, 8192][(partitions + seed as usize) % 4];
            let ctx = crate::session_context(
                SessionConfig::new()
                    .with_target_partitions(partitions)
                    .with_batch_size(batch_size),
            )?;
            ctx.register_batch("trades", batch(&trades)?)?;
            let got = rows_of(&ctx.sql(&sql).await?.collect().await?);
            let context =
                format!("seed {seed}, {partitions} partitions, batch {batch_size}: {sql}");
            assert_eq!(got.len(), expected.len(), "{context}");
            for (g, e) in got.iter().zip(&expected) {
                assert!(
                    g.0 == e.0
                        && g.1 == e.1
                        && g.2 == e.2
                        && g.3 == e.3
                        && close(g.4, e.4)
                        && close(g.5, e.5),
                    "{context}\n got {g:?}\nwant {e:?}"
                );
            }
        }
    }
    Ok(())
}

/// The output keeps the batch size and the one-series-at-a-time memory: a long series with
/// small batches comes out in batches of at most `batch_size` rows.
#[tokio::test]
async fn output_batches_respect_the_batch_size() -> Result<()> {
    let ctx = crate::session_context(
        SessionConfig::new()
            .with_target_partitions(3)
            .with_batch_size(5),
    )?;
    let batches = ctx
        .sql(
            "SELECT time_bucket_gapfill(INTERVAL '1 minute', ts) AS b, count(*) \
             FROM (VALUES (TIMESTAMP '2024-01-02 10:00:00')) t(ts) \
             WHERE ts >= TIMESTAMP '2024-01-02 09:00:00' AND ts < TIMESTAMP '2024-01-02 11:00:00' \
             GROUP BY 1",
        )
        .await?
        .collect()
        .await?;
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 120);
    assert!(batches.iter().all(|b| b.num_rows() <= 5));
    Ok(())
}
