//! `tickflow sql` as a process: statements from -c, -f (with parameters) and stdin, output
//! formats and files, `--table`, the persistent catalog, and errors as one line + exit code 1.

use assert_cmd::Command;
use predicates::prelude::*;
use tempfile::TempDir;

/// `tickflow` with a catalog inside `dir`, so tests never touch the user's config.
fn tickflow(dir: &TempDir) -> Command {
    let mut cmd = Command::cargo_bin("tickflow").expect("binary built");
    cmd.arg("--catalog").arg(dir.path().join("catalog.json"));
    cmd.env_remove("TICKFLOW_CATALOG");
    cmd
}

#[test]
fn runs_statements_with_tickflow_functions() {
    let dir = TempDir::new().expect("tempdir");
    tickflow(&dir)
        .args(["sql", "-c", "SELECT time_bucket('9 minutes', TIMESTAMP '2024-03-05 09:31:59') AS b; SELECT 40 + 2 AS answer"])
        .assert()
        .success()
        .stdout(predicate::str::contains("2024-03-05T09:27:00").and(predicate::str::contains("| 42 ")));
}

#[test]
fn script_parameters_are_substituted_and_a_missing_one_is_named() {
    let dir = TempDir::new().expect("tempdir");
    let script = dir.path().join("bars.sql");
    std::fs::write(
        &script,
        "-- a script\nSELECT '${greeting}' AS g,\n  ${n:-7} AS n;\n",
    )
    .expect("write");
    tickflow(&dir)
        .arg("sql")
        .arg("-f")
        .arg(&script)
        .args(["--param", "greeting=hello", "--format", "csv"])
        .assert()
        .success()
        .stdout("g,n\nhello,7\n");
    tickflow(&dir)
        .arg("sql")
        .arg("-f")
        .arg(&script)
        .assert()
        .failure()
        .code(1)
        .stderr(predicate::str::contains(
            "bars.sql:2: missing parameter 'greeting': pass --param greeting=VALUE",
        ));
}

/// A parameter a comment mentions needs no value; one in a string literal is substituted.
#[test]
fn parameters_in_comments_are_left_as_written() {
    let dir = TempDir::new().expect("tempdir");
    let script = dir.path().join("commented.sql");
    std::fs::write(
        &script,
        "-- uses ${bar_width}, see /* below */\n/* and ${start} */\nSELECT '${g:-x}' AS g;\n",
    )
    .expect("write");
    tickflow(&dir)
        .arg("sql")
        .arg("-f")
        .arg(&script)
        .args(["--format", "csv"])
        .assert()
        .success()
        .stdout("g\nx\n");
}

#[test]
fn several_files_share_one_session() {
    let dir = TempDir::new().expect("tempdir");
    let first = dir.path().join("1.sql");
    let second = dir.path().join("2.sql");
    std::fs::write(&first, "CREATE TABLE t AS VALUES (1), (2), (3);").expect("write");
    std::fs::write(&second, "SELECT sum(column1) AS s FROM t;").expect("write");
    tickflow(&dir)
        .arg("sql")
        .arg("-f")
        .arg(&first)
        .arg("-f")
        .arg(&second)
        .args(["--format", "json"])
        .assert()
        .success()
        .stdout("{\"s\":6}\n");
}

#[test]
fn statements_from_stdin() {
    let dir = TempDir::new().expect("tempdir");
    tickflow(&dir)
        .args(["sql", "--format", "csv"])
        .write_stdin("SELECT vwap(p, v) AS vwap FROM (VALUES (10.0, 100), (10.5, 300)) t(p, v);")
        .assert()
        .success()
        .stdout("vwap\n10.375\n");
}

#[test]
fn errors_are_one_line_and_exit_1() {
    let dir = TempDir::new().expect("tempdir");
    let assert = tickflow(&dir)
        .args(["sql", "-c", "SELECT nope"])
        .assert()
        .failure()
        .code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("nope"), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    tickflow(&dir)
        .args([
            "sql",
            "-c",
            "SELECT time_bucket('0 minutes', TIMESTAMP '2024-01-01 00:00:00')",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "time_bucket: argument 1 (width) must be positive",
        ));
}

