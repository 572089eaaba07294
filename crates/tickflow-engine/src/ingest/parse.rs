//! CSV → Arrow for one source file: the two input shapes, field-level validation with
//! `file:line:column: reason` messages, and the `seq` column that keeps source order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};
use chrono_tz::Tz;
use datafusion::arrow::array::{
    ArrayRef, Decimal128Builder, Int64Builder, StringBuilder, TimestampNanosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use regex::Regex;

use crate::error::{Context, Error, Result};

/// `seq` = `file_index << SEQ_FILE_SHIFT | line`: source order within a file, then file order
/// (the sorted order of the sources of one run). 2^40 lines per file, 2^23 files per run.
pub const SEQ_FILE_SHIFT: u32 = 40;

/// Scale of the Decimal128(18, 4) price columns.
pub const PRICE_SCALE: i8 = 4;
const PRICE_PRECISION: u8 = 18;

/// Which of the two input shapes a file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// TAQ-style trades: `date,time,symbol,price,size,exchange,conditions[,seq]`.
    Trades,
    /// Per-symbol minute bars, `YYYY-MM-DD HH:MM:SS,open,high,low,close,volume`, symbol from the
    /// file name.
    MinuteBars,
}

/// How the symbol of a minute-bar file is taken from its file name.
#[derive(Debug, Clone)]
pub enum SymbolFromName {
    /// The part of the file name before the first `_` (`AAPL_full_1min.txt` → `AAPL`).
    PrefixBeforeUnderscore,
    /// The first capture group (or the whole match) of a regex over the file name.
    Regex(Regex),
}

impl SymbolFromName {
    /// `prefix` (default) or a regex with one capture group.
    pub fn parse(spec: &str) -> Result<Self> {
        if spec.is_empty() || spec == "prefix" {
            return Ok(Self::PrefixBeforeUnderscore);
        }
        Regex::new(spec).map(Self::Regex).map_err(|e| {
            Error::invalid(format!(
                "--symbol-from-filename: invalid regex '{spec}': {e}"
            ))
        })
    }

    fn extract(&self, file_name: &str) -> Option<String> {
        match self {
            Self::PrefixBeforeUnderscore => {
                let stem = file_name.split('.').next().unwrap_or(file_name);
                let prefix = stem.split('_').next().unwrap_or(stem);
                (!prefix.is_empty()).then(|| prefix.to_string())
            }
            Self::Regex(re) => {
                let caps = re.captures(file_name)?;
                let m = caps.get(1).or_else(|| caps.get(0))?;
                (!m.as_str().is_empty()).then(|| m.as_str().to_string())
            }
        }
    }
}

/// How to read the source files.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// `None`: detect from the file name and first line.
    pub shape: Option<Shape>,
    /// `None`: trades files have a header, minute-bar files do not (or detect from the first line).
    pub header: Option<bool>,
    pub delimiter: u8,
    /// chrono format of a single timestamp column (or of `date + ' ' + time`).
    pub timestamp_format: Option<String>,
    /// Time zone of the local timestamps in the files.
    pub source_tz: Tz,
    pub symbol_from_filename: SymbolFromName,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            shape: None,
            header: None,
            delimiter: b',',
            timestamp_format: None,
            source_tz: chrono_tz::America::New_York,
            symbol_from_filename: SymbolFromName::PrefixBeforeUnderscore,
        }
    }
}

/// A rejected row: where, why, and its bytes as they were in the file.
#[derive(Debug, Clone)]
pub struct Reject {
    pub line: u64,
    pub column: usize,
    pub reason: String,
    pub raw: Vec<u8>,
}

/// A parsed source file, rows in source order.
#[derive(Debug)]
pub struct Parsed {
    pub shape: Shape,
    /// Output columns (no `date`: it is the partition), source order.
    pub batch: RecordBatch,
    /// Trade date (days since the epoch, in the source time zone) of each row.
    pub dates: Vec<i32>,
    /// UTC nanoseconds of each row (also in `batch`), kept for sorting.
    pub ts: Vec<i64>,
    pub rejects: Vec<Reject>,
}

