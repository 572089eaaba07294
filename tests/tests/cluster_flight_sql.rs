//! SQL text from a real Flight SQL client (Python's `adbc_driver_flightsql`) is planned by
//! `tickflow-scheduler --flight-sql` with tickflow's functions and runs on its executors.
//!
//! The Python packages come from `scripts/test.sh` (a virtualenv in `~/.cache/tickflow-venv`,
//! named by `TICKFLOW_PYTHON`); without them the test fails and says what to install.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::ipc::convert::try_schema_from_ipc_buffer;
use arrow::util::display::array_value_to_string;

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

/// A Flight SQL client gets the answer a local session gives, same values and same Arrow types,
/// for what a user found broken: a query by path (`FROM '/dir/'`, which the scheduler looked up
/// as a table name), a hive partition column (announced as a dictionary and sent as `Utf8`,
/// which ADBC refused), and DECIMAL results.
#[test]
fn flight_sql_answers_as_a_local_session() {
    let python = python();
    let data = tempfile::tempdir().expect("temp dir");
    let ticks = data.path().join("ticks");
    let ticks = ticks.to_str().expect("utf-8 path");
    let statements = [
        // 0: a query by path, with the partition column it infers.
        format!(
            "SELECT symbol, count(*) AS trades, sum(size) AS volume FROM '{ticks}/' \
             GROUP BY symbol ORDER BY symbol"
        ),
        // 1, 2: a hive partition column of a table, selected and grouped by.
        format!("CREATE EXTERNAL TABLE flight_ticks STORED AS PARQUET LOCATION '{ticks}/'"),
        "SELECT date, symbol, price FROM flight_ticks ORDER BY date, symbol, price".to_string(),
        format!("SELECT date, count(*) AS trades FROM '{ticks}/' GROUP BY date ORDER BY date"),
        // 4: DECIMAL prices through the aggregates, tickflow's included, of files by path.
        format!(
            "SELECT symbol, sum(price) AS total, min(price) AS low, max(price) AS high, \
                    avg(price) AS mean, vwap(price, size) AS vwap, \
                    ohlc(ts, price, seq)['close'] AS close, sum(price * size) AS notional \
             FROM '{ticks}/' GROUP BY symbol ORDER BY symbol"
        ),
    ];

    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let local = runtime.block_on(async {
        let ctx = tickflow_engine::local_context(&tickflow_engine::EngineConfig::default())
            .expect("local session");
        ctx.sql(&format!(
            "COPY (SELECT date, symbol, ts, CAST(price AS DECIMAL(12, 4)) AS price, size, seq \
             FROM (VALUES \
               ('2024-01-02', 'AAA', TIMESTAMP '2024-01-02 09:30:00', '10.125', 100, 1), \
               ('2024-01-02', 'AAA', TIMESTAMP '2024-01-02 09:30:30', '10.5', 300, 2), \
               ('2024-01-02', 'BBB', TIMESTAMP '2024-01-02 09:31:00', '20.0001', 50, 3), \
               ('2024-01-03', 'AAA', TIMESTAMP '2024-01-03 09:30:00', '11', 200, 4), \
               ('2024-01-03', 'BBB', TIMESTAMP '2024-01-03 09:30:00', '19.9999', 150, 5) \
             ) t(date, symbol, ts, price, size, seq)) \
             TO '{ticks}/' STORED AS PARQUET PARTITIONED BY (date)"
        ))
        .await
        .expect("plan COPY")
        .collect()
        .await
        .expect("write the ticks");
        let mut answers = Vec::new();
        for sql in &statements {
            let df = ctx.sql(sql).await.expect(sql);
            let schema = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await.expect(sql);
            answers.push(Answer::of(schema, &batches));
        }
        answers
    });

    let cluster = Cluster::start(2);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/reference/flight_sql_statements.py"
    );
    let mut child = Command::new(&python)
        .arg(script)
        .arg(format!("grpc://127.0.0.1:{}", cluster.port))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the Flight SQL client");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&statements).expect("json").as_bytes())
        .expect("send the statements");
    let out = child.wait_with_output().expect("Flight SQL client output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Flight SQL client failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cluster.logs()
    );
    let remote: Vec<Answer> = stdout.lines().map(Answer::from_client).collect();
    assert_eq!(remote.len(), statements.len(), "{stdout}");

    let failures: Vec<String> = statements
        .iter()
        .zip(local.iter().zip(&remote))
        .filter(|(_, (local, remote))| local != remote)
        .map(|(sql, (local, remote))| {
            format!("{sql}\n  local:       {local:?}\n  Flight SQL:  {remote:?}")
        })
        .collect();
    assert!(
        failures.is_empty(),
        "Flight SQL answered differently from a local session:\n{}\n{}",
        failures.join("\n"),
        cluster.logs()
    );

    // And the local answers are the right ones.
    let dictionary = DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8));
    assert_eq!(
        remote[0].rows,
        [["AAA", "3", "600"], ["BBB", "2", "200"]],
        "by path"
    );
    assert_eq!(
        remote[2].types,
        [
            dictionary.clone(),
            DataType::Utf8,
            DataType::Decimal128(12, 4)
        ]
    );
    assert_eq!(
        remote[2].rows,
        [
            ["2024-01-02", "AAA", "10.1250"],
            ["2024-01-02", "AAA", "10.5000"],
            ["2024-01-02", "BBB", "20.0001"],
            ["2024-01-03", "AAA", "11.0000"],
            ["2024-01-03", "BBB", "19.9999"],
        ]
    );
    assert_eq!(remote[3].types, [dictionary, DataType::Int64]);
    assert_eq!(remote[3].rows, [["2024-01-02", "3"], ["2024-01-03", "2"]]);
    // 10.125 + 10.5 + 11 and 20.0001 + 19.9999, exactly; notional: Σ price·size, exactly.
    let total_and_notional: Vec<[&str; 3]> = remote[4]
        .rows
        .iter()
        .map(|r| [r[0].as_str(), r[1].as_str(), r[7].as_str()])
        .collect();
    assert_eq!(
        total_and_notional,
        [
            ["AAA", "31.6250", "6362.5000"],
            ["BBB", "40.0000", "3999.9900"]
        ]
    );
    assert!(
        remote[4].types[1..]
            .iter()
            .all(|t| matches!(t, DataType::Decimal128(..))),
        "{:?}",
        remote[4].types
    );

    // Ballista's own client on the same cluster still reads the partition column: the
    // executors keep dictionaries for the scheduler's Flight proxy only.
    let out = tickflow_tests::cli::tickflow(
        &[
            "--cluster",
            &cluster.url,
            "sql",
            "-c",
            &format!("SELECT date, count(*) AS trades FROM '{ticks}/' GROUP BY date ORDER BY date"),
        ],
        data.path(),
        &[],
    );
    assert!(
        out.contains("| 2024-01-02 | 3      |") && out.contains("| 2024-01-03 | 2      |"),
        "{out}\n{}",
        cluster.logs()
    );
}

