//! How a run's files become part of a local table, so that a reader sees all of a run or none
//! of it as far as a plain directory allows, and the next run finishes or cleans up a killed one.
//!
//! **A new directory** (`DIR` does not exist, or is an empty directory that is neither a
//! symlink nor the current directory): the whole tree, manifest included, is staged in a
//! sibling, `<parent>/.<name>.tickflow-staging-<pid>/`, every file and directory fsynced, and
//! published with one `rename(2)` onto `DIR`. A reader sees no `DIR` (or an empty one), then
//! all of it. A kill before the rename leaves only the sibling, which the next run removes.
//!
//! **An existing directory**: files are staged in `DIR/.tickflow-staging-<pid>/` (ignored by
//! queries: a subdirectory without `=`) and fsynced. Then a journal, `DIR/_tickflow/
//! publishing.json`, is written atomically: the files to move, the outputs to remove (of
//! changed sources) and the manifest to write. Then the renames run back to back (directories
//! created first, so the loop is renames only), the directories are fsynced, the old outputs
//! removed, the manifest written, the journal removed. A reader sees part of the run only
//! between the first and the last rename (a few microseconds per file); a kill in that window
//! leaves the journal, and the next run (any `tickflow ingest` into `DIR`) first finishes the
//! publication from it, so the table then holds all of the killed run. A kill before the
//! journal leaves only the staging directory, which the next run removes.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::manifest::{META_DIR, Manifest, sync_dir};
use crate::error::{Context, Error, Result};

/// The journal's name inside [`META_DIR`].
pub const JOURNAL: &str = "publishing.json";
/// Prefix of a staging directory's name (inside `DIR`; a sibling's is `.<name>` + this).
pub const STAGING_PREFIX: &str = ".tickflow-staging-";

/// A publication in progress into an existing directory.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    /// The process that wrote it.
    pid: u32,
    /// The staging directory's name inside `DIR`.
    staging: String,
    /// Paths relative to the staging directory and to `DIR` alike.
    moves: Vec<String>,
    /// Outputs to delete, relative to `DIR`.
    removes: Vec<String>,
    manifest: Manifest,
}

fn journal_path(dir: &Path) -> PathBuf {
    dir.join(META_DIR).join(JOURNAL)
}

/// Whether `dir` can be published with one rename: it does not exist, or is an empty real
/// directory other than the current one.
pub fn is_fresh(dir: &Path) -> bool {
    if sibling_staging(dir).is_none() {
        return false;
    }
    match fs::symlink_metadata(dir) {
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
        Ok(meta) if !meta.is_dir() => false,
        Ok(_) => {
            let empty = fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none());
            let cwd = std::env::current_dir()
                .and_then(fs::canonicalize)
                .ok()
                .zip(fs::canonicalize(dir).ok())
                .is_some_and(|(cwd, d)| cwd == d);
            empty && !cwd
        }
    }
}

/// `dir`'s parent (`.` for a relative name) and its name.
fn parent_and_name(dir: &Path) -> Option<(PathBuf, String)> {
    let dir: PathBuf = dir.components().collect();
    let name = dir.file_name()?.to_str()?.to_string();
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some((parent, name))
}

/// The staging directory of a new `dir`: `<parent>/.<name>.tickflow-staging-<pid>`.
pub fn sibling_staging(dir: &Path) -> Option<PathBuf> {
    let (parent, name) = parent_and_name(dir)?;
    Some(parent.join(format!(".{name}{STAGING_PREFIX}{}", std::process::id())))
}

/// Publishes the staged tree `staging` as the new directory `dir`, manifest included.
pub fn publish_fresh(staging: &Path, dir: &Path, manifest: &Manifest) -> Result<()> {
    manifest.save(staging)?;
    sync_tree(staging);
    if let Some((parent, _)) = parent_and_name(dir) {
        fs::create_dir_all(&parent).context(parent.display())?;
    }
    fs::rename(staging, dir).map_err(|e| {
        Error::invalid(format!(
            "{}: cannot publish the run as a new directory ({e}); another process may have written into it meanwhile: run the ingest again",
            dir.display()
        ))
    })?;
    if let Some((parent, _)) = parent_and_name(dir) {
        sync_dir(&parent);
    }
    Ok(())
}

