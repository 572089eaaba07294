//! What the CLI process tests share: the `tickflow` binary with a catalog of the test's own (never
//! the user's) and a local engine, and a query's CSV output.

use std::path::Path;

use assert_cmd::Command;

/// `tickflow` with its catalog in `dir/catalog.json`, local (no `TICKFLOW_CLUSTER`), run in `dir`.
#[allow(dead_code)] // not every test file uses every helper
pub fn tickflow(dir: impl AsRef<Path>) -> Command {
    let dir = dir.as_ref();
    let mut cmd = Command::cargo_bin("tickflow").expect("binary built");
    cmd.arg("--catalog").arg(dir.join("catalog.json"));
    cmd.env_remove("TICKFLOW_CATALOG")
        .env_remove("TICKFLOW_CLUSTER");
    cmd.current_dir(dir);
    cmd
}

/// The CSV output of `sql` run with [`tickflow`] in `dir`; fails the test with stderr on an error.
#[allow(dead_code)]
pub fn sql_csv(dir: impl AsRef<Path>, sql: &str) -> String {
    let out = tickflow(dir)
        .args(["sql", "--format", "csv", "-c", sql])
        .output()
        .expect("run tickflow");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}
