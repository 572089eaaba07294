//! An ingest's sources: what the user named (files, globs, directories, object storage URLs)
//! → the sorted list of files to read, and how each is read (decompressed by its extension).
//!
//! * A local path: a file, a directory, or a glob (`raw/*.csv.gz`, `raw/*/*.csv`).
//! * An object storage URL (`s3://`, `az://`, `abfs[s]://`, `gs://`, through
//!   [`crate::storage::prefix::Prefix`], so with the same stores, options, retries and disk cache
//!   as queries): a prefix (`s3://stocks/raw/`, or without the `/` when no object has that
//!   name), a single object (`s3://stocks/raw/AAPL.csv`), or a glob in the last part
//!   (`s3://stocks/raw/*.csv.gz`).
//! * A directory or prefix is read one level deep (not recursive: hive-style sub-directories are
//!   named as sources, or by a glob). In it, the files whose name ends in `.csv` or `.txt`,
//!   optionally followed by `.gz` or `.zst`, are sources; every other file and every
//!   sub-directory is reported ([`SkippedFiles`]), never silently left out. A file named
//!   explicitly or matched by a glob is read whatever its extension.
//! * `.gz` / `.gzip` (gzip, concatenated members too) and `.zst` / `.zstd` (Zstandard) are
//!   decompressed; shape detection and the symbol from the file name see the name without that
//!   extension (`AAPL_full_1min.txt.gz` is `AAPL_full_1min.txt`). bzip2, xz and zip are refused
//!   with a message rather than parsed as text.
//! * Each file has a stable key, its canonical path or its URL: the manifest's key (a rerun of
//!   an unchanged source is skipped) and the seed of its output names.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Context, Error, Result};
use crate::storage::SessionStorage;
use crate::storage::prefix::{Listing, Prefix, is_url};

use super::destination::block_on;

/// The extensions (after an optional compression extension) a directory's files need to be
/// sources.
const TAKEN: [&str; 2] = [".csv", ".txt"];

/// One source file.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// For messages and the rejects file: the path as given (or found in a directory), or the
    /// URL.
    pub display: String,
    /// The canonical path or the URL: the manifest's key and the seed of the output names.
    pub key: String,
    /// The file's name without a compression extension: what shape detection and the symbol
    /// from the file name see.
    pub name: String,
    /// The file's name as stored.
    stored: String,
    at: At,
}

#[derive(Debug, Clone)]
enum At {
    Local(PathBuf),
    Remote(Arc<Prefix>),
}

/// Files of a directory or prefix that are not sources: other extensions, and sub-directories.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkippedFiles {
    /// The directory or prefix as given.
    pub place: String,
    pub files: Vec<String>,
    pub dirs: Vec<String>,
}

/// The names of a list, the first 20 of them.
fn names(list: &[String], suffix: &str) -> String {
    let mut out: Vec<String> = list
        .iter()
        .take(20)
        .map(|n| format!("{n}{suffix}"))
        .collect();
    if list.len() > 20 {
        out.push(format!("and {} more", list.len() - 20));
    }
    out.join(", ")
}

impl fmt::Display for SkippedFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize, one: &str, many: &str| {
            if n == 1 {
                format!("1 {one}")
            } else {
                format!("{n} {many}")
            }
        };
        let mut parts = Vec::new();
        if !self.files.is_empty() {
            parts.push(format!(
                "skipped {} in {} with extensions other than .csv/.txt[.gz|.zst]: {} (name them as sources to ingest them)",
                plural(self.files.len(), "file", "files"),
                self.place,
                names(&self.files, "")
            ));
        }
        if !self.dirs.is_empty() {
            parts.push(format!(
                "skipped {} of {} (sources are not recursive): {} (name them, or a glob, as sources to ingest them)",
                plural(self.dirs.len(), "sub-directory", "sub-directories"),
                self.place,
                names(&self.dirs, "/")
            ));
        }
        f.write_str(&parts.join("; "))
    }
}

/// The files of a run.
#[derive(Debug, Default)]
pub struct Expanded {
    /// Sorted by key, each file once.
    pub files: Vec<SourceFile>,
    /// Directories and prefixes that held files that are not sources.
    pub skipped: Vec<SkippedFiles>,
}

/// How a file is compressed, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Gzip,
    Zstd,
}