/// Publishes the staged files `moves` (relative paths in `staging` and in `dir`), removes the
/// outputs `removes` and writes `manifest`, through the journal (see the module docs).
pub fn publish_existing(
    staging: &Path,
    dir: &Path,
    moves: &[String],
    removes: &[String],
    manifest: &Manifest,
) -> Result<()> {
    sync_tree(staging);
    let staging_name = staging
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| Error::internal(format!("{}: bad staging name", staging.display())))?
        .to_string();
    let journal = Journal {
        pid: std::process::id(),
        staging: staging_name,
        moves: moves.to_vec(),
        removes: removes.to_vec(),
        manifest: manifest.clone(),
    };
    write_atomically(
        &journal_path(dir),
        &serde_json::to_vec_pretty(&journal).map_err(|e| Error::internal(e.to_string()))?,
    )?;
    finish(dir, &journal)
}

/// Moves what is still staged, removes, writes the manifest, removes the journal and the
/// staging directory. Each step can be repeated, so a run killed in here is finished by the
/// next one.
fn finish(dir: &Path, journal: &Journal) -> Result<()> {
    let staging = dir.join(&journal.staging);
    let mut dirs = BTreeSet::new();
    for relative in &journal.moves {
        if let Some(parent) = dir.join(relative).parent() {
            dirs.insert(parent.to_path_buf());
        }
    }
    // Directories first, so the window in which a reader sees part of the run is renames only.
    for d in &dirs {
        fs::create_dir_all(d).context(d.display())?;
    }
    for relative in &journal.moves {
        let from = staging.join(relative);
        let to = dir.join(relative);
        match fs::rename(&from, &to) {
            Ok(()) => {}
            // Moved by the killed run before it died.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && to.is_file() => {}
            Err(e) => return Err(e).context(format!("moving to {}", to.display())),
        }
    }
    for d in &dirs {
        sync_dir(d);
    }
    for relative in &journal.removes {
        let path = dir.join(relative);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).context(format!("removing {}", path.display())),
        }
    }
    sync_dir(dir);
    journal.manifest.save(dir)?;
    let path = journal_path(dir);
    fs::remove_file(&path).context(path.display())?;
    sync_dir(&dir.join(META_DIR));
    let _ = fs::remove_dir_all(&staging);
    Ok(())
}

/// Finishes the publication of a killed run into `dir`, if its journal is there. `Ok(Some(pid))`
/// names the run that was finished; a journal of a process still running is an error.
pub fn recover(dir: &Path) -> Result<Option<u32>> {
    let path = journal_path(dir);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).context(path.display()),
    };
    let journal: Journal = serde_json::from_slice(&bytes).context(format!(
        "{}: not a tickflow publication journal",
        path.display()
    ))?;
    // Finishing moves, removes and deletes by these names.
    let shown = path.display().to_string();
    crate::bookkeeping::file_name(&shown, &journal.staging)?;
    for name in journal.moves.iter().chain(&journal.removes) {
        crate::bookkeeping::relative_inside(&shown, name)?;
    }
    if journal.pid != std::process::id() && process_alive(journal.pid) {
        return Err(Error::invalid(format!(
            "{}: another ingest (pid {}) is publishing into {}; wait for it to finish (if no ingest is running, remove {} and its staging directory {})",
            path.display(),
            journal.pid,
            dir.display(),
            path.display(),
            dir.join(&journal.staging).display()
        )));
    }
    finish(dir, &journal)?;
    Ok(Some(journal.pid))
}

/// Removes staging directories of runs that are no longer running: inside `dir`, and beside it
/// (a new directory's).
pub fn remove_stale_staging(dir: &Path) {
    let mut places = vec![(dir.to_path_buf(), STAGING_PREFIX.to_string())];
    if let Some((parent, name)) = parent_and_name(dir) {
        places.push((parent, format!(".{name}{STAGING_PREFIX}")));
    }
    for (place, prefix) in places {
        let Ok(entries) = fs::read_dir(&place) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let Some(pid) = name.strip_prefix(&prefix) else {
                continue;
            };
            let alive = pid
                .parse::<u32>()
                .ok()
                .is_some_and(|pid| pid == std::process::id() || process_alive(pid));
            if !alive {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        // Without a portable check, assume it runs.
        true
    }
}

/// fsyncs every directory of a tree (files were fsynced as they were written), so the names
/// in it are durable before they are published.
fn sync_tree(root: &Path) {
    if let Ok(entries) = fs::read_dir(root) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                sync_tree(&entry.path());
            }
        }
    }
    sync_dir(root);
}

