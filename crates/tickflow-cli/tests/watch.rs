//! `tickflow watch`'s options as a process: a bad `--bar-width` or `--bars` is refused at
//! startup, naming the flag and the value, before anything is created. (The watcher at work is tested in
//! `tests/tests/watch.rs`.)

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

fn watch(dir: &TempDir, width: &str) -> assert_cmd::assert::Assert {
    let source = dir.path().join("incoming");
    std::fs::create_dir_all(&source).expect("source dir");
    Command::cargo_bin("tickflow")
        .expect("binary built")
        .arg("--catalog")
        .arg(dir.path().join("c.json"))
        .env_remove("TICKFLOW_CATALOG")
        .arg("watch")
        .arg(&source)
        .arg("--out")
        .arg(dir.path().join("bars"))
        .arg("--once")
        .arg(format!("--bar-width={width}"))
        .assert()
}

#[test]
fn a_bad_bar_width_fails_at_startup_naming_the_flag() {
    for (width, why) in [
        ("0 minutes", "must be positive"),
        ("-5 minutes", "must be positive"),
        ("fortnight", "is not an interval"),
        ("1 minute', ts) --", "is not an interval"),
        ("1 month 2 days", "mixes months with days"),
    ] {
        let dir = TempDir::new().expect("tempdir");
        watch(&dir, width).failure().stderr(
            predicate::str::contains("--bar-width")
                .and(predicate::str::contains(width))
                .and(predicate::str::contains(why)),
        );
        assert!(
            !dir.path().join("bars").exists(),
            "{width}: nothing is created"
        );
    }
}

#[test]
fn a_good_bar_width_starts_the_watcher() {
    let dir = TempDir::new().expect("tempdir");
    watch(&dir, "5 minutes")
        .success()
        .stderr(predicate::str::contains("(5 minutes bars)"));
    let checkpoint = dir.path().join("bars/_watch");
    assert!(checkpoint.is_dir(), "the bar table is set up");
}

/// A bar definition that cannot be computed in steps is a bad argument: exit status 2 (as clap
/// gives for any bad argument), a message naming the flag, the file and the expression, and
/// nothing created.
#[test]
fn a_non_incremental_bar_file_is_refused_as_a_bad_argument() {
    for (select, why) in [
        (
            "SELECT symbol, count(*) AS n FROM trades GROUP BY symbol",
            "GROUP BY symbol has no time_bucket",
        ),
        (
            "SELECT symbol, time_bucket(INTERVAL '${bar_width}', ts) AS start, count(*) AS n, \
             rank() OVER (ORDER BY count(*)) AS r FROM trades GROUP BY 1, 2",
            "a window function (rank()",
        ),
        (
            "SELECT symbol, time_bucket(INTERVAL '${bar_width}', ts) AS start, \
             median(price) AS m FROM trades GROUP BY 1, 2",
            "median(trades.price) is not a mergeable aggregate",
        ),
    ] {
        let dir = TempDir::new().expect("tempdir");
        let file = dir.path().join("my_bars.sql");
        std::fs::write(&file, select).expect("write the bar file");
        let source = dir.path().join("incoming");
        std::fs::create_dir_all(&source).expect("source dir");
        Command::cargo_bin("tickflow")
            .expect("binary built")
            .env_remove("TICKFLOW_CATALOG")
            .arg("watch")
            .arg(&source)
            .arg("--out")
            .arg(dir.path().join("bars"))
            .arg("--once")
            .arg("--bars")
            .arg(&file)
            .assert()
            .code(2)
            .stderr(
                predicate::str::contains("--bars")
                    .and(predicate::str::contains(format!("{}: ", file.display())))
                    .and(predicate::str::contains(why)),
            );
        assert!(
            !dir.path().join("bars").exists(),
            "{select}: nothing is created"
        );
    }
}

#[test]
fn a_missing_bar_file_is_a_bad_argument() {
    let dir = TempDir::new().expect("tempdir");
    let source = dir.path().join("incoming");
    std::fs::create_dir_all(&source).expect("source dir");
    Command::cargo_bin("tickflow")
        .expect("binary built")
        .env_remove("TICKFLOW_CATALOG")
        .arg("watch")
        .arg(&source)
        .arg("--out")
        .arg(dir.path().join("bars"))
        .args(["--bars", "no_such_bars.sql"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "invalid value for '--bars <FILE.sql>': no_such_bars.sql: No such file",
        ));
    assert!(!dir.path().join("bars").exists(), "nothing is created");
}

/// `tickflow watch SOURCE --out OUT --once` with more arguments.
fn watch_once(dir: &TempDir, more: &[&str]) -> assert_cmd::assert::Assert {
    Command::cargo_bin("tickflow")
        .expect("binary built")
        .arg("--catalog")
        .arg(dir.path().join("c.json"))
        .env_remove("TICKFLOW_CATALOG")
        .arg("watch")
        .arg(dir.path().join("incoming"))
        .arg("--out")
        .arg(dir.path().join("bars"))
        .arg("--once")
        .args(more)
        .assert()
}

const TRADES_HEADER: &str = "date,time,symbol,price,size,exchange,conditions,seq\n";

/// The zone a bar table's trades were read in is recorded: a restart with another one is
/// refused naming both (once the zones were mixed silently), the same one continues.
#[test]
fn a_watch_table_keeps_its_source_zone() {
    let dir = TempDir::new().expect("tempdir");
    let incoming = dir.path().join("incoming");
    std::fs::create_dir_all(&incoming).expect("source dir");
    std::fs::write(
        incoming.join("a.csv"),
        format!("{TRADES_HEADER}2024-01-02,09:30:00,AAPL,185.5,100,Q,,1\n"),
    )
    .expect("write");
    watch_once(&dir, &["--source-tz", "UTC"]).success();
    std::fs::write(
        incoming.join("b.csv"),
        format!("{TRADES_HEADER}2024-01-02,09:31:00,AAPL,185.6,100,Q,,1\n"),
    )
    .expect("write");
    watch_once(&dir, &["--source-tz", "America/New_York"])
        .failure()
        .stderr(
            predicate::str::contains("--source-tz UTC")
                .and(predicate::str::contains("--source-tz America/New_York")),
        );
    watch_once(&dir, &["--source-tz", "UTC"])
        .success()
        .stdout(predicate::str::contains("1 file(s)"));
}

/// A trade time outside the nanosecond range stops the watcher with `file:line:column` (once it
/// wrapped to 2084 and moved the watermark, diverting every later trade as late).
#[test]
fn watch_refuses_a_timestamp_outside_the_range() {
    let dir = TempDir::new().expect("tempdir");
    let incoming = dir.path().join("incoming");
    std::fs::create_dir_all(&incoming).expect("source dir");
    let file = incoming.join("a.csv");
    std::fs::write(
        &file,
        format!(
            "{TRADES_HEADER}2024-01-02,09:30:00,AAPL,185.5,100,Q,,1\n1500-01-02,09:30:00,AAPL,185.5,100,Q,,2\n"
        ),
    )
    .expect("write");
    watch_once(&dir, &[]).failure().stderr(
        predicate::str::contains(format!(
            "{}:3:2: timestamp 1500-01-02 09:30:00",
            file.display()
        ))
        .and(predicate::str::contains("outside the range")),
    );
}
