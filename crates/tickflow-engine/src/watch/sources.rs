//! Where trade files arrive: a local directory or an object storage prefix. Files are taken
//! in name order (`trades_20240304_1000.csv` before `..._1030.csv`), so name files by time.
//! CSV (`.csv`, `.txt`) is parsed by ingest's rules; Parquet (`.parquet`) must have ingest's
//! trade columns. Listing and reading are [`Prefix`]'s, the lister ingest uses too.

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

/// One arrived file: its name relative to the source, and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrived {
    pub name: String,
    pub size: u64,
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
