//! An exclusive lock on a table directory, so that two processes never write one table at once
//! (two watchers on one `--out` deleted each other's pending files, and half the volume was
//! gone).
//!
//! The lock is a file created with `O_EXCL` holding the owner's process id and host name; it is
//! removed when the owner drops it. A lock left by a process that died (same host, no such
//! process in `/proc`) is stale and taken over; any other is an error naming the owner. A lock
//! from another host cannot be checked from here: the message says how to remove it.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Context, Error, Result};

/// Held while a process writes a table; dropping it releases the table.
#[derive(Debug)]
pub struct TableLock {
    path: PathBuf,
}

/// The owner of a lock as its file says: (process id, host).
fn owner(text: &str) -> Option<(u32, String)> {
    let (pid, host) = text.trim().split_once(' ')?;
    Some((pid.parse().ok()?, host.to_string()))
}

/// This machine's name, as the kernel has it (`unknown` where it cannot be read).
fn host_name() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty() && !h.contains(' '))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Whether process `pid` of this host is running (on a system without `/proc`: assumed so).
fn running(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.is_dir() || proc.join(pid.to_string()).exists()
}

impl TableLock {
    /// Takes the lock file `path` for `what` (`tickflow watch`), or says who holds it.
    pub fn acquire(path: &Path, what: &str) -> Result<TableLock> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).context(dir.display())?;
        }
        let me = format!("{} {}\n", std::process::id(), host_name());
        // Twice at most: the second time after removing a stale lock.
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(mut file) => {
                    file.write_all(me.as_bytes())
                        .and_then(|()| file.sync_all())
                        .context(path.display())?;
                    return Ok(TableLock {
                        path: path.to_path_buf(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = fs::read_to_string(path).unwrap_or_default();
                    match owner(&text) {
                        Some((pid, host)) if host == host_name() && !running(pid) => {
                            // Its owner died without releasing it.
                            let _ = fs::remove_file(path);
                        }
                        Some((pid, host)) => {
                            return Err(Error::invalid(format!(
                                "{what}: the table is in use by process {pid} on {host} (lock \
                                 {}); stop that process first, or remove the lock file if it is \
                                 gone",
                                path.display()
                            )));
                        }
                        None => {
                            return Err(Error::invalid(format!(
                                "{what}: the table is locked by {} ('{}'): remove the lock \
                                 file if no process is writing the table",
                                path.display(),
                                text.trim()
                            )));
                        }
                    }
                }
                Err(e) => return Err(e).context(path.display()),
            }
        }
        Err(Error::invalid(format!(
            "{what}: the lock {} keeps coming back; another process is taking it",
            path.display()
        )))
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_owner_is_refused_naming_the_first_and_a_dead_owner_is_taken_over() -> Result<()> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("_watch/watcher.lock");
        let held = TableLock::acquire(&path, "tickflow watch")?;
        let err = TableLock::acquire(&path, "tickflow watch").expect_err("held");
        let me = format!("process {} on {}", std::process::id(), host_name());
        assert!(err.to_string().contains(&me), "{err}");
        drop(held);
        assert!(!path.exists(), "released");
        // A lock whose process is gone (pid beyond any Linux pid_max) is stale.
        fs::write(&path, format!("4294967295 {}\n", host_name())).expect("write");
        let taken = TableLock::acquire(&path, "tickflow watch")?;
        assert_eq!(
            fs::read_to_string(&path).expect("read").split(' ').next(),
            Some(std::process::id().to_string().as_str())
        );
        drop(taken);
        // Another host's lock cannot be checked: refused, naming it.
        fs::write(&path, "17 elsewhere\n").expect("write");
        let err = TableLock::acquire(&path, "tickflow watch").expect_err("other host");
        assert!(err.to_string().contains("process 17 on elsewhere"), "{err}");
        Ok(())
    }
}
