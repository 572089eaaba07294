//! CSV → Arrow for one source file: the input shapes ([`Shape`]), the columns of a file and
//! their roles ([`shapes`](super::shapes)), field-level validation with `file:line:column:
//! reason` messages, typed columns ([`schema`](super::schema)), and the `seq` column that keeps
//! source order.
//!
//! Every column of the input is kept: the ones a shape knows become its fixed columns
//! ([`output_schema`]), every other one follows them, typed by `--schema` or inferred.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono_tz::Tz;
use datafusion::arrow::array::{
    ArrayRef, Decimal128Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampNanosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use regex::Regex;

use super::records::{Record, Records};
pub use super::schema::ColType;
use super::schema::{ScaledErr, Stats, Value, convert, parse_scaled};
use super::seq::SeqBase;
use super::shapes::{Col, Layout, Role, layout};
use super::time::{Ambiguous, LocalToUtc, Nonexistent, parse_date, parse_time, parse_timestamp};
use crate::error::{Context, Error, Result};

/// Scale of the Decimal128(18, 4) price columns.
pub const PRICE_SCALE: i8 = 4;
pub(crate) const PRICE_PRECISION: u8 = 18;
pub(crate) const PRICE: ColType = ColType::Decimal(PRICE_PRECISION, PRICE_SCALE);

/// The shape of a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// TAQ-style trades: `date,time,symbol,price,size,exchange,conditions[,seq]`, columns by
    /// name when there is a header.
    Trades,
    /// Per-symbol minute bars, `YYYY-MM-DD HH:MM:SS,open,high,low,close,volume`, symbol from the
    /// file name.
    MinuteBars,
    /// Daily bars, one file per ticker (Yahoo): `Date,Open,High,Low,Close,Adj Close,Volume`,
    /// symbol from the file name.
    Daily,
    /// Any CSV: a timestamp column (`--ts-column`, default `ts`), a `symbol` column or the
    /// symbol from the file name, every other column typed by `--schema` or inferred.
    Csv,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Self::Trades => "trades",
            Self::MinuteBars => "minute-bars",
            Self::Daily => "daily",
            Self::Csv => "csv",
        }
    }
}

/// How the symbol of a file is taken from its name.
#[derive(Debug, Clone)]
pub enum SymbolFromName {
    /// Everything before the first `_`, else the name without its extensions:
    /// `BRK.A_full_1min.txt` → `BRK.A`, `BRK-B.csv` → `BRK-B`, `BRK.A.csv.gz` → `BRK.A`.
    PrefixBeforeUnderscore,
    /// The first capture group (or the whole match) of a regex over the file name (without a
    /// `.gz` / `.zst` extension).
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

