//! Unit tests of CSV parsing: good rows, every kind of bad field, quoting, shapes.

use std::sync::atomic::AtomicU64;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Decimal128Type, Int64Type, TimestampNanosecondType};

use super::parse::{ParseOptions, Shape, parse_decimal4, parse_file};
use super::seq::SeqBase;

const HEADER: &str = "date,time,symbol,price,size,exchange,conditions,seq\n";

fn parse(name: &str, text: &str, strict: bool) -> crate::error::Result<super::parse::Parsed> {
    parse_file(
        name,
        name,
        text.as_bytes(),
        SeqBase::new(0, 0).expect("fits"),
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
        SeqBase::new(2, 3).expect("fits"),
        &ParseOptions::default(),
        true,
        &AtomicU64::new(0),
    )
    .expect("parses");
    let ts = p.batch.column(1).as_primitive::<TimestampNanosecondType>();
    // 09:30 EDT = 13:30 UTC.
    assert_eq!(ts.value(0), 1_719_840_600_000_000_000);
    let seq = p.batch.column(6).as_primitive::<Int64Type>();
    // Run 2, file 3, line 2.
    assert_eq!(seq.value(0), (2 << 50) + (3 << 32) + 2);
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
        SeqBase::new(0, 0).expect("fits"),
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

fn column<'a>(p: &'a super::parse::Parsed, name: &str) -> &'a dyn Array {
    let i = p
        .batch
        .schema()
        .index_of(name)
        .unwrap_or_else(|_| panic!("no column {name} in {:?}", p.batch.schema()));
    p.batch.column(i).as_ref()
}

fn opts(shape: Shape) -> ParseOptions {
    ParseOptions {
        shape: Some(shape),
        ..ParseOptions::default()
    }
}

fn parse_with(name: &str, text: &str, o: &ParseOptions, strict: bool) -> super::parse::Parsed {
    parse_file(
        name,
        name,
        text.as_bytes(),
        SeqBase::new(0, 0).expect("fits"),
        o,
        strict,
        &AtomicU64::new(0),
    )
    .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn extra_columns_are_kept_and_typed() {
    let text = "date,time,symbol,price,size,exchange,conditions,seq,eventtype,venue_id,note\n\
                2024-01-02,09:30:00,A,1,1,Q,,1,T,12,x\n\
                2024-01-02,09:30:01,A,2,1,Q,,2,Q,7,\n";
    let p = parse("t.csv", text, true).expect("parses");
    let schema = p.batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "symbol",
            "ts",
            "price",
            "size",
            "exchange",
            "conditions",
            "seq",
            "source_seq",
            "eventtype",
            "venue_id",
            "note"
        ]
    );
    let ev = column(&p, "eventtype").as_string::<i32>();
    assert_eq!((ev.value(0), ev.value(1)), ("T", "Q"));
    let venue = column(&p, "venue_id").as_primitive::<Int64Type>();
    assert_eq!((venue.value(0), venue.value(1)), (12, 7));
    let note = column(&p, "note").as_string::<i32>();
    assert!(note.is_null(1));
    // A type given with --schema wins over inference.
    let o = ParseOptions {
        schema: super::parse_schema("venue_id VARCHAR").expect("schema"),
        ..ParseOptions::default()
    };
    let p = parse_with("t.csv", text, &o, true);
    assert_eq!(column(&p, "venue_id").as_string::<i32>().value(0), "12");
    // An extra column named like a column ingest writes is an error naming it.
    let err = strict_err("date,time,symbol,price,size,source_seq\n2024-01-02,09:30:00,A,1,1,x\n");
    assert!(
        err.contains("t.csv:1:6: column 'source_seq' has the name"),
        "{err}"
    );
}

