//! `sql/01_bars.sql` over an ingested CSV fixture equals pandas' `resample('1min').ohlc()`
//! plus volume, vwap and std. The fixture (`tests/reference/bars_fixture/`) and the expected
//! bars (`tests/reference/bars_expected.csv`) are written by
//! `tests/reference/gen_bars_fixture.py`; rerun it to regenerate both.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use assert_cmd::cargo::cargo_bin;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tickflow(dir: &Path) -> Command {
    let mut cmd = Command::new(cargo_bin("tickflow"));
    cmd.arg("--catalog").arg(dir.join("c.json"));
    cmd
}

/// Rows of a simple CSV (no quoting) as maps from header name to field.
fn parse_csv(text: &str, what: &str) -> Vec<BTreeMap<String, String>> {
    let mut lines = text.lines().filter(|l| !l.is_empty());
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_else(|| panic!("{what}: empty"))
        .split(',')
        .collect();
    lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            assert_eq!(
                fields.len(),
                header.len(),
                "{what}: field count of {line:?}"
            );
            header
                .iter()
                .zip(fields)
                .map(|(h, f)| (h.to_string(), f.to_string()))
                .collect()
        })
        .collect()
}

/// A decimal string as an integer number of 1e-8 units, exactly.
fn fixed8(s: &str) -> i128 {
    let (neg, digits) = s.strip_prefix('-').map_or((false, s), |d| (true, d));
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    assert!(frac.len() <= 8, "more than 8 decimals: {s}");
    let v = format!("{int}{frac:0<8}")
        .parse::<i128>()
        .unwrap_or_else(|e| panic!("not a decimal: {s}: {e}"));
    if neg { -v } else { v }
}

fn float(s: &str) -> Option<f64> {
    (!s.is_empty()).then(|| {
        s.parse::<f64>()
            .unwrap_or_else(|e| panic!("not a number: {s}: {e}"))
    })
}

/// Differences between one tickflow bar and the pandas bar with the same (ticker, start).
fn compare(got: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> Vec<String> {
    let mut diffs = Vec::new();
    for col in ["open", "high", "low", "close"] {
        if fixed8(&got[col]) != fixed8(&want[col]) {
            diffs.push(format!("{col}: tickflow {} pandas {}", got[col], want[col]));
        }
    }
    for col in ["volume", "activity_count"] {
        if got[col].parse::<i64>().ok() != want[col].parse::<i64>().ok() {
            diffs.push(format!("{col}: tickflow {} pandas {}", got[col], want[col]));
        }
    }
    // tickflow's vwap is exact, rounded to 8 decimals; pandas' is a float64 quotient.
    match (float(&got["vwap"]), float(&want["vwap"])) {
        (Some(g), Some(w)) if (g - w).abs() <= 1e-8 => {}
        _ => diffs.push(format!(
            "vwap: tickflow {} pandas {}",
            got["vwap"], want["vwap"]
        )),
    }
    // NULL (empty) for a one-trade bar on both sides (pandas' NaN).
    match (float(&got["std"]), float(&want["std"])) {
        (None, None) => {}
        (Some(g), Some(w)) if (g - w).abs() <= 1e-9 * g.abs().max(w.abs()) + 1e-15 => {}
        _ => diffs.push(format!(
            "std: tickflow {:?} pandas {:?}",
            got["std"], want["std"]
        )),
    }
    // The trade date of a regular-session bar is the UTC date of its start.
    if !want["start"].starts_with(&got["date"]) {
        diffs.push(format!(
            "date: tickflow {} start {}",
            got["date"], want["start"]
        ));
    }
    diffs
}

#[test]
fn bars_sql_equals_pandas_resample_ohlc() {
    let root = repo_root();
    let dir = tempfile::tempdir().expect("tempdir");
    let trades = dir.path().join("trades");

    tickflow(dir.path())
        .arg("ingest")
        .arg(root.join("tests/reference/bars_fixture"))
        .arg("--out")
        .arg(&trades)
        .arg("--quiet")
        .assert()
        .success();

    let out = tickflow(dir.path())
        .arg("--table")
        .arg(format!("trades={}/", trades.display()))
        .arg("sql")
        .arg("-f")
        .arg(root.join("sql/01_bars.sql"))
        .args(["--param", "limit=100000", "--format", "csv"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "01_bars.sql failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = parse_csv(&String::from_utf8_lossy(&out.stdout), "tickflow output");

    let expected_path = root.join("tests/reference/bars_expected.csv");
    let expected_text = std::fs::read_to_string(&expected_path)
        .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
    let want = parse_csv(&expected_text, "bars_expected.csv");
    assert!(want.len() > 100, "too few expected bars: {}", want.len());

    let key = |r: &BTreeMap<String, String>| (r["ticker"].clone(), r["start"].clone());
    let got_by_key: BTreeMap<_, _> = got.iter().map(|r| (key(r), r)).collect();
    let want_by_key: BTreeMap<_, _> = want.iter().map(|r| (key(r), r)).collect();
    assert_eq!(
        got_by_key.len(),
        got.len(),
        "duplicate (ticker, start) in output"
    );
    assert_eq!(
        want_by_key.len(),
        want.len(),
        "duplicate (ticker, start) expected"
    );

    let mut problems = Vec::new();
    for (k, w) in &want_by_key {
        match got_by_key.get(k) {
            None => problems.push(format!("{} {}: missing from tickflow's bars", k.0, k.1)),
            Some(g) => problems.extend(
                compare(g, w)
                    .into_iter()
                    .map(|d| format!("{} {}: {d}", k.0, k.1)),
            ),
        }
    }
    for k in got_by_key.keys().filter(|k| !want_by_key.contains_key(*k)) {
        problems.push(format!("{} {}: not in pandas' bars", k.0, k.1));
    }
    assert!(
        problems.is_empty(),
        "{} of {} bars differ from pandas:\n{}",
        problems.len(),
        want.len(),
        problems.join("\n")
    );
}