    pub fn extract(&self, file_name: &str) -> Option<String> {
        match self {
            Self::PrefixBeforeUnderscore => {
                let mut stem = file_name;
                loop {
                    let lower = stem.to_ascii_lowercase();
                    let ext = [".gz", ".zst", ".csv", ".txt", ".tsv"]
                        .iter()
                        .find(|e| lower.ends_with(*e));
                    match ext {
                        Some(e) => stem = &stem[..stem.len() - e.len()],
                        None => break,
                    }
                }
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
    /// `None`: detect from the file name and first line (never [`Shape::Csv`]).
    pub shape: Option<Shape>,
    /// `None`: detected from the first line (a header names known columns).
    pub header: Option<bool>,
    pub delimiter: u8,
    /// chrono format of a single timestamp column (or of `date + ' ' + time`).
    pub timestamp_format: Option<String>,
    /// Time zone of the local timestamps in the files.
    pub source_tz: Tz,
    /// A local time of the fall-back hour (`--ambiguous`).
    pub ambiguous: Ambiguous,
    /// A local time of the spring-forward gap (`--nonexistent`).
    pub nonexistent: Nonexistent,
    pub symbol_from_filename: SymbolFromName,
    /// Whether `symbol_from_filename` was asked for: then a trades file without a symbol column
    /// takes the symbol from its name too.
    pub symbol_from_filename_given: bool,
    /// `--schema`: types of columns by name; without a header, also the columns' names in order.
    pub schema: Vec<(String, ColType)>,
    /// The timestamp column of [`Shape::Csv`] (`None`: `ts`, `timestamp`, `datetime` or `date`).
    pub ts_column: Option<String>,
    /// Types decided for the whole run (volume and columns without a fixed type); a column not
    /// here and not in `schema` is inferred from the file alone.
    pub types: BTreeMap<String, ColType>,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            shape: None,
            header: None,
            delimiter: b',',
            timestamp_format: None,
            source_tz: chrono_tz::America::New_York,
            ambiguous: Ambiguous::Raise,
            nonexistent: Nonexistent::Raise,
            symbol_from_filename: SymbolFromName::PrefixBeforeUnderscore,
            symbol_from_filename_given: false,
            schema: Vec::new(),
            ts_column: None,
            types: BTreeMap::new(),
        }
    }
}

/// A rejected record: where, why, and its bytes as they were in the file (all of them, quoted
/// newlines included).
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

pub(crate) fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// The fixed columns a shape writes, with a `BIGINT` volume; the file's other columns follow
/// them (a fractional volume is a DECIMAL, see [`super::schema`]).
pub fn output_schema(shape: Shape) -> SchemaRef {
    let price = PRICE.arrow();
    let mut fields = vec![
        Field::new("symbol", DataType::Utf8, false),
        Field::new("ts", ts_type(), false),
    ];
    let bars = |fields: &mut Vec<Field>, adj: bool| {
        for name in ["open", "high", "low", "close"] {
            fields.push(Field::new(name, price.clone(), false));
        }
        if adj {
            fields.push(Field::new("adj_close", price.clone(), true));
        }
        fields.push(Field::new("volume", DataType::Int64, false));
        fields.push(Field::new("seq", DataType::Int64, false));
    };
    match shape {
        Shape::Trades => fields.extend([
            Field::new("price", price.clone(), false),
            Field::new("size", DataType::Int64, false),
            Field::new("exchange", DataType::Utf8, true),
            Field::new("conditions", DataType::Utf8, true),
            Field::new("seq", DataType::Int64, false),
            Field::new("source_seq", DataType::Int64, true),
        ]),
        Shape::MinuteBars => bars(&mut fields, false),
        Shape::Daily => bars(&mut fields, true),
        Shape::Csv => fields.push(Field::new("seq", DataType::Int64, false)),
    }
    Arc::new(Schema::new(fields))
}

/// A bad field: its 0-based column and the reason.
#[derive(Debug)]
pub(crate) struct FieldErr {
    pub column: usize,
    pub reason: String,
}

impl FieldErr {
    pub fn new(column: usize, reason: String) -> Self {
        Self { column, reason }
    }

    /// The error of the record at `line` of `file`.
    pub fn at(self, file: &str, line: u64) -> Error {
        Error::Record {
            file: file.to_string(),
            line,
            column: self.column + 1,
            reason: self.reason,
        }
    }
}

pub(crate) fn field_str<'a>(rec: &'a Record, i: usize, name: &str) -> Result<&'a str, FieldErr> {
    let bytes = rec.get(i).unwrap_or_default();
    std::str::from_utf8(bytes).map_err(|_| FieldErr::new(i, format!("{name} is not valid UTF-8")))
}

/// A decimal string → value scaled by 10^4. More than four decimal places is an error
/// (unless the extra digits are zeros): ingest never rounds silently.
pub fn parse_decimal4(s: &str) -> Result<i128, &'static str> {
    parse_scaled(s, PRICE_PRECISION, PRICE_SCALE).map_err(|e| match e {
        ScaledErr::Empty => "is empty",
        ScaledErr::NotNumber => "is not a number",
        ScaledErr::Range => "is out of range for Decimal(18,4)",
        ScaledErr::Scale => "has more than 4 decimal places",
    })
}

