//! `tickflow ingest` driven as a process: good files, bad rows (strict and `--rejects`),
//! idempotent reruns, partitionings, `seq` across runs, and SIGKILL at seeded points.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::Duration;

use assert_cmd::Command;
use assert_cmd::cargo::cargo_bin;
use predicates::prelude::*;

const HEADER: &str = "date,time,symbol,price,size,exchange,conditions,seq\n";

fn tickflow(dir: &Path) -> Command {
    let mut cmd = Command::new(cargo_bin("tickflow"));
    cmd.arg("--catalog").arg(dir.join("c.json"));
    cmd
}

fn ingest(dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    tickflow(dir)
        .arg("ingest")
        .args(args)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--quiet")
        .assert()
}

fn sql(dir: &Path, query: &str) -> String {
    let out = tickflow(dir)
        .args(["sql", "--format", "csv", "-c", query])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{query}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The single number printed by a `SELECT count(*)` in CSV format.
fn count(dir: &Path) -> u64 {
    let out_dir = dir.join("out");
    let has_parquet = walk(&out_dir)
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "parquet"));
    if !has_parquet {
        return 0;
    }
    let text = sql(
        dir,
        &format!("SELECT count(*) AS n FROM '{}/'", out_dir.display()),
    );
    text.lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .next()
        .unwrap_or_else(|| panic!("no count in {text}"))
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
}

fn two_good_files(dir: &Path) -> PathBuf {
    let src = dir.join("in");
    std::fs::create_dir_all(&src).expect("mkdir");
    write(
        &src.join("trades_20240102.csv"),
        &format!(
            "{HEADER}2024-01-02,09:30:00,AAPL,10,100,Q,\"@ F\",1\n\
             2024-01-02,09:30:00,AAPL,11,100,Q,,2\n\
             2024-01-02,09:31:00,MSFT,20,5,N,,3\n\
             2024-01-02,09:30:00,AAPL,9,100,Q,,4\n\
             2024-01-02,09:30:30,AAPL,10.5,50,Q,,5\n"
        ),
    );
    write(
        &src.join("trades_20240103.csv"),
        &format!(
            "{HEADER}2024-01-03,09:30:00,AAPL,12,100,Q,,1\n2024-01-03,09:30:01,AAPL,13,100,Q,,2\n"
        ),
    );
    src
}

#[test]
fn ingest_good_files_then_query_and_rerun_adds_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let src = two_good_files(dir);
    ingest(dir, &[src.to_str().expect("utf8")])
        .success()
        .stdout(predicate::str::contains("7 rows, 0 rejected"))
        .stdout(predicate::str::contains("2 partition(s)"))
        .stdout(predicate::str::contains(
            "CREATE EXTERNAL TABLE trades STORED AS PARQUET",
        ));
    assert_eq!(count(dir), 7);
    let out = dir.join("out");
    // ohlc breaks the three-way tie at 09:30:00 by file order: open 10, close at 09:30:30.
    let text = sql(
        dir,
        &format!(
            "SELECT date, count(*) AS n, ohlc(ts, price, seq)['open'] AS o, ohlc(ts, price, seq)['high'] AS h, \
             ohlc(ts, price, seq)['low'] AS l, ohlc(ts, price, seq)['close'] AS c \
             FROM '{}/' WHERE symbol = 'AAPL' GROUP BY date ORDER BY date",
            out.display()
        ),
    );
    assert!(
        text.contains("2024-01-02,4,10.0000,11.0000,9.0000,10.5000"),
        "{text}"
    );
    assert!(
        text.contains("2024-01-03,2,12.0000,13.0000,12.0000,13.0000"),
        "{text}"
    );
    // The table statement the summary prints works, partition column and order included.
    let text = sql(
        dir,
        &format!(
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{}/' WITH ORDER (symbol ASC, ts ASC); \
             SELECT date, count(*) FROM t GROUP BY date ORDER BY date",
            out.display()
        ),
    );
    assert!(
        text.contains("2024-01-02,5") && text.contains("2024-01-03,2"),
        "{text}"
    );

    // Rerun: everything skipped, nothing duplicated.
    ingest(dir, &[src.to_str().expect("utf8")])
        .success()
        .stdout(predicate::str::contains("2 skipped"));
    assert_eq!(count(dir), 7);

    // A changed source replaces its previous outputs.
    write(
        &src.join("trades_20240103.csv"),
        &format!("{HEADER}2024-01-03,09:30:00,AAPL,12,100,Q,,1\n"),
    );
    ingest(dir, &[&format!("{}/*.csv", src.display())])
        .success()
        .stdout(predicate::str::contains("1 skipped"));
    assert_eq!(count(dir), 6);
}

