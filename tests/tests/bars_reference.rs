//! Seeded fuzz test: tickflow's bar functions, run through SQL on a Parquet table, against a naive
//! reference written as a plain loop over the rows.
//!
//! The data is random trades with many exact timestamp ties, unique (shuffled) `seq` numbers,
//! NULL prices, sizes, timestamps and symbols, written shuffled into 1–3 Parquet files with small
//! row groups. Every query runs under every combination of `batch_size` x `target_partitions`, and
//! under a configuration that forces DataFusion to skip partial aggregation (so the aggregates'
//! `convert_to_state` is used). A query without GROUP BY exercises the row-at-a-time `Accumulator`.
//!
//! The reference computes exactly where it can: OHLC prices and decimal VWAPs compare exactly,
//! float VWAPs and standard deviations compare against exact integer sums within 1e-9 relative.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Decimal128Type, Field, Float64Type, Int64Type, Schema, TimeUnit};
use datafusion::common::Result;
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::{SessionConfig, SessionContext};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------------------------------------
// Data

const SYMBOLS: [&str; 5] = ["AAPL", "MSFT", "IBM", "SPRD", "TSLA"];
/// `SPRD` trades around zero (a spread), so prices and VWAPs go negative.
const NEAR_ZERO_SYMBOL: usize = 3;
/// 2024-03-05T14:45:00Z: the 30 minutes of trades cross the 15:00 UTC (10:00 New York) hour.
const BASE_SECONDS: i64 = 1_709_649_900;
const SPAN_SECONDS: i64 = 30 * 60;
/// time_bucket's default origin, 2000-01-03T00:00:00Z, in nanoseconds.
const ORIGIN_NS: i128 = 946_857_600 * 1_000_000_000;
/// Scale of the float price column's values (whole cents) and of the decimal column.
const FLOAT_SCALE: u32 = 2;
const DECIMAL_SCALE: u32 = 4;

/// How timestamps are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TsMode {
    /// Whole seconds, with bursts of equal timestamps.
    Seconds,
    /// Multiples of 100 ms, with bursts of equal timestamps.
    Tenths,
    /// Distinct microseconds: no two rows share a timestamp.
    Unique,
}

#[derive(Debug, Clone)]
struct Trade {
    symbol: Option<&'static str>,
    /// Nanoseconds since the epoch (the column holds it in its own unit; every value is a
    /// whole number of that unit).
    ts_ns: Option<i64>,
    seq: i64,
    /// The `price` column (DOUBLE) in whole cents: the stored value is `cents / 100.0`.
    cents: Option<i64>,
    /// The `price_dec` column (DECIMAL(18, 4)), unscaled.
    dec: Option<i64>,
    size: Option<i64>,
}

#[derive(Debug)]
struct Dataset {
    trades: Vec<Trade>,
    ts_type: DataType,
}