/// Schema of the Parquet files written for a shape.
pub fn output_schema(shape: Shape) -> SchemaRef {
    let ts = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let price = DataType::Decimal128(PRICE_PRECISION, PRICE_SCALE);
    let fields = match shape {
        Shape::Trades => vec![
            Field::new("symbol", DataType::Utf8, false),
            Field::new("ts", ts, false),
            Field::new("price", price, false),
            Field::new("size", DataType::Int64, false),
            Field::new("exchange", DataType::Utf8, true),
            Field::new("conditions", DataType::Utf8, true),
            Field::new("seq", DataType::Int64, false),
            Field::new("source_seq", DataType::Int64, true),
        ],
        Shape::MinuteBars => vec![
            Field::new("symbol", DataType::Utf8, false),
            Field::new("ts", ts, false),
            Field::new("open", price.clone(), false),
            Field::new("high", price.clone(), false),
            Field::new("low", price.clone(), false),
            Field::new("close", price, false),
            Field::new("volume", DataType::Int64, false),
            Field::new("seq", DataType::Int64, false),
        ],
    };
    Arc::new(Schema::new(fields))
}

/// Column positions of a trades file.
#[derive(Debug, Clone, Copy)]
struct TradeLayout {
    date: Option<usize>,
    time: Option<usize>,
    ts: Option<usize>,
    symbol: usize,
    price: usize,
    size: usize,
    exchange: Option<usize>,
    conditions: Option<usize>,
    seq: Option<usize>,
    fields: usize,
}

impl TradeLayout {
    fn positional(fields: usize) -> Self {
        Self {
            date: Some(0),
            time: Some(1),
            ts: None,
            symbol: 2,
            price: 3,
            size: 4,
            exchange: Some(5),
            conditions: Some(6),
            seq: (fields >= 8).then_some(7),
            fields: fields.max(7),
        }
    }

    /// The layout a header names (an error is about the header's first column).
    fn from_header(names: &[String]) -> std::result::Result<Self, FieldErr> {
        let find = |aliases: &[&str]| {
            names
                .iter()
                .position(|n| aliases.contains(&n.trim().to_ascii_lowercase().as_str()))
        };
        let required = |what: &str, aliases: &[&str]| {
            find(aliases).ok_or_else(|| {
                FieldErr::new(
                    0,
                    format!(
                        "header has no {what} column (expected one of {}; found {})",
                        aliases.join(", "),
                        names.join(",")
                    ),
                )
            })
        };
        let date = find(&["date", "trade_date"]);
        let time = find(&["time", "trade_time"]);
        let ts = find(&["ts", "timestamp", "datetime"]);
        if ts.is_none() && (date.is_none() || time.is_none()) {
            return Err(FieldErr::new(
                0,
                format!(
                    "header needs date and time columns or a ts/timestamp column; found {}",
                    names.join(",")
                ),
            ));
        }
        Ok(Self {
            date,
            time,
            ts,
            symbol: required("symbol", &["symbol", "ticker", "sym"])?,
            price: required("price", &["price", "trade_price"])?,
            size: required(
                "size",
                &["size", "volume", "qty", "quantity", "trade_volume"],
            )?,
            exchange: find(&["exchange", "ex", "exchange_code"]),
            conditions: find(&["conditions", "condition", "cond", "sale_condition"]),
            seq: find(&["seq", "sequence", "seq_num", "sequence_number"]),
            fields: names.len(),
        })
    }
}

/// Converts local wall-clock times of one zone to UTC, caching the offset of whole days
/// without a transition.
struct LocalToUtc {
    tz: Tz,
    day: Option<NaiveDate>,
    /// Offset (seconds east of UTC) if constant over `day`.
    fixed: Option<i64>,
}

impl LocalToUtc {
    fn new(tz: Tz) -> Self {
        Self {
            tz,
            day: None,
            fixed: None,
        }
    }

