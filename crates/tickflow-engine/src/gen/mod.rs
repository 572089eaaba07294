//! Synthetic trades (`tickflow gen`): a deterministic, seeded tape shaped like a TAQ daily trade
//! file, written as hive-partitioned Parquet, as TAQ-style daily CSV, or as per-symbol minute-bar
//! text files.
//!
//! What the data looks like:
//!
//! - `rows` trades over `days` business days (Monday to Friday from `start_date`; a weekend start
//!   moves to the next Monday; exchange holidays are not skipped). The rows are spread evenly over
//!   the days (the first days take the remainder); a day with no rows writes no file.
//! - `symbols` tickers named `AAA`, `AAB`, ... (spread over the alphabet; four letters beyond
//!   17,576 symbols) with Zipf-like activity: the symbol of rank `k` trades with weight `1/k`, so
//!   a few symbols make most of the tape. Which ticker gets which rank is shuffled by the seed.
//! - Prices are a random walk on the $0.01 tick grid, per symbol, continuing from one day to the
//!   next. Starting prices are log-uniform in $5–$500; each symbol moves about 2% a day whatever
//!   its activity (the per-trade step is scaled by its expected trade count, and rounded to ticks
//!   stochastically so quiet moves are not lost). A price never drops below one tick.
//! - Sizes: 40% odd lots (1–99 shares), the rest round lots (100, 200, 300, 400, 500, 1,000 up to
//!   10,000, smaller ones far more often).
//! - Exchange codes are TAQ's single letters (`D` the FINRA trade reporting facility most often,
//!   then `Q`, `P`, `N`, `K`, `Z`, ...). Sale conditions: `@` regular (most trades), `F`
//!   intermarket sweep, `@T` (rare); odd lots add `I` (`@I`, `FI`, `@TI`).
//! - Timestamps fall in the regular session, 09:30 (inclusive) to 16:00 (exclusive)
//!   America/New_York, converted with the time zone database (so DST is right), at microsecond
//!   resolution, stored as UTC. Rows of a day are one tape in time order across all symbols, and
//!   `seq` numbers them 1, 2, 3, ... per day (per daily file) in that order.
//!
//! The same options (and tickflow version) always produce byte-identical files. Data is
//! generated in batches of [`BATCH_ROWS`] and streamed to the writer, so memory does not grow with
//! `rows`. Every file is written under a temporary name in its final directory and renamed when
//! complete, so a reader never sees a partial file.
//!
//! Output shapes ([`GenFormat`]):
//!
//! - `Parquet`: `OUT/date=YYYY-MM-DD/part-0.parquet` with columns symbol, ts
//!   (`Timestamp(ns, "UTC")`), price (`Decimal128(18, 4)`), size, exchange, conditions, seq; the
//!   `date` is in the path only (a hive partition column). Rows are in time order (a tape), not
//!   sorted by symbol: `tickflow ingest` is what sorts.
//! - `Csv`: `OUT/trades_YYYYMMDD.csv` with the header `date,time,symbol,price,size,exchange,
//!   conditions,seq`, `time` New York local `HH:MM:SS.ffffff`, price with two decimals.
//! - `MinuteBars`: `OUT/SYMBOL_full_1min.txt`, no header, lines
//!   `YYYY-MM-DD HH:MM:SS,open,high,low,close,volume`: one-minute bars of the generated trades in
//!   New York local time (minutes without trades are absent).

mod format;
mod market;
#[cfg(test)]
mod tests;
mod writers;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::common::{DataFusionError, Result, exec_err};

use market::{Day, Market, Trades};
use writers::TapeWriter;
use writers::csv::CsvTapeWriter;
use writers::minute_bars::BarWriter;
use writers::parquet::ParquetTapeWriter;

pub use writers::csv::CSV_HEADER;

/// Rows generated and handed to the writer at a time.
pub const BATCH_ROWS: usize = 64 * 1024;
/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 1024 * 1024;
/// Most symbols [`generate`] accepts.
pub const MAX_SYMBOLS: u32 = 1_000_000;

/// The output shape of [`generate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenFormat {
    /// Hive-partitioned Parquet: `OUT/date=YYYY-MM-DD/part-0.parquet`.
    Parquet,
    /// TAQ-style daily trade CSV: `OUT/trades_YYYYMMDD.csv`.
    Csv,
    /// Per-symbol one-minute bars: `OUT/SYMBOL_full_1min.txt`.
    MinuteBars,
}