/// A statement's result as a client sees it: column names, Arrow types, values as text.
#[derive(Debug, PartialEq)]
struct Answer {
    names: Vec<String>,
    types: Vec<DataType>,
    rows: Vec<Vec<String>>,
    error: Option<String>,
}

impl Answer {
    fn of(schema: SchemaRef, batches: &[RecordBatch]) -> Answer {
        let mut rows = Vec::new();
        for batch in batches {
            for row in 0..batch.num_rows() {
                rows.push(
                    batch
                        .columns()
                        .iter()
                        .map(|c| array_value_to_string(c, row).expect("display a value"))
                        .collect(),
                );
            }
        }
        let schema = batches.first().map_or(schema, |b| b.schema());
        Answer {
            names: schema.fields().iter().map(|f| f.name().clone()).collect(),
            // A local session reads Parquet strings as `Utf8View`; Ballista's sessions read them
            // as `Utf8` on purpose (`ballista_restricted_configuration`: view arrays made IPC
            // frames too large for Flight), for `tickflow --cluster` as for Flight SQL. Same
            // SQL type and values; every other type must be the same.
            types: schema
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::Utf8View => DataType::Utf8,
                    other => other.clone(),
                })
                .collect(),
            rows,
            error: None,
        }
    }

    /// One line of `flight_sql_statements.py`'s output.
    fn from_client(line: &str) -> Answer {
        let value: serde_json::Value = serde_json::from_str(line).expect("one JSON object");
        if let Some(error) = value["error"].as_str() {
            return Answer {
                names: vec![],
                types: vec![],
                rows: vec![],
                error: Some(error.to_string()),
            };
        }
        let hex = value["schema"].as_str().expect("schema");
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        let schema = try_schema_from_ipc_buffer(&bytes).expect("IPC schema");
        let rows = value["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|row| {
                row.as_array()
                    .expect("row")
                    .iter()
                    .map(|v| v.as_str().expect("text").to_string())
                    .collect()
            })
            .collect();
        Answer {
            names: schema.fields().iter().map(|f| f.name().clone()).collect(),
            types: schema
                .fields()
                .iter()
                .map(|f| f.data_type().clone())
                .collect(),
            rows,
            error: None,
        }
    }
}