    /// UTC nanoseconds of a local date and nanosecond of day. Ambiguous times (DST fall-back)
    /// take the earlier instant; times in a DST gap are an error.
    fn convert(
        &mut self,
        date: NaiveDate,
        nanos_of_day: i64,
        column: usize,
    ) -> std::result::Result<i64, FieldErr> {
        if self.day != Some(date) {
            self.day = Some(date);
            let offset_at = |t: NaiveTime| {
                self.tz
                    .offset_from_local_datetime(&date.and_time(t))
                    .single()
                    .map(|o| i64::from(o.fix().local_minus_utc()))
            };
            let start = offset_at(NaiveTime::MIN);
            let end = NaiveTime::from_hms_opt(23, 59, 59).and_then(offset_at);
            self.fixed = match (start, end) {
                (Some(a), Some(b)) if a == b => Some(a),
                _ => None,
            };
        }
        let days = i64::from(days_since_epoch(date));
        let local_nanos = days * NANOS_PER_DAY + nanos_of_day;
        if let Some(offset) = self.fixed {
            return Ok(local_nanos - offset * NANOS_PER_SEC);
        }
        let secs = nanos_of_day / NANOS_PER_SEC;
        let time = NaiveTime::from_num_seconds_from_midnight_opt(
            u32::try_from(secs).unwrap_or(0),
            u32::try_from(nanos_of_day % NANOS_PER_SEC).unwrap_or(0),
        )
        .ok_or_else(|| FieldErr::new(column, "time of day out of range".to_string()))?;
        let local = date.and_time(time);
        match self.tz.offset_from_local_datetime(&local).earliest() {
            Some(o) => Ok(local_nanos - i64::from(o.fix().local_minus_utc()) * NANOS_PER_SEC),
            None => Err(FieldErr::new(
                column,
                format!(
                    "time {local} does not exist in {} (daylight saving gap)",
                    self.tz
                ),
            )),
        }
    }
}

const NANOS_PER_SEC: i64 = 1_000_000_000;
const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SEC;

fn days_since_epoch(date: NaiveDate) -> i32 {
    // 719_163 = days from 0001-01-01 (CE day 1) to 1970-01-01.
    chrono::Datelike::num_days_from_ce(&date) - 719_163
}

fn field_str<'a>(rec: &'a csv::ByteRecord, i: usize, name: &str) -> Result<&'a str, FieldErr> {
    let bytes = rec.get(i).unwrap_or_default();
    std::str::from_utf8(bytes).map_err(|_| FieldErr::new(i, format!("{name} is not valid UTF-8")))
}

/// A bad field: its 0-based column and the reason.
#[derive(Debug)]
struct FieldErr {
    column: usize,
    reason: String,
}

impl FieldErr {
    fn new(column: usize, reason: String) -> Self {
        Self { column, reason }
    }

    /// The error of the record at `line` of `file`.
    fn at(self, file: &str, line: u64) -> Error {
        Error::Record {
            file: file.to_string(),
            line,
            column: self.column + 1,
            reason: self.reason,
        }
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let y = digits(&b[0..4])?;
        let m = digits(&b[5..7])?;
        let d = digits(&b[8..10])?;
        return NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m as u32, d as u32);
    }
    if b.len() == 8 {
        // YYYYMMDD, as in TAQ file names and some exports.
        let v = digits(b)?;
        return NaiveDate::from_ymd_opt(
            i32::try_from(v / 10_000).ok()?,
            (v / 100 % 100) as u32,
            (v % 100) as u32,
        );
    }
    None
}

fn digits(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 18 {
        return None;
    }
    let mut v = 0u64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    Some(v)
}

/// `HH:MM:SS[.fffffffff]` → nanoseconds of day.
fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let h = digits(&b[0..2])? as i64;
    let m = digits(&b[3..5])? as i64;
    let sec = digits(&b[6..8])? as i64;
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let mut nanos = 0i64;
    if b.len() > 8 {
        let frac = &b[9..];
        if b[8] != b'.' || frac.is_empty() || frac.len() > 9 {
            return None;
        }
        let f = digits(frac)? as i64;
        nanos = f * 10i64.pow(9 - frac.len() as u32);
    }
    Some((h * 3600 + m * 60 + sec) * NANOS_PER_SEC + nanos)
}

/// A decimal string → value scaled by 10^4. More than four decimal places is an error
/// (unless the extra digits are zeros): ingest never rounds silently.
pub fn parse_decimal4(s: &str) -> Result<i128, &'static str> {
    let t = s.trim();
    if t.is_empty() {
        return Err("is empty");
    }
    let (neg, body) = match t.as_bytes()[0] {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, f),
        None => (body, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return Err("is not a number");
    }
    if int.len() > 14 {
        return Err("is out of range for Decimal(18,4)");
    }
    let frac_trim = frac.trim_end_matches('0');
    if frac_trim.len() > PRICE_SCALE as usize {
        return Err("has more than 4 decimal places");
    }
    let mut v: i128 = 0;
    for c in int.bytes() {
        v = v * 10 + i128::from(c - b'0');
    }
    for i in 0..PRICE_SCALE as usize {
        let d = frac_trim.as_bytes().get(i).map_or(0, |c| c - b'0');
        v = v * 10 + i128::from(d);
    }
    Ok(if neg { -v } else { v })
}

