//! The ingest manifest, `DIR/_tickflow/ingest.json`: which sources (by path and content hash)
//! produced which output files. Written atomically (temporary file, fsync, rename) after the
//! output files are in place.
//!
//! It lives in a subdirectory, not at `DIR/_tickflow_ingest.json`: DataFusion lists every file
//! directly under a table directory (the extension filter is empty for `CREATE EXTERNAL TABLE
//! ... LOCATION 'DIR/'`, and a URL table takes its format from the first file listed), so a JSON
//! file there would break the table. Files in subdirectories without `=` are skipped
//! (`datafusion.execution.listing_table_ignore_subdirectory`, default true).

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::layout::Partitioning;
use crate::error::{Context, Error, Result};

/// Directory of tickflow's bookkeeping inside an output directory.
pub const META_DIR: &str = "_tickflow";
/// The manifest's name inside [`META_DIR`].
pub const MANIFEST: &str = "ingest.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// Keyed by the canonical source path.
    pub sources: BTreeMap<String, SourceEntry>,
    /// The types runs decided for the columns whose type is not fixed (volume, the columns a
    /// shape does not know), as SQL (`BIGINT`, `DECIMAL(18,4)`): later runs keep them, so every
    /// file of the table has one schema.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, String>,
    /// `--partition-by` of the table (`date`, `month,symbol`, ...). Absent in manifests written
    /// before it existed, whose tables are partitioned by date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitioning: Option<String>,
    /// The run number the next run takes for `seq`'s run field ([`super::seq`]). Absent in
    /// manifests written before it existed: see [`Manifest::next_run`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SourceEntry {
    pub size: u64,
    /// 64-bit FNV-1a of the file's bytes, hex.
    pub hash: String,
    pub rows: u64,
    pub rejected: u64,
    /// Output files relative to the output directory.
    pub outputs: Vec<String>,
}

pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join(META_DIR).join(MANIFEST)
}

impl Manifest {
    /// The run number of the next run. A manifest from before run numbers has rows whose
    /// `seq` is `file << 40 | line` with `file` below the number of its sources, whose run field
    /// (bits 50 and up) is at most `sources >> 10`: the next run comes after it.
    pub fn next_run(&self) -> u64 {
        match self.next_run {
            Some(n) => n,
            None if self.sources.is_empty() => 0,
            None => (self.sources.len() as u64 >> 10) + 1,
        }
    }

    /// The table's partitioning: the recorded one, `date` for a table from before it was
    /// recorded, `None` for a new table. An unreadable record is an error naming the file.
    pub fn partitioning(&self, what: &str) -> Result<Option<Partitioning>> {
        match &self.partitioning {
            Some(p) => p
                .parse()
                .map(Some)
                .map_err(|e| Error::invalid(format!("{what}: partitioning: {e}"))),
            None if self.sources.is_empty() => Ok(None),
            None => Ok(Some(Partitioning::default())),
        }
    }

    pub fn load(dir: &Path) -> Result<Self> {
        let path = manifest_path(dir);
        match fs::read(&path) {
            Ok(bytes) => Self::from_json(&bytes, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).context(path.display()),
        }
    }

    /// A manifest read from `what` (a path or URL, for the message).
    pub fn from_json(bytes: &[u8], what: &str) -> Result<Self> {
        let manifest: Manifest = serde_json::from_slice(bytes)
            .context(format!("{what}: not a tickflow ingest manifest"))?;
        // Ingest removes a replaced source's outputs by these names.
        for entry in manifest.sources.values() {
            for output in &entry.outputs {
                crate::bookkeeping::relative_inside(what, output)?;
            }
        }
        Ok(manifest)
    }

    pub fn to_json(&self) -> Result<Vec<u8>> {
        serde_json::to_vec_pretty(self).map_err(|e| Error::internal(e.to_string()))
    }

    /// Writes the manifest atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = manifest_path(dir);
        let meta = dir.join(META_DIR);
        fs::create_dir_all(&meta).context(meta.display())?;
        let tmp = meta.join(format!("{MANIFEST}.tmp-{}", std::process::id()));
        let json = self.to_json()?;
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            sync_dir(&meta);
            Ok(())
        };
        write().context(path.display())
    }
}

/// fsync a directory so a rename in it is durable (best effort: not every platform allows it).
pub fn sync_dir(dir: &Path) {
    if let Ok(f) = fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// 64-bit FNV-1a.
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ingest removes a replaced source's outputs by the manifest's names: names outside the
    /// table are refused when the manifest is read.
    #[test]
    fn a_manifest_naming_outputs_outside_the_table_is_refused() {
        for output in ["../../victim.parquet", "/etc/passwd"] {
            let json = serde_json::json!({
                "sources": {"/in/a.csv": {
                    "size": 1, "hash": "0", "rows": 1, "rejected": 0,
                    "outputs": ["date=2024-01-02/ok.parquet", output]
                }}
            });
            let err = Manifest::from_json(json.to_string().as_bytes(), "t/_tickflow/ingest.json")
                .expect_err(output)
                .to_string();
            assert!(err.contains(output) && err.contains("ingest.json"), "{err}");
        }
    }

    #[test]
    fn manifests_from_before_runs_and_layouts() {
        let entry = SourceEntry {
            size: 1,
            hash: "00".into(),
            rows: 1,
            rejected: 0,
            outputs: vec!["date=2024-01-02/a.parquet".into()],
        };
        let empty = Manifest::default();
        assert_eq!(empty.next_run(), 0);
        assert_eq!(empty.partitioning("m").expect("ok"), None);
        // An old table: its seq values (file << 40 | line) stay below run 1's.
        let old: Manifest = serde_json::from_value(serde_json::json!({
            "sources": { "/a.csv": entry }
        }))
        .expect("old manifest");
        assert_eq!(old.next_run(), 1);
        assert_eq!(
            old.partitioning("m").expect("ok"),
            Some(Partitioning::default())
        );
        let bad = Manifest {
            partitioning: Some("weekly".into()),
            ..Manifest::default()
        };
        let e = bad
            .partitioning("DIR/_tickflow/ingest.json")
            .expect_err("bad");
        assert!(
            e.to_string()
                .starts_with("DIR/_tickflow/ingest.json: partitioning:"),
            "{e}"
        );
    }
}
