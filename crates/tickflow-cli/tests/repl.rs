//! The REPL driven as a process through stdin. Every test uses its own catalog and history file
//! in a temporary directory, never the user's.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use tempfile::TempDir;

fn tickflow(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tickflow"));
    cmd.arg("--catalog")
        .arg(dir.join("c.json"))
        .env("TICKFLOW_HISTORY", dir.join("h"))
        .env_remove("TICKFLOW_CATALOG")
        .current_dir(dir);
    cmd
}

fn repl(dir: &Path, input: &str) -> assert_cmd::assert::Assert {
    tickflow(dir).write_stdin(input).assert()
}

fn tempdir() -> TempDir {
    TempDir::new().expect("a temporary directory")
}

fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

/// A secret typed at the prompt is used, and is not written to the history file (issue 21).
#[test]
fn secrets_stay_out_of_the_history_file() {
    let dir = tempdir();
    repl(
        dir.path(),
        "SET s3.secret_access_key = 'hunter2-secret';\n\
         SELECT value FROM information_schema.df_settings \
         WHERE name = 's3.secret_access_key';\n",
    )
    .success()
    .stdout(contains("hunter2-secret"));
    let history = std::fs::read_to_string(dir.path().join("h")).expect("the history file");
    assert!(!history.contains("hunter2-secret"), "{history}");
    assert!(
        history.contains("SET s3.secret_access_key = '<redacted>';"),
        "{history}"
    );
}

#[test]
fn multi_line_query() {
    let dir = tempdir();
    repl(dir.path(), "SELECT 1\n+ 1 AS two;\n")
        .success()
        .stdout(contains("| two |").and(contains("| 2   |")))
        .stdout(contains("tickflow>").not());
}

#[test]
fn statements_on_one_line_and_a_last_one_without_semicolon() {
    let dir = tempdir();
    repl(
        dir.path(),
        "SELECT 'a;b' AS x; SELECT 2 AS y;\nSELECT 3 AS z",
    )
    .success()
    .stdout(
        contains("a;b")
            .and(contains("| y |"))
            .and(contains("| z |")),
    );
}

#[test]
fn d_lists_tables_and_describes_one() {
    let dir = tempdir();
    let out = repl(
        dir.path(),
        "CREATE TABLE t AS VALUES (1, 'a'), (2, 'b');\n\\d\n\\dt\n\\d t\n\\d T\n",
    )
    .success();
    let stdout = stdout_of(&out);
    assert_eq!(
        stdout.matches("| public | t    | BASE TABLE |").count(),
        2,
        "{stdout}"
    );
    assert_eq!(stdout.matches("| column1 | Int64 |").count(), 2, "{stdout}");
    assert_eq!(stdout.matches("| column2 | Utf8  |").count(), 2, "{stdout}");
}

#[test]
fn d_of_a_missing_table_is_an_error_and_the_repl_goes_on() {
    let dir = tempdir();
    repl(dir.path(), "\\d nope\nSELECT 7 AS seven;\n")
        .success()
        .stderr(contains("error: no table named 'nope'"))
        .stdout(contains("| 7     |"));
}

#[test]
fn df_with_a_pattern_shows_the_description() {
    let dir = tempdir();
    repl(dir.path(), "\\df vwap\n")
        .success()
        .stdout(contains("vwap (aggregate)"))
        .stdout(contains("volume-weighted average price"))
        .stdout(contains("syntax: vwap(price, volume)"))
        .stdout(contains("example:"))
        .stdout(contains("ohlc (").not());
}

#[test]
fn df_lists_every_tickflow_function() {
    let dir = tempdir();
    let out = repl(dir.path(), "\\df\n").success();
    let stdout = stdout_of(&out);
    for name in [
        "ohlc (aggregate)",
        "vwap (aggregate)",
        "bar_std (aggregate)",
        "total_volume (aggregate)",
        "time_bucket (scalar)",
        "time_bucket (table)",
    ] {
        assert!(stdout.contains(name), "{name} missing:\n{stdout}");
    }
}

#[test]
fn an_error_then_a_good_query() {
    let dir = tempdir();
    repl(dir.path(), "SELECT nope;\nSELECT 41 + 1 AS answer;\n")
        .success()
        .stderr(contains("error: ").and(contains("nope")))
        .stderr(contains("backtrace").not())
        .stdout(contains("| answer |").and(contains("| 42     |")));
}

#[test]
fn unknown_command_is_reported_and_the_repl_goes_on() {
    let dir = tempdir();
    repl(dir.path(), "\\nonsense\nSELECT 1 AS one;\n")
        .success()
        .stderr(contains("unknown command \\nonsense"))
        .stdout(contains("| one |"));
}

#[test]
fn format_csv_and_json() {
    let dir = tempdir();
    let out = repl(
        dir.path(),
        "\\format csv\nSELECT 1 AS a, 'x' AS b;\n\\format json\nSELECT 2 AS a;\n\\format table\nSELECT 3 AS a;\n",
    )
    .success();
    let stdout = stdout_of(&out);
    assert!(stdout.starts_with("a,b\n1,x\n{\"a\":2}\n+---+"), "{stdout}");
    assert!(stdout.contains("| 3 |"), "{stdout}");
}

#[test]
fn o_sends_output_to_a_file_and_back() {
    let dir = tempdir();
    let file = dir.path().join("out.csv");
    let input = format!(
        "\\format csv\n\\o {}\nSELECT 42 AS x;\n\\d\n\\o\nSELECT 'screen' AS y;\n",
        file.display()
    );
    let out = repl(dir.path(), &input).success();
    let stdout = stdout_of(&out);
    assert_eq!(stdout, "y\nscreen\n");
    let written = std::fs::read_to_string(&file).expect("the \\o file");
    assert_eq!(written, "x\n42\n");
}