/// What to generate and where; see the module docs.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Trades in total (exactly this many are written).
    pub rows: u64,
    /// Business days (Monday to Friday).
    pub days: u32,
    /// Distinct symbols (at most [`MAX_SYMBOLS`]).
    pub symbols: u32,
    /// The first day (a Saturday or Sunday moves to the next Monday).
    pub start_date: NaiveDate,
    /// Seed of the random generator: same options, same files.
    pub seed: u64,
    /// Output shape.
    pub format: GenFormat,
    /// Output directory (created if missing).
    pub out: PathBuf,
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenSummary {
    /// Trades generated.
    pub rows: u64,
    /// Files written.
    pub files: u64,
    /// Bytes written (sum of the files' sizes).
    pub bytes: u64,
}

/// The schema of the Parquet files (the `date` partition column is in the path, not the file).
pub fn trades_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("symbol", DataType::Utf8, false),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        ),
        Field::new("price", DataType::Decimal128(18, 4), false),
        Field::new("size", DataType::Int64, false),
        Field::new("exchange", DataType::Utf8, false),
        Field::new("conditions", DataType::Utf8, false),
        Field::new("seq", DataType::Int64, false),
    ]))
}

/// `days` business days (Monday to Friday) from `start` (a weekend start moves to Monday).
pub fn business_days(start: NaiveDate, days: u32) -> Vec<NaiveDate> {
    let mut out = Vec::with_capacity(days as usize);
    let mut d = start;
    while out.len() < days as usize {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            out.push(d);
        }
        d += Duration::days(1);
    }
    out
}

/// Generates the data set described by `opts` (see the module docs), calling `progress` with the
/// number of rows done after every batch.
pub fn generate(opts: &GenOptions, progress: &dyn Fn(u64)) -> Result<GenSummary> {
    if opts.days == 0 {
        return exec_err!("gen: days must be at least 1");
    }
    if opts.symbols == 0 || opts.symbols > MAX_SYMBOLS {
        return exec_err!(
            "gen: symbols must be between 1 and {MAX_SYMBOLS}, got {}",
            opts.symbols
        );
    }
    fs::create_dir_all(&opts.out).map_err(|e| io_error(&opts.out, e))?;
    let mut market = Market::new(opts.symbols, opts.seed);
    let mut writer: Box<dyn TapeWriter> = match opts.format {
        GenFormat::Parquet => Box::new(ParquetTapeWriter::new(&opts.out)),
        GenFormat::Csv => Box::new(CsvTapeWriter::new(&opts.out)),
        GenFormat::MinuteBars => Box::new(BarWriter::new(&opts.out, &market.names)),
    };
    let days = business_days(opts.start_date, opts.days);
    let per_day = opts.rows / u64::from(opts.days);
    let extra = opts.rows % u64::from(opts.days);
    let mut batch = Trades::with_capacity(BATCH_ROWS);
    let mut done = 0u64;
    for (i, date) in days.iter().enumerate() {
        let n = per_day + u64::from((i as u64) < extra);
        if n == 0 {
            continue;
        }
        let day = Day::new(*date, n)?;
        market.start_day(n);
        writer.start_day(&day)?;
        let mut from = 0u64;
        while from < n {
            let count = (n - from).min(BATCH_ROWS as u64) as usize;
            market.fill(&day, from, count, &mut batch);
            writer.write(&day, &batch, &market.names)?;
            from += count as u64;
            done += count as u64;
            progress(done);
        }
        writer.finish_day(&day)?;
    }
    let (files, bytes) = writer.finish()?;
    Ok(GenSummary {
        rows: done,
        files,
        bytes,
    })
}

fn io_error(path: &Path, e: impl fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("gen: {}: {e}", path.display()))
}

/// The temporary name a file is written under before it is renamed to `path`: hidden, and not
/// ending in the final extension, so listings and queries never pick it up.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Renames a finished temporary file into place and returns its size.
fn publish(tmp: &Path, path: &Path) -> Result<u64> {
    fs::rename(tmp, path).map_err(|e| io_error(path, e))?;
    Ok(fs::metadata(path).map_err(|e| io_error(path, e))?.len())
}
