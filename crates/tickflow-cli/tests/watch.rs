//! `tickflow watch`'s options as a process: a bad `--bar-width` is refused at startup, naming
//! the flag and the value, before anything is created. (The watcher at work is tested in
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
