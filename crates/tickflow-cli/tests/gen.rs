//! `tickflow gen` as a process: the files it writes are queryable with `tickflow sql` (Parquet by
//! path and as an external table with its hive partition `date`; the TAQ-style CSV), minute bars
//! (equal to the bars SQL computes from the same trades), and a non-empty --out is refused
//! without --force.

use std::path::Path;

mod common;

use common::{sql_csv, tickflow};
use predicates::prelude::*;
use tempfile::TempDir;

fn run_gen(dir: &TempDir, out: &Path, format: &str) -> assert_cmd::assert::Assert {
    tickflow(dir.path())
        .args(["gen", "--rows", "5000", "--days", "2", "--symbols", "20"])
        .args(["--start", "2024-03-08", "--seed", "3", "--format", format])
        .arg("--out")
        .arg(out)
        .assert()
}

#[test]
fn parquet_is_queryable_by_path_and_as_a_partitioned_table() {
    let dir = TempDir::new().expect("tempdir");
    let out = dir.path().join("trades");
    run_gen(&dir, &out, "parquet")
        .success()
        .stdout(predicate::str::contains("generated 5000 rows in 2 files"));
    assert!(out.join("date=2024-03-08/part-0.parquet").is_file());
    assert!(out.join("date=2024-03-11/part-0.parquet").is_file());
    let path = format!("{}/", out.display());

    assert_eq!(
        sql_csv(dir.path(), &format!("SELECT count(*) AS n FROM '{path}'")),
        "n\n5000\n"
    );

    // An external table over the directory: DataFusion 55 infers the hive partition column
    // (`datafusion.execution.listing_table_factory_infer_partitions`, on by default).
    let by_day = sql_csv(
        &dir,
        &format!(
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{path}';
             SELECT date, count(*) AS n, min(seq) AS first, max(seq) AS last,
                    min(price) > 0 AS positive,
                    min(to_char(ts AT TIME ZONE 'America/New_York', '%H:%M')) AS open,
                    max(to_char(ts AT TIME ZONE 'America/New_York', '%H:%M')) AS close
             FROM t GROUP BY date ORDER BY date"
        ),
    );
    assert_eq!(
        by_day,
        "date,n,first,last,positive,open,close\n\
         2024-03-08,2500,1,2500,true,09:30,15:59\n\
         2024-03-11,2500,1,2500,true,09:30,15:59\n"
    );
    // The table is in the catalog, so a new process sees it with its partition column.
    assert_eq!(
        sql_csv(
            &dir,
            "SELECT count(DISTINCT symbol) <= 20 AS ok, count(*) AS n FROM t WHERE date = '2024-03-11'"
        ),
        "ok,n\ntrue,2500\n"
    );
}

#[test]
fn csv_has_the_taq_shape() {
    let dir = TempDir::new().expect("tempdir");
    let out = dir.path().join("taq");
    run_gen(&dir, &out, "csv").success();
    let text = std::fs::read_to_string(out.join("trades_20240308.csv")).expect("csv");
    assert!(
        text.starts_with("date,time,symbol,price,size,exchange,conditions,seq\n2024-03-08,09:30:")
    );
    assert!(out.join("trades_20240311.csv").is_file());
    let counts = sql_csv(
        &dir,
        &format!(
            "CREATE EXTERNAL TABLE taq STORED AS CSV LOCATION '{}/' OPTIONS ('format.has_header' 'true');
             SELECT count(*) AS n, count(DISTINCT date) AS days, max(seq) AS last FROM taq",
            out.display()
        ),
    );
    assert_eq!(counts, "n,days,last\n5000,2,2500\n");
}

