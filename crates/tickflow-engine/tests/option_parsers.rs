//! Arbitrary text at every value parser a user reaches (storage and cache options as `SET`
//! takes them, durations, sizes, switches, bar widths, reject limits, partitionings, schemas,
//! column types, symbol regexes, DST rules, `--param`, script parameters) and arbitrary CSV at
//! the ingest parser of every shape: each returns a value or an error, never panics.
//!
//! Two generators per parser: any Unicode string, and near misses built from the parser's own
//! vocabulary (numbers with exponents, signs and units, interval words), which reach the
//! arithmetic that once overflowed (`1e20` seconds, a year 1500 timestamp).

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::AtomicU64;

use chrono::TimeZone;
use proptest::prelude::*;
use proptest::string::string_regex;
use tickflow_engine::bars::BarWidth;
use tickflow_engine::ingest::parse::{ParseOptions, Shape, parse_file};
use tickflow_engine::ingest::seq::SeqBase;
use tickflow_engine::ingest::{
    Ambiguous, ColType, Nonexistent, Partitioning, RejectLimit, SymbolFromName, parse_schema,
};
use tickflow_engine::storage::options::{
    AzureOptions, CacheOptions, GcsOptions, S3Options, StorageOptions, parse_duration, parse_size,
    parse_switch,
};
use tickflow_engine::storage::registry::CacheSettings;

const CASES: u32 = 2_000;

/// Any string, or one made of the pieces option values are made of.
fn value() -> impl Strategy<Value = String> {
    let near_miss = string_regex(
        "[ +-]?[0-9]{0,22}(\\.[0-9]{0,12})?([eE][+-]?[0-9]{1,4})? ?\
         (ms|s|m|h|d|B|KB|MiB|GiB|TB|TiB|%|minutes?|hours?|days?|months?|years?|weeks?|nanoseconds?|)",
    )
    .expect("regex");
    let words = string_regex(
        "(date|month|year|none|symbol|,|raise|earliest|latest|shift[-_](forward|backward)|\
         DECIMAL|\\(|\\)|[0-9]{1,3}|BIGINT|VARCHAR| |=|\\$\\{|\\}|:-|[a-z]{1,3}){0,8}",
    )
    .expect("regex");
    prop_oneof![any::<String>(), near_miss, words]
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn value_parsers_never_panic(v in value()) {
        let _ = parse_duration(&v);
        let _ = parse_size(&v);
        let _ = parse_switch(&v);
        let _ = BarWidth::from_str(&v);
        let _ = RejectLimit::from_str(&v);
        let _ = Partitioning::from_str(&v);
        let _ = parse_schema(&v);
        let _ = ColType::parse(&v);
        let _ = SymbolFromName::parse(&v).map(|s| s.extract(&v));
        let _ = Ambiguous::parse(&v);
        let _ = Nonexistent::parse(&v);
        let _ = tickflow_engine::params::parse_assignment(&v);
        let params = BTreeMap::from([("p".to_string(), v.clone())]);
        let _ = tickflow_engine::params::substitute(&v, &params, "fuzz.sql");
        let _ = tickflow_engine::params::substitute("SELECT '${p}'", &params, "fuzz.sql");
    }

    #[test]
    fn a_parsed_duration_is_at_most_a_year(v in value()) {
        if let Ok(d) = parse_duration(&v) {
            prop_assert!(d <= tickflow_engine::storage::options::MAX_DURATION, "{v}: {d:?}");
        }
    }

    #[test]
    fn storage_options_never_panic(key in prop_oneof![
        Just("timeout".to_string()), Just("connect_timeout".to_string()),
        Just("retry_timeout".to_string()), Just("max_retries".to_string()),
        Just("max_size".to_string()), Just("block_size".to_string()),
        Just("enabled".to_string()), Just("dir".to_string()),
        Just("endpoint".to_string()), Just("allow_http".to_string()), any::<String>()
    ], v in value()) {
        let _ = S3Options::default().set_value(&key, &v);
        let _ = AzureOptions::default().set_value(&key, &v);
        let _ = GcsOptions::default().set_value(&key, &v);
        let _ = StorageOptions::default().set_value(&key, &v);
        let _ = CacheOptions::default().set_value(&key, &v);
        let _ = CacheSettings::of(&BTreeMap::from([(key.clone(), v.clone())]));
    }
}

