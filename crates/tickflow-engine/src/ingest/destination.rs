//! Where an ingest's output goes: a local directory, or a prefix in object storage
//! (`s3://bucket/trades/`, `az://container/trades/`, `gs://…`).
//!
//! Both keep the ingest's promise that nothing half-written is ever part of the table:
//! - local: a new directory is staged whole and renamed into place at once; into an existing
//!   one, files are staged, then renamed back to back under a journal the next run finishes
//!   from ([`super::publish`]);
//! - object storage: files are staged in a local temporary directory, then each is uploaded as
//!   one object. S3, Azure and GCS show an object only when its (multipart) upload completes, so
//!   a reader lists a whole file or none; a failed upload is aborted. Before the first upload an
//!   existing manifest is rewritten with the run's number taken (so a killed run's objects never
//!   share a run number with a later run's); the manifest with the run's sources is uploaded
//!   last, in one PUT. A reader may see part of a run while it uploads, or after a kill; the next run
//!   with the same sources uploads them again under the same names.
//!
//! The stores are built from the environment (`AWS_*`, `AZURE_STORAGE_*`, `GOOGLE_*`) and the
//! given options, as [`crate::storage::registry`] builds them for queries.

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use url::Url;

use super::manifest::{MANIFEST, META_DIR, Manifest};
use super::publish;
use super::write::StagedFile;
use crate::error::{Context, Error, Result};
use crate::storage::{SessionStorage, StoreRegistry};
use crate::table_lock::TableLock;
use datafusion::execution::object_store::ObjectStoreRegistry;

/// Bytes per uploaded part (S3 needs at least 5 MiB per part but the last).
const PART: usize = 8 << 20;

/// An ingest's output.
#[derive(Debug)]
pub enum Destination {
    Local(LocalDir),
    Remote(Remote),
}

/// A local output directory.
#[derive(Debug)]
pub struct LocalDir {
    pub dir: PathBuf,
    /// Published with one rename ([`publish::is_fresh`]).
    pub fresh: bool,
    /// The process whose killed run's publication [`publish::recover`] finished.
    pub recovered: Option<u32>,
    /// No other ingest writes the directory meanwhile (see [`lock_path`]).
    _lock: TableLock,
}

/// The lock of a local output directory: beside it (`.NAME.ingest-lock`), since a new
/// directory appears whole with one rename and cannot hold the lock before.
fn lock_path(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map_or_else(|| "table".into(), |n| n.to_string_lossy().into_owned());
    match out.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => {
            parent.join(format!(".{name}.ingest-lock"))
        }
        _ => PathBuf::from(format!(".{name}.ingest-lock")),
    }
}

/// An object storage prefix and the local directory files are staged in.
#[derive(Debug)]
pub struct Remote {
    store: Arc<dyn ObjectStore>,
    /// `s3://bucket/prefix` without a trailing slash: for messages.
    url: String,
    prefix: ObjectPath,
    staging: PathBuf,
}

impl Remote {
    /// The object at `relative` (`date=…/name.parquet`) under the prefix, and its URL.
    /// `relative`'s segments are used as they are: a symbol partition's is already
    /// percent-encoded the way DataFusion decodes it ([`super::layout`]), and must not be
    /// encoded twice.
    fn target(&self, relative: &str) -> (ObjectPath, String) {
        let joined = if self.prefix.as_ref().is_empty() {
            relative.to_string()
        } else {
            format!("{}/{relative}", self.prefix)
        };
        let location = ObjectPath::parse(&joined).unwrap_or_else(|_| {
            relative
                .split('/')
                .fold(self.prefix.clone(), |p, part| p.join(part))
        });
        (location, format!("{}/{relative}", self.url))
    }
}

/// Whether `out` names object storage (`scheme://…`, other than `file://`).
pub fn is_remote(out: &Path) -> bool {
    out.to_str()
        .and_then(|s| s.split_once("://"))
        .is_some_and(|(scheme, _)| scheme != "file" && !scheme.is_empty())
}

