//! Unit tests of CSV parsing: good rows, every kind of bad field, quoting, shapes.

use std::sync::atomic::AtomicU64;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Decimal128Type, Int64Type, TimestampNanosecondType};

use super::parse::{ParseOptions, Shape, parse_decimal4, parse_file};

const HEADER: &str = "date,time,symbol,price,size,exchange,conditions,seq\n";

fn parse(name: &str, text: &str, strict: bool) -> crate::error::Result<super::parse::Parsed> {
    parse_file(
        name,
        name,
        text.as_bytes(),
        0,
        &ParseOptions::default(),
        strict,
        &AtomicU64::new(0),
    )
}

fn strict_err(text: &str) -> String {
    match parse("t.csv", text, true) {
        Ok(_) => panic!("expected an error for {text:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn good_trades() {
    let text = format!(
        "{HEADER}2024-01-02,09:30:00.000001,AAPL,185.6400,100,Q,\"@ F\",17\n2024-01-02,09:30:01,MSFT,370.1,5,N,,18\n"
    );
    let p = parse("t.csv", &text, true).expect("parses");
    assert_eq!(p.shape, Shape::Trades);
    assert_eq!(p.batch.num_rows(), 2);
    let ts = p.batch.column(1).as_primitive::<TimestampNanosecondType>();
    // 09:30 EST = 14:30 UTC.
    assert_eq!(ts.value(0), 1_704_205_800_000_001_000);
    let price = p.batch.column(2).as_primitive::<Decimal128Type>();
    assert_eq!(price.value(0), 1_856_400);
    assert_eq!(price.value(1), 3_701_000);
    let cond = p.batch.column(5).as_string::<i32>();
    assert_eq!(cond.value(0), "@ F");
    let seq = p.batch.column(6).as_primitive::<Int64Type>();
    assert_eq!((seq.value(0), seq.value(1)), (2, 3));
    let src = p.batch.column(7).as_primitive::<Int64Type>();
    assert_eq!(src.value(1), 18);
    assert_eq!(p.dates, vec![19724, 19724]);
}

#[test]
fn summer_time_and_seq_of_file_index() {
    let text = format!("{HEADER}2024-07-01,09:30:00,A,1,1,Q,,\n");
    let p = parse_file(
        "t.csv",
        "t.csv",
        text.as_bytes(),
        3,
        &ParseOptions::default(),
        true,
        &AtomicU64::new(0),
    )
    .expect("parses");
    let ts = p.batch.column(1).as_primitive::<TimestampNanosecondType>();
    // 09:30 EDT = 13:30 UTC.
    assert_eq!(ts.value(0), 1_719_840_600_000_000_000);
    let seq = p.batch.column(6).as_primitive::<Int64Type>();
    assert_eq!(seq.value(0), (3 << 40) + 2);
    let src = p.batch.column(7).as_primitive::<Int64Type>();
    assert!(src.is_null(0));
}

#[test]
fn bad_fields_name_line_and_column() {
    let cases = [
        (
            "2024-01-02,09:30:00,AAPL,abc,100,Q,,1",
            "t.csv:2:4: price 'abc' is not a number",
        ),
        (
            "2024-01-02,09:30:00,AAPL,1.23456,100,Q,,1",
            "t.csv:2:4: price '1.23456' has more than 4 decimal places",
        ),
        (
            "2024-01-02,09:30:00,AAPL,,100,Q,,1",
            "t.csv:2:4: price '' is empty",
        ),
        (
            "2024-01-02,09:30:00,AAPL,-1,100,Q,,1",
            "t.csv:2:4: price '-1' is not positive",
        ),
        (
            "2024-01-02,09:30:00,AAPL,1.5,1x,Q,,1",
            "t.csv:2:5: size '1x' is not an integer",
        ),
        (
            "2024-01-02,09:30:00,AAPL,1.5,-3,Q,,1",
            "t.csv:2:5: size '-3' is negative",
        ),
        (
            "2024-13-02,09:30:00,AAPL,1.5,3,Q,,1",
            "t.csv:2:1: date '2024-13-02' is not a date",
        ),
        (
            "2024-01-02,9:30,AAPL,1.5,3,Q,,1",
            "t.csv:2:2: time '9:30' is not a time",
        ),
        (
            "2024-01-02,09:30:00,,1.5,3,Q,,1",
            "t.csv:2:3: symbol is empty",
        ),
        (
            "2024-01-02,09:30:00,AAPL,1.5,3,Q,,x",
            "t.csv:2:8: seq 'x' is not an integer",
        ),
        (
            "2024-01-02,09:30:00,AAPL,1.5,3",
            "t.csv:2:6: expected 8 fields, found 5",
        ),
        (
            "2024-01-02,09:30:00,AAPL,1.5,3,Q,,1,extra",
            "t.csv:2:9: expected 8 fields, found 9",
        ),
        (
            "2024-03-10,02:30:00,AAPL,1.5,3,Q,,1",
            "t.csv:2:2: time 2024-03-10 02:30:00 does not exist",
        ),
    ];
    for (row, want) in cases {
        let err = strict_err(&format!("{HEADER}{row}\n"));
        assert!(err.starts_with(want), "{row}: got {err}, want {want}");
    }
}

#[test]
fn line_numbers_count_quoted_newlines_and_later_rows() {
    let text = format!(
        "{HEADER}2024-01-02,09:30:00,A,1,1,Q,\"multi\nline\",1\n2024-01-02,09:30:00,A,1,1,Q,,2\n2024-01-02,09:30:00,A,oops,1,Q,,3\n"
    );
    assert!(strict_err(&text).starts_with("t.csv:5:4: price 'oops'"));
}

#[test]
fn lenient_mode_keeps_rejects_verbatim() {
    let text = format!(
        "{HEADER}2024-01-02,09:30:00,A,1,1,Q,,1\r\n2024-01-02,09:30:00,A,\"x y\",1,Q,,2\r\n2024-01-02,09:30:01,B,2,2,Q,,3\r\n"
    );
    let p = parse("t.csv", &text, false).expect("lenient");
    assert_eq!(p.batch.num_rows(), 2);
    assert_eq!(p.rejects.len(), 1);
    let r = &p.rejects[0];
    assert_eq!((r.line, r.column), (3, 4));
    assert_eq!(r.raw, b"2024-01-02,09:30:00,A,\"x y\",1,Q,,2");
}

#[test]
fn header_by_name_in_any_order() {
    let text = "symbol,price,size,date,time\nAAPL,10,5,2024-01-02,10:00:00\n";
    let p = parse("t.csv", text, true).expect("parses");
    assert_eq!(p.batch.num_rows(), 1);
    let err = strict_err("symbol,size,date,time\nAAPL,5,2024-01-02,10:00:00\n");
    assert!(
        err.contains("t.csv:1:1: header has no price column"),
        "{err}"
    );
}

#[test]
fn minute_bars_symbol_from_file_name() {
    let text =
        "2024-01-02 09:30:00,10.5,11,10,10.75,1200\n2024-01-02 09:31:00,10.75,10.8,10.7,10.8,300\n";
    let p = parse("AAPL_full_1min.txt", text, true).expect("parses");
    assert_eq!(p.shape, Shape::MinuteBars);
    assert_eq!(p.batch.num_rows(), 2);
    let sym = p.batch.column(0).as_string::<i32>();
    assert_eq!(sym.value(1), "AAPL");
    let close = p.batch.column(5).as_primitive::<Decimal128Type>();
    assert_eq!(close.value(0), 107_500);
    let err = match parse("AAPL_full_1min.txt", "2024-01-02 09:30,1,1,1,1,1\n", true) {
        Ok(_) => panic!("bad timestamp accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.starts_with("AAPL_full_1min.txt:1:1: timestamp '2024-01-02 09:30' does not match"),
        "{err}"
    );
}

#[test]
fn custom_timestamp_format_and_regex_symbol() {
    let opts = ParseOptions {
        shape: Some(Shape::MinuteBars),
        header: Some(false),
        delimiter: b';',
        timestamp_format: Some("%d/%m/%Y %H:%M".into()),
        source_tz: chrono_tz::UTC,
        symbol_from_filename: super::SymbolFromName::parse(r"bars-([A-Z]+)\.").expect("regex"),
        ..ParseOptions::default()
    };
    let p = parse_file(
        "x",
        "bars-IBM.csv",
        b"02/01/2024 09:30;1;2;0.5;1.5;10\n",
        0,
        &opts,
        true,
        &AtomicU64::new(0),
    )
    .expect("parses");
    let sym = p.batch.column(0).as_string::<i32>();
    assert_eq!(sym.value(0), "IBM");
    let ts = p.batch.column(1).as_primitive::<TimestampNanosecondType>();
    assert_eq!(ts.value(0), 1_704_187_800_000_000_000);
}

#[test]
fn decimals() {
    assert_eq!(parse_decimal4("1"), Ok(10_000));
    assert_eq!(parse_decimal4("-0.5"), Ok(-5_000));
    assert_eq!(parse_decimal4(".25"), Ok(2_500));
    assert_eq!(parse_decimal4("1.230000"), Ok(12_300));
    assert_eq!(parse_decimal4("1e5"), Err("is not a number"));
    assert_eq!(parse_decimal4("."), Err("is not a number"));
    assert_eq!(
        parse_decimal4("123456789012345"),
        Err("is out of range for Decimal(18,4)")
    );
}
