//! tickflow's `time_bucket` checked against DuckDB.
//!
//! The fixture `tests/reference/time_bucket_cases.csv` holds cases whose expected bucket start
//! was computed by DuckDB; regenerate it with
//!
//! ```text
//! pip install duckdb
//! python3 tests/reference/gen_time_bucket_cases.py
//! ```
//!
//! Columns: `kind,width,ts_us,origin_us,tz,expected_us` (epoch microseconds, UTC instants).
//!
//! * `a`: `time_bucket(width, ts)`, naive `ts`, default origin;
//! * `b`: `time_bucket(width, ts, origin)`, naive `ts` and origin;
//! * `c`: `time_bucket(width, ts, tz)`, an instant bucketed in the zone `tz`;
//! * `d`: as `c`, with `ts` within 3 hours of a DST change of America/New_York or Europe/London.
//!
//! Every case is evaluated through SQL, in several variants that the SQL contract says must give
//! the same instant: microsecond and nanosecond timestamps, width as an `INTERVAL` literal or as a
//! string, and for the zone cases a UTC-typed / naive `ts` with the zone argument as well as a
//! `ts` typed in the zone without it. Cases are grouped by `(kind, width, origin, tz)` so one
//! query evaluates a whole group; each variant is one column of the queried table.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, TimestampMicrosecondArray,
    TimestampNanosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::prelude::{SessionConfig, SessionContext};

/// Fewer cases than this means the fixture was truncated or failed to parse.
const MIN_CASES: usize = 1000;
/// Failures shown in the panic message.
const SHOWN_FAILURES: usize = 30;

#[derive(Debug, Clone)]
struct Case {
    line: usize,
    kind: char,
    width: String,
    ts_us: i64,
    origin_us: Option<i64>,
    tz: Option<String>,
    expected_us: i64,
}

/// How the `ts` argument (and the width) is presented to `time_bucket`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// `Timestamp(Microsecond, None)`, width as `INTERVAL '...'`.
    MicrosNaive,
    /// `Timestamp(Nanosecond, None)`.
    NanosNaive,
    /// `Timestamp(Microsecond, None)`, width as a plain string `'...'`.
    MicrosNaiveStringWidth,
    /// `Timestamp(Microsecond, "UTC")` with the zone argument.
    MicrosUtcWithZoneArg,
    /// `Timestamp(Nanosecond, "UTC")` with the zone argument.
    NanosUtcWithZoneArg,
    /// `Timestamp(Microsecond, tz)` without a zone argument: buckets in the type's zone.
    MicrosTypedInZone,
    /// `Timestamp(Microsecond, None)` (a UTC instant) with the zone argument.
    MicrosNaiveWithZoneArg,
}

impl Variant {
    fn for_kind(kind: char) -> &'static [Variant] {
        use Variant::*;
        match kind {
            'a' => &[MicrosNaive, NanosNaive, MicrosNaiveStringWidth],
            'b' => &[MicrosNaive],
            _ => &[
                MicrosUtcWithZoneArg,
                NanosUtcWithZoneArg,
                MicrosTypedInZone,
                MicrosNaiveWithZoneArg,
            ],
        }
    }

    fn name(self) -> &'static str {
        match self {
            Variant::MicrosNaive => "us naive",
            Variant::NanosNaive => "ns naive",
            Variant::MicrosNaiveStringWidth => "us naive, width as string",
            Variant::MicrosUtcWithZoneArg => "us UTC-typed + tz arg",
            Variant::NanosUtcWithZoneArg => "ns UTC-typed + tz arg",
            Variant::MicrosTypedInZone => "us typed in tz, no tz arg",
            Variant::MicrosNaiveWithZoneArg => "us naive + tz arg",
        }
    }

    fn nanos(self) -> bool {
        matches!(self, Variant::NanosNaive | Variant::NanosUtcWithZoneArg)
    }

    /// Time zone of the `ts` column's arrow type.
    fn column_zone(self, case_tz: Option<&str>) -> Option<Arc<str>> {
        match self {
            Variant::MicrosUtcWithZoneArg | Variant::NanosUtcWithZoneArg => Some("UTC".into()),
            Variant::MicrosTypedInZone => case_tz.map(Into::into),
            _ => None,
        }
    }

    fn column(self, ts_us: &[i64], case_tz: Option<&str>) -> ArrayRef {
        let zone = self.column_zone(case_tz);
        if self.nanos() {
            let ns: Vec<i64> = ts_us.iter().map(|us| us * 1000).collect();
            Arc::new(TimestampNanosecondArray::from(ns).with_timezone_opt(zone))
        } else {
            Arc::new(TimestampMicrosecondArray::from(ts_us.to_vec()).with_timezone_opt(zone))
        }
    }

    /// The SQL call on column `col`.
    fn call(self, col: &str, key: &GroupKey) -> String {
        let width = match self {
            Variant::MicrosNaiveStringWidth => format!("'{}'", key.width),
            _ => format!("INTERVAL '{}'", key.width),
        };
        let third = match (key.kind, self) {
            ('b', _) => {
                let origin = key.origin_us.expect("kind b cases have an origin");
                format!(", to_timestamp_micros({origin})")
            }
            ('a', _) | (_, Variant::MicrosTypedInZone) => String::new(),
            _ => format!(
                ", '{}'",
                key.tz.as_deref().expect("kind c/d cases have a tz")
            ),
        };
        format!("time_bucket({width}, {col}{third})")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct GroupKey {
    kind: char,
    width: String,
    origin_us: Option<i64>,
    tz: Option<String>,
}

#[derive(Debug)]
struct Failure {
    case: Case,
    variant: Variant,
    got: Result<i64, String>,
}

fn iso(us: i64) -> String {
    match chrono::DateTime::from_timestamp_micros(us) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        None => format!("<out of range: {us} us>"),
    }
}