#[test]
fn bad_row_fails_with_file_line_column_and_writes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let src = two_good_files(dir);
    let mut text = HEADER.to_string();
    for i in 0..15 {
        writeln!(text, "2024-01-04,10:00:{:02},IBM,150,10,N,,{i}", i).expect("fmt");
    }
    text.push_str("2024-01-04,10:01:00,IBM,abc,10,N,,99\n");
    write(&src.join("trades_20240104.csv"), &text);
    ingest(dir, &[src.to_str().expect("utf8")])
        .failure()
        .stderr(predicate::str::contains(
            "trades_20240104.csv:17:4: price 'abc' is not a number",
        ))
        .stderr(predicate::str::contains("panicked").not());
    let left: Vec<_> = walk(&dir.join("out"));
    assert!(left.is_empty(), "files left behind: {left:?}");
}

#[test]
fn rejects_keep_every_bad_row_and_count_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let src = two_good_files(dir);
    write(
        &src.join("trades_20240104.csv"),
        &format!(
            "{HEADER}2024-01-04,10:00:00,IBM,150,10,N,,1\n\
             2024-01-04,10:00:01,IBM,\"1,5\",10,N,,2\n\
             2024-01-04,25:00:00,IBM,150,10,N,,3\n\
             2024-01-04,10:00:02,IBM,150,10\n\
             2024-01-04,10:00:03,IBM,151,x,N,,5\n"
        ),
    );
    let rejects = dir.join("rejects.csv");
    ingest(
        dir,
        &[
            src.to_str().expect("utf8"),
            "--rejects",
            rejects.to_str().expect("utf8"),
        ],
    )
    .success()
    .stdout(predicate::str::contains("8 rows, 4 rejected"));
    assert_eq!(count(dir), 8);
    let text = std::fs::read_to_string(&rejects).expect("rejects file");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "file,line,column,reason,record");
    assert_eq!(lines.len(), 5, "{text}");
    assert!(
        text.contains(",3,4,\"price '1,5' is not a number\""),
        "{text}"
    );
    assert!(text.contains(",4,2,"), "{text}");
    assert!(
        text.contains(",5,6,\"expected 8 fields, found 5\",\"2024-01-04,10:00:02,IBM,150,10\""),
        "{text}"
    );
    assert!(text.contains(",6,5,size 'x' is not an integer"), "{text}");
}

#[test]
fn minute_bars_from_file_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let src = dir.join("bars");
    std::fs::create_dir_all(&src).expect("mkdir");
    write(
        &src.join("AAPL_full_1min.txt"),
        "2024-01-02 09:30:00,10.5,11,10,10.75,1200\n2024-01-02 09:31:00,10.75,10.8,10.7,10.8,300\n2024-01-03 09:30:00,11,11,11,11,1\n",
    );
    ingest(dir, &[src.to_str().expect("utf8")])
        .success()
        .stdout(predicate::str::contains("3 rows"));
    let text = sql(
        dir,
        &format!(
            "SELECT symbol, date, sum(volume) AS v FROM '{}/' GROUP BY symbol, date ORDER BY date",
            dir.join("out").display()
        ),
    );
    assert!(text.contains("AAPL,2024-01-02,1500"), "{text}");
}

/// Month and day of month of day `day` counted from 2024-02-01 (0).
fn day_of(mut day: usize) -> (usize, usize) {
    for (month, len) in [(2, 29), (3, 31), (4, 30), (5, 31), (6, 30)] {
        if day < len {
            return (month, day + 1);
        }
        day -= len;
    }
    panic!("day out of the test's range");
}

/// Writes `files` trade files of `days` days each, the first from day `first_day` (counted from
/// 2024-02-01), `rows_per_day` rows a day; returns the number of rows.
fn dated_inputs(
    src: &Path,
    files: usize,
    first_day: usize,
    days: usize,
    rows_per_day: usize,
) -> u64 {
    std::fs::create_dir_all(src).expect("mkdir");
    let symbols = ["AAPL", "MSFT", "IBM", "SPY", "QQQ", "TSLA", "AMD"];
    for f in 0..files {
        let mut text = String::with_capacity(days * rows_per_day * 60);
        text.push_str(HEADER);
        for d in 0..days {
            let (month, dom) = day_of(first_day + f * days + d);
            for i in 0..rows_per_day {
                let secs = 34_200 + (i * 7 % 23_400);
                let _ = writeln!(
                    text,
                    "2024-{month:02}-{dom:02},{:02}:{:02}:{:02}.{:06},{},{}.{:02},{},Q,@,{i}",
                    secs / 3600,
                    secs / 60 % 60,
                    secs % 60,
                    i % 1_000_000,
                    symbols[i % symbols.len()],
                    100 + i % 50,
                    i % 100,
                    100 * (1 + i % 5)
                );
            }
        }
        write(&src.join(format!("trades_{first_day:02}_{f}.csv")), &text);
    }
    (files * days * rows_per_day) as u64
}

