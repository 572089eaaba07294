//! Unit tests of the generator: determinism, the shape of each output, the market's skew.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::Path;

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike, Weekday};
use chrono_tz::America::New_York;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Decimal128Type, Int64Type, TimestampNanosecondType};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::Result;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::format::{push_int, push_price, push_time};
use super::market::{CLOSE_LOCAL_US, Day, OPEN_LOCAL_US, ticker_names};
use super::*;

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
    let mut expected: std::collections::BTreeMap<(String, String), [i64; 5]> = Default::default();
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