impl Destination {
    /// Opens `out`: a local directory (finishing the publication of a killed run, removing
    /// staging directories of killed runs, creating it unless it is new and will be published
    /// at once), or connects to the store of a remote prefix.
    pub fn open(out: &Path, storage: &SessionStorage) -> Result<Destination> {
        if !is_remote(out) {
            // Before recovery, which finishes or removes what a running ingest is writing.
            let lock =
                TableLock::acquire(&lock_path(out), "tickflow ingest").map_err(|e| match e {
                    Error::Invalid(v) => Error::invalid(format!("{}: {}", out.display(), v.0)),
                    other => other,
                })?;
            let recovered = if out.is_dir() {
                publish::recover(out)?
            } else {
                None
            };
            publish::remove_stale_staging(out);
            let fresh = publish::is_fresh(out);
            if !fresh {
                fs::create_dir_all(out).context(out.display())?;
            }
            return Ok(Destination::Local(LocalDir {
                dir: out.to_path_buf(),
                fresh,
                recovered,
                _lock: lock,
            }));
        }
        let text = out.to_string_lossy();
        let url = Url::parse(&text)
            .map_err(|e| Error::invalid(format!("{text}: not a location URL: {e}")))?;
        let store = StoreRegistry::new(storage.clone())
            .get_store(&url)
            .map_err(|e| Error::invalid(format!("{text}: {e}")))?;
        let prefix = ObjectPath::from_url_path(url.path())
            .map_err(|e| Error::invalid(format!("{text}: bad object path: {e}")))?;
        let staging = std::env::temp_dir().join(format!(
            "tickflow-ingest-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        Ok(Destination::Remote(Remote {
            store,
            url: text.trim_end_matches('/').to_string(),
            prefix,
            staging,
        }))
    }

    /// Where files are written before they are published.
    pub fn staging_dir(&self) -> PathBuf {
        match self {
            Destination::Local(local) => match publish::sibling_staging(&local.dir) {
                Some(sibling) if local.fresh => sibling,
                _ => local
                    .dir
                    .join(format!("{}{}", publish::STAGING_PREFIX, std::process::id())),
            },
            Destination::Remote(remote) => remote.staging.clone(),
        }
    }

    pub fn load_manifest(&self) -> Result<Manifest> {
        match self {
            Destination::Local(local) => Manifest::load(&local.dir),
            Destination::Remote(remote) => {
                let (location, what) = remote.target(&manifest_relative());
                let store = &remote.store;
                block_on(async move {
                    match store.get(&location).await {
                        Ok(got) => {
                            let bytes = got.bytes().await.context(&what)?;
                            Manifest::from_json(&bytes, &what)
                        }
                        Err(object_store::Error::NotFound { .. }) => Ok(Manifest::default()),
                        Err(e) => Err(e).context(what),
                    }
                })
            }
        }
    }

    /// Publishes a run: the staged `files`, the removal of `removes` (outputs of changed
    /// sources) and `manifest`. `old` is the manifest the run started from.
    pub fn publish_run(
        &self,
        staging: &Path,
        files: &[StagedFile],
        removes: &[String],
        old: &Manifest,
        manifest: &Manifest,
    ) -> Result<()> {
        match self {
            Destination::Local(local) if local.fresh => {
                publish::publish_fresh(staging, &local.dir, manifest)
            }
            Destination::Local(local) => {
                let moves: Vec<String> = files.iter().map(|f| f.relative.clone()).collect();
                publish::publish_existing(staging, &local.dir, &moves, removes, manifest)
            }
            Destination::Remote(remote) => {
                // A new prefix has no manifest to take the number in (and a killed first run's
                // objects are replaced by a rerun of its sources, under the same names).
                let new_prefix = old.sources.is_empty() && old.next_run.is_none();
                if !new_prefix && old.next_run() != manifest.next_run() {
                    let mut reserved = old.clone();
                    reserved.next_run = manifest.next_run;
                    remote.save_manifest(&reserved)?;
                }
                for f in files {
                    remote.upload(&f.staged, &f.relative)?;
                }
                for stale in removes {
                    remote.remove(stale);
                }
                remote.save_manifest(manifest)
            }
        }
    }
}

impl Remote {
    fn save_manifest(&self, manifest: &Manifest) -> Result<()> {
        let (location, what) = self.target(&manifest_relative());
        let store = &self.store;
        let json = manifest.to_json()?;
        block_on(async move {
            store
                .put(&location, PutPayload::from(json))
                .await
                .map(|_| ())
                .context(what)
        })
    }

    /// Uploads a staged file to `relative` (`date=…/name.parquet`) as one object.
    fn upload(&self, staged: &Path, relative: &str) -> Result<()> {
        let (location, what) = self.target(relative);
        let store = &self.store;
        let source = staged.to_path_buf();
        block_on(async move {
            let size = fs::metadata(&source).context(source.display())?.len();
            if size <= PART as u64 {
                // One PUT: the object appears whole or not at all.
                let bytes = fs::read(&source).context(source.display())?;
                return store
                    .put(&location, PutPayload::from(bytes))
                    .await
                    .map(|_| ())
                    .context(what);
            }
            // A multipart upload: invisible until it completes, aborted on error.
            let upload = store.put_multipart(&location).await.context(&what)?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
            let copied = (|| -> std::io::Result<()> {
                use std::io::Read;
                let mut file = fs::File::open(&source)?;
                let mut buf = vec![0u8; PART];
                loop {
                    let n = file.read(&mut buf)?;
                    if n == 0 {
                        return Ok(());
                    }
                    writer.write(&buf[..n]);
                }
            })();
            if let Err(e) = copied {
                let _ = writer.abort().await;
                return Err(e).context(source.display());
            }
            writer.finish().await.map(|_| ()).context(what)
        })?;
        let _ = fs::remove_file(staged);
        Ok(())
    }

    /// Deletes a previously published object; `true` when it was deleted.
    fn remove(&self, relative: &str) -> bool {
        let (location, _) = self.target(relative);
        let store = &self.store;
        block_on(async move { Ok(store.delete(&location).await.is_ok()) }).unwrap_or(false)
    }
}

/// The manifest's path relative to the output.
fn manifest_relative() -> String {
    format!("{META_DIR}/{MANIFEST}")
}

/// Runs `f` to completion on a runtime of its own, on a thread of its own: ingest is blocking
/// code that may itself run inside an async runtime (`spawn_blocking`).
pub(crate) fn block_on<T, F>(f: F) -> Result<T>
where
    T: Send,
    F: Future<Output = Result<T>> + Send,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot start an I/O runtime")?
                    .block_on(f)
            })
            .join()
            .map_err(|_| Error::internal("the object store thread panicked"))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two ingests into one local table: the second is refused naming the first (once both
    /// ran, and one's recovery could remove the other's staging); then it can run.
    #[test]
    fn a_second_ingest_into_one_table_is_refused() -> Result<()> {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("trades");
        let storage = SessionStorage::default();
        let first = Destination::open(&out, &storage)?;
        let err = Destination::open(&out, &storage).expect_err("locked");
        assert!(
            err.to_string()
                .contains(&format!("in use by process {}", std::process::id())),
            "{err}"
        );
        drop(first);
        Destination::open(&out, &storage)?;
        assert!(!lock_path(&out).exists(), "released");
        Ok(())
    }
}