/// The codec of `name` and the name without its compression extension.
fn codec_of(name: &str) -> (Option<Codec>, &str) {
    let lower = name.to_ascii_lowercase();
    for (ext, codec) in [
        (".gz", Codec::Gzip),
        (".gzip", Codec::Gzip),
        (".zst", Codec::Zstd),
        (".zstd", Codec::Zstd),
    ] {
        if lower.ends_with(ext) && lower.len() > ext.len() {
            return (Some(codec), &name[..name.len() - ext.len()]);
        }
    }
    (None, name)
}

/// A compression ingest does not read, by extension.
fn unsupported_codec(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    [
        (".bz2", "bzip2"),
        (".xz", "xz"),
        (".zip", "zip"),
        (".7z", "7z"),
        (".lz4", "lz4"),
    ]
    .into_iter()
    .find(|(ext, _)| lower.ends_with(ext))
    .map(|(_, what)| what)
}

/// Whether a file found in a directory or prefix is a source.
fn taken(name: &str) -> bool {
    let lower = codec_of(name).1.to_ascii_lowercase();
    TAKEN.iter().any(|ext| lower.ends_with(ext))
}

impl SourceFile {
    fn new(display: String, key: String, stored: String, at: At) -> SourceFile {
        SourceFile {
            display,
            key,
            name: codec_of(&stored).1.to_string(),
            stored,
            at,
        }
    }

    /// The file's bytes as stored (compressed or not).
    pub fn read_raw(&self) -> Result<bytes::Bytes> {
        match &self.at {
            At::Local(path) => Ok(fs::read(path).context(&self.display)?.into()),
            At::Remote(prefix) => {
                let (prefix, name) = (Arc::clone(prefix), self.stored.clone());
                block_on(async move { prefix.read(&name).await })
            }
        }
    }

    /// The file's text: `raw` decompressed when its name says it is compressed.
    pub fn contents<'a>(&self, raw: &'a [u8]) -> Result<Cow<'a, [u8]>> {
        let bad = |e: std::io::Error| {
            let what = match codec_of(&self.stored).0 {
                Some(Codec::Zstd) => "Zstandard (.zst)",
                _ => "gzip (.gz)",
            };
            Error::format(
                format!("{}: cannot decompress it as {what}", self.display),
                e,
            )
        };
        match codec_of(&self.stored).0 {
            None => {
                if let Some(what) = unsupported_codec(&self.stored) {
                    return Err(Error::invalid(format!(
                        "{}: {what}-compressed files are not read by ingest; decompress it, or recompress it with gzip (.gz) or Zstandard (.zst)",
                        self.display
                    )));
                }
                Ok(Cow::Borrowed(raw))
            }
            Some(Codec::Gzip) => {
                let mut out = Vec::with_capacity(raw.len() * 4);
                flate2::read::MultiGzDecoder::new(raw)
                    .read_to_end(&mut out)
                    .map_err(bad)?;
                Ok(Cow::Owned(out))
            }
            Some(Codec::Zstd) => Ok(Cow::Owned(zstd::stream::decode_all(raw).map_err(bad)?)),
        }
    }
}

/// Files, globs, directories and URLs → the sorted, de-duplicated list of files, and what
/// directories held besides.
pub fn expand_sources(sources: &[String], storage: &SessionStorage) -> Result<Expanded> {
    let mut files = BTreeMap::new();
    let mut skipped = Vec::new();
    for s in sources {
        let found = if is_url(s) {
            expand_url(s, storage, &mut skipped)?
        } else {
            expand_local(s, &mut skipped)?
        };
        for f in found {
            files.entry(f.key.clone()).or_insert(f);
        }
    }
    if files.is_empty() {
        let notes: Vec<String> = skipped.iter().map(ToString::to_string).collect();
        return Err(Error::invalid(format!(
            "no source files (give CSV files, globs, directories or object storage URLs){}",
            if notes.is_empty() {
                String::new()
            } else {
                format!(": {}", notes.join("; "))
            }
        )));
    }
    Ok(Expanded {
        files: files.into_values().collect(),
        skipped,
    })
}

fn local_file(path: PathBuf) -> Result<SourceFile> {
    let display = path.display().to_string();
    let key = fs::canonicalize(&path)
        .context(&display)?
        .to_string_lossy()
        .to_string();
    let stored = path
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    Ok(SourceFile::new(display, key, stored, At::Local(path)))
}

