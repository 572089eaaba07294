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

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Weekday};
use chrono_tz::America::New_York;
use datafusion::arrow::array::{
    ArrayRef, Decimal128Array, Int64Array, StringBuilder, TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{DataFusionError, Result, exec_err};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

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

// ---------------------------------------------------------------------------------------------
// The market: symbols, their activity and prices, and the random generator.

/// Weighted choice tables, each weight out of 1,000.
const EXCHANGES: [(&str, u32); 16] = [
    ("D", 330),
    ("Q", 150),
    ("P", 100),
    ("N", 90),
    ("K", 70),
    ("Z", 70),
    ("V", 40),
    ("Y", 30),
    ("J", 25),
    ("X", 20),
    ("B", 20),
    ("U", 20),
    ("H", 15),
    ("A", 10),
    ("C", 5),
    ("M", 5),
];
/// Round-lot conditions; odd lots use the same index + 3 (the same codes with `I`).
const CONDITIONS: [&str; 6] = ["@", "F", "@T", "@I", "FI", "@TI"];
const CONDITION_WEIGHTS: [u32; 3] = [850, 130, 20];
const ROUND_LOTS: [(i64, u32); 9] = [
    (100, 500),
    (200, 180),
    (300, 100),
    (400, 60),
    (500, 80),
    (1000, 50),
    (2000, 15),
    (5000, 10),
    (10000, 5),
];
/// Share of trades that are odd lots, out of 1,000.
const ODD_LOTS: u32 = 400;
/// Typical daily move of a price (relative).
const DAILY_VOLATILITY: f64 = 0.02;

/// Index into a weight table for `r` in `0..1000`.
fn pick(weights: impl Iterator<Item = u32>, r: u32) -> usize {
    let mut acc = 0;
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        acc += w;
        last = i;
        if r < acc {
            return i;
        }
    }
    last
}

struct Market {
    rng: SmallRng,
    names: Vec<String>,
    /// Cumulative activity weights by rank (unnormalized).
    cdf: Vec<f64>,
    /// The symbol (index into `names`) of each rank.
    rank_symbol: Vec<u32>,
    /// Current price of each symbol in cents.
    price: Vec<i64>,
    /// Per-trade relative volatility of each rank for the current day.
    sigma: Vec<f64>,
    /// Exchange and condition choices for a 10-bit random number (weights are out of 1,000).
    exchange_lut: Vec<u8>,
    condition_lut: Vec<u8>,
    lot_lut: Vec<i64>,
}

impl Market {
    fn new(symbols: u32, seed: u64) -> Market {
        let mut rng = SmallRng::seed_from_u64(seed);
        let names = ticker_names(symbols);
        let mut cdf = Vec::with_capacity(symbols as usize);
        let mut acc = 0.0;
        for k in 1..=symbols {
            acc += 1.0 / f64::from(k);
            cdf.push(acc);
        }
        let mut rank_symbol: Vec<u32> = (0..symbols).collect();
        rank_symbol.shuffle(&mut rng);
        let (lo, hi) = (500f64.ln(), 50_000f64.ln());
        let price = (0..symbols)
            .map(|_| (lo + rng.random::<f64>() * (hi - lo)).exp().round() as i64)
            .collect();
        let lut = |n: usize, f: &dyn Fn(u32) -> usize| (0..n as u32).map(f).collect::<Vec<_>>();
        Market {
            rng,
            names,
            cdf,
            rank_symbol,
            price,
            sigma: vec![0.0; symbols as usize],
            exchange_lut: lut(1024, &|r| {
                pick(EXCHANGES.iter().map(|e| e.1), r * 1000 / 1024)
            })
            .into_iter()
            .map(|i| i as u8)
            .collect(),
            condition_lut: lut(1024, &|r| {
                pick(CONDITION_WEIGHTS.into_iter(), r * 1000 / 1024)
            })
            .into_iter()
            .map(|i| i as u8)
            .collect(),
            lot_lut: lut(1024, &|r| {
                pick(ROUND_LOTS.iter().map(|l| l.1), r * 1000 / 1024)
            })
            .into_iter()
            .map(|i| ROUND_LOTS[i].0)
            .collect(),
        }
    }

    /// Sets each symbol's per-trade volatility so it moves about [`DAILY_VOLATILITY`] over the
    /// `rows` trades of the day.
    fn start_day(&mut self, rows: u64) {
        let total = self.cdf.last().copied().unwrap_or(1.0);
        let mut prev = 0.0;
        for (rank, c) in self.cdf.iter().enumerate() {
            let expected = (c - prev) / total * rows as f64;
            prev = *c;
            self.sigma[rank] = DAILY_VOLATILITY / expected.max(1.0).sqrt();
        }
    }