/// `count(*)` and `count(DISTINCT seq)` of the table in `dir/out`; (0, 0) without files.
fn rows_and_distinct_seqs(dir: &Path) -> (u64, u64) {
    if count(dir) == 0 {
        return (0, 0);
    }
    let text = out_sql(
        dir,
        "SELECT count(*) AS n, count(DISTINCT seq) AS s FROM OUT",
    );
    let line = text
        .lines()
        .nth(1)
        .unwrap_or_else(|| panic!("no counts in {text}"));
    let (n, s) = line.split_once(',').unwrap_or_else(|| panic!("{text}"));
    (n.parse().expect("count"), s.parse().expect("count"))
}

/// What a kill may leave, from the README: before the publication nothing of the run, after it
/// all of it; into an existing directory, part of it only with the journal left behind.
fn killed_run_once(
    dir: &Path,
    src: &[&Path],
    before: u64,
    run_rows: u64,
    delay: Duration,
    what: &str,
) -> u64 {
    let mut child = StdCommand::new(cargo_bin("tickflow"))
        .arg("--catalog")
        .arg(dir.join("c.json"))
        .args(["ingest", "--quiet", "--out"])
        .arg(dir.join("out"))
        .args(src)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(delay);
    let _ = child.kill(); // SIGKILL on Unix; an error means it had already finished
    let _ = child.wait();
    let seen = count(dir);
    let journal = dir.join("out/_tickflow/publishing.json").exists();
    eprintln!("{what}: killed after {delay:?}, {seen} rows visible, journal {journal}");
    if seen != before && seen != before + run_rows {
        assert!(
            journal && seen > before && seen < before + run_rows,
            "{what} ({delay:?}): {seen} rows visible, neither {before} (none of the run) nor {} (all of it){}",
            before + run_rows,
            if journal { "" } else { ", and no journal" }
        );
    }
    seen
}

#[test]
fn killed_ingest_shows_all_of_a_run_or_none_and_a_rerun_is_exact() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    // A run of 60 date partitions (3 files of 20 days), and a later one of 20 more.
    let first = root.join("in1");
    let second = root.join("in2");
    let first_rows = dated_inputs(&first, 3, 0, 20, 600);
    let second_rows = dated_inputs(&second, 1, 60, 20, 600);
    // Calibration: the kills spread over the time a whole run takes on this machine now (the
    // publication is at the end of it), so they land before, during and after it however fast
    // or loaded the machine is.
    let calibrate = root.join("calibrate");
    std::fs::create_dir_all(&calibrate).expect("mkdir");
    let started = std::time::Instant::now();
    ingest(&calibrate, &[first.to_str().expect("utf8")]).success();
    let window = u64::try_from(started.elapsed().as_millis())
        .unwrap_or(u64::MAX)
        .max(50);
    // Seeded delays (a small LCG: no rand dependency); half of them in the run's last 40%.
    let mut state: u64 = 0x5eed_2024;
    let mut next_delay = |i: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let r = (state >> 33) % 1_000;
        let millis = if i.is_multiple_of(2) {
            window * r / 900
        } else {
            window * 6 / 10 + window * r / 2_000
        };
        Duration::from_millis(millis)
    };
    for i in 0..12u64 {
        // A new directory: nothing or everything.
        let dir = root.join(format!("new{i}"));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let delay = next_delay(i);
        killed_run_once(
            &dir,
            &[&first],
            0,
            first_rows,
            delay,
            &format!("new dir, kill {i}"),
        );
        assert!(!dir.join("out/_tickflow/publishing.json").exists());
        ingest(&dir, &[first.to_str().expect("utf8")]).success();
        assert_eq!(
            rows_and_distinct_seqs(&dir),
            (first_rows, first_rows),
            "kill {i}: rerun into a new directory"
        );
        // An existing directory: the table as it was, or with all of the run (or, with the
        // journal left, part of it, which the next run completes).
        let delay = next_delay(i + 1);
        killed_run_once(
            &dir,
            &[&second],
            first_rows,
            second_rows,
            delay,
            &format!("existing dir, kill {i}"),
        );
        ingest(&dir, &[second.to_str().expect("utf8")]).success();
        assert_eq!(
            rows_and_distinct_seqs(&dir),
            (first_rows + second_rows, first_rows + second_rows),
            "kill {i}: rerun into an existing directory"
        );
        let left: Vec<_> = walk(root)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains("tickflow-staging"))
            .collect();
        assert!(left.is_empty(), "staging left behind: {left:?}");
        assert!(!dir.join("out/_tickflow/publishing.json").exists());
    }
}

/// The statement the summary prints after `register it with: `.
fn printed_table_sql(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("register it with: "))
        .unwrap_or_else(|| panic!("no statement in {text}"))
        .to_string()
}