fn parse_int(s: &str) -> Result<i64, &'static str> {
    let t = s.trim();
    if t.is_empty() {
        return Err("is empty");
    }
    t.parse::<i64>().map_err(|_| "is not an integer")
}

/// Builders of the output columns of a shape.
enum Columns {
    Trades {
        symbol: StringBuilder,
        ts: TimestampNanosecondBuilder,
        price: Decimal128Builder,
        size: Int64Builder,
        exchange: StringBuilder,
        conditions: StringBuilder,
        seq: Int64Builder,
        source_seq: Int64Builder,
    },
    Bars {
        symbol: StringBuilder,
        ts: TimestampNanosecondBuilder,
        ohlc: [Decimal128Builder; 4],
        volume: Int64Builder,
        seq: Int64Builder,
    },
}

fn decimal_builder() -> Decimal128Builder {
    Decimal128Builder::new().with_data_type(DataType::Decimal128(PRICE_PRECISION, PRICE_SCALE))
}

fn ts_builder() -> TimestampNanosecondBuilder {
    TimestampNanosecondBuilder::new().with_timezone("UTC")
}

/// Detects the shape from the file name and the first record.
fn detect_shape(file_name: &str, first: Option<&csv::ByteRecord>) -> Shape {
    let lower = file_name.to_ascii_lowercase();
    if lower.contains("_1min") || lower.contains("_full_") {
        return Shape::MinuteBars;
    }
    if let Some(rec) = first {
        let f0 = String::from_utf8_lossy(rec.get(0).unwrap_or_default()).to_string();
        let looks_like_ts = f0
            .split_once(' ')
            .is_some_and(|(d, t)| parse_date(d).is_some() && parse_time(t).is_some());
        if looks_like_ts && rec.len() == 6 {
            return Shape::MinuteBars;
        }
    }
    Shape::Trades
}

fn looks_like_header(rec: &csv::ByteRecord) -> bool {
    rec.iter().any(|f| {
        let s = String::from_utf8_lossy(f).trim().to_ascii_lowercase();
        matches!(
            s.as_str(),
            "symbol" | "price" | "date" | "time" | "ts" | "timestamp"
        )
    })
}