fn parse_i64(field: &str, line: usize, what: &str) -> i64 {
    field
        .parse()
        .unwrap_or_else(|e| panic!("line {line}: bad {what} {field:?}: {e}"))
}

fn load_cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/reference/time_bucket_cases.csv"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, h)| h.trim_end_matches('\r'));
    assert_eq!(
        header,
        Some("kind,width,ts_us,origin_us,tz,expected_us"),
        "unexpected header in {path}"
    );
    let mut cases = Vec::new();
    for (i, raw) in lines {
        let line = i + 1;
        let raw = raw.trim_end_matches('\r');
        if raw.is_empty() {
            continue;
        }
        let f: Vec<&str> = raw.split(',').collect();
        assert_eq!(f.len(), 6, "line {line}: expected 6 fields: {raw:?}");
        let kind = match f[0] {
            "a" => 'a',
            "b" => 'b',
            "c" => 'c',
            "d" => 'd',
            other => panic!("line {line}: unknown kind {other:?}"),
        };
        let origin_us = (!f[3].is_empty()).then(|| parse_i64(f[3], line, "origin_us"));
        let tz = (!f[4].is_empty()).then(|| f[4].to_string());
        assert_eq!(
            origin_us.is_some(),
            kind == 'b',
            "line {line}: origin iff kind b"
        );
        assert_eq!(
            tz.is_some(),
            matches!(kind, 'c' | 'd'),
            "line {line}: tz iff kind c/d"
        );
        cases.push(Case {
            line,
            kind,
            width: f[1].to_string(),
            ts_us: parse_i64(f[2], line, "ts_us"),
            origin_us,
            tz,
            expected_us: parse_i64(f[5], line, "expected_us"),
        });
    }
    cases
}

/// One variant's result column: the arrow type `ts` had, the type returned, and per case the raw
/// i64 value (in the unit of the returned type) or why there is none.
struct Evaluated {
    variant: Variant,
    ts_type: DataType,
    returned_type: DataType,
    values: Vec<Result<i64, String>>,
}

/// Evaluates `variants` on one group with a single query over a table holding one `ts` column per
/// variant: `SELECT idx, time_bucket(..., ts0 ...), time_bucket(..., ts1 ...), ... FROM cases`.
async fn evaluate(
    ctx: &SessionContext,
    key: &GroupKey,
    cases: &[Case],
    variants: &[Variant],
) -> Result<Vec<Evaluated>, String> {
    let ts_us: Vec<i64> = cases.iter().map(|c| c.ts_us).collect();
    let mut fields = vec![Field::new("idx", DataType::Int64, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from_iter_values(
        0..cases.len() as i64,
    ))];
    let mut calls = Vec::new();
    for (i, variant) in variants.iter().enumerate() {
        let ts = variant.column(&ts_us, key.tz.as_deref());
        fields.push(Field::new(format!("ts{i}"), ts.data_type().clone(), false));
        columns.push(ts);
        calls.push(format!(
            "{} AS bucket{i}",
            variant.call(&format!("ts{i}"), key)
        ));
    }
    let batch =
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(|e| e.to_string())?;
    let sql = format!("SELECT idx, {} FROM cases", calls.join(", "));
    ctx.register_batch("cases", batch.clone())
        .map_err(|e| e.to_string())?;
    let result = async { ctx.sql(&sql).await?.collect().await }.await;
    ctx.deregister_table("cases").map_err(|e| e.to_string())?;
    let batches = result.map_err(|e| format!("query failed: {sql}: {e}"))?;

    let mut out: Vec<Evaluated> = variants
        .iter()
        .enumerate()
        .map(|(i, &variant)| Evaluated {
            variant,
            ts_type: batch.column(i + 1).data_type().clone(),
            returned_type: DataType::Null,
            values: vec![Err("row missing from the result".to_string()); cases.len()],
        })
        .collect();
    for result in batches {
        let idx = result.column(0).as_primitive::<Int64Type>().clone();
        for (i, ev) in out.iter_mut().enumerate() {
            let bucket = result.column(i + 1);
            ev.returned_type = bucket.data_type().clone();
            // A cast of any timestamp type to Int64 yields its raw value.
            let raw = cast(bucket, &DataType::Int64)
                .map_err(|e| format!("cast of the result to Int64: {e}"))?;
            let raw = raw.as_primitive::<Int64Type>();
            for row in 0..result.num_rows() {
                let slot = usize::try_from(idx.value(row))
                    .ok()
                    .and_then(|k| ev.values.get_mut(k))
                    .ok_or_else(|| format!("unknown idx {} in the result", idx.value(row)))?;
                *slot = if raw.is_valid(row) {
                    Ok(raw.value(row))
                } else {
                    Err("NULL".to_string())
                };
            }
        }
    }
    Ok(out)
}