#[test]
fn month_partitions_query_back_and_a_filter_prunes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let src = dir.join("in");
    // 2024-02-28 .. 2024-03-03: two months.
    let rows = dated_inputs(&src, 1, 27, 5, 10);
    let by_date = dir.join("by_date");
    std::fs::create_dir_all(&by_date).expect("mkdir");
    let out = ingest(&by_date, &[src.to_str().expect("utf8")])
        .success()
        .get_output()
        .stdout
        .clone();
    let date_table = printed_table_sql(&out);
    assert!(date_table.contains("PARTITIONED BY (date)"), "{date_table}");
    let out = ingest(
        dir,
        &[src.to_str().expect("utf8"), "--partition-by", "month"],
    )
    .success()
    .stdout(predicate::str::contains("2 partition(s)"))
    .stdout(predicate::str::contains("partitioned by month"))
    .get_output()
    .stdout
    .clone();
    let table = printed_table_sql(&out);
    assert!(table.contains("PARTITIONED BY (month)"), "{table}");
    let mut dirs: Vec<String> = std::fs::read_dir(dir.join("out"))
        .expect("out")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !n.starts_with('_'))
        .collect();
    dirs.sort();
    assert_eq!(dirs, ["month=2024-02", "month=2024-03"]);
    // The rows are those of a date-partitioned ingest of the same file.
    let cols = "symbol, CAST(ts AS VARCHAR) AS t, price, size, seq, CAST(date AS VARCHAR) AS d";
    let month_rows = sql(
        dir,
        &format!("DROP TABLE IF EXISTS trades; {table} SELECT {cols} FROM trades ORDER BY seq"),
    );
    let date_rows = sql(
        &by_date,
        &format!(
            "DROP TABLE IF EXISTS trades; {date_table} SELECT {cols} FROM trades ORDER BY seq"
        ),
    );
    assert_eq!(
        month_rows.lines().filter(|l| l.contains(',')).count() as u64,
        rows + 1
    );
    assert_eq!(month_rows, date_rows);
    // The partition column is there; a filter on it reads one month's directory only.
    let text = sql(
        dir,
        &format!(
            "DROP TABLE IF EXISTS trades; {table} SELECT month, min(date) AS first, count(*) AS n FROM trades GROUP BY month ORDER BY month"
        ),
    );
    assert!(
        text.contains("2024-02,2024-02-28,20") && text.contains("2024-03,2024-03-01,30"),
        "{text}"
    );
    let plan = sql(
        dir,
        &format!(
            "DROP TABLE IF EXISTS trades; {table} EXPLAIN SELECT sum(price) FROM trades WHERE month = '2024-03'"
        ),
    );
    assert!(
        plan.contains("month=2024-03/") && !plan.contains("month=2024-02/"),
        "{plan}"
    );
    // One table, one layout: another --partition-by is refused, naming the ways out.
    ingest(
        dir,
        &[src.to_str().expect("utf8"), "--partition-by", "date"],
    )
    .failure()
    .stderr(predicate::str::contains(
        "--partition-by date: the table in",
    ))
    .stderr(predicate::str::contains("is partitioned by month"))
    .stderr(predicate::str::contains("ingest into a new directory"));
    // Without the flag a rerun keeps the table's layout.
    ingest(dir, &[src.to_str().expect("utf8")])
        .success()
        .stdout(predicate::str::contains("1 skipped"))
        .stdout(predicate::str::contains("PARTITIONED BY (month)"));
}

#[test]
fn year_and_no_partitions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let src = dir.join("in");
    let rows = dated_inputs(&src, 2, 27, 3, 10);
    for (layout, entries) in [
        ("none", vec!["trades_27_0", "trades_27_1"]),
        ("year", vec!["year=2024"]),
    ] {
        let d = dir.join(layout);
        std::fs::create_dir_all(&d).expect("mkdir");
        let out = ingest(&d, &[src.to_str().expect("utf8"), "--partition-by", layout])
            .success()
            .get_output()
            .stdout
            .clone();
        let table = printed_table_sql(&out);
        let mut names: Vec<String> = std::fs::read_dir(d.join("out"))
            .expect("out")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| !n.starts_with('_'))
            .map(|n| n.split('-').next().unwrap_or_default().to_string())
            .collect();
        names.sort();
        assert_eq!(names, entries, "{layout}");
        if layout == "none" {
            assert!(!table.contains("PARTITIONED BY"), "{table}");
        } else {
            assert!(table.contains("PARTITIONED BY (year)"), "{table}");
        }
        let text = sql(
            &d,
            &format!(
                "DROP TABLE IF EXISTS trades; {table} SELECT count(*) AS n, count(DISTINCT date) AS days, min(CAST(date AS VARCHAR)) AS first FROM trades"
            ),
        );
        assert!(
            text.contains(&format!("{rows},6,2024-02-28")),
            "{layout}: {text}"
        );
    }
}

