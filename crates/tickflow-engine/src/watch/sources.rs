//! Where trade files arrive: a local directory or an object storage prefix. Files are taken
//! in name order (`trades_20240304_1000.csv` before `..._1030.csv`), so name files by time.
//! CSV (`.csv`, `.txt`) is parsed by ingest's rules; Parquet (`.parquet`) must have ingest's
//! trade columns. Listing and reading are [`Prefix`]'s, the lister ingest uses too.
//!
//! **A file is taken once it has settled**: when two listings, the second at least the settle
//! time (`--settle`) after the first, give it the same size and modification time, so a file
//! still being copied in is not read short. A file taken is recorded with its size and time in
//! the checkpoint; if it changes afterwards the watcher stops with an error naming it (its new
//! contents would never be read). Write a file aside and rename it in, or write it at once.

use crate::error::Result;
use crate::storage::SessionStorage;
use crate::storage::prefix::Prefix;

/// A directory or prefix of arriving files.
#[derive(Debug)]
pub struct Source {
    prefix: Prefix,
    /// For messages: the directory or URL as given.
    pub display: String,
}

/// One arrived file: its name relative to the source, its size and modification time
/// (microseconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrived {
    pub name: String,
    pub size: u64,
    pub modified: i64,
}

impl Arrived {
    /// What must not change once the file is taken (and across two listings before).
    pub fn version(&self) -> (u64, i64) {
        (self.size, self.modified)
    }
}

impl Source {
    pub fn open(location: &str, storage: &SessionStorage) -> Result<Source> {
        let prefix = Prefix::open(location, storage)?;
        Ok(Source {
            display: prefix.display.clone(),
            prefix,
        })
    }

    /// Every trade file directly in the source, by name.
    pub async fn list(&self) -> Result<Vec<Arrived>> {
        let listing = self.prefix.entries().await?;
        Ok(listing
            .files
            .into_iter()
            .filter(|f| {
                let lower = f.name.to_ascii_lowercase();
                [".csv", ".txt", ".parquet"]
                    .iter()
                    .any(|ext| lower.ends_with(ext))
                    && !f.name.starts_with('.')
            })
            .map(|f| Arrived {
                name: f.name,
                size: f.size,
                modified: f.modified,
            })
            .collect())
    }

    pub async fn read(&self, name: &str) -> Result<bytes::Bytes> {
        self.prefix.read(name).await
    }

    /// A listing to check that the source is readable (used at start).
    pub async fn check(&self) -> Result<()> {
        self.prefix.check().await
    }
}