#[test]
fn minute_bar_volumes_are_exact() {
    let text = "2010-01-04 09:30:00,30.49,30.52,30.43,30.45,173492.0\n2010-01-04 09:31:00,30.45,30.5,30.4,30.5,524\n";
    let p = parse("A_full_1min_adjsplit.txt", text, true).expect("parses");
    assert_eq!(p.batch.num_rows(), 2);
    let v = column(&p, "volume").as_primitive::<Int64Type>();
    assert_eq!((v.value(0), v.value(1)), (173_492, 524));
    let text = "2010-01-04 09:30:00,30.49,30.52,30.43,30.45,524.0\n2010-01-04 09:31:00,30.45,30.5,30.4,30.5,100.9\n";
    let p = parse("A_full_1min_adjsplit.txt", text, true).expect("parses");
    let v = column(&p, "volume").as_primitive::<Decimal128Type>();
    assert_eq!(v.data_type().to_string(), "Decimal128(18, 4)");
    assert_eq!((v.value(0), v.value(1)), (5_240_000, 1_009_000));
    // A run that decided BIGINT rejects a fractional volume, never rounds it.
    let mut o = opts(Shape::MinuteBars);
    o.types.insert("volume".into(), super::ColType::Int64);
    let p = parse_with("A_full_1min.txt", text, &o, false);
    assert_eq!(p.batch.num_rows(), 1);
    assert!(
        p.rejects[0]
            .reason
            .contains("volume '100.9' is not an integer"),
        "{:?}",
        p.rejects
    );
}

#[test]
fn daily_bars_keep_adj_close_and_take_the_ticker_from_the_name() {
    let text = "Date,Open,High,Low,Close,Adj Close,Volume\n\
                2024-01-02,350.5,352,348.25,351,351,3900000\n";
    let p = parse("BRK-B.csv", text, true).expect("parses");
    assert_eq!(p.shape, Shape::Daily);
    assert_eq!(column(&p, "symbol").as_string::<i32>().value(0), "BRK-B");
    let adj = column(&p, "adj_close").as_primitive::<Decimal128Type>();
    assert_eq!(adj.value(0), 3_510_000);
    assert_eq!(p.dates, vec![19724]);
    let v = column(&p, "volume").as_primitive::<Int64Type>();
    assert_eq!(v.value(0), 3_900_000);
}

#[test]
fn generic_csv_with_ts_column_and_schema() {
    let o = ParseOptions {
        ts_column: Some("time".into()),
        schema: super::parse_schema("bid DECIMAL(18,2), qty DOUBLE").expect("schema"),
        ..opts(Shape::Csv)
    };
    let text = "time,symbol,bid,qty,venue\n2024-01-02 09:30:00.5,AAPL,185.63,10.5,XNAS\n";
    let p = parse_with("quotes.csv", text, &o, true);
    let schema = p.batch.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["symbol", "ts", "seq", "bid", "qty", "venue"]);
    assert_eq!(
        column(&p, "bid").as_primitive::<Decimal128Type>().value(0),
        18_563
    );
    assert_eq!(column(&p, "symbol").as_string::<i32>().value(0), "AAPL");
    // Without a symbol column the symbol comes from the file name.
    let p = parse_with(
        "IBM_quotes.csv",
        "time,bid\n2024-01-02 09:30:00,1.5\n",
        &o,
        false,
    );
    assert_eq!(p.rejects.len(), 0, "{:?}", p.rejects);
    assert_eq!(column(&p, "symbol").as_string::<i32>().value(0), "IBM");
}

#[test]
fn symbols_from_file_names_keep_dots() {
    let rule = super::SymbolFromName::PrefixBeforeUnderscore;
    assert_eq!(
        rule.extract("BRK.A_full_1min.txt").as_deref(),
        Some("BRK.A")
    );
    assert_eq!(
        rule.extract("BRK.B_full_1min_adjsplit.txt").as_deref(),
        Some("BRK.B")
    );
    assert_eq!(rule.extract("BRK-B.csv").as_deref(), Some("BRK-B"));
    assert_eq!(rule.extract("BRK.A.csv.gz").as_deref(), Some("BRK.A"));
    let bar = "2024-01-02 09:30:00,1,1,1,1,1\n";
    let a = parse("BRK.A_full_1min.txt", bar, true).expect("parses");
    let b = parse("BRK.B_full_1min.txt", bar, true).expect("parses");
    assert_eq!(column(&a, "symbol").as_string::<i32>().value(0), "BRK.A");
    assert_eq!(column(&b, "symbol").as_string::<i32>().value(0), "BRK.B");
}