#[test]
fn symbol_partitions_keep_every_symbol_as_it_was() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let src = dir.join("in");
    std::fs::create_dir_all(&src).expect("mkdir");
    let symbols = ["BRK.A", "BRK/A", "A%2FB", "X Y", "..", "AAPL"];
    let mut text = HEADER.to_string();
    for (i, sym) in symbols.iter().enumerate() {
        for j in 0..=i {
            writeln!(text, "2024-01-31,09:30:0{j},{sym},{},1,Q,,{i}", 10 + j).expect("fmt");
        }
    }
    write(&src.join("trades_20240131.csv"), &text);
    let out = ingest(
        dir,
        &[
            src.to_str().expect("utf8"),
            "--partition-by",
            "month,symbol",
        ],
    )
    .success()
    .stdout(predicate::str::contains("6 partition(s)"))
    .get_output()
    .stdout
    .clone();
    let table = printed_table_sql(&out);
    assert!(
        table.contains("PARTITIONED BY (month, symbol)") && table.contains("WITH ORDER (ts ASC)"),
        "{table}"
    );
    assert!(dir.join("out/month=2024-01/symbol=BRK%2FA").is_dir());
    assert!(dir.join("out/month=2024-01/symbol=BRK.A").is_dir());
    let text = sql(
        dir,
        &format!(
            "DROP TABLE IF EXISTS trades; {table} SELECT symbol, count(*) AS n, min(price) AS lo FROM trades GROUP BY symbol ORDER BY n"
        ),
    );
    for (i, sym) in symbols.iter().enumerate() {
        let line = format!("{sym},{},10.0000", i + 1);
        assert!(
            text.lines()
                .any(|l| l == line || l == format!("\"{sym}\",{},10.0000", i + 1)),
            "{line} in {text}"
        );
    }
    let text = sql(
        dir,
        &format!(
            "DROP TABLE IF EXISTS trades; {table} SELECT count(*) AS n FROM trades WHERE symbol = 'BRK/A'"
        ),
    );
    assert!(text.lines().any(|l| l == "2"), "{text}");
}

#[test]
fn seq_is_unique_across_runs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let first = dir.join("in1");
    let second = dir.join("in2");
    let a = dated_inputs(&first, 1, 0, 2, 30);
    let b = dated_inputs(&second, 1, 0, 2, 30);
    ingest(dir, &[first.to_str().expect("utf8")])
        .success()
        .stdout(predicate::str::contains("(run 0,"));
    // The second run's only file is its file 0, like the first run's.
    ingest(dir, &[second.to_str().expect("utf8")])
        .success()
        .stdout(predicate::str::contains("(run 1,"));
    assert_eq!(rows_and_distinct_seqs(dir), (a + b, a + b));
    // Ties at equal ts are broken by source order: the later run's trades come after.
    let text = out_sql(
        dir,
        "SELECT min(seq) AS lo, max(seq) AS hi FROM OUT GROUP BY seq >> 50 ORDER BY lo",
    );
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{text}");
    // Run 0 numbers lines 2..=61 of its file 0; run 1 the same lines with its number on top.
    assert_eq!(rows[0], "2,61");
    assert_eq!(
        rows[1],
        format!("{},{}", (1u64 << 50) + 2, (1u64 << 50) + 61)
    );
}

fn out_sql(dir: &Path, select: &str) -> String {
    sql(
        dir,
        &select.replace("OUT", &format!("'{}/'", dir.join("out").display())),
    )
}

#[test]
fn every_column_is_kept_and_queryable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let src = dir.join("in");
    std::fs::create_dir_all(&src).expect("mkdir");
    write(
        &src.join("taq_20240102.csv"),
        "date,time,symbol,price,size,exchange,conditions,seq,eventtype,venue_id\n\
         2024-01-02,09:30:00,AAPL,10,100,Q,,1,T,12\n\
         2024-01-02,09:30:01,AAPL,11,100,Q,,2,C,30\n",
    );
    ingest(dir, &[src.to_str().expect("utf8")])
        .success()
        .stdout(predicate::str::contains("2 rows, 0 rejected"));
    let text = out_sql(dir, "DESCRIBE OUT");
    assert!(text.contains("eventtype,Utf8"), "{text}");
    assert!(text.contains("venue_id,Int64"), "{text}");
    let text = out_sql(
        dir,
        "SELECT string_agg(eventtype, '|' ORDER BY seq) AS e, sum(venue_id) AS v FROM OUT",
    );
    assert!(text.contains("T|C,42"), "{text}");
    // --schema types a column; a type the data does not fit is a reject, not a rounding.
    let dir2 = dir.join("typed");
    std::fs::create_dir_all(&dir2).expect("mkdir");
    ingest(
        &dir2,
        &[
            src.to_str().expect("utf8"),
            "--schema",
            "venue_id DOUBLE, eventtype VARCHAR",
        ],
    )
    .success();
    let text = out_sql(&dir2, "DESCRIBE OUT");
    assert!(text.contains("venue_id,Float64"), "{text}");
    ingest(
        &dir2,
        &[src.to_str().expect("utf8"), "--schema", "nosuch BIGINT"],
    )
    .failure()
    .stderr(predicate::str::contains("--schema names column 'nosuch'"));
}