/// Fields ingest meets: good ones, and every kind of bad one found by probing (dates beyond
/// 1677–2262, the DST hours of New York, leap seconds, huge numbers, quotes, empties).
fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("2024-01-02".to_string()),
        Just("1500-01-02".to_string()),
        Just("2262-04-12".to_string()),
        Just("9999-12-31".to_string()),
        Just("0000-01-01".to_string()),
        Just("2024-11-03".to_string()),
        Just("2024-03-10".to_string()),
        Just("20240102".to_string()),
        Just("01:30:00".to_string()),
        Just("02:30:00".to_string()),
        Just("23:59:60".to_string()),
        Just("09:30:00.123456789".to_string()),
        Just("2024-03-10 02:30:00".to_string()),
        Just("1677-09-21 00:12:43".to_string()),
        Just("AAPL".to_string()),
        Just("185.64".to_string()),
        Just("-1".to_string()),
        Just("1e308".to_string()),
        Just("99999999999999999999999999999999999999999".to_string()),
        Just("100".to_string()),
        Just("\"a,b\"".to_string()),
        Just("\"unclosed".to_string()),
        Just(String::new()),
        "[ -~]{0,12}",
        any::<String>(),
    ]
}

/// A trades line whose fields are mostly good, so that a bad date or time reaches the
/// conversion to UTC (which runs after every other field is checked).
fn trade_line() -> impl Strategy<Value = String> {
    let date = prop::sample::select(vec![
        "2024-01-02",
        "1500-01-02",
        "1677-09-21",
        "1677-09-20",
        "2262-04-11",
        "2262-04-12",
        "9999-12-31",
        "2024-11-03",
        "2024-03-10",
        "2024-02-30",
    ]);
    let time = prop::sample::select(vec![
        "09:30:00",
        "00:00:00",
        "00:12:43",
        "01:30:00",
        "02:30:00",
        "23:47:16.854775807",
        "23:59:59.999999999",
        "24:00:00",
        "9:30",
    ]);
    let price = prop::sample::select(vec!["185.64", "0.0001", "99999999999999.9999", "-1", "1e3"]);
    (date, time, price).prop_map(|(d, t, p)| format!("{d},{t},AAPL,{p},100,Q,,1"))
}

fn csv() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        prop::collection::vec(field(), 0..10).prop_map(|f| f.join(",")),
        trade_line(),
    ];
    let header = prop_oneof![
        Just("date,time,symbol,price,size,exchange,conditions,seq".to_string()),
        Just("ts,symbol,open,high,low,close,volume".to_string()),
        Just("Date,Open,High,Low,Close,Adj Close,Volume".to_string()),
        Just(String::new()),
    ];
    (header, prop::collection::vec(line, 0..6))
        .prop_map(|(h, lines)| format!("{h}\n{}\n", lines.join("\n")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..config() })]

    #[test]
    fn ingest_parses_any_csv_without_panicking(
        text in csv(),
        shape in prop_oneof![
            Just(None), Just(Some(Shape::Trades)), Just(Some(Shape::MinuteBars)),
            Just(Some(Shape::Daily)), Just(Some(Shape::Csv))
        ],
        ambiguous in prop_oneof![Just(Ambiguous::Raise), Just(Ambiguous::Latest)],
        nonexistent in prop_oneof![Just(Nonexistent::Raise), Just(Nonexistent::ShiftForward)],
        format in prop_oneof![Just(None), Just(Some("%Y-%m-%d %H:%M:%S".to_string()))],
    ) {
        let opts = ParseOptions {
            shape,
            ambiguous,
            nonexistent,
            timestamp_format: format,
            ..ParseOptions::default()
        };
        for strict in [true, false] {
            let parsed = parse_file(
                "fuzz.csv",
                "AAPL_full_1min.csv",
                text.as_bytes(),
                SeqBase::new(0, 0).expect("fits"),
                &opts,
                strict,
                &AtomicU64::new(0),
            );
            if let Ok(p) = parsed {
                prop_assert_eq!(p.batch.num_rows(), p.ts.len());
                prop_assert_eq!(p.dates.len(), p.ts.len());
                // Each row's UTC instant falls on its local date in the source zone: a wrapped
                // timestamp (year 1500 read as 2084) does not.
                for (&ts, &date) in p.ts.iter().zip(&p.dates) {
                    let local = opts.source_tz.timestamp_nanos(ts).date_naive();
                    let days = (local - chrono::NaiveDate::default()).num_days();
                    prop_assert_eq!(days, i64::from(date), "ts {} in {}", ts, text);
                }
            }
        }
    }
}
