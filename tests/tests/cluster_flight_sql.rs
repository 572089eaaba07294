//! SQL text from a real Flight SQL client (Python's `adbc_driver_flightsql`) is planned by
//! `tickflow-scheduler --flight-sql` with tickflow's functions and runs on its executors.
//!
//! The Python packages come from `scripts/test.sh` (a virtualenv in `~/.cache/tickflow-venv`,
//! named by `TICKFLOW_PYTHON`); without them the test fails and says what to install.

use std::process::Command;

use tickflow_tests::cluster::Cluster;

fn python() -> String {
    std::env::var("TICKFLOW_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

#[test]
fn flight_sql_client_runs_tickflow_functions() {
    let python = python();
    let probe = Command::new(&python)
        .args(["-c", "import adbc_driver_flightsql.dbapi, pyarrow"])
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        _ => panic!(
            "{python} cannot import adbc_driver_flightsql and pyarrow: run scripts/test.sh (it \
             installs them), or `pip install adbc-driver-flightsql pyarrow` and set \
             TICKFLOW_PYTHON to that python"
        ),
    }

    let cluster = Cluster::start(2);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/reference/flight_sql_bars.py");
    let out = Command::new(&python)
        .arg(script)
        .arg(format!("grpc://127.0.0.1:{}", cluster.port))
        .output()
        .expect("run the Flight SQL client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Flight SQL client failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cluster.logs()
    );
    let results: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON result per line"))
        .collect();

    // Bar 09:30: open 10.0 (first ts), close 11.0 (ts tie at 09:30:40 broken by seq 3),
    // high 12, low 10, vwap (10*100 + 12*300 + 11*100) / 500 = 11.4, volume 500.
    // Bar 09:31: one trade at 13.0, volume 200.
    assert_eq!(
        results[0],
        serde_json::json!([
            [
                "2024-01-02 09:30:00",
                "10.0",
                "12.0",
                "10.0",
                "11.0",
                "11.4",
                "500"
            ],
            [
                "2024-01-02 09:31:00",
                "13.0",
                "13.0",
                "13.0",
                "13.0",
                "13.0",
                "200"
            ]
        ]),
        "{stdout}"
    );
    // 09:00 .. 16:00 in 1-hour buckets: 7 buckets, the last ending at 16:00.
    assert_eq!(
        results[1],
        serde_json::json!([["7", "2024-01-02T09:00:00", "2024-01-02T16:00:00"]]),
        "{stdout}"
    );
    assert!(
        cluster.tasks_run(0) + cluster.tasks_run(1) > 0,
        "no executor ran a task\n{}",
        cluster.logs()
    );
}