fn expand_local(s: &str, skipped: &mut Vec<SkippedFiles>) -> Result<Vec<SourceFile>> {
    let p = Path::new(s);
    let mut out = Vec::new();
    if p.is_dir() {
        let mut other = SkippedFiles {
            place: s.to_string(),
            ..Default::default()
        };
        let mut paths = BTreeSet::new();
        for entry in fs::read_dir(p).context(s)? {
            let path = entry.context(s)?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if path.is_dir() {
                other.dirs.push(name);
            } else if path.is_file() {
                if taken(&name) {
                    paths.insert(path);
                } else {
                    other.files.push(name);
                }
            }
        }
        for path in paths {
            out.push(local_file(path)?);
        }
        if !other.files.is_empty() || !other.dirs.is_empty() {
            other.files.sort();
            other.dirs.sort();
            skipped.push(other);
        }
    } else if p.is_file() {
        out.push(local_file(p.to_path_buf())?);
    } else if s.contains(['*', '?', '[']) {
        let paths = glob::glob(s).map_err(|e| Error::invalid(format!("{s}: bad glob: {e}")))?;
        for path in paths {
            let path = path.map_err(std::io::Error::other).context(s)?;
            if path.is_file() {
                out.push(local_file(path)?);
            }
        }
        if out.is_empty() {
            return Err(Error::invalid(format!("{s}: no files match")));
        }
    } else {
        return Err(Error::invalid(format!("{s}: no such file or directory")));
    }
    Ok(out)
}

/// The files of a listing that are sources, the others noted in `skipped`.
fn prefix_files(
    s: &str,
    prefix: Arc<Prefix>,
    listing: Listing,
    skipped: &mut Vec<SkippedFiles>,
) -> Vec<SourceFile> {
    let mut other = SkippedFiles {
        place: s.to_string(),
        dirs: listing.dirs,
        ..Default::default()
    };
    let mut out = Vec::new();
    for entry in listing.files {
        if taken(&entry.name) {
            let url = prefix.url_of(&entry.name);
            out.push(SourceFile::new(
                url.clone(),
                url,
                entry.name,
                At::Remote(Arc::clone(&prefix)),
            ));
        } else {
            other.files.push(entry.name);
        }
    }
    if !other.files.is_empty() || !other.dirs.is_empty() {
        skipped.push(other);
    }
    out
}