#[test]
fn published_minute_bars_ingest_with_exact_volumes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let src = dir.join("bars");
    std::fs::create_dir_all(&src).expect("mkdir");
    write(
        &src.join("A_full_1min_adjsplit.txt"),
        "2010-01-04 09:30:00,30.49,30.52,30.43,30.45,173492.0\n\
         2010-01-04 09:31:00,30.45,30.50,30.40,30.50,524.0\n",
    );
    write(
        &src.join("B_full_1min_adjsplit.txt"),
        "2010-01-04 09:30:00,10,10,10,10,100.9\n",
    );
    ingest(dir, &[src.to_str().expect("utf8")])
        .success()
        .stdout(predicate::str::contains("3 rows, 0 rejected"));
    let text = out_sql(
        dir,
        "SELECT symbol, CAST(volume AS VARCHAR) AS v, arrow_typeof(volume) AS t FROM OUT ORDER BY symbol, ts",
    );
    assert!(
        text.contains("A,173492.0000,\"Decimal128(18, 4)\""),
        "{text}"
    );
    assert!(text.contains("A,524.0000,"), "{text}");
    assert!(text.contains("B,100.9000,"), "{text}");

    // Integral volumes only: BIGINT. A later fractional file cannot change the table's type.
    let dir2 = dir.join("int");
    let src2 = dir.join("bars2");
    std::fs::create_dir_all(&dir2).expect("mkdir");
    std::fs::create_dir_all(&src2).expect("mkdir");
    std::fs::copy(
        src.join("A_full_1min_adjsplit.txt"),
        src2.join("A_full_1min_adjsplit.txt"),
    )
    .expect("copy");
    ingest(&dir2, &[src2.to_str().expect("utf8")]).success();
    let text = out_sql(
        &dir2,
        "SELECT volume, arrow_typeof(volume) AS t FROM OUT ORDER BY ts",
    );
    assert!(
        text.contains("173492,Int64") && text.contains("524,Int64"),
        "{text}"
    );
    std::fs::copy(
        src.join("B_full_1min_adjsplit.txt"),
        src2.join("B_full_1min_adjsplit.txt"),
    )
    .expect("copy");
    ingest(&dir2, &[src2.to_str().expect("utf8")])
        .failure()
        .stderr(predicate::str::contains(
            "column 'volume' needs DECIMAL(18,4) for the values of this run, but the table",
        ))
        .stderr(predicate::str::contains("ingest into a new directory"));
    assert_eq!(count(&dir2), 2);
}

#[test]
fn daily_bars_keep_adj_close_and_ticker_from_file_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let src = dir.join("in");
    std::fs::create_dir_all(&src).expect("mkdir");
    let daily = "Date,Open,High,Low,Close,Adj Close,Volume\n\
                 2024-01-02,187.15,188.44,183.89,185.64,184.94,82488700\n\
                 2024-01-03,184.22,185.88,183.43,184.25,183.55,58414500\n";
    write(&src.join("AAPL.csv"), daily);
    write(&src.join("BRK-B.csv"), daily);
    write(&src.join("BRK.A.csv"), daily);
    ingest(dir, &[src.to_str().expect("utf8"), "--shape", "daily"])
        .success()
        .stdout(predicate::str::contains("6 rows, 0 rejected"));
    let text = out_sql(
        dir,
        "SELECT symbol, count(*) AS n, max(adj_close) AS a FROM OUT GROUP BY symbol ORDER BY symbol",
    );
    assert!(text.contains("AAPL,2,184.9400"), "{text}");
    assert!(text.contains("BRK-B,2,184.9400"), "{text}");
    assert!(text.contains("BRK.A,2,184.9400"), "{text}");
}

#[test]
fn dotted_symbols_stay_two_series() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let bars = dir.join("bars");
    std::fs::create_dir_all(&bars).expect("mkdir");
    write(
        &bars.join("BRK.A_full_1min.txt"),
        "2024-01-02 09:30:00,1,1,1,1,1\n",
    );
    write(
        &bars.join("BRK.B_full_1min.txt"),
        "2024-01-02 09:30:00,2,2,2,2,2\n",
    );
    let dir2 = dir.join("d2");
    std::fs::create_dir_all(&dir2).expect("mkdir");
    ingest(&dir2, &[bars.to_str().expect("utf8")]).success();
    let text = out_sql(
        &dir2,
        "SELECT symbol, sum(volume) AS v FROM OUT GROUP BY symbol ORDER BY symbol",
    );
    assert!(
        text.contains("BRK.A,1") && text.contains("BRK.B,2"),
        "{text}"
    );
}