fn parse_int(s: &str) -> Result<i64, &'static str> {
    let t = s.trim();
    if t.is_empty() {
        return Err("is empty");
    }
    t.parse::<i64>().map_err(|_| "is not an integer")
}

/// Detects the shape from the file name and the first record.
fn detect_shape(file_name: &str, first: Option<&Record>) -> Shape {
    let lower = file_name.to_ascii_lowercase();
    if lower.contains("_1min") || lower.contains("_full_") {
        return Shape::MinuteBars;
    }
    let Some(rec) = first.filter(|r| r.malformed.is_none()) else {
        return Shape::Trades;
    };
    let names: Vec<String> = rec
        .iter()
        .map(|f| super::schema::normalize(&String::from_utf8_lossy(f)))
        .collect();
    let has = |n: &str| names.iter().any(|x| x == n);
    if has("open") && has("high") && has("low") && has("close") {
        let intraday = has("time") || has("ts") || has("timestamp") || has("datetime");
        return if has("adj_close") || !intraday {
            Shape::Daily
        } else {
            Shape::MinuteBars
        };
    }
    let f0 = String::from_utf8_lossy(rec.get(0).unwrap_or_default()).to_string();
    if rec.len() == 6 && super::time::looks_like_timestamp(f0.trim()) {
        return Shape::MinuteBars;
    }
    if rec.len() == 7 && parse_date(f0.trim()).is_some() && f0.trim().len() == 10 {
        let f1 = String::from_utf8_lossy(rec.get(1).unwrap_or_default()).to_string();
        if parse_decimal4(&f1).is_ok() {
            return Shape::Daily;
        }
    }
    Shape::Trades
}

fn looks_like_header(rec: &Record) -> bool {
    rec.malformed.is_none()
        && rec.iter().any(|f| {
            let s = super::schema::normalize(&String::from_utf8_lossy(f));
            matches!(
                s.as_str(),
                "symbol"
                    | "price"
                    | "date"
                    | "time"
                    | "ts"
                    | "timestamp"
                    | "datetime"
                    | "open"
                    | "close"
                    | "volume"
            )
        })
}

/// A file opened for reading: its shape, layout, symbol from the name, and its records after
/// the header.
struct Opened<'a> {
    shape: Shape,
    layout: Layout,
    file_symbol: Option<String>,
    records: Records<'a>,
}

fn open<'a>(
    display: &str,
    file_name: &str,
    data: &'a [u8],
    opts: &ParseOptions,
) -> Result<Opened<'a>> {
    let mut records = Records::new(data, opts.delimiter);
    let mut first = Record::default();
    let has_first = {
        let mut peek = Records::new(data, opts.delimiter);
        peek.next_into(&mut first)
    };
    let first = has_first.then_some(&first);
    let shape = opts.shape.unwrap_or_else(|| detect_shape(file_name, first));
    let header = opts.header.unwrap_or_else(|| match shape {
        Shape::Csv => opts.schema.is_empty() || first.is_some_and(looks_like_header),
        _ => first.is_some_and(looks_like_header),
    });
    let names: Option<(Vec<String>, u64)> = match first {
        Some(rec) if header => {
            if let Some((col, why)) = &rec.malformed {
                return Err(FieldErr::new(*col, format!("header: {why}")).at(display, rec.line));
            }
            let mut skip = Record::default();
            records.next_into(&mut skip);
            Some((
                rec.iter()
                    .map(|f| String::from_utf8_lossy(f).to_string())
                    .collect(),
                rec.line,
            ))
        }
        _ => None,
    };
    let layout = layout(shape, names, first, opts).map_err(|(e, line)| e.at(display, line))?;
    let file_symbol = if layout.symbol.is_none() {
        Some(opts.symbol_from_filename.extract(file_name).ok_or_else(|| {
            Error::invalid(format!(
                "{display}: cannot take a symbol from the file name '{file_name}' (--symbol-from-filename)"
            ))
        })?)
    } else {
        None
    };
    Ok(Opened {
        shape,
        layout,
        file_symbol,
        records,
    })
}

