//! tickflow's analytics window functions against pandas: `tests/reference/analytics_cases.csv`,
//! written by `tests/reference/gen_analytics_cases.py` (seeded random walks; `ewm` for `ema`,
//! Wilder's RSI written out from its definition). Every value must agree within 1e-9 relative,
//! NULL where pandas has NaN, under several `target_partitions` and batch sizes.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use datafusion::common::Result;
use datafusion::prelude::{CsvReadOptions, SessionConfig};

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/reference/analytics_cases.csv");

/// (our column, pandas' column, rows pandas leaves NaN per symbol) triples the query returns
/// side by side.
const PAIRS: [(&str, &str, usize); 11] = [
    ("ema(close, 10) OVER w", "ema10", 0),
    ("ema(close, 0.1) OVER w", "ema_a01", 0),
    ("rsi(close, 14) OVER w", "rsi14", 14),
    ("macd(close) OVER w ['line']", "macd_line", 0),
    ("macd(close, 12, 26, 9) OVER w ['signal']", "macd_signal", 0),
    ("macd(close) OVER w ['histogram']", "macd_hist", 0),
    ("bollinger(close, 20, 2) OVER w ['mid']", "bb_mid", 19),
    ("bollinger(close, 20, 2) OVER w ['upper']", "bb_upper", 19),
    ("bollinger(close, 20, 2) OVER w ['lower']", "bb_lower", 19),
    ("atr(high, low, close, 14) OVER w", "atr14", 14),
    ("realized_volatility(r, 20) OVER w", "rv20", 20),
];

fn close(ours: Option<f64>, theirs: Option<f64>) -> bool {
    match (ours, theirs) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * b.abs().max(1.0),
        (a, b) => a == b,
    }
}

#[tokio::test]
async fn analytics_equal_pandas() -> Result<()> {
    let schema = Schema::new(vec![
        Field::new("symbol", DataType::Utf8, false),
        Field::new("t", DataType::Int64, false),
        Field::new("close", DataType::Float64, false),
        Field::new("high", DataType::Float64, false),
        Field::new("low", DataType::Float64, false),
        Field::new("ema10", DataType::Float64, true),
        Field::new("ema_a01", DataType::Float64, true),
        Field::new("rsi14", DataType::Float64, true),
        Field::new("macd_line", DataType::Float64, true),
        Field::new("macd_signal", DataType::Float64, true),
        Field::new("macd_hist", DataType::Float64, true),
        Field::new("bb_mid", DataType::Float64, true),
        Field::new("bb_upper", DataType::Float64, true),
        Field::new("bb_lower", DataType::Float64, true),
        Field::new("atr14", DataType::Float64, true),
        Field::new("rv20", DataType::Float64, true),
    ]);
    let select: Vec<String> = PAIRS
        .iter()
        .flat_map(|(ours, theirs, _)| [ours.to_string(), theirs.to_string()])
        .collect();
    let sql = format!(
        "SELECT {} FROM (SELECT *, ln(close / lag(close) OVER w) AS r FROM cases \
         WINDOW w AS (PARTITION BY symbol ORDER BY t)) \
         WINDOW w AS (PARTITION BY symbol ORDER BY t) ORDER BY symbol, t",
        select.join(", ")
    );
    for (partitions, batch_size) in [(1, 8192), (4, 7), (3, 64)] {
        let config = SessionConfig::new()
            .with_target_partitions(partitions)
            .with_batch_size(batch_size);
        let ctx = tickflow_plan::session_context(config)?;
        ctx.register_csv("cases", CASES, CsvReadOptions::new().schema(&schema))
            .await?;
        let batches = ctx.sql(&sql).await?.collect().await?;
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        assert_eq!(
            rows, 900,
            "{partitions} partitions, batch size {batch_size}"
        );
        let (mut compared, mut valued) = (0, 0);
        for batch in &batches {
            for (i, (ours, theirs, _)) in PAIRS.iter().enumerate() {
                let a = batch.column(2 * i).as_primitive::<Float64Type>();
                let b = batch.column(2 * i + 1).as_primitive::<Float64Type>();
                for row in 0..batch.num_rows() {
                    let (x, y) = (
                        a.is_valid(row).then(|| a.value(row)),
                        b.is_valid(row).then(|| b.value(row)),
                    );
                    assert!(close(x, y), "{ours} = {x:?}, pandas {theirs} = {y:?}");
                    compared += 1;
                    valued += usize::from(y.is_some());
                }
            }
        }
        assert_eq!(compared, PAIRS.len() * 900);
        // Each column's warm-up rows are NULL for each of the 3 symbols, and only those.
        let warm_up: usize = PAIRS.iter().map(|p| 3 * p.2).sum();
        assert_eq!(valued, PAIRS.len() * 900 - warm_up);
    }
    Ok(())
}
