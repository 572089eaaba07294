//! The binaries keep Ballista's stock flags (they are Ballista's own `Config` parsers), so
//! Ballista's documentation and deployment files apply to them unchanged.

use std::process::Command;

fn help(binary: &str) -> String {
    let out = Command::new(binary)
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(out.status.success(), "{binary} --help failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn scheduler_has_the_stock_flags_and_flight_sql() {
    let text = help(env!("CARGO_BIN_EXE_tickflow-scheduler"));
    for flag in [
        "--bind-host",
        "--bind-port",
        "--external-host",
        "--min-ready-executors",
        "--executor-timeout-seconds",
        "--task-max-failures",
        "--log-dir",
        "--flight-sql",
    ] {
        assert!(
            text.contains(flag),
            "tickflow-scheduler --help lacks {flag}:\n{text}"
        );
    }
}

#[test]
fn executor_has_the_stock_flags() {
    let text = help(env!("CARGO_BIN_EXE_tickflow-executor"));
    for flag in [
        "--scheduler-host",
        "--scheduler-port",
        "--bind-port",
        "--bind-grpc-port",
        "--bind-health-port",
        "--vcores",
        "--work-dir",
        "--executor-heartbeat-interval-seconds",
    ] {
        assert!(
            text.contains(flag),
            "tickflow-executor --help lacks {flag}:\n{text}"
        );
    }
}
