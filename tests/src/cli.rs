//! Running the `tickflow` binary from integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cluster::binary;

/// The workspace root (where `sql/` is).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Runs `tickflow ARGS` in `dir`, with `env` added and the catalog in `dir/catalog.json`;
/// returns its stdout, failing the test (with stdout and stderr) on a non-zero exit.
pub fn tickflow(args: &[&str], dir: &Path, env: &[(&str, String)]) -> String {
    let out = Command::new(binary("tickflow"))
        .args(args)
        .current_dir(dir)
        .env("TICKFLOW_CATALOG", dir.join("catalog.json"))
        .envs(env.iter().map(|(k, v)| (k, v.as_str())))
        .output()
        .expect("run tickflow");
    assert!(
        out.status.success(),
        "tickflow {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