/// Parses one source file. `strict`: the first bad row is an error
/// (`file:line:column: reason`); otherwise bad rows are returned in [`Parsed::rejects`].
/// `progress` is increased by the number of rows read as they are read.
pub fn parse_file(
    display: &str,
    file_name: &str,
    data: &[u8],
    file_index: u64,
    opts: &ParseOptions,
    strict: bool,
    progress: &AtomicU64,
) -> Result<Parsed> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(opts.delimiter)
        .from_reader(data);
    let mut records = reader.byte_records().peekable();
    if let Some(Err(_)) = records.peek()
        && let Some(Err(e)) = records.next()
    {
        return Err(Error::format(display, e));
    }
    let first = records.peek().and_then(|r| r.as_ref().ok()).cloned();
    let shape = opts
        .shape
        .unwrap_or_else(|| detect_shape(file_name, first.as_ref()));
    let header = opts
        .header
        .unwrap_or_else(|| first.as_ref().is_some_and(looks_like_header));
    let mut trade_layout = None;
    if header
        && let Some(Ok(rec)) = records.next()
        && shape == Shape::Trades
    {
        let names: Vec<String> = rec
            .iter()
            .map(|f| String::from_utf8_lossy(f).to_string())
            .collect();
        trade_layout = Some(
            TradeLayout::from_header(&names)
                .map_err(|e| e.at(display, rec.position().map_or(1, |p| p.line())))?,
        );
    }
    let bar_symbol = match shape {
        Shape::MinuteBars => Some(opts.symbol_from_filename.extract(file_name).ok_or_else(
            || Error::invalid(format!("{display}: cannot take a symbol from the file name '{file_name}' (--symbol-from-filename)")),
        )?),
        Shape::Trades => None,
    };
    let mut cols = match shape {
        Shape::Trades => Columns::Trades {
            symbol: StringBuilder::new(),
            ts: ts_builder(),
            price: decimal_builder(),
            size: Int64Builder::new(),
            exchange: StringBuilder::new(),
            conditions: StringBuilder::new(),
            seq: Int64Builder::new(),
            source_seq: Int64Builder::new(),
        },
        Shape::MinuteBars => Columns::Bars {
            symbol: StringBuilder::new(),
            ts: ts_builder(),
            ohlc: [
                decimal_builder(),
                decimal_builder(),
                decimal_builder(),
                decimal_builder(),
            ],
            volume: Int64Builder::new(),
            seq: Int64Builder::new(),
        },
    };
    let mut conv = LocalToUtc::new(opts.source_tz);
    let mut lines = LineCounter::new(data);
    let mut dates = Vec::new();
    let mut ts_out = Vec::new();
    let mut rejects = Vec::new();
    let mut pending = 0u64;
    let fmt = opts.timestamp_format.as_deref();

    for result in records {
        // Only I/O errors are possible with a flexible reader over bytes.
        let rec = result.context(display)?;
        let pos = rec.position().cloned().unwrap_or_else(csv::Position::new);
        let (start, line) = lines.locate(usize::try_from(pos.byte()).unwrap_or(0));
        pending += 1;
        if pending == 8192 {
            progress.fetch_add(pending, Ordering::Relaxed);
            pending = 0;
        }
        let seq = i64::try_from((file_index << SEQ_FILE_SHIFT) | line).unwrap_or(i64::MAX);
        let outcome = match shape {
            Shape::Trades => {
                let layout =
                    *trade_layout.get_or_insert_with(|| TradeLayout::positional(rec.len()));
                parse_trade(&rec, &layout, fmt, &mut conv)
                    .map(|row| (row.date, row.ts, Row::Trade(row)))
            }
            Shape::MinuteBars => {
                parse_bar(&rec, fmt, &mut conv).map(|row| (row.date, row.ts, Row::Bar(row)))
            }
        };
        match outcome {
            Ok((date, ts, row)) => {
                dates.push(date);
                ts_out.push(ts);
                append(&mut cols, row, ts, seq, bar_symbol.as_deref());
            }
            Err(e) => {
                if strict {
                    return Err(e.at(display, line));
                }
                let end = data[start..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(data.len(), |i| start + i);
                let mut raw = data[start..end].to_vec();
                if raw.last() == Some(&b'\r') {
                    raw.pop();
                }
                rejects.push(Reject {
                    line,
                    column: e.column + 1,
                    reason: e.reason,
                    raw,
                });
            }
        }
    }
    progress.fetch_add(pending, Ordering::Relaxed);
    let arrays: Vec<ArrayRef> = match cols {
        Columns::Trades {
            mut symbol,
            mut ts,
            mut price,
            mut size,
            mut exchange,
            mut conditions,
            mut seq,
            mut source_seq,
        } => vec![
            Arc::new(symbol.finish()),
            Arc::new(ts.finish()),
            Arc::new(price.finish()),
            Arc::new(size.finish()),
            Arc::new(exchange.finish()),
            Arc::new(conditions.finish()),
            Arc::new(seq.finish()),
            Arc::new(source_seq.finish()),
        ],
        Columns::Bars {
            mut symbol,
            mut ts,
            mut ohlc,
            mut volume,
            mut seq,
        } => {
            let mut v: Vec<ArrayRef> = vec![Arc::new(symbol.finish()), Arc::new(ts.finish())];
            for b in &mut ohlc {
                v.push(Arc::new(b.finish()));
            }
            v.push(Arc::new(volume.finish()));
            v.push(Arc::new(seq.finish()));
            v
        }
    };
    let batch = RecordBatch::try_new(output_schema(shape), arrays).context(display)?;
    Ok(Parsed {
        shape,
        batch,
        dates,
        ts: ts_out,
        rejects,
    })
}

/// 1-based line numbers from byte offsets. The csv crate's own `Position::line` and `byte`
/// are off after `\r\n` terminators (the offset may point at the `\n` of the previous record),
/// so the record start is found by skipping terminator bytes and lines are counted here.
struct LineCounter<'a> {
    data: &'a [u8],
    cursor: usize,
    newlines: u64,
}