#[test]
fn output_files_in_every_format_are_written_whole() {
    let dir = TempDir::new().expect("tempdir");
    let query = "SELECT column1 AS x FROM (VALUES (1), (2))";
    for name in ["out.csv", "out.json", "out.parquet"] {
        let path = dir.path().join(name);
        tickflow(&dir)
            .args(["sql", "-c", query, "--output"])
            .arg(&path)
            .assert()
            .success();
        assert!(path.exists(), "{name}");
        // No temporary file is left beside it.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .expect("read dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out.csv")).expect("csv"),
        "x\n1\n2\n"
    );
    let parquet = dir.path().join("out.parquet");
    tickflow(&dir)
        .args(["sql", "--format", "csv", "-c"])
        .arg(format!("SELECT sum(x) AS s FROM '{}'", parquet.display()))
        .assert()
        .success()
        .stdout("s\n3\n");
    tickflow(&dir)
        .args(["sql", "-c", query, "--output"])
        .arg(dir.path().join("out.unknown"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("cannot tell the format"));
}

#[test]
fn tables_persist_in_the_catalog_across_processes() {
    let dir = TempDir::new().expect("tempdir");
    let csv = dir.path().join("prices.csv");
    std::fs::write(&csv, "symbol,price\nAAA,1.5\nBBB,2.5\n").expect("write");
    // --table registers and remembers.
    tickflow(&dir)
        .arg("--table")
        .arg(format!("prices={}", csv.display()))
        .args([
            "sql",
            "-c",
            "SELECT count(*) AS n FROM prices",
            "--format",
            "csv",
        ])
        .assert()
        .success()
        .stdout("n\n2\n");
    // CREATE EXTERNAL TABLE is remembered too; a new process sees both.
    tickflow(&dir)
        .arg("sql").arg("-c")
        .arg(format!("CREATE EXTERNAL TABLE again STORED AS CSV LOCATION '{}' OPTIONS ('format.has_header' 'true')", csv.display()))
        .assert()
        .success();
    tickflow(&dir)
        .args([
            "sql",
            "--format",
            "csv",
            "-c",
            "SELECT (SELECT count(*) FROM prices) + (SELECT count(*) FROM again) AS n",
        ])
        .assert()
        .success()
        .stdout("n\n4\n");
    // DROP TABLE forgets it.
    tickflow(&dir)
        .args(["sql", "-c", "DROP TABLE again"])
        .assert()
        .success();
    tickflow(&dir)
        .args(["sql", "-c", "SELECT * FROM again"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("again"));
}

#[test]
fn help_explains_every_option() {
    let dir = TempDir::new().expect("tempdir");
    tickflow(&dir)
        .args(["sql", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("--param")
                .and(predicate::str::contains("--output"))
                .and(predicate::str::contains("--format")),
        );
}

/// An environment variable that cannot be used is refused, naming it, by every subcommand,
/// whether or not it reads remote data (once ignored unless an object was read).
#[test]
fn a_bad_cache_variable_is_refused_naming_it() {
    let dir = TempDir::new().expect("tempdir");
    for (var, value) in [
        ("TICKFLOW_CACHE_SIZE", "-5"),
        ("TICKFLOW_CACHE_SIZE", "lots"),
        ("TICKFLOW_CACHE", "maybe"),
    ] {
        tickflow(&dir)
            .env(var, value)
            .args(["sql", "-c", "SELECT 1"])
            .assert()
            .failure()
            .stderr(predicate::str::contains(var).and(predicate::str::contains(value)));
    }
    tickflow(&dir)
        .env("TICKFLOW_CACHE_SIZE", "500MB")
        .args(["sql", "-c", "SELECT 1"])
        .assert()
        .success();
}

/// `--table NAME=FILE.csv.gz` (or `.csv.zst`) reads the rows, not the compressed bytes (once a
/// UTF-8 error from the gzip header).
#[test]
fn a_compressed_csv_table_reads_its_rows() {
    use std::io::Write;
    let dir = TempDir::new().expect("tempdir");
    let text = b"a,b\n1,2\n3,4\n";
    let gz = dir.path().join("t.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text).expect("gzip");
    std::fs::write(&gz, enc.finish().expect("gzip")).expect("write");
    let zst = dir.path().join("t.csv.zst");
    std::fs::write(&zst, zstd::encode_all(&text[..], 3).expect("zstd")).expect("write");
    for path in [gz, zst] {
        tickflow(&dir)
            .arg("--table")
            .arg(format!("t={}", path.display()))
            .args([
                "sql",
                "-c",
                "SELECT sum(a) AS sa, sum(b) AS sb FROM t",
                "--format",
                "csv",
            ])
            .assert()
            .success()
            .stdout(predicate::str::contains("sa,sb\n4,6"));
    }
}