    /// Generates rows `from..from + count` of `day` into `out` (cleared first).
    fn fill(&mut self, day: &Day, from: u64, count: usize, out: &mut Trades) {
        out.clear();
        let total = self.cdf.last().copied().unwrap_or(1.0);
        let span = day.span_us as u128;
        let n = day.rows as u128;
        for i in from..from + count as u64 {
            // Time: row i falls in its own slot [span*i/n, span*(i+1)/n) of the session, so rows
            // are in time order without sorting.
            let lo = (span * i as u128 / n) as i64;
            let hi = (span * (i as u128 + 1) / n) as i64;
            let jitter = if hi > lo {
                self.rng.random_range(0..hi - lo)
            } else {
                0
            };
            let ts = day.open_utc_us + lo + jitter;

            let u = self.rng.random::<f64>() * total;
            let rank = self
                .cdf
                .partition_point(|c| *c <= u)
                .min(self.cdf.len() - 1);
            let sym = self.rank_symbol[rank];

            // Price: a Gaussian-ish step (sum of four uniforms), rounded to ticks stochastically.
            let p = &mut self.price[sym as usize];
            let z = (self.rng.random::<f64>()
                + self.rng.random::<f64>()
                + self.rng.random::<f64>()
                + self.rng.random::<f64>()
                - 2.0)
                * 3f64.sqrt();
            let step = z * *p as f64 * self.sigma[rank] + self.rng.random::<f64>();
            *p = (*p + step.floor() as i64).max(1);

            let bits: u64 = self.rng.random();
            let odd = ((bits & 0x3ff) as u32) * 1000 / 1024 < ODD_LOTS;
            let size = if odd {
                1 + ((bits >> 10) & 0xffff) as i64 % 99
            } else {
                self.lot_lut[((bits >> 26) & 0x3ff) as usize]
            };
            let exchange = self.exchange_lut[((bits >> 36) & 0x3ff) as usize];
            let condition = self.condition_lut[((bits >> 46) & 0x3ff) as usize] + 3 * u8::from(odd);

            out.symbol.push(sym);
            out.ts_us.push(ts);
            out.price_cents.push(*p);
            out.size.push(size);
            out.exchange.push(exchange);
            out.condition.push(condition);
            out.seq.push(i as i64 + 1);
        }
    }
}

/// Ticker names: `symbols` distinct upper-case names of three letters (four or more when there
/// are more than 26³ symbols), spread evenly over the alphabet, in alphabetical order.
fn ticker_names(symbols: u32) -> Vec<String> {
    let mut len = 3u32;
    while 26u64.pow(len) < u64::from(symbols) {
        len += 1;
    }
    let space = 26u64.pow(len);
    let stride = space / u64::from(symbols);
    (0..u64::from(symbols))
        .map(|i| {
            let mut code = i * stride;
            let mut name = vec![b'A'; len as usize];
            for c in name.iter_mut().rev() {
                *c = b'A' + (code % 26) as u8;
                code /= 26;
            }
            String::from_utf8_lossy(&name).into_owned()
        })
        .collect()
}

/// One trading day: where its session lies in UTC and how many rows it has.
#[derive(Debug)]
struct Day {
    date: NaiveDate,
    /// `YYYY-MM-DD`
    iso: String,
    rows: u64,
    /// 09:30 New York time, in microseconds since the epoch (UTC).
    open_utc_us: i64,
    /// 09:30 to 16:00 in microseconds.
    span_us: i64,
}

/// 09:30 as microseconds since local midnight.
const OPEN_LOCAL_US: i64 = (9 * 3600 + 30 * 60) * 1_000_000;
const CLOSE_LOCAL_US: i64 = 16 * 3600 * 1_000_000;

impl Day {
    fn new(date: NaiveDate, rows: u64) -> Result<Day> {
        let utc_us = |local_us: i64| -> Result<i64> {
            let secs = (local_us / 1_000_000) as u32;
            let local =
                NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).map(|t| date.and_time(t));
            match local.and_then(|l| New_York.from_local_datetime(&l).single()) {
                Some(t) => Ok(t.timestamp_micros()),
                None => exec_err!("gen: {date} {secs}s is not a valid New York time"),
            }
        };
        let open_utc_us = utc_us(OPEN_LOCAL_US)?;
        let close_utc_us = utc_us(CLOSE_LOCAL_US)?;
        Ok(Day {
            date,
            iso: date.format("%Y-%m-%d").to_string(),
            rows,
            open_utc_us,
            span_us: close_utc_us - open_utc_us,
        })
    }

    /// Microseconds since local (New York) midnight of a timestamp of this day. The session never
    /// spans a DST change (those happen at 02:00), so the offset is the open's.
    fn local_us(&self, ts_us: i64) -> i64 {
        OPEN_LOCAL_US + (ts_us - self.open_utc_us)
    }
}