/// A column's name, what its values look like, and whether it is integral (a volume).
pub type ColumnStats = (String, Stats, bool);

/// Statistics of the values of the columns whose type is not fixed, given or decided (volume,
/// the columns a shape does not know): what [`super::schema::Stats::infer`] types them by.
/// Reads only those fields. (the file's input column names, `(name, stats, integral)`).
pub fn scan_file(
    display: &str,
    file_name: &str,
    data: &[u8],
    opts: &ParseOptions,
) -> Result<(Vec<String>, Vec<ColumnStats>)> {
    let mut opened = open(display, file_name, data, opts)?;
    let names = opened.layout.names.clone();
    Ok((names, scan(&mut opened, opts)))
}

fn undecided(layout: &Layout, opts: &ParseOptions) -> Vec<usize> {
    layout
        .cols
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            matches!(c.role, Role::Volume | Role::Extra)
                && c.ty.is_none()
                && !opts.types.contains_key(&c.name)
        })
        .map(|(i, _)| i)
        .collect()
}

fn scan(opened: &mut Opened<'_>, opts: &ParseOptions) -> Vec<ColumnStats> {
    let todo = undecided(&opened.layout, opts);
    let mut stats = vec![Stats::default(); todo.len()];
    if !todo.is_empty() {
        let mut rec = Record::default();
        while opened.records.next_into(&mut rec) {
            if rec.malformed.is_some() || rec.len() != opened.layout.fields {
                continue;
            }
            for (k, &c) in todo.iter().enumerate() {
                let col = &opened.layout.cols[c];
                let Some(i) = col.index else { continue };
                let text = std::str::from_utf8(rec.get(i).unwrap_or_default()).unwrap_or("\u{0}");
                if col.role == Role::Volume && !super::schema::is_number(text) {
                    // Not a number: the row is rejected, it does not type the column.
                    continue;
                }
                stats[k].observe(text);
            }
        }
    }
    todo.iter()
        .zip(stats)
        .map(|(&c, s)| {
            let col = &opened.layout.cols[c];
            (col.name.clone(), s, col.role == Role::Volume)
        })
        .collect()
}

/// Builds one output column.
enum Builder {
    Int64(Int64Builder),
    Decimal(Decimal128Builder),
    Float64(Float64Builder),
    Utf8(StringBuilder),
}

impl Builder {
    fn new(ty: ColType) -> Self {
        match ty {
            ColType::Int64 => Self::Int64(Int64Builder::new()),
            ColType::Decimal(..) => {
                Self::Decimal(Decimal128Builder::new().with_data_type(ty.arrow()))
            }
            ColType::Float64 => Self::Float64(Float64Builder::new()),
            ColType::Utf8 | ColType::Timestamp => Self::Utf8(StringBuilder::new()),
        }
    }