impl<'a> LineCounter<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            cursor: 0,
            newlines: 0,
        }
    }

    /// (start byte, line) of a record the csv reader says starts at `byte`.
    fn locate(&mut self, byte: usize) -> (usize, u64) {
        let mut start = byte.min(self.data.len());
        while start < self.data.len() && matches!(self.data[start], b'\r' | b'\n') {
            start += 1;
        }
        if start >= self.cursor {
            self.newlines += self.data[self.cursor..start]
                .iter()
                .filter(|&&c| c == b'\n')
                .count() as u64;
            self.cursor = start;
        }
        (start, self.newlines + 1)
    }
}

struct TradeRow<'a> {
    date: i32,
    ts: i64,
    symbol: &'a str,
    price: i128,
    size: i64,
    exchange: Option<&'a str>,
    conditions: Option<&'a str>,
    source_seq: Option<i64>,
}

struct BarRow {
    date: i32,
    ts: i64,
    ohlc: [i128; 4],
    volume: i64,
}

enum Row<'a> {
    Trade(TradeRow<'a>),
    Bar(BarRow),
}

fn append(cols: &mut Columns, row: Row<'_>, ts_v: i64, seq_v: i64, bar_symbol: Option<&str>) {
    match (cols, row) {
        (
            Columns::Trades {
                symbol,
                ts,
                price,
                size,
                exchange,
                conditions,
                seq,
                source_seq,
            },
            Row::Trade(r),
        ) => {
            symbol.append_value(r.symbol);
            ts.append_value(ts_v);
            price.append_value(r.price);
            size.append_value(r.size);
            exchange.append_option(r.exchange);
            conditions.append_option(r.conditions);
            seq.append_value(seq_v);
            source_seq.append_option(r.source_seq);
        }
        (
            Columns::Bars {
                symbol,
                ts,
                ohlc,
                volume,
                seq,
            },
            Row::Bar(r),
        ) => {
            symbol.append_value(bar_symbol.unwrap_or_default());
            ts.append_value(ts_v);
            for (b, v) in ohlc.iter_mut().zip(r.ohlc) {
                b.append_value(v);
            }
            volume.append_value(r.volume);
            seq.append_value(seq_v);
        }
        _ => {}
    }
}

fn check_fields(rec: &csv::ByteRecord, expected: usize) -> Result<(), FieldErr> {
    if rec.len() < expected {
        return Err(FieldErr::new(
            rec.len(),
            format!("expected {expected} fields, found {}", rec.len()),
        ));
    }
    if rec.len() > expected {
        return Err(FieldErr::new(
            expected,
            format!("expected {expected} fields, found {}", rec.len()),
        ));
    }
    Ok(())
}

/// Parses a timestamp field (`fmt` or `YYYY-MM-DD HH:MM:SS[.f]`) to (date, nanos of day).
fn parse_timestamp(
    s: &str,
    fmt: Option<&str>,
    column: usize,
    name: &str,
) -> Result<(NaiveDate, i64), FieldErr> {
    let bad = || {
        FieldErr::new(
            column,
            format!(
                "{name} '{s}' does not match {}",
                fmt.unwrap_or("YYYY-MM-DD HH:MM:SS[.fffffffff]")
            ),
        )
    };
    match fmt {
        Some(f) => {
            let dt = NaiveDateTime::parse_from_str(s.trim(), f).map_err(|_| bad())?;
            let t = dt.time();
            let nanos = i64::from(chrono::Timelike::num_seconds_from_midnight(&t)) * NANOS_PER_SEC
                + i64::from(chrono::Timelike::nanosecond(&t));
            Ok((dt.date(), nanos))
        }
        None => {
            let t = s.trim();
            let (d, tm) = t
                .split_once(' ')
                .or_else(|| t.split_once('T'))
                .ok_or_else(bad)?;
            Ok((
                parse_date(d).ok_or_else(bad)?,
                parse_time(tm).ok_or_else(bad)?,
            ))
        }
    }
}

fn to_utc(
    conv: &mut LocalToUtc,
    date: NaiveDate,
    nanos: i64,
    column: usize,
) -> Result<(i32, i64), FieldErr> {
    let ts = conv.convert(date, nanos, column)?;
    Ok((days_since_epoch(date), ts))
}