/// One batch of trades, column by column, in plain numbers.
#[derive(Debug, Default)]
struct Trades {
    symbol: Vec<u32>,
    ts_us: Vec<i64>,
    price_cents: Vec<i64>,
    size: Vec<i64>,
    exchange: Vec<u8>,
    condition: Vec<u8>,
    seq: Vec<i64>,
}

impl Trades {
    fn with_capacity(n: usize) -> Trades {
        Trades {
            symbol: Vec::with_capacity(n),
            ts_us: Vec::with_capacity(n),
            price_cents: Vec::with_capacity(n),
            size: Vec::with_capacity(n),
            exchange: Vec::with_capacity(n),
            condition: Vec::with_capacity(n),
            seq: Vec::with_capacity(n),
        }
    }

    fn clear(&mut self) {
        self.symbol.clear();
        self.ts_us.clear();
        self.price_cents.clear();
        self.size.clear();
        self.exchange.clear();
        self.condition.clear();
        self.seq.clear();
    }

    fn len(&self) -> usize {
        self.seq.len()
    }

    fn to_record_batch(&self, names: &[String]) -> Result<RecordBatch> {
        let n = self.len();
        let mut symbol = StringBuilder::with_capacity(n, n * 4);
        for s in &self.symbol {
            symbol.append_value(&names[*s as usize]);
        }
        let mut exchange = StringBuilder::with_capacity(n, n);
        for e in &self.exchange {
            exchange.append_value(EXCHANGES[*e as usize].0);
        }
        let mut conditions = StringBuilder::with_capacity(n, n * 2);
        for c in &self.condition {
            conditions.append_value(CONDITIONS[*c as usize]);
        }
        let ts = TimestampNanosecondArray::from_iter_values(self.ts_us.iter().map(|t| t * 1000))
            .with_timezone("UTC");
        let price = Decimal128Array::from_iter_values(
            self.price_cents.iter().map(|p| i128::from(*p) * 100),
        )
        .with_precision_and_scale(18, 4)?;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(symbol.finish()),
            Arc::new(ts),
            Arc::new(price),
            Arc::new(Int64Array::from(self.size.clone())),
            Arc::new(exchange.finish()),
            Arc::new(conditions.finish()),
            Arc::new(Int64Array::from(self.seq.clone())),
        ];
        Ok(RecordBatch::try_new(trades_schema(), columns)?)
    }
}

// ---------------------------------------------------------------------------------------------
// Writers

trait TapeWriter {
    fn start_day(&mut self, day: &Day) -> Result<()>;
    fn write(&mut self, day: &Day, batch: &Trades, names: &[String]) -> Result<()>;
    fn finish_day(&mut self, day: &Day) -> Result<()>;
    /// Files and bytes written.
    fn finish(self: Box<Self>) -> Result<(u64, u64)>;
}

/// `OUT/date=YYYY-MM-DD/part-0.parquet`, one file per day.
struct ParquetTapeWriter {
    out: PathBuf,
    current: Option<(ArrowWriter<BufWriter<File>>, PathBuf, PathBuf)>,
    files: u64,
    bytes: u64,
}

impl ParquetTapeWriter {
    fn new(out: &Path) -> ParquetTapeWriter {
        ParquetTapeWriter {
            out: out.to_path_buf(),
            current: None,
            files: 0,
            bytes: 0,
        }
    }
}