    fn append(&mut self, v: Value, rec: &Record) {
        match (self, v) {
            (Self::Int64(b), Value::I64(x)) => b.append_value(x),
            (Self::Decimal(b), Value::I128(x)) => b.append_value(x),
            (Self::Float64(b), Value::F64(x)) => b.append_value(x),
            (Self::Utf8(b), Value::Str(i)) => {
                b.append_value(std::str::from_utf8(rec.get(i).unwrap_or_default()).unwrap_or(""))
            }
            (Self::Int64(b), _) => b.append_null(),
            (Self::Decimal(b), _) => b.append_null(),
            (Self::Float64(b), _) => b.append_null(),
            (Self::Utf8(b), _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Int64(b) => Arc::new(b.finish()),
            Self::Decimal(b) => Arc::new(b.finish()),
            Self::Float64(b) => Arc::new(b.finish()),
            Self::Utf8(b) => Arc::new(b.finish()),
        }
    }
}

/// Parses one source file. `strict`: the first bad row is an error
/// (`file:line:column: reason`); otherwise bad rows are returned in [`Parsed::rejects`].
/// `progress` is increased by the number of rows read as they are read.
pub fn parse_file(
    display: &str,
    file_name: &str,
    data: &[u8],
    numbering: SeqBase,
    opts: &ParseOptions,
    strict: bool,
    progress: &AtomicU64,
) -> Result<Parsed> {
    let mut opened = open(display, file_name, data, opts)?;
    // Columns whose type the run did not decide are typed by this file's values.
    let todo = undecided(&opened.layout, opts);
    if !todo.is_empty() {
        let mut scanning = open(display, file_name, data, opts)?;
        let inferred = scan(&mut scanning, opts);
        for (&c, (_, stats, integral)) in todo.iter().zip(inferred) {
            opened.layout.cols[c].ty = Some(stats.infer(integral));
        }
    }
    for col in &mut opened.layout.cols {
        if col.ty.is_none() {
            col.ty = opts.types.get(&col.name).copied();
        }
    }
    let layout = &opened.layout;
    let mut fields = vec![
        Field::new("symbol", DataType::Utf8, false),
        Field::new("ts", ts_type(), false),
    ];
    let mut builders = Vec::with_capacity(layout.cols.len());
    for col in &layout.cols {
        let ty = col.ty.unwrap_or(ColType::Utf8);
        fields.push(Field::new(&col.name, ty.arrow(), col.nullable()));
        builders.push(Builder::new(ty));
    }
    let schema = Arc::new(Schema::new(fields));
    let mut symbol_b = StringBuilder::new();
    let mut ts_b = TimestampNanosecondBuilder::new().with_timezone("UTC");
    let mut conv = LocalToUtc::new(opts.source_tz, opts.ambiguous, opts.nonexistent);
    let mut dates = Vec::new();
    let mut ts_out = Vec::new();
    let mut rejects = Vec::new();
    let mut pending = 0u64;
    let fmt = opts.timestamp_format.as_deref();
    let mut values: Vec<Value> = Vec::with_capacity(layout.cols.len());
    let mut rec = Record::default();

    while opened.records.next_into(&mut rec) {
        pending += 1;
        if pending == 8192 {
            progress.fetch_add(pending, Ordering::Relaxed);
            pending = 0;
        }
        let line = rec.line;
        let seq = numbering.seq_of(line, display)?;
        values.clear();
        match parse_row(&rec, layout, fmt, &mut conv, &mut values) {
            Ok((date, ts, symbol)) => {
                dates.push(date);
                ts_out.push(ts);
                match symbol {
                    Some(i) => symbol_b.append_value(
                        std::str::from_utf8(rec.get(i).unwrap_or_default())
                            .unwrap_or("")
                            .trim(),
                    ),
                    None => symbol_b.append_value(opened.file_symbol.as_deref().unwrap_or("")),
                }
                ts_b.append_value(ts);
                for ((b, col), v) in builders.iter_mut().zip(&layout.cols).zip(&values) {
                    let v = if col.role == Role::Seq {
                        Value::I64(seq)
                    } else {
                        *v
                    };
                    b.append(v, &rec);
                }
            }
            Err(e) => {
                if strict {
                    return Err(e.at(display, line));
                }
                rejects.push(Reject {
                    line,
                    column: e.column + 1,
                    reason: e.reason,
                    raw: data[rec.start..rec.end].to_vec(),
                });
            }
        }
    }
    progress.fetch_add(pending, Ordering::Relaxed);
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(symbol_b.finish()), Arc::new(ts_b.finish())];
    arrays.extend(builders.iter_mut().map(Builder::finish));
    let batch = RecordBatch::try_new(schema, arrays).context(display)?;
    Ok(Parsed {
        shape: opened.shape,
        batch,
        dates,
        ts: ts_out,
        rejects,
    })
}