#[test]
fn i_runs_a_file() {
    let dir = tempdir();
    let script = dir.path().join("setup.sql");
    std::fs::write(
        &script,
        "-- a script\nCREATE TABLE bars AS\n  VALUES ('AAPL', 10.5), ('MSFT', 20.25);\n\\format csv\nSELECT count(*) AS n FROM bars;\n",
    )
    .expect("write the script");
    repl(
        dir.path(),
        &format!(
            "\\i {}\nSELECT column1 FROM bars ORDER BY 1;\n",
            script.display()
        ),
    )
    .success()
    .stdout(contains("n\n2\n").and(contains("column1\nAAPL\nMSFT\n")));
}

#[test]
fn i_stops_a_file_at_its_first_error() {
    let dir = tempdir();
    std::fs::write(
        dir.path().join("bad.sql"),
        "SELECT 1 AS first;\nSELECT nope;\nSELECT 3 AS third;\n",
    )
    .expect("write the script");
    repl(dir.path(), "\\i bad.sql\nSELECT 4 AS fourth;\n")
        .success()
        .stdout(contains("first").and(contains("fourth")))
        .stdout(contains("third").not())
        .stderr(contains("bad.sql:2: stopped at this error"));
}

#[test]
fn q_quits() {
    let dir = tempdir();
    repl(
        dir.path(),
        "SELECT 'before' AS b;\n\\q\nSELECT 'after' AS a;\n",
    )
    .success()
    .stdout(contains("before").and(contains("after").not()));
}

#[test]
fn timing_prints_elapsed_time() {
    let dir = tempdir();
    repl(dir.path(), "\\timing\nSELECT 1;\n")
        .success()
        .stderr(contains("Timing is on.").and(contains("Elapsed ")));
}

#[test]
fn help_lists_the_commands() {
    let dir = tempdir();
    let out = repl(dir.path(), "\\?\n").success();
    let stdout = stdout_of(&out);
    for command in [
        "\\d [NAME]",
        "\\dt",
        "\\df",
        "\\timing",
        "\\format",
        "\\o",
        "\\i",
        "\\q",
    ] {
        assert!(stdout.contains(command), "{command} missing:\n{stdout}");
    }
}

#[test]
fn history_is_saved() {
    let dir = tempdir();
    repl(dir.path(), "SELECT 1\n+ 1;\n\\d\n").success();
    let history = std::fs::read_to_string(dir.path().join("h")).expect("the history file");
    assert!(history.contains("SELECT 1"), "{history}");
    assert!(history.contains("\\d"), "{history}");
}

#[test]
fn external_table_is_seen_by_the_next_process() {
    let dir = tempdir();
    let csv = dir.path().join("trades.csv");
    std::fs::write(&csv, "symbol,price\nAAPL,10.5\nMSFT,20.25\n").expect("write the CSV");
    repl(
        dir.path(),
        &format!(
            "CREATE EXTERNAL TABLE trades STORED AS CSV LOCATION '{}'\n  OPTIONS ('format.has_header' 'true');\n",
            csv.display()
        ),
    )
    .success();
    repl(
        dir.path(),
        "\\d\n\\d trades\n\\format csv\nSELECT symbol, price FROM trades ORDER BY symbol;\n",
    )
    .success()
    .stdout(contains("| public | trades | BASE TABLE |"))
    .stdout(contains("| symbol | Utf8"))
    .stdout(contains("symbol,price\nAAPL,10.5\nMSFT,20.25\n"));
}

/// Ctrl-C (SIGINT) while a query runs cancels that query; the REPL reads on.
#[cfg(unix)]
#[test]
fn ctrl_c_cancels_the_running_query_not_the_repl() {
    use std::io::{Read, Write};
    use std::process::Stdio;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    fn collect(mut from: impl Read + Send + 'static) -> Arc<Mutex<String>> {
        let text = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&text);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        text
    }
    fn wait_for(text: &Arc<Mutex<String>>, needle: &str, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if text.lock().expect("lock").contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    let dir = tempdir();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tickflow"))
        .arg("--catalog")
        .arg(dir.path().join("c.json"))
        .env("TICKFLOW_HISTORY", dir.path().join("h"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tickflow");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = collect(child.stdout.take().expect("stdout"));
    let stderr = collect(child.stderr.take().expect("stderr"));

    // Once a first result is out, the REPL listens for Ctrl-C.
    stdin
        .write_all(b"SELECT 'ready' AS r;\n")
        .expect("write to the REPL");
    assert!(wait_for(&stdout, "ready", Duration::from_secs(60)));

    // A query that would run for hours.
    stdin
        .write_all(b"SELECT sum(value % 7) AS never FROM generate_series(1, 1000000000000);\n")
        .expect("write to the REPL");
    let mut cancelled = false;
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(500));
        let status = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        if wait_for(&stderr, "query cancelled", Duration::from_secs(3)) {
            cancelled = true;
            break;
        }
    }
    assert!(
        cancelled,
        "no cancellation; stderr: {}",
        stderr.lock().expect("lock")
    );

    stdin
        .write_all(b"SELECT 'after' AS a;\n")
        .expect("write to the REPL");
    drop(stdin);
    let status = child.wait().expect("wait for tickflow");
    assert!(status.success(), "exit status {status}");
    assert!(wait_for(&stdout, "after", Duration::from_secs(5)));
    let stdout = stdout.lock().expect("lock").clone();
    assert!(!stdout.contains("never"), "{stdout}");
}