fn unit_nanos(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

fn ts_unit(ts_type: &DataType) -> TimeUnit {
    match ts_type {
        DataType::Timestamp(unit, _) => *unit,
        other => panic!("not a timestamp type: {other}"),
    }
}

fn generate(seed: u64, rows: usize, mode: TsMode, ts_type: DataType) -> Dataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seqs: Vec<i64> = (0..rows as i64).collect();
    seqs.shuffle(&mut rng);
    // Per-symbol random walks: cents for the DOUBLE column, 1/10000 for the DECIMAL one.
    let mut cents: Vec<i64> = (0..SYMBOLS.len())
        .map(|s| {
            if s == NEAR_ZERO_SYMBOL {
                30
            } else {
                5_000 + 4_000 * s as i64
            }
        })
        .collect();
    let mut decs: Vec<i64> = cents.iter().map(|c| c * 100 + 37).collect();
    let mut used_ts = HashSet::new();
    let mut last_ts = BASE_SECONDS * 1_000_000_000;
    let mut trades = Vec::with_capacity(rows);
    for (i, seq) in seqs.into_iter().enumerate() {
        let s = rng.random_range(0..SYMBOLS.len());
        let symbol = (!rng.random_bool(0.005)).then_some(SYMBOLS[s]);
        let base = BASE_SECONDS as i128 * 1_000_000_000;
        let ts = match mode {
            TsMode::Seconds | TsMode::Tenths if i > 0 && rng.random_bool(0.3) => last_ts,
            TsMode::Seconds => {
                (base + rng.random_range(0..SPAN_SECONDS) as i128 * 1_000_000_000) as i64
            }
            TsMode::Tenths => {
                (base + rng.random_range(0..SPAN_SECONDS * 10) as i128 * 100_000_000) as i64
            }
            TsMode::Unique => loop {
                let us = rng.random_range(0..SPAN_SECONDS * 1_000_000);
                if used_ts.insert(us) {
                    break (base + us as i128 * 1_000) as i64;
                }
            },
        };
        last_ts = ts;
        // A few NULL timestamps, always at least three.
        let ts_ns = (i >= 3 && !rng.random_bool(0.004)).then_some(ts);
        let step = if s == NEAR_ZERO_SYMBOL { 3 } else { 6 };
        cents[s] += rng.random_range(-step..=step);
        decs[s] += rng.random_range(-step * 100..=step * 100);
        trades.push(Trade {
            symbol,
            ts_ns,
            seq,
            cents: (!rng.random_bool(0.03)).then_some(cents[s]),
            dec: (!rng.random_bool(0.03)).then_some(decs[s]),
            size: (!rng.random_bool(0.03)).then(|| rng.random_range(1..=1000)),
        });
    }
    Dataset { trades, ts_type }
}

fn schema(ts_type: &DataType) -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("symbol", DataType::Utf8, true),
        Field::new("ts", ts_type.clone(), true),
        Field::new("seq", DataType::Int64, false),
        Field::new("price", DataType::Float64, true),
        Field::new("price_dec", DataType::Decimal128(18, 4), true),
        Field::new("size", DataType::Int64, true),
    ]))
}

fn to_batch(trades: &[Trade], ts_type: &DataType) -> Result<RecordBatch> {
    let per_unit = unit_nanos(ts_unit(ts_type));
    let ts = Int64Array::from_iter(trades.iter().map(|t| t.ts_ns.map(|ns| ns / per_unit)));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter(trades.iter().map(|t| t.symbol))),
        cast(&ts, ts_type)?,
        Arc::new(Int64Array::from_iter_values(trades.iter().map(|t| t.seq))),
        Arc::new(Float64Array::from_iter(
            trades.iter().map(|t| t.cents.map(|c| c as f64 / 100.0)),
        )),
        Arc::new(
            Decimal128Array::from_iter(trades.iter().map(|t| t.dec.map(i128::from)))
                .with_precision_and_scale(18, 4)?,
        ),
        Arc::new(Int64Array::from_iter(trades.iter().map(|t| t.size))),
    ];
    Ok(RecordBatch::try_new(schema(ts_type), columns)?)
}

/// Writes the trades, shuffled, into 1–3 Parquet files with 500-row row groups under `dir`.
fn write_parquet(data: &Dataset, seed: u64, dir: &std::path::Path) -> Result<()> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut rows = data.trades.clone();
    rows.shuffle(&mut rng);
    let files = rng.random_range(1..=3usize);
    let per_file = rows.len().div_ceil(files);
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(500))
        .build();
    for (i, chunk) in rows.chunks(per_file).enumerate() {
        let file = std::fs::File::create(dir.join(format!("part-{i}.parquet")))?;
        let mut writer = ArrowWriter::try_new(file, schema(&data.ts_type), Some(props.clone()))?;
        for batch_rows in chunk.chunks(rng.random_range(50..=400)) {
            writer.write(&to_batch(batch_rows, &data.ts_type)?)?;
        }
        writer.close()?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Queries and the reference

/// The price column a query aggregates.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PriceCol {
    /// `price`, DOUBLE.
    Float,
    /// `price_dec`, DECIMAL(18, 4).
    Decimal,
}

