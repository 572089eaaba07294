//! `--standalone` and `--cluster` as a user meets them: a standalone session runs tickflow's
//! functions (in-process Ballista), and a cluster that is not there is a one-line error within
//! seconds, naming the URL. (A real cluster is tested in tests/tests/cluster*.rs.)

use std::time::{Duration, Instant};

mod common;

use common::tickflow;
use predicates::prelude::*;
use tempfile::TempDir;

#[test]
fn standalone_runs_tickflow_functions_and_tables_made_by_create_table_as() {
    let dir = TempDir::new().expect("tempdir");
    tickflow(dir.path())
        .args([
            "--standalone",
            "sql",
            "-c",
            "CREATE TABLE t (ts TIMESTAMP, p DOUBLE, v BIGINT) AS VALUES \
               ('2024-01-02T09:30:05', 10.0, 100), ('2024-01-02T09:30:40', 12.0, 300); \
             SELECT time_bucket('1 minute', ts) AS bar, ohlc(ts, p)['close'] AS close, \
                    vwap(p, v) AS vwap FROM t GROUP BY 1; \
             SELECT count(*) AS n FROM time_bucket('1 hour', TIMESTAMP '2024-01-02 00:00:00', \
                                                   TIMESTAMP '2024-01-03 00:00:00')",
        ])
        .timeout(Duration::from_secs(120))
        .assert()
        .success()
        .stdout(
            predicate::str::contains("2024-01-02T09:30:00")
                .and(predicate::str::contains("| 12.0 "))
                .and(predicate::str::contains("| 11.5 "))
                .and(predicate::str::contains("| 24 ")),
        );
}

#[test]
fn an_unreachable_cluster_is_a_clear_error_within_seconds() {
    let dir = TempDir::new().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let url = format!("df://127.0.0.1:{port}");
    let started = Instant::now();
    tickflow(dir.path())
        .args(["--cluster", &url, "sql", "-c", "SELECT 1"])
        .timeout(Duration::from_secs(30))
        .assert()
        .failure()
        .stderr(
            predicate::str::starts_with("error: ")
                .and(predicate::str::contains(
                    "cannot reach the Ballista scheduler",
                ))
                .and(predicate::str::contains(url.as_str())),
        );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_malformed_cluster_url_is_named() {
    let dir = TempDir::new().expect("tempdir");
    tickflow(dir.path())
        .args(["--cluster", "localhost:50050", "sql", "-c", "SELECT 1"])
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("--cluster expects df://HOST:PORT")
                .and(predicate::str::contains("localhost:50050")),
        );
}

#[test]
fn gen_needs_no_cluster() {
    // Writing files runs locally whatever engine is named.
    let dir = TempDir::new().expect("tempdir");
    tickflow(dir.path())
        .args([
            "--cluster",
            "df://127.0.0.1:1",
            "gen",
            "--rows",
            "1K",
            "--days",
            "1",
            "--symbols",
            "2",
            "--out",
        ])
        .arg(dir.path().join("data"))
        .assert()
        .success();
}