#[test]
fn minute_bars_per_symbol() {
    let dir = TempDir::new().expect("tempdir");
    let out = dir.path().join("bars");
    run_gen(&dir, &out, "minute-bars").success();
    let files: Vec<_> = std::fs::read_dir(&out)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!files.is_empty() && files.len() <= 20);
    for name in &files {
        assert!(name.ends_with("_full_1min.txt"), "{name}");
        let text = std::fs::read_to_string(out.join(name)).expect("bars");
        let first = text.lines().next().expect("a bar");
        assert_eq!(first.split(',').count(), 6, "{first}");
        assert!(first.starts_with("2024-03-08 ") || first.starts_with("2024-03-11 "));
    }
}

/// The minute-bar files (gen's own streaming loop) hold the bars SQL computes from the same
/// generated trades: `ohlc(ts, price, seq)` and `total_volume(size)` per symbol and New York
/// minute.
#[test]
fn minute_bars_equal_ohlc_and_total_volume_over_the_same_trades() {
    let dir = TempDir::new().expect("tempdir");
    let (trades, bars) = (dir.path().join("trades"), dir.path().join("bars"));
    run_gen(&dir, &trades, "parquet").success();
    run_gen(&dir, &bars, "minute-bars").success();
    let sql = format!(
        "SELECT symbol,
                to_char(start AT TIME ZONE 'America/New_York', '%Y-%m-%d %H:%M:%S') AS minute,
                CAST(bar['open'] AS DECIMAL(18, 2)) AS open,
                CAST(bar['high'] AS DECIMAL(18, 2)) AS high,
                CAST(bar['low'] AS DECIMAL(18, 2)) AS low,
                CAST(bar['close'] AS DECIMAL(18, 2)) AS close,
                volume
         FROM (SELECT symbol, time_bucket(INTERVAL '1 minute', ts) AS start,
                      ohlc(ts, price, seq) AS bar, total_volume(size) AS volume
               FROM '{}/' GROUP BY 1, 2)
         ORDER BY symbol, minute",
        trades.display()
    );
    let mut from_sql: Vec<String> = sql_csv(dir.path(), &sql)
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect();
    let mut from_files = Vec::new();
    for entry in std::fs::read_dir(&bars).expect("bars dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let symbol = name.strip_suffix("_full_1min.txt").expect("a bar file");
        for line in std::fs::read_to_string(&path).expect("bars").lines() {
            from_files.push(format!("{symbol},{line}"));
        }
    }
    from_files.sort();
    from_sql.sort();
    assert!(from_sql.len() > 100, "{} bars", from_sql.len());
    assert_eq!(from_files, from_sql);
}

#[test]
fn a_non_empty_out_needs_force_and_the_same_seed_writes_the_same_bytes() {
    let dir = TempDir::new().expect("tempdir");
    let out = dir.path().join("trades");
    run_gen(&dir, &out, "parquet").success();
    let file = out.join("date=2024-03-08/part-0.parquet");
    let before = std::fs::read(&file).expect("parquet");
    run_gen(&dir, &out, "parquet")
        .failure()
        .code(1)
        .stderr(predicate::str::contains("is not empty").and(predicate::str::contains("--force")));
    tickflow(dir.path())
        .args(["gen", "--rows", "5000", "--days", "2", "--symbols", "20"])
        .args(["--start", "2024-03-08", "--seed", "3", "--force", "--out"])
        .arg(&out)
        .assert()
        .success();
    assert_eq!(std::fs::read(&file).expect("parquet"), before);
    // no temporary files left behind
    let names: Vec<_> = std::fs::read_dir(out.join("date=2024-03-08"))
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["part-0.parquet"]);
}

#[test]
fn bad_options_are_one_clear_error() {
    let dir = TempDir::new().expect("tempdir");
    tickflow(dir.path())
        .args(["gen", "--rows", "ten", "--out"])
        .arg(dir.path().join("x"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("'ten' is not a row count"));
    tickflow(dir.path())
        .args(["gen", "--days", "0", "--out"])
        .arg(dir.path().join("x"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("days must be at least 1"));
    tickflow(dir.path())
        .args(["gen", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("--rows")
                .and(predicate::str::contains("minute-bars"))
                .and(predicate::str::contains("--force")),
        );
}
