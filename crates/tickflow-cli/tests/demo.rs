//! `tickflow demo` as a process: generate, ingest and the four pipeline steps, end to end.

use assert_cmd::Command;
use predicates::prelude::*;

#[test]
fn demo_runs_the_pipeline_end_to_end() {
    let dir = tempfile::TempDir::new().expect("tempdir");
    let assert = Command::cargo_bin("tickflow")
        .expect("binary built")
        .arg("--catalog")
        .arg(dir.path().join("catalog.json"))
        .args([
            "demo",
            "--rows",
            "20000",
            "--symbols",
            "5",
            "--days",
            "2",
            "--limit",
            "2",
        ])
        .assert()
        .success()
        .stderr(
            predicate::str::contains("[3/6] sql/01_bars.sql: collect and summarize")
                .and(predicate::str::contains("[6/6] sql/04_analytics.sql")),
        );
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    // The summary: every trade is there, bars were built and filled.
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("| 20000 "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let cells: Vec<u64> = summary
        .split('|')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let [trades, bars, filled, daily, _] = cells[..] else {
        panic!("{summary}")
    };
    assert_eq!(trades, 20_000);
    assert!(bars > 0 && filled >= bars, "{summary}");
    // 2 days x 5 symbols x 390 one-minute bars of the regular session.
    assert_eq!(filled, 2 * 5 * 390, "{summary}");
    assert_eq!(daily, 2 * 5, "{summary}");
    // The demo leaves the user's catalog alone.
    assert!(!dir.path().join("catalog.json").exists());
}