impl TapeWriter for ParquetTapeWriter {
    fn start_day(&mut self, day: &Day) -> Result<()> {
        let dir = self.out.join(format!("date={}", day.iso));
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        let path = dir.join("part-0.parquet");
        let tmp = temp_path(&path);
        let file = File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            trades_schema(),
            Some(props),
        )?;
        self.current = Some((writer, tmp, path));
        Ok(())
    }

    fn write(&mut self, _day: &Day, batch: &Trades, names: &[String]) -> Result<()> {
        if let Some((writer, _, _)) = &mut self.current {
            writer.write(&batch.to_record_batch(names)?)?;
        }
        Ok(())
    }

    fn finish_day(&mut self, _day: &Day) -> Result<()> {
        if let Some((writer, tmp, path)) = self.current.take() {
            let mut inner = writer.into_inner()?;
            inner.flush().map_err(|e| io_error(&tmp, e))?;
            drop(inner);
            self.bytes += publish(&tmp, &path)?;
            self.files += 1;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(u64, u64)> {
        Ok((self.files, self.bytes))
    }
}

/// Appends `v` in decimal.
fn push_int(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    let mut v = v.unsigned_abs();
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

/// Appends `v` (non-negative) zero-padded to `width` digits.
fn push_padded(buf: &mut Vec<u8>, v: i64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut v = v.unsigned_abs();
    for d in digits[..width].iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    buf.extend_from_slice(&digits[..width]);
}

/// Appends a price in cents with two decimals.
fn push_price(buf: &mut Vec<u8>, cents: i64) {
    push_int(buf, cents / 100);
    buf.push(b'.');
    push_padded(buf, cents % 100, 2);
}

/// Appends a local time of day, `HH:MM:SS` and, with `micros`, `.ffffff`.
fn push_time(buf: &mut Vec<u8>, local_us: i64, micros: bool) {
    let secs = local_us / 1_000_000;
    push_padded(buf, secs / 3600, 2);
    buf.push(b':');
    push_padded(buf, secs / 60 % 60, 2);
    buf.push(b':');
    push_padded(buf, secs % 60, 2);
    if micros {
        buf.push(b'.');
        push_padded(buf, local_us % 1_000_000, 6);
    }
}

/// `OUT/trades_YYYYMMDD.csv`, one file per day.
struct CsvTapeWriter {
    out: PathBuf,
    current: Option<(BufWriter<File>, PathBuf, PathBuf)>,
    line: Vec<u8>,
    files: u64,
    bytes: u64,
}

/// The header of the TAQ-style CSV.
pub const CSV_HEADER: &str = "date,time,symbol,price,size,exchange,conditions,seq";

impl CsvTapeWriter {
    fn new(out: &Path) -> CsvTapeWriter {
        CsvTapeWriter {
            out: out.to_path_buf(),
            current: None,
            line: Vec::with_capacity(BATCH_ROWS * 64),
            files: 0,
            bytes: 0,
        }
    }
}

impl TapeWriter for CsvTapeWriter {
    fn start_day(&mut self, day: &Day) -> Result<()> {
        let path = self
            .out
            .join(format!("trades_{}.csv", day.date.format("%Y%m%d")));
        let tmp = temp_path(&path);
        let file = File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        writeln!(w, "{CSV_HEADER}").map_err(|e| io_error(&tmp, e))?;
        self.current = Some((w, tmp, path));
        Ok(())
    }

    fn write(&mut self, day: &Day, batch: &Trades, names: &[String]) -> Result<()> {
        let Some((w, tmp, _)) = &mut self.current else {
            return Ok(());
        };
        let buf = &mut self.line;
        buf.clear();
        for i in 0..batch.len() {
            buf.extend_from_slice(day.iso.as_bytes());
            buf.push(b',');
            push_time(buf, day.local_us(batch.ts_us[i]), true);
            buf.push(b',');
            buf.extend_from_slice(names[batch.symbol[i] as usize].as_bytes());
            buf.push(b',');
            push_price(buf, batch.price_cents[i]);
            buf.push(b',');
            push_int(buf, batch.size[i]);
            buf.push(b',');
            buf.extend_from_slice(EXCHANGES[batch.exchange[i] as usize].0.as_bytes());
            buf.push(b',');
            buf.extend_from_slice(CONDITIONS[batch.condition[i] as usize].as_bytes());
            buf.push(b',');
            push_int(buf, batch.seq[i]);
            buf.push(b'\n');
        }
        w.write_all(buf).map_err(|e| io_error(tmp, e))
    }

    fn finish_day(&mut self, _day: &Day) -> Result<()> {
        if let Some((w, tmp, path)) = self.current.take() {
            let file = w.into_inner().map_err(|e| io_error(&tmp, e.error()))?;
            drop(file);
            self.bytes += publish(&tmp, &path)?;
            self.files += 1;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(u64, u64)> {
        Ok((self.files, self.bytes))
    }
}

/// The bar of one symbol being built.
#[derive(Debug, Clone, Copy)]
struct Bar {
    /// Minute of the local day, or -1 when there is none.
    minute: i64,
    open: i64,
    high: i64,
    low: i64,
    close: i64,
    volume: i64,
}

const NO_BAR: Bar = Bar {
    minute: -1,
    open: 0,
    high: 0,
    low: 0,
    close: 0,
    volume: 0,
};

/// Bytes of formatted bars buffered before they are appended to the symbols' temporary files.
const BAR_BUFFER_BYTES: usize = 64 << 20;

/// `OUT/SYMBOL_full_1min.txt`: one-minute bars per symbol over all days. Bars are formatted into
/// per-symbol buffers and appended to each symbol's temporary file at the end of every day (or
/// sooner when the buffers grow large); all files are renamed into place at the end.
struct BarWriter {
    paths: Vec<PathBuf>,
    bars: Vec<Bar>,
    text: Vec<Vec<u8>>,
    buffered: usize,
    /// Whether the symbol's temporary file has been created (later writes append).
    created: Vec<bool>,
}

impl BarWriter {
    fn new(out: &Path, names: &[String]) -> BarWriter {
        BarWriter {
            paths: names
                .iter()
                .map(|n| out.join(format!("{n}_full_1min.txt")))
                .collect(),
            bars: vec![NO_BAR; names.len()],
            text: vec![Vec::new(); names.len()],
            buffered: 0,
            created: vec![false; names.len()],
        }
    }

    fn close_bar(&mut self, day: &Day, sym: usize) {
        let bar = self.bars[sym];
        if bar.minute < 0 {
            return;
        }
        let buf = &mut self.text[sym];
        let before = buf.len();
        buf.extend_from_slice(day.iso.as_bytes());
        buf.push(b' ');
        push_time(buf, bar.minute * 60_000_000, false);
        for p in [bar.open, bar.high, bar.low, bar.close] {
            buf.push(b',');
            push_price(buf, p);
        }
        buf.push(b',');
        push_int(buf, bar.volume);
        buf.push(b'\n');
        self.buffered += buf.len() - before;
        self.bars[sym] = NO_BAR;
    }

    fn spill(&mut self) -> Result<()> {
        for (sym, text) in self.text.iter_mut().enumerate() {
            if text.is_empty() {
                continue;
            }
            let tmp = temp_path(&self.paths[sym]);
            let mut file = if self.created[sym] {
                OpenOptions::new().append(true).open(&tmp)
            } else {
                File::create(&tmp)
            }
            .map_err(|e| io_error(&tmp, e))?;
            self.created[sym] = true;
            file.write_all(text).map_err(|e| io_error(&tmp, e))?;
            text.clear();
        }
        self.buffered = 0;
        Ok(())
    }
}

impl TapeWriter for BarWriter {
    fn start_day(&mut self, _day: &Day) -> Result<()> {
        Ok(())
    }

    fn write(&mut self, day: &Day, batch: &Trades, _names: &[String]) -> Result<()> {
        for i in 0..batch.len() {
            let sym = batch.symbol[i] as usize;
            let minute = day.local_us(batch.ts_us[i]) / 60_000_000;
            let price = batch.price_cents[i];
            if self.bars[sym].minute != minute {
                self.close_bar(day, sym);
                self.bars[sym] = Bar {
                    minute,
                    open: price,
                    high: price,
                    low: price,
                    close: price,
                    volume: 0,
                };
            }
            let bar = &mut self.bars[sym];
            bar.high = bar.high.max(price);
            bar.low = bar.low.min(price);
            bar.close = price;
            bar.volume += batch.size[i];
        }
        if self.buffered > BAR_BUFFER_BYTES {
            self.spill()?;
        }
        Ok(())
    }

    fn finish_day(&mut self, day: &Day) -> Result<()> {
        for sym in 0..self.bars.len() {
            self.close_bar(day, sym);
        }
        self.spill()
    }

    fn finish(self: Box<Self>) -> Result<(u64, u64)> {
        let (mut files, mut bytes) = (0, 0);
        for (sym, path) in self.paths.iter().enumerate() {
            if self.created[sym] {
                bytes += publish(&temp_path(path), path)?;
                files += 1;
            }
        }
        Ok((files, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{Decimal128Type, Int64Type, TimestampNanosecondType};
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::collections::HashMap;

    fn options(dir: &Path, format: GenFormat) -> GenOptions {
        GenOptions {
            rows: 20_000,
            days: 3,
            symbols: 50,
            // Friday 2024-03-08 (EST), then Monday 2024-03-11 (EDT, after the change on the
            // 10th) and Tuesday.
            start_date: NaiveDate::from_ymd_opt(2024, 3, 8).expect("date"),
            seed: 7,
            format,
            out: dir.to_path_buf(),
        }
    }

    /// Every file under `dir` (recursively) with its bytes, by relative path.
    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in fs::read_dir(&d).expect("read_dir") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(dir).expect("prefix");
                    out.push((
                        rel.to_string_lossy().into_owned(),
                        fs::read(&path).expect("read"),
                    ));
                }
            }
        }
        out.sort();
        out
    }

    /// All rows of the Parquet output, per day in file order.
    fn read_parquet(dir: &Path) -> Vec<(String, RecordBatch)> {
        let mut out = Vec::new();
        for (name, _) in files(dir) {
            let file = File::open(dir.join(&name)).expect("open");
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .expect("parquet")
                .build()
                .expect("reader");
            for batch in reader {
                out.push((name.clone(), batch.expect("batch")));
            }
        }
        out
    }

    #[test]
    fn same_seed_same_files_other_seed_other_files() -> Result<()> {
        for format in [GenFormat::Parquet, GenFormat::Csv, GenFormat::MinuteBars] {
            let (a, b, c) = (tempdir(), tempdir(), tempdir());
            let sa = generate(&options(a.path(), format), &|_| {})?;
            let sb = generate(&options(b.path(), format), &|_| {})?;
            let mut other = options(c.path(), format);
            other.seed = 8;
            generate(&other, &|_| {})?;
            assert_eq!(sa, sb);
            assert_eq!(files(a.path()), files(b.path()), "{format:?}");
            assert_ne!(files(a.path()), files(c.path()), "{format:?}");
            assert_eq!(sa.files, files(a.path()).len() as u64);
            let bytes: usize = files(a.path()).iter().map(|f| f.1.len()).sum();
            assert_eq!(sa.bytes, bytes as u64);
        }
        Ok(())
    }

    fn tempdir() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    #[test]
    fn parquet_rows_prices_times_seq() -> Result<()> {
        let dir = tempdir();
        let done = std::cell::Cell::new(0);
        let summary = generate(&options(dir.path(), GenFormat::Parquet), &|n| {
            assert!(n > done.get());
            done.set(n);
        })?;
        assert_eq!(summary.rows, 20_000);
        assert_eq!(done.get(), 20_000);
        assert_eq!(summary.files, 3);
        let names: Vec<_> = files(dir.path()).into_iter().map(|f| f.0).collect();
        assert_eq!(
            names,
            [
                "date=2024-03-08/part-0.parquet",
                "date=2024-03-11/part-0.parquet",
                "date=2024-03-12/part-0.parquet"
            ]
        );

        let mut rows = 0;
        let mut per_day: HashMap<String, usize> = HashMap::new();
        let mut last: HashMap<String, (i64, i64)> = HashMap::new();
        for (file, batch) in read_parquet(dir.path()) {
            assert_eq!(batch.schema(), trades_schema());
            let date = NaiveDate::parse_from_str(&file[5..15], "%Y-%m-%d").expect("date");
            let ts = batch.column(1).as_primitive::<TimestampNanosecondType>();
            let price = batch.column(2).as_primitive::<Decimal128Type>();
            let size = batch.column(3).as_primitive::<Int64Type>();
            let seq = batch.column(6).as_primitive::<Int64Type>();
            for i in 0..batch.num_rows() {
                let p = price.value(i);
                assert!(p > 0 && p % 100 == 0, "price {p} off the $0.01 grid");
                assert!(size.value(i) > 0);
                let t = chrono::DateTime::from_timestamp_nanos(ts.value(i));
                let local = t.with_timezone(&New_York);
                assert_eq!(local.date_naive(), date);
                let open = NaiveTime::from_hms_opt(9, 30, 0).expect("time");
                let close = NaiveTime::from_hms_opt(16, 0, 0).expect("time");
                assert!(local.time() >= open && local.time() < close, "{local}");
                assert_eq!(ts.value(i) % 1000, 0, "microsecond resolution");
                // seq increases with time within a day, from 1
                let prev = last.entry(file.clone()).or_insert((i64::MIN, 0));
                assert!(ts.value(i) >= prev.0);
                assert_eq!(seq.value(i), prev.1 + 1);
                *prev = (ts.value(i), seq.value(i));
            }
            *per_day.entry(file).or_default() += batch.num_rows();
            rows += batch.num_rows();
        }
        assert_eq!(rows, 20_000);
        // 20,000 over 3 days: 6,667 + 6,667 + 6,666
        let mut counts: Vec<_> = per_day.into_values().collect();
        counts.sort();
        assert_eq!(counts, [6666, 6667, 6667]);
        Ok(())
    }

    #[test]
    fn dst_moves_the_session_in_utc() -> Result<()> {
        let est = Day::new(NaiveDate::from_ymd_opt(2024, 3, 8).expect("d"), 1)?;
        let edt = Day::new(NaiveDate::from_ymd_opt(2024, 3, 11).expect("d"), 1)?;
        let utc_hour = |us: i64| {
            chrono::DateTime::from_timestamp_micros(us)
                .expect("ts")
                .hour()
        };
        assert_eq!(utc_hour(est.open_utc_us), 14);
        assert_eq!(utc_hour(edt.open_utc_us), 13);
        assert_eq!(est.span_us, CLOSE_LOCAL_US - OPEN_LOCAL_US);
        assert_eq!(edt.span_us, CLOSE_LOCAL_US - OPEN_LOCAL_US);
        Ok(())
    }

    #[test]
    fn activity_is_skewed() -> Result<()> {
        let dir = tempdir();
        let mut opts = options(dir.path(), GenFormat::Parquet);
        opts.rows = 100_000;
        opts.symbols = 200;
        generate(&opts, &|_| {})?;
        let mut counts: HashMap<String, usize> = HashMap::new();
        for (_, batch) in read_parquet(dir.path()) {
            let sym = batch.column(0).as_string::<i32>();
            for i in 0..sym.len() {
                *counts.entry(sym.value(i).to_string()).or_default() += 1;
            }
        }
        let mut c: Vec<usize> = counts.into_values().collect();
        c.sort_unstable_by(|a, b| b.cmp(a));
        let median = c[c.len() / 2];
        // Zipf 1/k over 200 symbols: the top one has ~100x the median's share.
        assert!(c[0] > 30 * median, "top {} median {median}", c[0]);
        assert!(c.len() > 150, "most symbols trade: {}", c.len());
        Ok(())
    }

    #[test]
    fn csv_shape() -> Result<()> {
        let dir = tempdir();
        let summary = generate(&options(dir.path(), GenFormat::Csv), &|_| {})?;
        assert_eq!(summary.files, 3);
        let all = files(dir.path());
        assert_eq!(all[1].0, "trades_20240311.csv");
        let mut rows = 0;
        for (name, bytes) in &all {
            let text = String::from_utf8(bytes.clone()).expect("utf8");
            let mut lines = text.lines();
            assert_eq!(lines.next(), Some(CSV_HEADER));
            let mut prev_time = String::new();
            for (i, line) in lines.enumerate() {
                let f: Vec<&str> = line.split(',').collect();
                assert_eq!(f.len(), 8, "{line}");
                assert_eq!(f[0].replace('-', ""), name[7..15]);
                assert_eq!(f[1].len(), 15, "{line}");
                assert!(f[1] >= "09:30:00.000000" && f[1] < "16:00:00.000000");
                assert!(f[1] >= prev_time.as_str());
                prev_time = f[1].to_string();
                let (dollars, cents) = f[3].split_once('.').expect("price");
                assert_eq!(cents.len(), 2);
                assert!(
                    dollars.parse::<u64>().expect("dollars") * 100
                        + cents.parse::<u64>().expect("cents")
                        > 0
                );
                assert!(f[4].parse::<u64>().expect("size") > 0);
                assert_eq!(f[5].len(), 1);
                assert!(f[6].starts_with('@') || f[6].starts_with('F'));
                assert_eq!(f[7].parse::<usize>().expect("seq"), i + 1);
                rows += 1;
            }
        }
        assert_eq!(rows, 20_000);
        Ok(())
    }

    /// The CSV and Parquet outputs of the same seed hold the same trades.
    #[test]
    fn csv_matches_parquet() -> Result<()> {
        let (p, c) = (tempdir(), tempdir());
        generate(&options(p.path(), GenFormat::Parquet), &|_| {})?;
        generate(&options(c.path(), GenFormat::Csv), &|_| {})?;
        let mut from_parquet = Vec::new();
        for (_, batch) in read_parquet(p.path()) {
            let sym = batch.column(0).as_string::<i32>();
            let ts = batch.column(1).as_primitive::<TimestampNanosecondType>();
            let price = batch.column(2).as_primitive::<Decimal128Type>();
            for i in 0..batch.num_rows() {
                let local = chrono::DateTime::from_timestamp_nanos(ts.value(i))
                    .with_timezone(&New_York)
                    .naive_local();
                from_parquet.push(format!(
                    "{},{},{}.{:02}",
                    local.format("%Y-%m-%d,%H:%M:%S%.6f"),
                    sym.value(i),
                    price.value(i) / 10000,
                    price.value(i) / 100 % 100
                ));
            }
        }
        let mut from_csv = Vec::new();
        for (_, bytes) in files(c.path()) {
            for line in String::from_utf8(bytes).expect("utf8").lines().skip(1) {
                from_csv.push(line.splitn(5, ',').take(4).collect::<Vec<_>>().join(","));
            }
        }
        assert_eq!(from_parquet, from_csv);
        Ok(())
    }

    /// Minute bars equal a plain recomputation from the CSV trades.
    #[test]
    fn minute_bars_match_trades() -> Result<()> {
        let (b, c) = (tempdir(), tempdir());
        let summary = generate(&options(b.path(), GenFormat::MinuteBars), &|_| {})?;
        generate(&options(c.path(), GenFormat::Csv), &|_| {})?;
        // (symbol, "date HH:MM") -> (open, high, low, close, volume) in cents
        let mut expected: std::collections::BTreeMap<(String, String), [i64; 5]> =
            Default::default();
        for (_, bytes) in files(c.path()) {
            for line in String::from_utf8(bytes).expect("utf8").lines().skip(1) {
                let f: Vec<&str> = line.split(',').collect();
                let price = (f[3].parse::<f64>().expect("price") * 100.0).round() as i64;
                let size: i64 = f[4].parse().expect("size");
                let key = (f[2].to_string(), format!("{} {}:00", f[0], &f[1][..5]));
                let bar = expected
                    .entry(key)
                    .or_insert([price, price, price, price, 0]);
                bar[1] = bar[1].max(price);
                bar[2] = bar[2].min(price);
                bar[3] = price;
                bar[4] += size;
            }
        }
        let mut actual = std::collections::BTreeMap::new();
        let all = files(b.path());
        assert_eq!(summary.files, all.len() as u64);
        for (name, bytes) in all {
            let symbol = name
                .strip_suffix("_full_1min.txt")
                .expect("name")
                .to_string();
            let mut prev = String::new();
            for line in String::from_utf8(bytes).expect("utf8").lines() {
                let f: Vec<&str> = line.split(',').collect();
                assert_eq!(f.len(), 6);
                assert!(f[0] > prev.as_str(), "bars in time order");
                prev = f[0].to_string();
                let cents = |s: &str| (s.parse::<f64>().expect("price") * 100.0).round() as i64;
                let bar = [
                    cents(f[1]),
                    cents(f[2]),
                    cents(f[3]),
                    cents(f[4]),
                    f[5].parse().expect("volume"),
                ];
                actual.insert((symbol.clone(), f[0].to_string()), bar);
            }
        }
        assert_eq!(actual, expected);
        Ok(())
    }

    #[test]
    fn names_and_days() {
        assert_eq!(ticker_names(1), ["AAA"]);
        let names = ticker_names(17_577);
        assert_eq!(names[0].len(), 4);
        let mut sorted = names.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), 17_577);
        // Saturday start -> Monday
        let days = business_days(NaiveDate::from_ymd_opt(2024, 3, 9).expect("d"), 6);
        assert_eq!(days[0].weekday(), Weekday::Mon);
        assert_eq!(days[5], NaiveDate::from_ymd_opt(2024, 3, 18).expect("d"));
    }

    #[test]
    fn fewer_rows_than_days_and_bad_options() -> Result<()> {
        let dir = tempdir();
        let mut opts = options(dir.path(), GenFormat::Parquet);
        opts.rows = 2;
        let s = generate(&opts, &|_| {})?;
        assert_eq!((s.rows, s.files), (2, 2));
        opts.days = 0;
        assert!(generate(&opts, &|_| {}).is_err());
        opts.days = 1;
        opts.symbols = 0;
        assert!(generate(&opts, &|_| {}).is_err());
        Ok(())
    }

    #[test]
    fn formatting() {
        let mut b = Vec::new();
        push_price(&mut b, 5);
        b.push(b' ');
        push_price(&mut b, 123_407);
        b.push(b' ');
        push_time(&mut b, OPEN_LOCAL_US + 1_000_007, true);
        b.push(b' ');
        push_int(&mut b, -42);
        assert_eq!(
            String::from_utf8(b).expect("utf8"),
            "0.05 1234.07 09:30:01.000007 -42"
        );
    }
}