impl PriceCol {
    fn name(self) -> &'static str {
        match self {
            PriceCol::Float => "price",
            PriceCol::Decimal => "price_dec",
        }
    }
    fn scale(self) -> u32 {
        match self {
            PriceCol::Float => FLOAT_SCALE,
            PriceCol::Decimal => DECIMAL_SCALE,
        }
    }
    /// The row's price, unscaled.
    fn unscaled(self, t: &Trade) -> Option<i64> {
        match self {
            PriceCol::Float => t.cents,
            PriceCol::Decimal => t.dec,
        }
    }
    /// An unscaled price as the value the result column holds.
    fn num(self, unscaled: i64) -> Num {
        match self {
            PriceCol::Float => Num::F(unscaled as f64 / 100.0),
            PriceCol::Decimal => Num::D(unscaled as i128),
        }
    }
}

/// How rows are grouped: the reference's side of the SQL's GROUP BY.
#[derive(Debug, Clone, Copy)]
enum Grouping {
    /// `symbol, time_bucket(width, ts)` with the default origin.
    Fixed { width_ns: i128 },
    /// `symbol, time_bucket('1 hour', ts, 'America/New_York')`: New York's offsets are whole
    /// hours, so on a day without a DST change this is the UTC hour.
    NewYorkHour,
    /// No GROUP BY: one group.
    Whole,
}

/// Row filters of the aggregates (the SQL's FILTER clauses).
#[derive(Debug, Clone, Copy)]
struct Filters {
    ohlc: fn(&Trade) -> bool,
    vwap: fn(&Trade) -> bool,
    sd: fn(&Trade) -> bool,
    volume: fn(&Trade) -> bool,
}

const NO_FILTERS: Filters = Filters {
    ohlc: |_| true,
    vwap: |_| true,
    sd: |_| true,
    volume: |_| true,
};

const FILTERS: Filters = Filters {
    ohlc: |t| t.size.is_some_and(|s| s > 100),
    vwap: |t| t.size.is_some_and(|s| s > 100),
    sd: |t| t.seq % 3 != 0,
    volume: |t| t.ts_ns.is_some() && t.seq % 2 == 0,
};

#[derive(Debug, Clone, Copy)]
struct Variant {
    name: &'static str,
    grouping: Grouping,
    /// Whether the aggregates carry FILTER clauses ([`FILTERS`]).
    filtered: bool,
}

const ONE_MINUTE: Variant = Variant {
    name: "1 minute",
    grouping: Grouping::Fixed {
        width_ns: 60_000_000_000,
    },
    filtered: false,
};

const VARIANTS: [Variant; 5] = [
    ONE_MINUTE,
    Variant {
        name: "9 minutes",
        grouping: Grouping::Fixed {
            width_ns: 9 * 60_000_000_000,
        },
        filtered: false,
    },
    Variant {
        name: "1 hour America/New_York",
        grouping: Grouping::NewYorkHour,
        filtered: false,
    },
    Variant {
        name: "1 minute with FILTER",
        grouping: Grouping::Fixed {
            width_ns: 60_000_000_000,
        },
        filtered: true,
    },
    Variant {
        name: "no GROUP BY with FILTER",
        grouping: Grouping::Whole,
        filtered: true,
    },
];

impl Variant {
    fn filters(&self) -> Filters {
        if self.filtered { FILTERS } else { NO_FILTERS }
    }