#[test]
fn an_unbalanced_quote_costs_its_line_and_rejects_are_whole() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let src = dir.join("in");
    std::fs::create_dir_all(&src).expect("mkdir");
    write(
        &src.join("AAPL_full_1min.txt"),
        "2024-01-02 09:30:00,\"10.5,11,10,10.75,1200\n\
         2024-01-02 09:31:00,10.75,10.8,10.7,10.8,300\n\
         2024-01-02 09:32:00,10.8,10.8,10.7,10.7,100\n",
    );
    write(
        &src.join("trades_20240102.csv"),
        &format!(
            "{HEADER}2024-01-02,09:30:00,A,1,1,Q,\"two\nlines\",x\n2024-01-02,09:30:01,A,2,1,Q,,2\n"
        ),
    );
    let rejects = dir.join("rejects.csv");
    ingest(
        dir,
        &[
            src.to_str().expect("utf8"),
            "--rejects",
            rejects.to_str().expect("utf8"),
        ],
    )
    .success()
    .stdout(predicate::str::contains("3 rows, 2 rejected"));
    let text = std::fs::read_to_string(&rejects).expect("rejects file");
    assert!(
        text.contains(",1,2,unbalanced quote: the quoted field never closes,\"2024-01-02 09:30:00,\"\"10.5,11,10,10.75,1200\"\n"),
        "{text}"
    );
    // The record with a quoted newline is kept whole: read back, it is one field with both lines.
    let mut reader = csv::Reader::from_path(&rejects).expect("csv");
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
    assert_eq!(records.len(), 2, "{text}");
    let whole = records
        .iter()
        .find(|r| r[0].ends_with("trades_20240102.csv"))
        .expect("trades reject");
    assert_eq!(&whole[4], "2024-01-02,09:30:00,A,1,1,Q,\"two\nlines\",x");
}

#[test]
fn exit_status_tells_the_truth_about_rejects() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let src = dir.join("in");
    std::fs::create_dir_all(&src).expect("mkdir");
    // Every row rejected (high < low): non-zero, nothing published, the rejects still written.
    write(
        &src.join("X_full_1min.txt"),
        "2024-01-02 09:30:00,1,1,2,1,1\n2024-01-02 09:31:00,0,1,1,1,1\n",
    );
    let rejects = dir.join("rejects.csv");
    let r = rejects.to_str().expect("utf8");
    ingest(dir, &[src.to_str().expect("utf8"), "--rejects", r])
        .failure()
        .stderr(predicate::str::contains(
            "0 rows ingested, 2 rejected of 2: every row was rejected; nothing was published",
        ));
    assert_eq!(count(dir), 0);
    let text = std::fs::read_to_string(&rejects).expect("rejects file");
    assert!(text.contains("high '1' is below low '2'"), "{text}");
    assert!(text.contains("open '0' is not positive"), "{text}");

    // A good file beside it: the all-rejected file still fails the run by default...
    write(
        &src.join("Y_full_1min.txt"),
        "2024-01-02 09:30:00,1,1,1,1,1\n",
    );
    ingest(dir, &[src.to_str().expect("utf8"), "--rejects", r])
        .failure()
        .stderr(predicate::str::contains("every row of"))
        .stderr(predicate::str::contains("X_full_1min.txt was rejected"));
    assert_eq!(count(dir), 0);
    // ...and passes when --max-rejects allows it, counting both.
    ingest(
        dir,
        &[
            src.to_str().expect("utf8"),
            "--rejects",
            r,
            "--max-rejects",
            "2",
        ],
    )
    .success()
    .stdout(predicate::str::contains("1 rows, 2 rejected"));
    assert_eq!(count(dir), 1);
    let dir2 = dir.join("frac");
    std::fs::create_dir_all(&dir2).expect("mkdir");
    ingest(
        &dir2,
        &[
            src.to_str().expect("utf8"),
            "--rejects",
            r,
            "--max-rejects",
            "50%",
        ],
    )
    .failure()
    .stderr(predicate::str::contains(
        "more than --max-rejects 50% of the rows read",
    ));
}

#[test]
fn generic_csv_with_ts_column_and_schema() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let src = dir.join("in");
    std::fs::create_dir_all(&src).expect("mkdir");
    write(
        &src.join("quotes.csv"),
        "time,symbol,bid,ask,venue\n2024-01-02 09:30:00.5,AAPL,185.63,185.65,XNAS\n",
    );
    ingest(
        dir,
        &[
            src.to_str().expect("utf8"),
            "--shape",
            "csv",
            "--ts-column",
            "time",
            "--schema",
            "ask DOUBLE",
        ],
    )
    .success()
    .stdout(predicate::str::contains("1 rows, 0 rejected"));
    let text = out_sql(
        dir,
        "SELECT symbol, CAST(ts AS VARCHAR) AS t, bid, ask, venue, arrow_typeof(ask) AS at FROM OUT",
    );
    assert!(
        text.contains("AAPL,2024-01-02T14:30:00.500Z,185.6300,185.65,XNAS,Float64"),
        "{text}"
    );
}

