//! Use tickflow's functions in your own DataFusion application: register them on a plain
//! `SessionContext`, then turn a Parquet file of trades into 1-minute bars with SQL, and the
//! same functions from the DataFrame API.
//!
//! `cargo run -p tickflow-examples --example register_functions`

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{
    Decimal128Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::common::Result;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::prelude::*;
use tickflow_functions::expr_fn::{total_volume, vwap};

/// Three symbols and their first price.
const SYMBOLS: [(&str, f64); 3] = [("AAPL", 185.0), ("MSFT", 375.0), ("SPY", 470.0)];
const TRADES: i64 = 900;
/// 2024-01-02T14:30:00Z, the US open, in microseconds since the epoch.
const OPEN_US: i64 = 1_704_205_800_000_000;

/// A tiny deterministic generator (an LCG): the same trades, and bars, on every run.
struct Lcg(u64);

impl Lcg {
    /// A number in [0, 1).
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005);
        self.0 = self.0.wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Writes a time-ordered tape of 900 trades over 10 minutes, as a Parquet file.
fn write_trades(path: &Path) -> Result<()> {
    let mut rng = Lcg(42);
    // Prices as DECIMAL(10, 4), i.e. in units of 0.0001, so that vwap is exact.
    let mut last = SYMBOLS.map(|(_, price)| (price * 10_000.0) as i128);
    let (mut symbol, mut ts, mut price, mut size) = (vec![], vec![], vec![], vec![]);
    for k in 0..TRADES {
        let s = (rng.next() * 3.0) as usize;
        last[s] += ((rng.next() * 11.0) as i128 - 5) * 100; // a walk of -5..=5 cents
        symbol.push(SYMBOLS[s].0);
        // Whole seconds: trades share timestamps, and `seq` (the tape order) breaks the tie.
        ts.push(OPEN_US + k * 600 / TRADES * 1_000_000);
        price.push(last[s]);
        size.push(100 * (1 + (rng.next() * 5.0) as i64));
    }
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let schema = Arc::new(Schema::new(vec![
        Field::new("symbol", DataType::Utf8, false),
        Field::new("ts", utc, false),
        Field::new("price", DataType::Decimal128(10, 4), false),
        Field::new("size", DataType::Int64, false),
        Field::new("seq", DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from(symbol)),
            Arc::new(TimestampMicrosecondArray::from(ts).with_timezone("UTC")),
            Arc::new(Decimal128Array::from(price).with_precision_and_scale(10, 4)?),
            Arc::new(Int64Array::from(size)),
            Arc::new(Int64Array::from_iter_values(0..TRADES)),
        ],
    )?;
    // `File::create` truncates: a second run overwrites the file.
    let mut writer = ArrowWriter::try_new(std::fs::File::create(path)?, schema, None)?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let path = std::env::temp_dir().join("tickflow-example-trades.parquet");
    write_trades(&path)?;

    // A plain DataFusion context; one call adds every tickflow function to it: the aggregates
    // ohlc, vwap, bar_std and total_volume, the scalar time_bucket and time_buckets, and the
    // time_bucket table function. (Assembling a SessionState yourself? Call
    // `tickflow_functions::register_functions(&mut state)` on it instead.)
    let ctx = SessionContext::new();
    tickflow_functions::register_all(&ctx)?;
    ctx.register_parquet(
        "trades",
        path.to_string_lossy(),
        ParquetReadOptions::default(),
    )
    .await?;

    // 1-minute bars. `ohlc` returns one struct {open, high, low, close}; take its fields with
    // ['...'] (DataFusion computes the aggregate once). With `seq`, open and close are exact even
    // when trades share a timestamp. time_bucket keeps the type of `ts`, here UTC microseconds.
    let bars = ctx
        .sql(
            "SELECT symbol,
                    time_bucket(INTERVAL '1 minute', ts) AS bucket,
                    ohlc(ts, price, seq)['open'] AS open,
                    ohlc(ts, price, seq)['high'] AS high,
                    ohlc(ts, price, seq)['low'] AS low,
                    ohlc(ts, price, seq)['close'] AS close,
                    vwap(price, size) AS vwap,
                    bar_std(price) AS std,
                    total_volume(size) AS volume,
                    count(*) AS trades
             FROM trades
             GROUP BY 1, 2
             ORDER BY 1, 2",
        )
        .await?;
    bars.show().await?;

    // The same functions as expressions, for the DataFrame API (`tickflow_functions::expr_fn`).
    let daily = ctx
        .table("trades")
        .await?
        .aggregate(
            vec![col("symbol")],
            vec![
                vwap(col("price"), col("size")).alias("vwap"),
                total_volume(col("size")).alias("volume"),
            ],
        )?
        .sort(vec![col("symbol").sort(true, false)])?;
    daily.show().await?;
    Ok(())
}
