//! [`Prefix`]: a local directory or an object storage prefix (`s3://bucket/raw/`), listed one
//! level deep and read by name. The one lister of files that arrive or are ingested: `watch`
//! reads its arriving files through it, `ingest` its remote sources. Remote stores come from
//! [`StoreRegistry`], so they get the same options, retries, disk cache and error messages (the
//! full URL) as queries.

use std::sync::Arc;

use datafusion::execution::object_store::ObjectStoreRegistry;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use url::Url;

use super::{SessionStorage, StoreRegistry};
use crate::error::{Context, Error, Result};

/// A directory or prefix of files.
#[derive(Debug)]
pub struct Prefix {
    store: Arc<dyn ObjectStore>,
    prefix: Option<ObjectPath>,
    /// For messages: the directory or URL as given, without a trailing `/`.
    pub display: String,
}

/// One file directly under a prefix: its name relative to the prefix, its size and its
/// modification time (microseconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    pub modified: i64,
}

/// What is directly under a prefix: its files and its sub-directories (common prefixes), each
/// sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub files: Vec<Entry>,
    pub dirs: Vec<String>,
}

/// Whether `location` names object storage (`scheme://…`, other than `file://`).
pub fn is_url(location: &str) -> bool {
    location
        .split_once("://")
        .is_some_and(|(scheme, _)| scheme != "file" && !scheme.is_empty())
}

impl Prefix {
    /// A local directory (which must exist) or an object storage URL (`s3://bucket/raw`; a
    /// trailing `/` is optional). Opening sends no request.
    pub fn open(location: &str, storage: &SessionStorage) -> Result<Prefix> {
        if !is_url(location) {
            let dir = std::path::Path::new(location);
            if !dir.is_dir() {
                return Err(Error::invalid(format!("{location}: no such directory")));
            }
            let store =
                object_store::local::LocalFileSystem::new_with_prefix(dir).context(location)?;
            return Ok(Prefix {
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
        Ok(Prefix {
            store,
            prefix: Some(prefix),
            display: location.trim_end_matches('/').to_string(),
        })
    }

    /// `display/name`: the URL (or path) of a file under the prefix, for messages and keys.
    pub fn url_of(&self, name: &str) -> String {
        format!("{}/{name}", self.display)
    }

    /// Every file and sub-directory directly under the prefix (not recursive), by name.
    pub async fn entries(&self) -> Result<Listing> {
        let listing = self
            .store
            .list_with_delimiter(self.prefix.as_ref())
            .await
            .context(&self.display)?;
        let mut files: Vec<Entry> = listing
            .objects
            .into_iter()
            .filter_map(|meta| {
                Some(Entry {
                    name: meta.location.filename()?.to_string(),
                    size: meta.size,
                    modified: meta.last_modified.timestamp_micros(),
                })
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        let mut dirs: Vec<String> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        dirs.sort();
        Ok(Listing { files, dirs })
    }

    fn location(&self, name: &str) -> ObjectPath {
        match &self.prefix {
            Some(prefix) => prefix.clone().join(name),
            None => ObjectPath::from(name),
        }
    }

    /// The whole file `name` under the prefix.
    pub async fn read(&self, name: &str) -> Result<bytes::Bytes> {
        let what = self.url_of(name);
        let got = self.store.get(&self.location(name)).await.context(&what)?;
        got.bytes().await.context(what)
    }

    /// The size of the file `name` under the prefix, `None` when there is none.
    pub async fn size_of(&self, name: &str) -> Result<Option<u64>> {
        match self.store.head(&self.location(name)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e).context(self.url_of(name)),
        }
    }

    /// A listing to check that the prefix is readable (used at start).
    pub async fn check(&self) -> Result<()> {
        self.store
            .list(self.prefix.as_ref())
            .try_next()
            .await
            .map(|_| ())
            .context(&self.display)
    }
}