#[test]
fn an_unbalanced_quote_costs_only_its_line() {
    let text = "2024-01-02 09:30:00,\"10.5,11,10,10.75,1200\n2024-01-02 09:31:00,10.75,10.8,10.7,10.8,300\n2024-01-02 09:32:00,10.8,10.8,10.7,10.7,100\n";
    let p = parse("AAPL_full_1min.txt", text, false).expect("lenient");
    assert_eq!(p.batch.num_rows(), 2);
    assert_eq!(p.rejects.len(), 1);
    let r = &p.rejects[0];
    assert_eq!((r.line, r.column), (1, 2));
    assert!(r.reason.contains("unbalanced quote"), "{}", r.reason);
    assert_eq!(r.raw, b"2024-01-02 09:30:00,\"10.5,11,10,10.75,1200");
    let seq = column(&p, "seq").as_primitive::<Int64Type>();
    assert_eq!((seq.value(0), seq.value(1)), (2, 3));
    let err = match parse("AAPL_full_1min.txt", text, true) {
        Ok(_) => panic!("strict accepted an unbalanced quote"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.starts_with("AAPL_full_1min.txt:1:2: unbalanced quote"),
        "{err}"
    );
}

#[test]
fn a_rejected_record_is_kept_whole() {
    let text = format!(
        "{HEADER}2024-01-02,09:30:00,A,1,1,Q,\"two\nlines\",x\n2024-01-02,09:30:01,B,2,2,Q,,3\n"
    );
    let p = parse("t.csv", &text, false).expect("lenient");
    assert_eq!(p.batch.num_rows(), 1);
    assert_eq!(p.rejects.len(), 1);
    assert_eq!(p.rejects[0].line, 2);
    assert_eq!(
        p.rejects[0].raw,
        b"2024-01-02,09:30:00,A,1,1,Q,\"two\nlines\",x".to_vec()
    );
}

#[test]
fn bar_prices_are_checked() {
    let cases = [
        (
            "2024-01-02 09:30:00,0,1,1,1,1",
            "1:2: open '0' is not positive",
        ),
        (
            "2024-01-02 09:30:00,1,1,-1,1,1",
            "1:4: low '-1' is not positive",
        ),
        (
            "2024-01-02 09:30:00,1,1,2,1,1",
            "1:3: high '1' is below low '2'",
        ),
        (
            "2024-01-02 09:30:00,3,2,1,1.5,1",
            "1:2: open '3' is outside [low '1', high '2']",
        ),
        (
            "2024-01-02 09:30:00,1.5,2,1,0.9,1",
            "1:5: close '0.9' is outside",
        ),
        (
            "2024-01-02 09:30:00,1,1,1,1,-2",
            "1:6: volume '-2' is negative",
        ),
    ];
    for (row, want) in cases {
        let err = match parse("X_full_1min.txt", &format!("{row}\n"), true) {
            Ok(_) => panic!("{row}: accepted"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.starts_with(&format!("X_full_1min.txt:{want}")),
            "{row}: got {err}, want {want}"
        );
    }
    let daily = "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,1,2,1,3,1,5\n";
    let p = parse("AAPL.csv", daily, false).expect("lenient");
    assert_eq!(p.rejects.len(), 1);
    assert!(
        p.rejects[0].reason.starts_with("close '3' is outside"),
        "{:?}",
        p.rejects
    );
}

#[test]
fn a_header_naming_a_column_twice_is_an_error() {
    let err = strict_err("date,time,symbol,price,size,price\n2024-01-02,09:30:00,A,1,1,2\n");
    assert!(
        err.starts_with("t.csv:1:6: header names column 'price' twice (columns 4 and 6)"),
        "{err}"
    );
}

#[test]
fn headerless_fields_after_the_shape_are_kept() {
    let text = "2024-01-02 09:30:00,1,1,1,1,10,7.5\n2024-01-02 09:31:00,1,1,1,1,10,8\n";
    let p = parse("AAPL_full_1min.txt", text, true).expect("parses");
    let extra = column(&p, "column_7").as_primitive::<Decimal128Type>();
    assert_eq!((extra.value(0), extra.value(1)), (75_000, 80_000));
}

/// Trades parsed with the given zone and DST rules.
fn parse_tz(
    text: &str,
    tz: chrono_tz::Tz,
    ambiguous: super::Ambiguous,
    nonexistent: super::Nonexistent,
    strict: bool,
) -> crate::error::Result<super::parse::Parsed> {
    let opts = ParseOptions {
        source_tz: tz,
        ambiguous,
        nonexistent,
        ..ParseOptions::default()
    };
    parse_file(
        "t.csv",
        "t.csv",
        text.as_bytes(),
        SeqBase::new(0, 0).expect("fits"),
        &opts,
        strict,
        &AtomicU64::new(0),
    )
}

#[test]
fn timestamps_outside_the_nanosecond_range_are_errors_not_wrapped() {
    use super::{Ambiguous::Raise as A, Nonexistent::Raise as N};
    // Dates chrono accepts but an i64 of nanoseconds cannot hold: once wrapped silently
    // (1500-01-02 became 2084-07-22).
    for (row, col) in [
        ("1500-01-02,09:30:00,AAPL,1.5,3,Q,,1", 2),
        ("2300-01-02,09:30:00,AAPL,1.5,3,Q,,1", 2),
        ("9999-12-31,23:59:59,AAPL,1.5,3,Q,,1", 2),
        ("0001-01-01,00:00:00,AAPL,1.5,3,Q,,1", 2),
    ] {
        let text = format!("{HEADER}2024-01-02,09:30:00,AAPL,1.5,3,Q,,1\n{row}\n");
        for tz in [chrono_tz::UTC, chrono_tz::America::New_York] {
            let err = match parse_tz(&text, tz, A, N, true) {
                Ok(p) => panic!("{row}: parsed as {:?}", p.ts),
                Err(e) => e.to_string(),
            };
            let want = format!("t.csv:3:{col}: timestamp ");
            assert!(
                err.starts_with(&want) && err.contains("outside the range"),
                "{row}: {err}"
            );
            // With rejects the row is kept with its reason and the good row is ingested.
            let p = parse_tz(&text, tz, A, N, false).expect("lenient");
            assert_eq!(p.ts, vec![p.ts[0]]);
            assert_eq!((p.rejects[0].line, p.rejects[0].column), (3, col));
            assert!(p.rejects[0].reason.contains("outside the range"));
        }
    }
    // The edges: the first and last whole seconds an i64 of nanoseconds holds, in UTC.
    let text = format!(
        "{HEADER}1677-09-21,00:12:44,A,1,1,Q,,1\n2262-04-11,23:47:16.854775807,A,1,1,Q,,2\n"
    );
    let p = parse_tz(&text, chrono_tz::UTC, A, N, true).expect("in range");
    assert_eq!(p.ts, vec![-9_223_372_036_000_000_000, i64::MAX]);
    for row in [
        "1677-09-21,00:12:43.145224191,A,1,1,Q,,1",
        "2262-04-11,23:47:16.854775808,A,1,1,Q,,1",
    ] {
        let text = format!("{HEADER}{row}\n");
        assert!(
            parse_tz(&text, chrono_tz::UTC, A, N, true).is_err(),
            "{row}"
        );
    }
}

#[test]
fn fall_back_hour_raises_or_takes_the_chosen_instant() {
    use super::{Ambiguous, Nonexistent};
    // New York, 2024-11-03: 01:30 happens at 05:30 UTC (EDT) and again at 06:30 UTC (EST).
    let text = format!(
        "{HEADER}2024-11-03,00:59:59,A,1,1,Q,,1\n2024-11-03,01:30:00,A,1,1,Q,,2\n2024-11-03,02:00:00,A,1,1,Q,,3\n"
    );
    let ny = chrono_tz::America::New_York;
    let err = match parse_tz(&text, ny, Ambiguous::Raise, Nonexistent::Raise, true) {
        Ok(p) => panic!("took {:?}", p.ts),
        Err(e) => e.to_string(),
    };
    assert!(
        err.starts_with("t.csv:3:2: time 2024-11-03 01:30:00 happens twice in America/New_York"),
        "{err}"
    );
    let p = parse_tz(&text, ny, Ambiguous::Raise, Nonexistent::Raise, false).expect("lenient");
    assert_eq!((p.rejects.len(), p.rejects[0].line), (1, 3));
    let h = 3_600_000_000_000i64;
    let midnight_utc = 1_730_592_000_000_000_000i64; // 2024-11-03 00:00 UTC
    let e = parse_tz(&text, ny, Ambiguous::Earliest, Nonexistent::Raise, true).expect("earliest");
    assert_eq!(
        e.ts,
        vec![
            midnight_utc + 5 * h - 1_000_000_000, // 00:59:59 EDT = 04:59:59 UTC
            midnight_utc + 5 * h + h / 2,
            midnight_utc + 7 * h, // 02:00 EST
        ]
    );
    let l = parse_tz(&text, ny, Ambiguous::Latest, Nonexistent::Raise, true).expect("latest");
    assert_eq!(l.ts[1], midnight_utc + 6 * h + h / 2);
    assert_eq!((l.ts[0], l.ts[2]), (e.ts[0], e.ts[2]));
    // The trade date is the local date whichever instant is taken.
    assert_eq!(l.dates, e.dates);
}

#[test]
fn spring_forward_gap_raises_or_shifts_to_its_edge() {
    use super::{Ambiguous, Nonexistent};
    // New York, 2024-03-10: clocks jump from 02:00 EST to 03:00 EDT (07:00 UTC).
    let text = format!("{HEADER}2024-03-10,02:30:00,A,1,1,Q,,1\n2024-03-10,03:00:00,A,1,1,Q,,2\n");
    let ny = chrono_tz::America::New_York;
    let err = match parse_tz(&text, ny, Ambiguous::Raise, Nonexistent::Raise, true) {
        Ok(p) => panic!("took {:?}", p.ts),
        Err(e) => e.to_string(),
    };
    assert!(
        err.starts_with("t.csv:2:2: time 2024-03-10 02:30:00 does not exist in America/New_York"),
        "{err}"
    );
    let gap_end = 1_710_054_000_000_000_000i64; // 2024-03-10 07:00 UTC
    let f = parse_tz(&text, ny, Ambiguous::Raise, Nonexistent::ShiftForward, true).expect("fwd");
    assert_eq!(f.ts, vec![gap_end, gap_end]);
    let b = parse_tz(
        &text,
        ny,
        Ambiguous::Raise,
        Nonexistent::ShiftBackward,
        true,
    )
    .expect("back");
    assert_eq!(b.ts, vec![gap_end - 1, gap_end]);
    // A whole skipped day (Samoa, 2011-12-30) shifts to the next midnight.
    let apia = chrono_tz::Pacific::Apia;
    let text = format!("{HEADER}2011-12-30,12:00:00,A,1,1,Q,,1\n2011-12-31,00:00:00,A,1,1,Q,,2\n");
    let f = parse_tz(
        &text,
        apia,
        Ambiguous::Raise,
        Nonexistent::ShiftForward,
        true,
    )
    .expect("apia");
    assert_eq!(f.ts[0], f.ts[1]);
}

#[test]
fn dst_rules_parse_as_pandas_spells_them() {
    use super::{Ambiguous, Nonexistent};
    assert_eq!(Ambiguous::parse("latest"), Ok(Ambiguous::Latest));
    assert_eq!(
        Nonexistent::parse("shift_forward"),
        Ok(Nonexistent::ShiftForward)
    );
    assert_eq!(
        Nonexistent::parse("shift-backward"),
        Ok(Nonexistent::ShiftBackward)
    );
    assert!(Ambiguous::parse("NaT").is_err());
    assert!(Nonexistent::parse("").is_err());
}

#[test]
fn a_leap_second_is_refused_not_moved() {
    let opts = ParseOptions {
        timestamp_format: Some("%Y-%m-%d %H:%M:%S".into()),
        source_tz: chrono_tz::UTC,
        ..ParseOptions::default()
    };
    let text = format!("{HEADER}2016-12-31,23:59:60,A,1,1,Q,,1\n");
    let err = match parse_with_err(&text, &opts) {
        Ok(ts) => panic!("took {ts:?}"),
        Err(e) => e,
    };
    assert!(
        err.starts_with("t.csv:2:1: date and time '2016-12-31 23:59:60' is a leap second"),
        "{err}"
    );
}

fn parse_with_err(text: &str, o: &ParseOptions) -> Result<Vec<i64>, String> {
    parse_file(
        "t.csv",
        "t.csv",
        text.as_bytes(),
        SeqBase::new(0, 0).expect("fits"),
        o,
        true,
        &AtomicU64::new(0),
    )
    .map(|p| p.ts)
    .map_err(|e| e.to_string())
}