fn check_fields(rec: &Record, expected: usize) -> Result<(), FieldErr> {
    if let Some((col, why)) = &rec.malformed {
        return Err(FieldErr::new(*col, why.clone()));
    }
    if rec.len() != expected {
        return Err(FieldErr::new(
            rec.len().min(expected),
            format!("expected {expected} fields, found {}", rec.len()),
        ));
    }
    Ok(())
}

/// Parses one record into `values` (one per [`Layout::cols`]); (date, UTC ts, symbol field).
fn parse_row(
    rec: &Record,
    l: &Layout,
    fmt: Option<&str>,
    conv: &mut LocalToUtc,
    values: &mut Vec<Value>,
) -> Result<(i32, i64, Option<usize>), FieldErr> {
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
    if let Some(c) = l.symbol
        && field_str(rec, c, "symbol")?.trim().is_empty()
    {
        return Err(FieldErr::new(c, "symbol is empty".into()));
    }
    for col in &l.cols {
        values.push(parse_value(rec, col)?);
    }
    check_prices(rec, l, values)?;
    let (date, ts) = conv.utc(date, nanos, ts_col)?;
    Ok((date, ts, l.symbol))
}

fn parse_value(rec: &Record, col: &Col) -> Result<Value, FieldErr> {
    let Some(i) = col.index else {
        return Ok(Value::Null);
    };
    let name = match col.role {
        Role::SourceSeq => "seq",
        _ => col.name.as_str(),
    };
    let s = field_str(rec, i, name)?;
    let bad = |why: &str| FieldErr::new(i, format!("{name} '{s}' {why}"));
    Ok(match col.role {
        Role::Price => {
            if s.trim().is_empty() && col.nullable() {
                return Ok(Value::Null);
            }
            let v = parse_decimal4(s).map_err(bad)?;
            if v <= 0 {
                return Err(bad("is not positive"));
            }
            Value::I128(v)
        }
        Role::Size => {
            let v = parse_int(s).map_err(bad)?;
            if v < 0 {
                return Err(bad("is negative"));
            }
            Value::I64(v)
        }
        Role::SourceSeq => {
            if s.trim().is_empty() {
                Value::Null
            } else {
                Value::I64(parse_int(s).map_err(bad)?)
            }
        }
        Role::Text => Value::Str(i),
        Role::Seq => Value::Null,
        Role::Volume | Role::Extra => {
            let ty = col.ty.unwrap_or(ColType::Utf8);
            let integral = col.role == Role::Volume;
            let v = convert(ty, s, i, integral).map_err(|why| bad(&why))?;
            if integral {
                let negative = match v {
                    Value::Null => return Err(bad("is empty")),
                    Value::I64(x) => x < 0,
                    Value::I128(x) => x < 0,
                    Value::F64(x) => x < 0.0,
                    Value::Str(_) => false,
                };
                if negative {
                    return Err(bad("is negative"));
                }
            }
            v
        }
    })
}

/// A bar's prices agree: low <= open, close <= high.
fn check_prices(rec: &Record, l: &Layout, values: &[Value]) -> Result<(), FieldErr> {
    let Some([o, h, lo, c]) = l.ohlc else {
        return Ok(());
    };
    let get = |k: usize| match values[k] {
        Value::I128(v) => v,
        _ => 0,
    };
    let text = |k: usize| {
        let i = l.cols[k].index.unwrap_or(0);
        (
            i,
            String::from_utf8_lossy(rec.get(i).unwrap_or_default())
                .trim()
                .to_string(),
        )
    };
    let (high, low) = (get(h), get(lo));
    if high < low {
        let (i, hs) = text(h);
        return Err(FieldErr::new(
            i,
            format!("high '{hs}' is below low '{}'", text(lo).1),
        ));
    }
    for k in [o, c] {
        let v = get(k);
        if v < low || v > high {
            let (i, s) = text(k);
            return Err(FieldErr::new(
                i,
                format!(
                    "{} '{s}' is outside [low '{}', high '{}']",
                    l.cols[k].name,
                    text(lo).1,
                    text(h).1
                ),
            ));
        }
    }
    Ok(())
}