/// Evaluates every variant of one group; pushes a failure per wrong case and variant.
async fn check_group(
    ctx: &SessionContext,
    key: &GroupKey,
    cases: &[Case],
    failures: &mut Vec<Failure>,
) {
    let variants = Variant::for_kind(key.kind);
    let evaluated = match evaluate(ctx, key, cases, variants).await {
        Ok(evaluated) => evaluated,
        Err(_) => {
            // Some variant failed: evaluate them one by one to tell which.
            let mut evaluated = Vec::new();
            for &variant in variants {
                match evaluate(ctx, key, cases, &[variant]).await {
                    Ok(ev) => evaluated.extend(ev),
                    Err(e) => failures.extend(cases.iter().map(|case| Failure {
                        case: case.clone(),
                        variant,
                        got: Err(e.clone()),
                    })),
                }
            }
            evaluated
        }
    };
    for ev in evaluated {
        let scale = if ev.variant.nanos() { 1000 } else { 1 };
        let type_problem = (ev.returned_type != ev.ts_type).then(|| {
            format!(
                "returned type {}, expected {} (the type of ts)",
                ev.returned_type, ev.ts_type
            )
        });
        for (case, value) in cases.iter().zip(ev.values) {
            let got = match (value, &type_problem) {
                (_, Some(problem)) => Err(problem.clone()),
                (Err(e), None) => Err(e),
                (Ok(v), None) if v == case.expected_us * scale => continue,
                (Ok(v), None) if v % scale != 0 => Err(format!("{v} ns (not a whole microsecond)")),
                (Ok(v), None) => Ok(v / scale),
            };
            failures.push(Failure {
                case: case.clone(),
                variant: ev.variant,
                got,
            });
        }
    }
}

fn report(failures: &[Failure], checked: usize) -> String {
    let mut out = format!(
        "time_bucket disagrees with DuckDB on {} of {checked} evaluations; first {}:\n",
        failures.len(),
        failures.len().min(SHOWN_FAILURES)
    );
    for f in failures.iter().take(SHOWN_FAILURES) {
        let c = &f.case;
        let origin = c
            .origin_us
            .map(|o| format!(" origin={}", iso(o)))
            .unwrap_or_default();
        let tz =
            c.tz.as_deref()
                .map(|t| format!(" tz={t}"))
                .unwrap_or_default();
        let got = match &f.got {
            Ok(v) => format!("{} ({v})", iso(*v)),
            Err(e) => e.clone(),
        };
        let _ = writeln!(
            out,
            "  [line {} kind {} / {}] width='{}' ts={} ({}){origin}{tz}\n      expected {} ({})  got {got}",
            c.line,
            c.kind,
            f.variant.name(),
            c.width,
            iso(c.ts_us),
            c.ts_us,
            iso(c.expected_us),
            c.expected_us,
        );
    }
    let mut by_kind: BTreeMap<(char, &str), usize> = BTreeMap::new();
    for f in failures {
        *by_kind.entry((f.case.kind, f.variant.name())).or_default() += 1;
    }
    let _ = writeln!(out, "failures per (kind, variant): {by_kind:?}");
    out
}

#[tokio::test]
async fn time_bucket_matches_duckdb() -> datafusion::common::Result<()> {
    let cases = load_cases();
    assert!(
        cases.len() >= MIN_CASES,
        "only {} cases in the fixture (want >= {MIN_CASES}); regenerate it with \
         python3 tests/reference/gen_time_bucket_cases.py",
        cases.len()
    );

    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    tickflow_functions::register_all(&ctx)?;

    let mut groups: BTreeMap<GroupKey, Vec<Case>> = BTreeMap::new();
    for case in &cases {
        let key = GroupKey {
            kind: case.kind,
            width: case.width.clone(),
            origin_us: case.origin_us,
            tz: case.tz.clone(),
        };
        groups.entry(key).or_default().push(case.clone());
    }

    let mut failures = Vec::new();
    let mut evaluations = 0;
    let mut per_kind: BTreeMap<char, usize> = BTreeMap::new();
    for (key, group) in &groups {
        *per_kind.entry(key.kind).or_default() += group.len();
        check_group(&ctx, key, group, &mut failures).await;
        evaluations += group.len() * Variant::for_kind(key.kind).len();
    }
    let checked: usize = per_kind.values().sum();
    assert_eq!(checked, cases.len());
    println!(
        "checked {checked} DuckDB cases {per_kind:?} in {} groups, {evaluations} evaluations",
        groups.len()
    );
    assert!(failures.is_empty(), "{}", report(&failures, evaluations));
    Ok(())
}