fn expand_url(
    s: &str,
    storage: &SessionStorage,
    skipped: &mut Vec<SkippedFiles>,
) -> Result<Vec<SourceFile>> {
    let list = |prefix: Arc<Prefix>| -> Result<Listing> {
        block_on(async move { prefix.entries().await })
    };
    // `scheme://authority/path`: the part after the authority, if any.
    let path_start = s
        .find("://")
        .and_then(|i| s[i + 3..].find('/').map(|j| i + 3 + j));
    let split = path_start
        .filter(|_| !s.ends_with('/'))
        .and_then(|_| s.rsplit_once('/'));
    let Some((parent, last)) = split else {
        // A prefix: `s3://bucket/raw/` or `s3://bucket`.
        let prefix = Arc::new(Prefix::open(s, storage)?);
        let listing = list(Arc::clone(&prefix))?;
        if listing.files.is_empty() && listing.dirs.is_empty() {
            return Err(Error::invalid(format!("{s}: no objects under this prefix")));
        }
        return Ok(prefix_files(s, prefix, listing, skipped));
    };
    if parent.contains(['*', '?', '[']) {
        return Err(Error::invalid(format!(
            "{s}: a glob may only be in the last part of a URL ({parent}/ has one)"
        )));
    }
    let prefix = Arc::new(Prefix::open(parent, storage)?);
    if last.contains(['*', '?', '[']) {
        let pattern =
            glob::Pattern::new(last).map_err(|e| Error::invalid(format!("{s}: bad glob: {e}")))?;
        let listing = list(Arc::clone(&prefix))?;
        let out: Vec<SourceFile> = listing
            .files
            .into_iter()
            .filter(|e| pattern.matches(&e.name))
            .map(|e| {
                let url = prefix.url_of(&e.name);
                SourceFile::new(url.clone(), url, e.name, At::Remote(Arc::clone(&prefix)))
            })
            .collect();
        if out.is_empty() {
            return Err(Error::invalid(format!("{s}: no objects match")));
        }
        return Ok(out);
    }
    // One object, or else a prefix written without its `/`.
    let exists = {
        let (prefix, name) = (Arc::clone(&prefix), last.to_string());
        block_on(async move { prefix.size_of(&name).await })?
    };
    if exists.is_some() {
        let url = prefix.url_of(last);
        return Ok(vec![SourceFile::new(
            url.clone(),
            url,
            last.to_string(),
            At::Remote(prefix),
        )]);
    }
    let as_prefix = Arc::new(Prefix::open(&format!("{s}/"), storage)?);
    let listing = list(Arc::clone(&as_prefix))?;
    if listing.files.is_empty() && listing.dirs.is_empty() {
        return Err(Error::invalid(format!(
            "{s}: no such object, and no objects under {s}/"
        )));
    }
    Ok(prefix_files(s, as_prefix, listing, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_extensions_are_seen_through() {
        assert_eq!(
            codec_of("AAPL_full_1min.txt.gz"),
            (Some(Codec::Gzip), "AAPL_full_1min.txt")
        );
        assert_eq!(codec_of("t.CSV.ZST"), (Some(Codec::Zstd), "t.CSV"));
        assert_eq!(codec_of("t.csv"), (None, "t.csv"));
        assert_eq!(codec_of(".gz"), (None, ".gz"));
        assert!(taken("a.csv.gz") && taken("a.TXT.zst") && taken("a.txt"));
        assert!(!taken("a.json") && !taken("a.parquet") && !taken("a.gz"));
        assert_eq!(unsupported_codec("a.csv.bz2"), Some("bzip2"));
    }

    #[test]
    fn skipped_files_are_named() {
        let s = SkippedFiles {
            place: "raw".into(),
            files: vec!["a.json".into(), "b.parquet".into()],
            dirs: vec!["date=2024-01-02".into()],
        };
        assert_eq!(
            s.to_string(),
            "skipped 2 files in raw with extensions other than .csv/.txt[.gz|.zst]: a.json, b.parquet (name them as sources to ingest them); \
             skipped 1 sub-directory of raw (sources are not recursive): date=2024-01-02/ (name them, or a glob, as sources to ingest them)"
        );
    }

    #[test]
    fn a_directory_reports_what_it_does_not_read() -> Result<()> {
        let dir = tempfile::tempdir().context("temp dir")?;
        for name in ["a.csv", "b.txt.gz", "c.json", "d.parquet"] {
            fs::write(dir.path().join(name), "x").context(name)?;
        }
        fs::create_dir(dir.path().join("date=2024-01-02")).context("mkdir")?;
        let place = dir.path().display().to_string();
        let got = expand_sources(std::slice::from_ref(&place), &SessionStorage::default())?;
        let names: Vec<&str> = got.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.csv", "b.txt"]);
        assert_eq!(
            got.skipped,
            [SkippedFiles {
                place: place.clone(),
                files: vec!["c.json".into(), "d.parquet".into()],
                dirs: vec!["date=2024-01-02".into()],
            }]
        );
        // Named explicitly, any extension is read.
        let json = dir.path().join("c.json").display().to_string();
        let got = expand_sources(&[json], &SessionStorage::default())?;
        assert_eq!(got.files.len(), 1);
        assert!(got.skipped.is_empty());
        // Only unknown files: the error says which.
        let other = tempfile::tempdir().context("temp dir")?;
        fs::write(other.path().join("x.json"), "x").context("x.json")?;
        let err = expand_sources(
            &[other.path().display().to_string()],
            &SessionStorage::default(),
        )
        .expect_err("no sources");
        assert!(err.to_string().contains("x.json"), "{err}");
        Ok(())
    }

    #[test]
    fn gzip_and_zstd_decompress_and_corruption_names_the_file() -> Result<()> {
        use std::io::Write;
        let text = b"2024-01-02,09:30:00,AAPL,1.5,100,Q,,1\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text).context("gzip")?;
        let gz = gz.finish().context("gzip")?;
        let zst = zstd::stream::encode_all(&text[..], 3).context("zstd")?;
        let file = |stored: &str| {
            SourceFile::new(
                format!("raw/{stored}"),
                stored.into(),
                stored.into(),
                At::Local(PathBuf::from(stored)),
            )
        };
        assert_eq!(file("t.csv.gz").contents(&gz)?.as_ref(), text);
        assert_eq!(file("t.csv.zst").contents(&zst)?.as_ref(), text);
        assert_eq!(file("t.csv").contents(text)?.as_ref(), text);
        let err = file("t.csv.gz").contents(text).expect_err("not gzip");
        assert!(err.to_string().starts_with("raw/t.csv.gz: "), "{err}");
        let err = file("t.csv.bz2").contents(text).expect_err("bzip2");
        assert!(err.to_string().contains("bzip2"), "{err}");
        Ok(())
    }
}
