//! The persistent catalog as a user meets it, one process after another: whole definitions
//! (options, views), scripts that create their tables run twice, a crafted catalog refused,
//! `--table` names dropped, and `-c`/`-f` run in the order given.

mod common;

use assert_cmd::Command;
use common::{sql_csv as csv, tickflow};
use predicates::prelude::*;
use tempfile::TempDir;

#[test]
fn a_table_with_options_and_a_view_answer_the_same_in_the_next_session() {
    let dir = TempDir::new().expect("tempdir");
    std::fs::write(dir.path().join("p.txt"), "1|a\n2|b\n3|c\n").expect("write");
    let create = "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION 'p.txt' \
                  OPTIONS ('format.has_header' 'false', 'format.delimiter' '|'); \
                  CREATE VIEW later AS SELECT column_1 AS n, column_2 AS s FROM p WHERE column_1 > 1; \
                  SELECT count(*) AS n FROM p";
    assert_eq!(csv(dir.path(), create), "n\n3\n");
    // A new process, started elsewhere: the relative LOCATION was recorded absolute.
    let elsewhere = TempDir::new().expect("tempdir");
    let out = Command::cargo_bin("tickflow")
        .expect("binary built")
        .arg("--catalog")
        .arg(dir.path().join("catalog.json"))
        .env_remove("TICKFLOW_CATALOG")
        .current_dir(elsewhere.path())
        .args([
            "sql",
            "--format",
            "csv",
            "-c",
            "SELECT count(*) AS n, max(column_2) AS s FROM p",
            "-c",
            "SELECT n, s FROM later ORDER BY n",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "n,s\n3,c\nn,s\n2,b\n3,c\n"
    );
}

#[test]
fn a_script_that_creates_its_tables_runs_twice_and_a_changed_one_names_the_ways_out() {
    let dir = TempDir::new().expect("tempdir");
    std::fs::write(dir.path().join("a.csv"), "x\n1\n2\n").expect("write");
    std::fs::write(dir.path().join("b.csv"), "x\n5\n").expect("write");
    let script = dir.path().join("s.sql");
    std::fs::write(
        &script,
        "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '${file}' OPTIONS ('format.has_header' 'true');\n\
         CREATE VIEW v AS SELECT sum(x) AS s FROM t;\nSELECT s FROM v;\n",
    )
    .expect("write");
    for _ in 0..2 {
        tickflow(dir.path())
            .args(["sql", "--format", "csv", "--param", "file=a.csv", "-f"])
            .arg(&script)
            .assert()
            .success()
            .stdout("s\n3\n");
    }
    let catalog = dir.path().join("catalog.json").display().to_string();
    tickflow(dir.path())
        .args(["sql", "--param", "file=b.csv", "-f"])
        .arg(&script)
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("table t is already in the catalog")
                .and(predicate::str::contains(catalog))
                .and(predicate::str::contains("a.csv"))
                .and(predicate::str::contains("OR REPLACE"))
                .and(predicate::str::contains("DROP TABLE t")),
        );
    // OR REPLACE replaces it, and the view reads the new table.
    let replace = std::fs::read_to_string(&script)
        .expect("read")
        .replace("CREATE EXTERNAL", "CREATE OR REPLACE EXTERNAL");
    std::fs::write(&script, replace).expect("write");
    tickflow(dir.path())
        .args(["sql", "--format", "csv", "--param", "file=b.csv", "-f"])
        .arg(&script)
        .assert()
        .success()
        .stdout("s\n5\n");
    assert_eq!(csv(dir.path(), "SELECT s FROM v"), "s\n5\n");
}

#[test]
fn a_crafted_catalog_entry_is_refused_and_runs_nothing() {
    let dir = TempDir::new().expect("tempdir");
    let target = dir.path().join("owned.csv");
    let crafted = serde_json::json!({"tables": [{
        "name": "t",
        "ddl": format!("COPY (SELECT 1 AS x) TO '{}'", target.display()),
    }]});
    std::fs::write(dir.path().join("catalog.json"), crafted.to_string()).expect("write");
    tickflow(dir.path())
        .args(["sql", "-c", "SELECT 1"])
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("entry 1 ('t') is refused")
                .and(predicate::str::contains("COPY")),
        );
    assert!(!target.exists(), "the crafted COPY ran");
}

#[test]
fn drop_table_forgets_a_table_registered_with_table() {
    let dir = TempDir::new().expect("tempdir");
    let data = dir.path().join("d.csv");
    std::fs::write(&data, "x\n1\n").expect("write");
    tickflow(dir.path())
        .arg("--table")
        .arg(format!("dt={}", data.display()))
        .args(["sql", "-c", "SELECT 1"])
        .assert()
        .success();
    assert_eq!(csv(dir.path(), "SELECT count(*) AS n FROM dt"), "n\n1\n");
    csv(dir.path(), "DROP TABLE dt");
    tickflow(dir.path())
        .args(["sql", "-c", "SELECT * FROM dt"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("dt"));
    let catalog = std::fs::read_to_string(dir.path().join("catalog.json")).expect("read");
    assert!(!catalog.contains("d.csv"), "{catalog}");
}

#[test]
fn commands_and_files_run_in_the_order_given() {
    let dir = TempDir::new().expect("tempdir");
    let file = dir.path().join("add.sql");
    std::fs::write(&file, "INSERT INTO t VALUES (10);").expect("write");
    tickflow(dir.path())
        .args(["sql", "--format", "csv"])
        .args(["-c", "CREATE TABLE t (x INT)"])
        .args(["-c", "INSERT INTO t VALUES (1)"])
        .arg("-f")
        .arg(&file)
        .args(["-c", "SELECT sum(x) AS s FROM t"])
        .assert()
        .success()
        .stdout(predicate::str::ends_with("s\n11\n"));
}