fn parse_trade<'a>(
    rec: &'a csv::ByteRecord,
    l: &TradeLayout,
    fmt: Option<&str>,
    conv: &mut LocalToUtc,
) -> Result<TradeRow<'a>, FieldErr> {
    check_fields(rec, l.fields)?;
    let (date, nanos, ts_col) = match (l.ts, l.date, l.time) {
        (Some(c), _, _) => {
            let (d, n) = parse_timestamp(field_str(rec, c, "ts")?, fmt, c, "timestamp")?;
            (d, n, c)
        }
        (None, Some(dc), Some(tc)) => {
            let ds = field_str(rec, dc, "date")?;
            let ts = field_str(rec, tc, "time")?;
            match fmt {
                Some(_) => {
                    let joined = format!("{} {}", ds.trim(), ts.trim());
                    let (d, n) = parse_timestamp(&joined, fmt, dc, "date and time")?;
                    (d, n, dc)
                }
                None => {
                    let d = parse_date(ds.trim()).ok_or_else(|| {
                        FieldErr::new(dc, format!("date '{ds}' is not a date (YYYY-MM-DD)"))
                    })?;
                    let n = parse_time(ts.trim()).ok_or_else(|| {
                        FieldErr::new(
                            tc,
                            format!("time '{ts}' is not a time (HH:MM:SS[.fffffffff])"),
                        )
                    })?;
                    (d, n, tc)
                }
            }
        }
        _ => return Err(FieldErr::new(0, "no timestamp columns".into())),
    };
    let symbol = field_str(rec, l.symbol, "symbol")?.trim();
    if symbol.is_empty() {
        return Err(FieldErr::new(l.symbol, "symbol is empty".into()));
    }
    let ps = field_str(rec, l.price, "price")?;
    let price =
        parse_decimal4(ps).map_err(|why| FieldErr::new(l.price, format!("price '{ps}' {why}")))?;
    if price <= 0 {
        return Err(FieldErr::new(
            l.price,
            format!("price '{ps}' is not positive"),
        ));
    }
    let ss = field_str(rec, l.size, "size")?;
    let size = parse_int(ss).map_err(|why| FieldErr::new(l.size, format!("size '{ss}' {why}")))?;
    if size < 0 {
        return Err(FieldErr::new(l.size, format!("size '{ss}' is negative")));
    }
    let opt_str = |c: Option<usize>, name: &str| -> Result<Option<&'a str>, FieldErr> {
        c.map(|c| field_str(rec, c, name)).transpose()
    };
    let exchange = opt_str(l.exchange, "exchange")?;
    let conditions = opt_str(l.conditions, "conditions")?;
    let source_seq = match l.seq {
        Some(c) => {
            let s = field_str(rec, c, "seq")?;
            if s.trim().is_empty() {
                None
            } else {
                Some(parse_int(s).map_err(|why| FieldErr::new(c, format!("seq '{s}' {why}")))?)
            }
        }
        None => None,
    };
    let (date, ts) = to_utc(conv, date, nanos, ts_col)?;
    Ok(TradeRow {
        date,
        ts,
        symbol,
        price,
        size,
        exchange,
        conditions,
        source_seq,
    })
}

fn parse_bar(
    rec: &csv::ByteRecord,
    fmt: Option<&str>,
    conv: &mut LocalToUtc,
) -> Result<BarRow, FieldErr> {
    check_fields(rec, 6)?;
    let (d, n) = parse_timestamp(field_str(rec, 0, "timestamp")?, fmt, 0, "timestamp")?;
    let mut ohlc = [0i128; 4];
    for (i, name) in ["open", "high", "low", "close"].iter().enumerate() {
        let s = field_str(rec, i + 1, name)?;
        ohlc[i] =
            parse_decimal4(s).map_err(|why| FieldErr::new(i + 1, format!("{name} '{s}' {why}")))?;
    }
    let vs = field_str(rec, 5, "volume")?;
    let volume = parse_int(vs).map_err(|why| FieldErr::new(5, format!("volume '{vs}' {why}")))?;
    if volume < 0 {
        return Err(FieldErr::new(5, format!("volume '{vs}' is negative")));
    }
    let (date, ts) = to_utc(conv, d, n, 0)?;
    Ok(BarRow {
        date,
        ts,
        ohlc,
        volume,
    })
}
