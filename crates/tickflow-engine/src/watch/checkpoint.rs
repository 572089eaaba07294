//! The watcher's checkpoint and the commit protocol that makes each trigger exactly once.
//!
//! Layout of the bar table directory `OUT`:
//!
//! ```text
//! OUT/bars-00000007.parquet          bars closed by trigger 7 (the table: *.parquet directly in OUT)
//! OUT/_late/late-00000007.parquet    trades that arrived after their bar was written (trigger 7)
//! OUT/_live/closed-00000007.parquet  with --emit complete: the live view (see `super::live`)
//! OUT/_live/open-00000007.parquet
//! OUT/_watch/checkpoint.json         the last committed trigger: files done, watermark, totals
//! OUT/_watch/state-00000007.arrow    aggregate states of the buckets still open after trigger 7
//! OUT/_watch/pending/                a trigger's outputs before they are published
//! ```
//!
//! A trigger writes its outputs to `pending/` and its open states to `state-N.arrow` (each file
//! fsynced), then replaces `checkpoint.json` atomically (temporary file, fsync, rename): that
//! rename is the commit. Only then are the pending outputs renamed into place. Restarting reads
//! the checkpoint and rolls forward: outputs of the committed trigger still in `pending/` are
//! moved into place; anything else in `pending/` (a trigger that did not commit) is deleted, and
//! so are state files other than the committed one. So a trigger's files are counted once
//! whatever instant the process dies at, and a query over `OUT` sees only committed triggers.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};
use crate::ingest::manifest::sync_dir;

/// The bookkeeping directory inside the bar table directory.
pub const WATCH_DIR: &str = "_watch";
/// Where late trades go, inside the bar table directory.
pub const LATE_DIR: &str = "_late";

/// The last committed trigger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The bar width the states belong to.
    pub width: String,
    /// The `--bars` definition's text the states belong to; `None`: `sql/01_bars.sql`.
    #[serde(default)]
    pub bar_sql: Option<String>,
    /// Whether the live view `OUT/_live/` is kept (`--emit complete`) since the first trigger.
    #[serde(default)]
    pub live: bool,
    /// The `--source-tz` the trades' local times were read in (IANA name): the same trades
    /// read in another zone are other instants, so a restart must use it. `None` in a
    /// checkpoint written before it was recorded (the next commit records it).
    #[serde(default)]
    pub source_tz: Option<String>,
    /// Triggers committed so far.
    pub trigger: u64,
    /// Names of the source files done, in the order they were taken.
    pub files: Vec<String>,
    /// Each file's size and modification time (microseconds) when it was taken: a file that
    /// changes afterwards is an error. Missing for files taken before this was recorded.
    #[serde(default)]
    pub taken: std::collections::BTreeMap<String, (u64, i64)>,
    /// Largest trade timestamp taken so far (UTC nanoseconds): buckets ending at or before it
    /// are closed.
    pub watermark: Option<i64>,
    pub rows: u64,
    pub late_rows: u64,
    pub bars: u64,
    /// The open buckets' state file in `_watch/`, if any bucket is open.
    pub state: Option<String>,
    /// This trigger's outputs: (file in `_watch/pending/`, destination relative to `OUT`).
    pub outputs: Vec<(String, String)>,
}

/// The bar table directory and its bookkeeping.
#[derive(Debug, Clone)]
pub struct Layout {
    pub out: PathBuf,
}

impl Layout {
    pub fn watch_dir(&self) -> PathBuf {
        self.out.join(WATCH_DIR)
    }

    pub fn pending_dir(&self) -> PathBuf {
        self.watch_dir().join("pending")
    }

    fn checkpoint_path(&self) -> PathBuf {
        self.watch_dir().join("checkpoint.json")
    }

