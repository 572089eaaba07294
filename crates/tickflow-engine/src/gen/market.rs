//! The simulated market: symbols and their Zipf-like activity, random-walk prices, lots,
//! exchanges and sale conditions, and the trading day's session in UTC.

use std::sync::Arc;

use chrono::{NaiveDate, NaiveTime, TimeZone};
use chrono_tz::America::New_York;
use datafusion::arrow::array::{
    ArrayRef, Decimal128Array, Int64Array, StringBuilder, TimestampNanosecondArray,
};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{Result, exec_err};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::trades_schema;

/// Weighted choice tables, each weight out of 1,000.
pub(super) const EXCHANGES: [(&str, u32); 16] = [
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
pub(super) const CONDITIONS: [&str; 6] = ["@", "F", "@T", "@I", "FI", "@TI"];
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

pub(super) struct Market {
    rng: SmallRng,
    pub(super) names: Vec<String>,
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
    pub(super) fn new(symbols: u32, seed: u64) -> Market {
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
    pub(super) fn start_day(&mut self, rows: u64) {
        let total = self.cdf.last().copied().unwrap_or(1.0);
        let mut prev = 0.0;
        for (rank, c) in self.cdf.iter().enumerate() {
            let expected = (c - prev) / total * rows as f64;
            prev = *c;
            self.sigma[rank] = DAILY_VOLATILITY / expected.max(1.0).sqrt();
        }
    }

    /// Generates rows `from..from + count` of `day` into `out` (cleared first).
    pub(super) fn fill(&mut self, day: &Day, from: u64, count: usize, out: &mut Trades) {
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
pub(super) fn ticker_names(symbols: u32) -> Vec<String> {
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
pub(super) struct Day {
    pub(super) date: NaiveDate,
    /// `YYYY-MM-DD`
    pub(super) iso: String,
    pub(super) rows: u64,
    /// 09:30 New York time, in microseconds since the epoch (UTC).
    pub(super) open_utc_us: i64,
    /// 09:30 to 16:00 in microseconds.
    pub(super) span_us: i64,
}

/// 09:30 as microseconds since local midnight.
pub(super) const OPEN_LOCAL_US: i64 = (9 * 3600 + 30 * 60) * 1_000_000;
pub(super) const CLOSE_LOCAL_US: i64 = 16 * 3600 * 1_000_000;

impl Day {
    pub(super) fn new(date: NaiveDate, rows: u64) -> Result<Day> {
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
    pub(super) fn local_us(&self, ts_us: i64) -> i64 {
        OPEN_LOCAL_US + (ts_us - self.open_utc_us)
    }
}

/// One batch of trades, column by column, in plain numbers.
#[derive(Debug, Default)]
pub(super) struct Trades {
    pub(super) symbol: Vec<u32>,
    pub(super) ts_us: Vec<i64>,
    pub(super) price_cents: Vec<i64>,
    pub(super) size: Vec<i64>,
    pub(super) exchange: Vec<u8>,
    pub(super) condition: Vec<u8>,
    pub(super) seq: Vec<i64>,
}

impl Trades {
    pub(super) fn with_capacity(n: usize) -> Trades {
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

    pub(super) fn len(&self) -> usize {
        self.seq.len()
    }

    pub(super) fn to_record_batch(&self, names: &[String]) -> Result<RecordBatch> {
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