/// Writes `bytes` to `path` through a fsynced temporary file and a rename.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).context(parent.display())?;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        sync_dir(parent);
        Ok(())
    };
    write().context(path.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn journal_of(dir: &Path, pid: u32, moves: &[&str], removes: &[&str]) -> Journal {
        let mut manifest = Manifest {
            next_run: Some(7),
            ..Manifest::default()
        };
        manifest.partitioning = Some("month".into());
        let journal = Journal {
            pid,
            staging: format!("{STAGING_PREFIX}{pid}"),
            moves: moves.iter().map(|m| m.to_string()).collect(),
            removes: removes.iter().map(|m| m.to_string()).collect(),
            manifest,
        };
        let bytes = serde_json::to_vec(&journal).expect("json");
        write_atomically(&journal_path(dir), &bytes).expect("journal");
        journal
    }

    #[test]
    fn the_next_run_finishes_a_killed_publication() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        // A dead process (pids are below 2^22 on Linux) killed after moving a.parquet: b is
        // still staged, old.parquet still to be removed, the manifest still to be written.
        let pid = u32::MAX;
        let staging = dir.join(format!("{STAGING_PREFIX}{pid}"));
        fs::create_dir_all(staging.join("month=2024-01")).expect("mkdir");
        fs::create_dir_all(dir.join("month=2024-01")).expect("mkdir");
        fs::write(dir.join("month=2024-01/a.parquet"), "a").expect("write");
        fs::write(staging.join("month=2024-01/b.parquet"), "b").expect("write");
        fs::write(dir.join("old.parquet"), "old").expect("write");
        journal_of(
            dir,
            pid,
            &["month=2024-01/a.parquet", "month=2024-01/b.parquet"],
            &["old.parquet"],
        );
        assert_eq!(recover(dir).expect("recovers"), Some(pid));
        assert_eq!(
            fs::read_to_string(dir.join("month=2024-01/b.parquet")).expect("moved"),
            "b"
        );
        assert!(dir.join("month=2024-01/a.parquet").is_file());
        assert!(!dir.join("old.parquet").exists());
        assert!(!staging.exists());
        assert!(!journal_path(dir).exists());
        let manifest = Manifest::load(dir).expect("manifest");
        assert_eq!(manifest.next_run(), 7);
        assert_eq!(manifest.partitioning.as_deref(), Some("month"));
        // Nothing left to finish.
        assert_eq!(recover(dir).expect("nothing to do"), None);
    }

    /// A journal edited to name files outside the table: nothing outside is removed or moved.
    #[test]
    fn a_journal_naming_paths_outside_the_table_is_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("table");
        fs::create_dir_all(&dir).expect("mkdir");
        let victim = tmp.path().join("victim.txt");
        fs::write(&victim, "keep me").expect("write");
        let absolute = victim.display().to_string();
        for removes in [["../victim.txt"], [absolute.as_str()]] {
            journal_of(&dir, u32::MAX, &[], &removes);
            let err = recover(&dir).expect_err("outside").to_string();
            assert!(
                err.contains(removes[0]) && err.contains("publishing.json"),
                "{err}"
            );
            assert!(victim.exists(), "recover removed {}", victim.display());
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_running_publication_is_left_alone() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path();
        // This test's parent process is running.
        let parent = std::os::unix::process::parent_id();
        journal_of(dir, parent, &["x.parquet"], &[]);
        let e = recover(dir).expect_err("another ingest runs").to_string();
        assert!(e.contains(&format!("another ingest (pid {parent})")), "{e}");
        assert!(journal_path(dir).exists());
    }

    #[test]
    fn a_new_directory_is_published_with_one_rename() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("out");
        assert!(is_fresh(&dir));
        let staging = sibling_staging(&dir).expect("sibling");
        assert_eq!(staging.parent(), Some(tmp.path()));
        fs::create_dir_all(staging.join("year=2024")).expect("mkdir");
        fs::write(staging.join("year=2024/a.parquet"), "a").expect("write");
        publish_fresh(&staging, &dir, &Manifest::default()).expect("published");
        assert!(dir.join("year=2024/a.parquet").is_file());
        assert!(
            dir.join(META_DIR)
                .join(super::super::manifest::MANIFEST)
                .is_file()
        );
        assert!(!staging.exists());
        assert!(!is_fresh(&dir), "a directory with files is not new");
    }
}