/// Runs `tickflow ingest SOURCE --out DIR/OUT`, successfully; returns stdout.
fn ingest_into(dir: &Path, source: &Path, out: &str) -> String {
    let output = tickflow(dir)
        .arg("ingest")
        .arg(source)
        .arg("--out")
        .arg(dir.join(out))
        .arg("--quiet")
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

#[test]
fn gzip_and_zstd_sources_ingest_like_plain_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let trades = format!(
        "{HEADER}2024-01-02,09:30:00,AAPL,10,100,Q,\"@ F\",1\n2024-01-02,09:31:00,MSFT,20,5,N,,2\n\
         2024-01-03,09:30:00,AAPL,12,100,Q,,1\n"
    );
    let bars = "2024-01-02 09:30:00,10.5,11,10,10.75,1200\n2024-01-02 09:31:00,10.75,10.8,10.7,10.8,300.0\n";
    fn plain(b: &[u8]) -> Vec<u8> {
        b.to_vec()
    }
    fn zst(b: &[u8]) -> Vec<u8> {
        zstd::stream::encode_all(b, 3).expect("zstd")
    }
    type Pack = fn(&[u8]) -> Vec<u8>;
    let forms: [(&str, &str, &str, Pack); 3] = [
        ("plain", "trades.csv", "BRK.A_full_1min.txt", plain),
        ("gz", "trades.csv.gz", "BRK.A_full_1min.txt.gz", gzip),
        ("zst", "trades.csv.zst", "BRK.A_full_1min.txt.zst", zst),
    ];
    for (sub, trades_name, bars_name, pack) in forms {
        let src = dir.join(sub);
        std::fs::create_dir_all(src.join("bars")).expect("mkdir");
        std::fs::write(src.join(trades_name), pack(trades.as_bytes())).expect("write");
        std::fs::write(src.join("bars").join(bars_name), pack(bars.as_bytes())).expect("write");
        // A directory of compressed files is read whole; then the bars file named by itself.
        let out = ingest_into(dir, &src, &format!("{sub}-trades"));
        assert!(out.contains("3 rows"), "{sub}: {out}");
        let out = ingest_into(
            dir,
            &src.join("bars").join(bars_name),
            &format!("{sub}-bars"),
        );
        assert!(out.contains("2 rows"), "{sub}: {out}");
    }
    let rows = |table: &str| {
        sql(
            dir,
            &format!(
                "SELECT * FROM '{}/' ORDER BY symbol, ts, seq",
                dir.join(table).display()
            ),
        )
    };
    let (plain_trades, plain_bars) = (rows("plain-trades"), rows("plain-bars"));
    assert!(plain_trades.contains("@ F"), "{plain_trades}");
    // The symbol comes from the name without .gz / .zst: BRK.A.
    assert!(plain_bars.contains("BRK.A,"), "{plain_bars}");
    for sub in ["gz", "zst"] {
        assert_eq!(rows(&format!("{sub}-trades")), plain_trades, "{sub}");
        assert_eq!(rows(&format!("{sub}-bars")), plain_bars, "{sub}");
    }
    // A rerun of an unchanged compressed source is skipped.
    let again = ingest_into(dir, &dir.join("gz"), "gz-trades");
    assert!(again.contains("1 skipped"), "{again}");
}

#[test]
fn files_of_other_extensions_in_a_directory_are_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let src = two_good_files(dir);
    write(&src.join("notes.json"), "{}");
    write(&src.join("b.parquet"), "not parquet");
    std::fs::create_dir_all(src.join("date=2024-01-04")).expect("mkdir");
    let assert = ingest(dir, &[src.to_str().expect("utf8")]).success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).to_string();
    let place = src.display();
    assert!(
        stderr.contains(&format!(
            "warning: skipped 2 files in {place} with extensions other than .csv/.txt[.gz|.zst]: b.parquet, notes.json (name them as sources to ingest them)"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "skipped 1 sub-directory of {place} (sources are not recursive): date=2024-01-04/"
        )),
        "{stderr}"
    );
    assert_eq!(count(dir), 7);

    // A file named explicitly is read whatever its extension.
    let dat = dir.join("more.dat");
    write(
        &dat,
        &format!("{HEADER}2024-01-04,09:30:00,AAPL,14,100,Q,,1\n"),
    );
    ingest(dir, &[dat.to_str().expect("utf8")])
        .success()
        .stdout(predicate::str::contains("1 rows"));
    assert_eq!(count(dir), 8);

    // A directory of nothing but other files: an error that names them.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).expect("mkdir");
    write(&other.join("notes.json"), "{}");
    ingest(dir, &[other.to_str().expect("utf8")])
        .failure()
        .stderr(
            predicate::str::contains("no source files").and(predicate::str::contains("notes.json")),
        );
}