    /// Creates the directories, reads the checkpoint and finishes or discards whatever a killed
    /// run left (see the module docs).
    pub fn recover(&self) -> Result<Checkpoint> {
        for dir in [
            self.out.clone(),
            self.pending_dir(),
            self.out.join(LATE_DIR),
        ] {
            fs::create_dir_all(&dir).context(dir.display())?;
        }
        let path = self.checkpoint_path();
        let checkpoint = match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                Error::invalid(format!(
                    "{}: not a tickflow watch checkpoint ({e}); remove {} to start over",
                    path.display(),
                    self.out.display()
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Checkpoint::default(),
            Err(e) => return Err(e).context(path.display()),
        };
        // Outputs are published and the state is read by these names.
        let shown = path.display().to_string();
        for (pending, destination) in &checkpoint.outputs {
            crate::bookkeeping::file_name(&shown, pending)?;
            crate::bookkeeping::relative_inside(&shown, destination)?;
        }
        if let Some(state) = &checkpoint.state {
            crate::bookkeeping::file_name(&shown, state)?;
        }
        // Roll forward the committed trigger's outputs.
        for (pending, destination) in &checkpoint.outputs {
            let from = self.pending_dir().join(pending);
            if from.exists() {
                self.publish(&from, destination)?;
            }
        }
        // Discard what did not commit.
        for entry in fs::read_dir(self.pending_dir())
            .context(self.pending_dir().display())?
            .flatten()
        {
            let _ = fs::remove_file(entry.path());
        }
        for entry in fs::read_dir(self.watch_dir())
            .context(self.watch_dir().display())?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().to_string();
            let stale_state =
                name.starts_with("state-") && Some(&name) != checkpoint.state.as_ref();
            if stale_state || name.contains(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(checkpoint)
    }

    /// Moves a pending file to `destination` (relative to `OUT`).
    pub fn publish(&self, from: &Path, destination: &str) -> Result<()> {
        let to = self.out.join(destination);
        fs::rename(from, &to).context(format!("publishing {}", to.display()))?;
        if let Some(dir) = to.parent() {
            sync_dir(dir);
        }
        Ok(())
    }

    /// The commit: replaces the checkpoint atomically.
    pub fn commit(&self, checkpoint: &Checkpoint) -> Result<()> {
        let path = self.checkpoint_path();
        let tmp = self
            .watch_dir()
            .join(format!("checkpoint.json.tmp-{}", std::process::id()));
        let json =
            serde_json::to_vec_pretty(checkpoint).map_err(|e| Error::internal(e.to_string()))?;
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            sync_dir(&self.watch_dir());
            Ok(())
        };
        write().context(path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_rolls_committed_outputs_forward_and_drops_the_rest() -> Result<()> {
        let dir = tempfile::tempdir().context("a temporary directory")?;
        let layout = Layout {
            out: dir.path().join("bars"),
        };
        let mut checkpoint = layout.recover()?;
        assert_eq!(checkpoint, Checkpoint::default());
        // Trigger 1 committed, killed before publishing; trigger 2 left a pending file only.
        let write = |p: PathBuf| fs::write(&p, b"x").context(p.display());
        write(layout.pending_dir().join("bars-1.parquet"))?;
        write(layout.pending_dir().join("bars-2.parquet"))?;
        write(layout.watch_dir().join("state-1.arrow"))?;
        write(layout.watch_dir().join("state-2.arrow"))?;
        checkpoint.trigger = 1;
        checkpoint.state = Some("state-1.arrow".into());
        checkpoint.outputs = vec![("bars-1.parquet".into(), "bars-1.parquet".into())];
        layout.commit(&checkpoint)?;
        let recovered = layout.recover()?;
        assert_eq!(recovered, checkpoint);
        assert!(layout.out.join("bars-1.parquet").exists());
        assert!(!layout.pending_dir().join("bars-2.parquet").exists());
        assert!(!layout.out.join("bars-2.parquet").exists());
        assert!(layout.watch_dir().join("state-1.arrow").exists());
        assert!(!layout.watch_dir().join("state-2.arrow").exists());
        // Recovering again changes nothing.
        assert_eq!(layout.recover()?, checkpoint);
        assert!(layout.out.join("bars-1.parquet").exists());
        Ok(())
    }

    /// A checkpoint edited to publish outside `OUT` (or read a state from elsewhere) is refused
    /// before anything moves.
    #[test]
    fn a_checkpoint_naming_paths_outside_the_output_is_refused() -> Result<()> {
        let dir = tempfile::tempdir().context("a temporary directory")?;
        let layout = Layout {
            out: dir.path().join("bars"),
        };
        let mut checkpoint = layout.recover()?;
        fs::write(layout.pending_dir().join("bars-1.parquet"), b"x").context("pending")?;
        let escaped = dir.path().join("escaped.parquet");
        for destination in [
            "../escaped.parquet".to_string(),
            escaped.display().to_string(),
        ] {
            checkpoint.outputs = vec![("bars-1.parquet".into(), destination.clone())];
            layout.commit(&checkpoint)?;
            let err = layout.recover().expect_err("outside").to_string();
            assert!(err.contains(&destination), "{err}");
            assert!(!escaped.exists(), "published to {}", escaped.display());
        }
        checkpoint.outputs.clear();
        checkpoint.state = Some("../../state.arrow".into());
        layout.commit(&checkpoint)?;
        let err = layout.recover().expect_err("outside").to_string();
        assert!(err.contains("../../state.arrow"), "{err}");
        Ok(())
    }
}