    fn sql(&self, price: PriceCol, with_seq: bool) -> String {
        let p = price.name();
        let seq = if with_seq { ", seq" } else { "" };
        let (ohlc_f, vwap_f, sd_f, vol_f) = if !self.filtered {
            ("", "", "", "")
        } else {
            (
                " FILTER (WHERE size > 100)",
                " FILTER (WHERE size > 100)",
                " FILTER (WHERE seq % 3 <> 0)",
                " FILTER (WHERE ts IS NOT NULL AND seq % 2 = 0)",
            )
        };
        let aggregates = format!(
            "ohlc(ts, {p}{seq}){ohlc_f} AS bar, vwap({p}, size){vwap_f} AS vwap, \
             bar_std({p}){sd_f} AS sd, total_volume(size){vol_f} AS volume, count(*) AS n"
        );
        let bucket = match self.grouping {
            Grouping::Fixed {
                width_ns: 60_000_000_000,
            } => "time_bucket(INTERVAL '1 minute', ts)",
            Grouping::Fixed {
                width_ns: 540_000_000_000,
            } => "time_bucket(INTERVAL '9 minutes', ts)",
            Grouping::Fixed { width_ns } => panic!("no SQL for a {width_ns} ns bucket"),
            Grouping::NewYorkHour => "time_bucket('1 hour', ts, 'America/New_York')",
            Grouping::Whole => return format!("SELECT {aggregates} FROM trades"),
        };
        format!("SELECT symbol, {bucket} AS bucket, {aggregates} FROM trades GROUP BY 1, 2")
    }

    /// The group of a row: (symbol, bucket start in nanoseconds).
    fn key(&self, t: &Trade) -> Key {
        let bucket = |width: i128, origin: i128| {
            t.ts_ns.map(|ts| {
                let ts = ts as i128;
                ((ts - origin).div_euclid(width) * width + origin) as i64
            })
        };
        match self.grouping {
            Grouping::Fixed { width_ns } => {
                (t.symbol.map(str::to_owned), bucket(width_ns, ORIGIN_NS))
            }
            Grouping::NewYorkHour => (t.symbol.map(str::to_owned), bucket(3_600_000_000_000, 0)),
            Grouping::Whole => (None, None),
        }
    }
}

/// (symbol, bucket start in nanoseconds); None for NULL.
type Key = (Option<String>, Option<i64>);

/// A price-typed value: DOUBLE or unscaled DECIMAL.
#[derive(Debug, Clone, Copy)]
enum Num {
    F(f64),
    D(i128),
}

