//! Where trade files arrive: a local directory or an object storage prefix. Files are taken
//! in name order (`trades_20240304_1000.csv` before `..._1030.csv`), so name files by time.
//! CSV (`.csv`, `.txt`) is parsed by ingest's rules; Parquet (`.parquet`) must have ingest's
//! trade columns.

use std::sync::Arc;

use datafusion::execution::object_store::ObjectStoreRegistry;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use url::Url;

use crate::error::{Context, Error, Result};
use crate::storage::{SessionStorage, StoreRegistry};

/// A directory or prefix of arriving files.
#[derive(Debug)]
pub struct Source {
    store: Arc<dyn ObjectStore>,
    prefix: Option<ObjectPath>,
    /// For messages: the directory or URL as given.
    pub display: String,
}

/// One arrived file: its name relative to the source, and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrived {
    pub name: String,
    pub size: u64,
}

impl Source {
    pub fn open(location: &str, storage: &SessionStorage) -> Result<Source> {
        let is_url = location
            .split_once("://")
            .is_some_and(|(scheme, _)| scheme != "file" && !scheme.is_empty());
        if !is_url {
            let dir = std::path::Path::new(location);
            if !dir.is_dir() {
                return Err(Error::invalid(format!("{location}: no such directory")));
            }
            let store =
                object_store::local::LocalFileSystem::new_with_prefix(dir).context(location)?;
            return Ok(Source {
                store: Arc::new(store),
                prefix: None,
                display: location.to_string(),
            });
        }
        let url = Url::parse(location)
            .map_err(|e| Error::invalid(format!("{location}: not a URL: {e}")))?;
        let store = StoreRegistry::new(storage.clone())
            .get_store(&url)
            .map_err(|e| Error::invalid(format!("{location}: {e}")))?;
        let prefix = ObjectPath::from_url_path(url.path())
            .map_err(|e| Error::invalid(format!("{location}: bad path: {e}")))?;
        Ok(Source {
            store,
            prefix: Some(prefix),
            display: location.trim_end_matches('/').to_string(),
        })
    }

    /// Every trade file directly in the source, by name.
    pub async fn list(&self) -> Result<Vec<Arrived>> {
        let listing = self
            .store
            .list_with_delimiter(self.prefix.as_ref())
            .await
            .context(&self.display)?;
        let mut files: Vec<Arrived> = listing
            .objects
            .into_iter()
            .filter_map(|meta| {
                let name = meta.location.filename()?.to_string();
                let lower = name.to_ascii_lowercase();
                let wanted = [".csv", ".txt", ".parquet"]
                    .iter()
                    .any(|ext| lower.ends_with(ext))
                    && !name.starts_with('.');
                wanted.then_some(Arrived {
                    name,
                    size: meta.size,
                })
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    pub async fn read(&self, name: &str) -> Result<bytes::Bytes> {
        let location = match &self.prefix {
            Some(prefix) => prefix.clone().join(name),
            None => ObjectPath::from(name),
        };
        let what = format!("{}/{name}", self.display);
        let got = self.store.get(&location).await.context(&what)?;
        got.bytes().await.context(what)
    }

    /// A listing to check that the source is readable (used at start).
    pub async fn check(&self) -> Result<()> {
        self.store
            .list(self.prefix.as_ref())
            .try_next()
            .await
            .map(|_| ())
            .context(&self.display)
    }
}