impl Num {
    /// Exact equality (floats bit for bit).
    fn same(self, other: Num) -> bool {
        match (self, other) {
            (Num::F(a), Num::F(b)) => a.to_bits() == b.to_bits(),
            (Num::D(a), Num::D(b)) => a == b,
            _ => false,
        }
    }
    /// Floats within 1e-9 relative; decimals exactly.
    fn close(self, other: Num) -> bool {
        match (self, other) {
            (Num::F(a), Num::F(b)) => close(a, b),
            _ => self.same(other),
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-12
}

/// One result row (or the reference's expectation of it).
#[derive(Debug, Clone)]
struct Bar {
    /// open, high, low, close.
    ohlc: Option<[Num; 4]>,
    vwap: Option<Num>,
    sd: Option<f64>,
    volume: Option<i64>,
    n: i64,
}

impl Bar {
    fn matches(&self, other: &Bar) -> bool {
        let ohlc = match (&self.ohlc, &other.ohlc) {
            (None, None) => true,
            (Some(a), Some(b)) => a.iter().zip(b).all(|(x, y)| x.same(*y)),
            _ => false,
        };
        let vwap = match (self.vwap, other.vwap) {
            (None, None) => true,
            (Some(a), Some(b)) => a.close(b),
            _ => false,
        };
        let sd = match (self.sd, other.sd) {
            (None, None) => true,
            (Some(a), Some(b)) => close(a, b),
            _ => false,
        };
        ohlc && vwap && sd && self.volume == other.volume && self.n == other.n
    }
}

/// One group's running sums in the reference, all exact integers.
#[derive(Debug, Default)]
struct RefGroup {
    /// ((ts, seq), unscaled price) of the open and close rows.
    open: Option<((i64, i64), i64)>,
    close: Option<((i64, i64), i64)>,
    high: Option<i64>,
    low: Option<i64>,
    vwap_rows: usize,
    sum_pv: i128,
    sum_v: i128,
    sd_n: i128,
    sd_sum: i128,
    sd_sum_sq: i128,
    volume: Option<i64>,
    n: i64,
}

/// Rounds `num / den` half away from zero.
fn div_round_half_away(num: i128, den: i128) -> i128 {
    let (q, r) = (num / den, num % den);
    if 2 * r.abs() >= den.abs() {
        q + if (num < 0) == (den < 0) { 1 } else { -1 }
    } else {
        q
    }
}

/// The plain-loop reference. Without `seq`, every row's tie-breaker is 0: the data must then have
/// no two rows of a group with the same ts (checked).
fn reference(
    trades: &[Trade],
    variant: &Variant,
    price: PriceCol,
    with_seq: bool,
) -> BTreeMap<Key, Bar> {
    let mut groups: BTreeMap<Key, RefGroup> = BTreeMap::new();
    let f = variant.filters();
    for t in trades {
        let g = groups.entry(variant.key(t)).or_default();
        g.n += 1;
        let p = price.unscaled(t);
        if let (Some(ts), Some(p), true) = (t.ts_ns, p, (f.ohlc)(t)) {
            let key = (ts, if with_seq { t.seq } else { 0 });
            if let Some((open_key, _)) = g.open {
                assert!(
                    with_seq || key.0 != open_key.0,
                    "test data has a ts tie without seq"
                );
            }
            if g.open.is_none_or(|(k, _)| key < k) {
                g.open = Some((key, p));
            }
            if g.close.is_none_or(|(k, _)| key > k) {
                g.close = Some((key, p));
            }
            g.high = Some(g.high.map_or(p, |h| h.max(p)));
            g.low = Some(g.low.map_or(p, |l| l.min(p)));
        }
        if let (Some(p), Some(v), true) = (p, t.size, (f.vwap)(t)) {
            g.vwap_rows += 1;
            g.sum_pv += p as i128 * v as i128;
            g.sum_v += v as i128;
        }
        if let (Some(p), true) = (p, (f.sd)(t)) {
            g.sd_n += 1;
            g.sd_sum += p as i128;
            g.sd_sum_sq += p as i128 * p as i128;
        }
        if let (Some(v), true) = (t.size, (f.volume)(t)) {
            g.volume = Some(g.volume.unwrap_or(0) + v);
        }
    }
    let scale = 10_f64.powi(price.scale() as i32);
    groups
        .into_iter()
        .map(|(key, g)| {
            let ohlc = match (g.open, g.high, g.low, g.close) {
                (Some((_, o)), Some(h), Some(l), Some((_, c))) => {
                    Some([o, h, l, c].map(|x| price.num(x)))
                }
                _ => None,
            };
            let vwap = (g.vwap_rows > 0 && g.sum_v != 0).then(|| match price {
                PriceCol::Float => Num::F(g.sum_pv as f64 / (g.sum_v as f64 * scale)),
                // DECIMAL(38, 8): Σ(p·v) at scale 4, times 10^4, over Σv.
                PriceCol::Decimal => Num::D(div_round_half_away(g.sum_pv * 10_000, g.sum_v)),
            });
            // Exact: var = (nΣx² − (Σx)²) / (n(n−1)) in unscaled units.
            let sd = (g.sd_n >= 2).then(|| {
                let numerator = g.sd_n * g.sd_sum_sq - g.sd_sum * g.sd_sum;
                assert!(numerator >= 0);
                (numerator as f64 / (g.sd_n * (g.sd_n - 1)) as f64).sqrt() / scale
            });
            let bar = Bar {
                ohlc,
                vwap,
                sd,
                volume: g.volume,
                n: g.n,
            };
            (key, bar)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Running the queries

#[derive(Debug, Clone, Copy)]
struct Config {
    batch_size: usize,
    partitions: usize,
    /// Force the skip-partial-aggregation path (`convert_to_state`).
    skip_partial: bool,
}

fn configs() -> Vec<Config> {
    let mut configs = Vec::new();
    for batch_size in [1, 7, 8192] {
        for partitions in [1, 2, 8] {
            configs.push(Config {
                batch_size,
                partitions,
                skip_partial: false,
            });
        }
    }
    for (batch_size, partitions) in [(1, 8), (7, 2), (7, 8), (8192, 2)] {
        configs.push(Config {
            batch_size,
            partitions,
            skip_partial: true,
        });
    }
    configs
}

async fn context(config: Config, dir: &std::path::Path) -> Result<SessionContext> {
    let mut session = SessionConfig::new()
        .with_batch_size(config.batch_size)
        .with_target_partitions(config.partitions);
    if config.skip_partial {
        session = session
            .set_usize(
                "datafusion.execution.skip_partial_aggregation_probe_rows_threshold",
                0,
            )
            .set_str(
                "datafusion.execution.skip_partial_aggregation_probe_ratio_threshold",
                "0.0",
            );
    }
    let ctx = tickflow_plan::session_context(session)?;
    let location = format!("{}/", dir.display());
    ctx.sql(&format!(
        "CREATE EXTERNAL TABLE trades STORED AS PARQUET LOCATION '{location}'"
    ))
    .await?
    .collect()
    .await?;
    Ok(ctx)
}

fn metric_sum(plan: &Arc<dyn ExecutionPlan>, name: &str) -> usize {
    let own = plan
        .metrics()
        .and_then(|m| m.sum_by_name(name))
        .map_or(0, |v| v.as_usize());
    own + plan
        .children()
        .into_iter()
        .map(|child| metric_sum(child, name))
        .sum::<usize>()
}

fn num_at(column: &ArrayRef, row: usize) -> Option<Num> {
    if column.is_null(row) {
        return None;
    }
    Some(match column.data_type() {
        DataType::Float64 => Num::F(column.as_primitive::<Float64Type>().value(row)),
        DataType::Decimal128(_, _) => Num::D(column.as_primitive::<Decimal128Type>().value(row)),
        other => panic!("unexpected price-typed column {other}"),
    })
}

/// Reads a query's result into a map keyed like the reference's (bucket in nanoseconds).
fn read_result(
    batches: &[RecordBatch],
    ts_type: &DataType,
    price: PriceCol,
) -> Result<BTreeMap<Key, Bar>> {
    let price_type = match price {
        PriceCol::Float => DataType::Float64,
        PriceCol::Decimal => DataType::Decimal128(18, 4),
    };
    let vwap_type = match price {
        PriceCol::Float => DataType::Float64,
        PriceCol::Decimal => DataType::Decimal128(38, 8),
    };
    let per_unit = unit_nanos(ts_unit(ts_type));
    let mut out = BTreeMap::new();
    for batch in batches {
        let column = |name: &str| batch.column_by_name(name).cloned();
        let symbols = match column("symbol") {
            Some(c) => Some(cast(&c, &DataType::Utf8)?),
            None => None,
        };
        let buckets = match column("bucket") {
            Some(c) => {
                assert_eq!(c.data_type(), ts_type, "bucket type");
                Some(cast(&c, &DataType::Int64)?)
            }
            None => None,
        };
        let bar = column("bar").expect("bar column");
        let bar = bar.as_struct();
        let fields: Vec<ArrayRef> = ["open", "high", "low", "close"]
            .iter()
            .map(|name| {
                let field = bar.column_by_name(name).expect("ohlc field").clone();
                assert_eq!(field.data_type(), &price_type, "ohlc field {name} type");
                field
            })
            .collect();
        let vwap = column("vwap").expect("vwap column");
        assert_eq!(vwap.data_type(), &vwap_type, "vwap type");
        let sd = column("sd").expect("sd column");
        let sd = sd.as_primitive::<Float64Type>();
        let volume = column("volume").expect("volume column");
        let volume = volume.as_primitive::<Int64Type>();
        let n = column("n").expect("n column");
        let n = n.as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            let symbol = symbols.as_ref().and_then(|s| {
                s.is_valid(row)
                    .then(|| s.as_string::<i32>().value(row).to_owned())
            });
            let bucket = buckets.as_ref().and_then(|b| {
                b.is_valid(row)
                    .then(|| b.as_primitive::<Int64Type>().value(row) * per_unit)
            });
            let ohlc = bar.is_valid(row).then(|| {
                let mut values = [Num::D(0); 4];
                for (value, field) in values.iter_mut().zip(&fields) {
                    *value = num_at(field, row).expect("a non-NULL bar has non-NULL fields");
                }
                values
            });
            let result = Bar {
                ohlc,
                vwap: num_at(&vwap, row),
                sd: sd.is_valid(row).then(|| sd.value(row)),
                volume: volume.is_valid(row).then(|| volume.value(row)),
                n: n.value(row),
            };
            let key = (symbol, bucket);
            if let Some(previous) = out.insert(key.clone(), result) {
                panic!("group {key:?} appears twice in the result (first {previous:?})");
            }
        }
    }
    Ok(out)
}

/// Differences between expected and actual results, described; empty when they agree.
fn differences(expected: &BTreeMap<Key, Bar>, actual: &BTreeMap<Key, Bar>) -> Vec<String> {
    let mut diffs = Vec::new();
    if expected.len() != actual.len() {
        diffs.push(format!(
            "{} groups expected, {} returned",
            expected.len(),
            actual.len()
        ));
    }
    for (key, want) in expected {
        match actual.get(key) {
            None => diffs.push(format!("group {key:?} missing; expected {want:?}")),
            Some(got) if !want.matches(got) => diffs.push(format!(
                "group {key:?}:\n    expected {want:?}\n    got      {got:?}"
            )),
            Some(_) => {}
        }
    }
    for (key, got) in actual {
        if !expected.contains_key(key) {
            diffs.push(format!("unexpected group {key:?}: {got:?}"));
        }
    }
    diffs
}

/// A dataset on disk, and which batch sizes it is queried with.
#[derive(Debug)]
struct Table {
    data: Dataset,
    dir: tempfile::TempDir,
    batch_sizes: &'static [usize],
}

fn table(
    seed: u64,
    rows: usize,
    mode: TsMode,
    ts_type: DataType,
    batch_sizes: &'static [usize],
) -> Result<Table> {
    let data = generate(seed, rows, mode, ts_type);
    // Guard the generator: with ties, well over a tenth of the rows share their symbol and ts
    // with another row, so open/close depend on seq.
    let mut per_key: BTreeMap<(Option<&str>, i64), usize> = BTreeMap::new();
    for t in &data.trades {
        if let Some(ts) = t.ts_ns {
            *per_key.entry((t.symbol, ts)).or_default() += 1;
        }
    }
    let tied: usize = per_key.values().filter(|&&n| n > 1).sum();
    match mode {
        TsMode::Unique => assert_eq!(tied, 0, "seed {seed}: unique timestamps expected"),
        TsMode::Seconds | TsMode::Tenths => assert!(
            tied * 10 > rows,
            "seed {seed}: only {tied} of {rows} rows share a (symbol, ts)"
        ),
    }
    let dir = tempfile::tempdir()?;
    write_parquet(&data, seed, dir.path())?;
    Ok(Table {
        data,
        dir,
        batch_sizes,
    })
}

/// Runs every variant, for both price columns, under every config, and panics listing every
/// configuration whose result differs from the reference.
async fn check(label: &str, tables: &[Table], variants: &[Variant], with_seq: bool) -> Result<()> {
    let mut failures = String::new();
    let mut failed = 0;
    let mut queries = 0;
    for table in tables {
        let expected: Vec<_> = variants
            .iter()
            .flat_map(|v| [PriceCol::Float, PriceCol::Decimal].map(|p| (v, p)))
            .map(|(v, p)| (v, p, reference(&table.data.trades, v, p, with_seq)))
            .collect();
        for config in configs() {
            if !table.batch_sizes.contains(&config.batch_size) {
                continue;
            }
            let ctx = context(config, table.dir.path()).await?;
            for (variant, price, want) in &expected {
                let sql = variant.sql(*price, with_seq);
                let plan = ctx.sql(&sql).await?.create_physical_plan().await?;
                let batches = collect(Arc::clone(&plan), ctx.task_ctx()).await?;
                queries += 1;
                let skipped = metric_sum(&plan, "skipped_aggregation_rows");
                if config.skip_partial
                    && config.partitions > 1
                    && variant.name != "no GROUP BY with FILTER"
                {
                    assert!(
                        skipped > 0,
                        "{label}: {config:?} did not skip partial aggregation for {sql}"
                    );
                }
                let got = read_result(&batches, &table.data.ts_type, *price)?;
                let diffs = differences(want, &got);
                if !diffs.is_empty() {
                    failed += 1;
                    let _ = writeln!(
                        failures,
                        "\n{label}: {} rows, ts {}, {config:?}, variant '{}', {} column: {} differences\n  {sql}",
                        table.data.trades.len(),
                        table.data.ts_type,
                        variant.name,
                        price.name(),
                        diffs.len(),
                    );
                    for diff in diffs.iter().take(3) {
                        let _ = writeln!(failures, "  {diff}");
                    }
                }
            }
        }
    }
    assert!(
        failed == 0,
        "{failed} of {queries} queries differ from the reference:{failures}"
    );
    Ok(())
}

/// A large table for batch sizes 7 and 8192, a small one for batch size 1 (slow in debug).
fn tables(seed: u64, mode: TsMode, ts_type: DataType) -> Result<Vec<Table>> {
    Ok(vec![
        table(seed, 3_000, mode, ts_type.clone(), &[7, 8192])?,
        table(seed + 1_000, 500, mode, ts_type, &[1])?,
    ])
}

// ---------------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn bars_match_reference_microsecond_ties_on_seconds() -> Result<()> {
    let tables = tables(
        1,
        TsMode::Seconds,
        DataType::Timestamp(TimeUnit::Microsecond, None),
    )?;
    check("seed 1", &tables, &VARIANTS, true).await
}

#[tokio::test]
async fn bars_match_reference_nanosecond_utc_ties_on_100ms() -> Result<()> {
    let ts_type = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
    let tables = tables(2, TsMode::Tenths, ts_type)?;
    check("seed 2", &tables, &VARIANTS, true).await
}

#[tokio::test]
async fn bars_match_reference_millisecond_ties_on_seconds() -> Result<()> {
    let tables = tables(
        3,
        TsMode::Seconds,
        DataType::Timestamp(TimeUnit::Millisecond, None),
    )?;
    check("seed 3", &tables, &VARIANTS, true).await
}

/// Without `seq`, open and close are well defined only when no two rows share a ts: then they
/// must equal the reference's exactly, under any partitioning and batch size.
#[tokio::test]
async fn ohlc_without_seq_matches_reference_on_unique_ts() -> Result<()> {
    let tables = tables(
        4,
        TsMode::Unique,
        DataType::Timestamp(TimeUnit::Microsecond, None),
    )?;
    check("seed 4 without seq", &tables, &VARIANTS, false).await
}
