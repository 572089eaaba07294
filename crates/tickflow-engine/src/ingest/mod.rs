//! `tickflow ingest`: CSV files → hive-partitioned Parquet (`DIR/date=YYYY-MM-DD/*.parquet`, or
//! by month, year, none, and the symbol: [`layout`]), in a local directory or under an object
//! storage prefix (`s3://bucket/trades/`, see [`destination`]). The sources are local files, globs,
//! directories or object storage URLs, optionally gzip or Zstandard compressed (see [`sources`]).
//!
//! * Each output file is sorted by `(symbol, ts)` and has a `seq` column that keeps source
//!   order, unique across every run into one directory: the run's number, the file's position
//!   among the run's sorted sources and the line, as bit fields ([`seq`]). Within a file `seq`
//!   increases with the line, so `ohlc(ts, price, seq)` breaks ties of equal `ts` the way the
//!   file did. A TAQ file's own sequence number is kept as `source_seq`.
//! * Nothing is visible before the end, and a run is published at once as far as the file
//!   system allows ([`publish`]): a new directory is staged whole and renamed into place; into
//!   an existing one, the staged files are renamed back to back under a journal, after which the
//!   manifest is written. A killed run leaves its staging directory (removed by the next run) or
//!   its journal (the next run finishes the publication first).
//! * The manifest records the table's partitioning; a run asking for another is an error.
//! * Output names are `<source-stem>-<hash8 of the source's key>.parquet` (the key is the
//!   canonical path, or the URL of a remote source; the stem is the name without its
//!   compression extension), so a rerun (after a crash, or with a changed source) writes the
//!   same names and replaces the previous files.
//! * The manifest (`DIR/_tickflow/ingest.json`) records every source's content hash (of its
//!   bytes as stored) under its key; a source with an unchanged hash is skipped, a changed one
//!   replaces its previous outputs.
//! * Every column of a source is kept. The types of the columns without a fixed type (a bar's
//!   volume, the columns a shape does not know) are decided once per run, before parsing, from
//!   `--schema`, the types the manifest recorded, and a scan of those fields in every source
//!   ([`schema`]), so every file of the table has one schema.
//! * With `--rejects`, more rejected rows than `--max-rejects` (default: a file with rejected
//!   rows and no good row) fail the run: the rejects file is written, nothing is published.

pub mod destination;
pub mod layout;
pub mod manifest;
pub mod parse;
pub mod publish;
mod records;
pub mod schema;
pub mod seq;
mod shapes;
pub mod sources;
mod time;
pub mod write;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

pub use layout::{Partitioning, TimeLevel};
pub use parse::{ParseOptions, Shape, SymbolFromName};
pub use schema::{ColType, parse_schema};
pub use sources::{SkippedFiles, SourceFile, expand_sources};
pub use time::{Ambiguous, Nonexistent};

use crate::error::{BoxError, Context, Error, Result};

use destination::Destination;
use manifest::{Manifest, SourceEntry, fnv1a64};
use seq::SeqBase;
use write::StagedFile;

/// What to ingest and how.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Files, globs, directories (every `*.csv` / `*.txt`, also `.gz` / `.zst`, inside, not
    /// recursive) or object storage URLs (a prefix, an object, a glob in the last part); see
    /// [`sources`].
    pub sources: Vec<String>,
    /// A directory, or an object storage prefix (`s3://bucket/trades`).
    pub out: PathBuf,
    pub parse: ParseOptions,
    /// Keep going on bad rows and write them here; `None`: the first bad row fails the run.
    pub rejects: Option<PathBuf>,
    /// Files parsed at the same time.
    pub jobs: usize,
    /// Options of object storage sources and `out` (`s3.endpoint`, ...) on top of the
    /// environment.
    pub storage: crate::storage::SessionStorage,
    /// With `rejects`: the run fails (publishing nothing) when more rows than this are
    /// rejected. `None`: it fails when a file had rejected rows and no good row.
    pub max_rejects: Option<RejectLimit>,
    /// `--partition-by`; `None`: the one the table's manifest records, else `date`.
    pub partition_by: Option<Partitioning>,
}

/// `--max-rejects`: a number of rows (`100`) or a fraction of the rows read (`1%`, `0.01`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RejectLimit {
    Rows(u64),
    Fraction(f64),
}

impl std::str::FromStr for RejectLimit {
    type Err = crate::error::InvalidValue;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || {
            crate::error::InvalidValue(format!(
                "'{s}' is not a number of rows (100) or a fraction (1%, 0.01)"
            ))
        };
        let fraction = if let Some(p) = t.strip_suffix('%') {
            p.trim().parse::<f64>().map_err(|_| bad())? / 100.0
        } else if t.contains('.') {
            t.parse::<f64>().map_err(|_| bad())?
        } else {
            return t.parse::<u64>().map(RejectLimit::Rows).map_err(|_| bad());
        };
        if !(0.0..=1.0).contains(&fraction) {
            return Err(bad());
        }
        Ok(RejectLimit::Fraction(fraction))
    }
}

impl std::fmt::Display for RejectLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Rows(n) => write!(f, "{n}"),
            Self::Fraction(x) => write!(f, "{}%", x * 100.0),
        }
    }
}

/// Counters a progress display can read while an ingest runs.
#[derive(Debug, Default)]
pub struct Progress {
    pub rows: AtomicU64,
    pub files_done: AtomicU64,
    pub files_total: AtomicU64,
}

/// What an ingest did.
#[derive(Debug, Clone, Default)]
pub struct IngestSummary {
    /// Source files found.
    pub files: usize,
    /// Sources skipped because the manifest has them with the same content hash.
    pub skipped: usize,
    /// Rows ingested (written).
    pub rows: u64,
    /// Rows rejected (written to the rejects file).
    pub rejected: u64,
    /// Distinct partitions (directories) written to.
    pub partitions: usize,
    /// Parquet files written.
    pub files_written: usize,
    /// Output files of changed sources that were removed.
    pub files_removed: usize,
    pub seconds: f64,
    pub out: PathBuf,
    /// The table's partitioning.
    pub partitioning: Partitioning,
    /// The run's number (`seq`'s run field, [`seq`]).
    pub run: u64,
    /// A killed run (its process id) whose publication this run finished first.
    pub recovered: Option<u32>,
    /// Files in the source directories and prefixes that were not read (other extensions,
    /// sub-directories), for the user to see.
    pub skipped_files: Vec<SkippedFiles>,
}

impl IngestSummary {
    pub fn rows_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            (self.rows + self.rejected) as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Output file name (without extension) of a source: `<stem>-<hash8 of its key>`, the stem
/// from its name without a compression extension.
fn output_name(file: &SourceFile) -> String {
    let stem: String = Path::new(&file.name)
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let h = fnv1a64(file.key.as_bytes());
    format!("{stem}-{:08x}", h >> 32)
}

/// The result of one source file.
#[derive(Debug)]
enum FileOutcome {
    Skipped,
    Done {
        entry: SourceEntry,
        staged: Vec<StagedFile>,
        rejects: Vec<parse::Reject>,
    },
}

/// Removes the staging directory when dropped (on success and on error; after a publication
/// it is gone or empty), unless a failed publication's journal may still need it (`.1`).
struct Staging(PathBuf, bool);

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.1 {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// Runs an ingest. Blocking; parses `opts.jobs` files at a time on scoped threads.
pub fn ingest(opts: &IngestOptions, progress: &Progress) -> Result<IngestSummary> {
    let started = Instant::now();
    let expanded = expand_sources(&opts.sources, &opts.storage)?;
    let files = expanded.files;
    progress
        .files_total
        .store(files.len() as u64, Ordering::Relaxed);
    let destination = Destination::open(&opts.out, &opts.storage)?;
    let old_manifest = destination.load_manifest()?;
    let mut manifest = old_manifest.clone();
    let layout = run_partitioning(opts.partition_by, &manifest, &opts.out)?;
    let run = manifest.next_run();
    // Checked before any work: the run number and every file's must fit their seq fields.
    SeqBase::new(run, files.len().saturating_sub(1) as u64)?;
    // One type per column for the whole table: decided before any file is parsed.
    let types = run_types(&files, &opts.parse, &manifest, &opts.out)?;
    let opts = &IngestOptions {
        parse: ParseOptions {
            types: types.clone(),
            ..opts.parse.clone()
        },
        ..opts.clone()
    };
    let staging_dir = destination.staging_dir();
    fs::create_dir_all(&staging_dir).context(staging_dir.display())?;
    let mut staging = Staging(staging_dir, false);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<FileOutcome>>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    let strict = opts.rejects.is_none();
    let jobs = opts.jobs.clamp(1, files.len());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= files.len() || failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let result = ingest_one(
                        &files[i],
                        (run, i as u64),
                        &layout,
                        opts,
                        &manifest,
                        &staging.0,
                        strict,
                        progress,
                    );
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    progress.files_done.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(result);
                    }
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|e| Error::internal(e.to_string()))?;
    let mut outcomes = Vec::with_capacity(files.len());
    for r in results {
        match r {
            Some(Ok(o)) => outcomes.push(o),
            Some(Err(e)) => return Err(e),
            None => {}
        }
    }
    if outcomes.len() != files.len() {
        return Err(Error::internal("ingest stopped before every file was read"));
    }

    let mut summary = IngestSummary {
        files: files.len(),
        out: opts.out.clone(),
        partitioning: layout,
        run,
        recovered: match &destination {
            Destination::Local(local) => local.recovered,
            Destination::Remote(_) => None,
        },
        skipped_files: expanded.skipped,
        ..Default::default()
    };
    // The rejects file first: if it cannot be written, nothing is published.
    if let Some(path) = &opts.rejects {
        write_rejects(path, &files, &outcomes)?;
    }
    check_rejects(&files, &outcomes, opts)?;
    let mut partitions = BTreeSet::new();
    let mut published = Vec::new();
    let mut removes = Vec::new();
    let mut changed = false;
    for (i, outcome) in outcomes.into_iter().enumerate() {
        let (entry, staged) = match outcome {
            FileOutcome::Skipped => {
                summary.skipped += 1;
                continue;
            }
            FileOutcome::Done { entry, staged, .. } => (entry, staged),
        };
        changed = true;
        for f in &staged {
            partitions.insert(
                f.relative
                    .rsplit_once('/')
                    .map_or("", |(d, _)| d)
                    .to_string(),
            );
        }
        summary.files_written += staged.len();
        published.extend(staged);
        let key = files[i].key.clone();
        if let Some(old) = manifest.sources.get(&key) {
            removes.extend(
                old.outputs
                    .iter()
                    .filter(|o| !entry.outputs.contains(o))
                    .cloned(),
            );
        }
        summary.rows += entry.rows;
        summary.rejected += entry.rejected;
        manifest.sources.insert(key, entry);
    }
    summary.files_removed = removes.len();
    for (name, ty) in &types {
        manifest.columns.insert(name.clone(), ty.to_string());
    }
    manifest.partitioning = Some(layout.to_string());
    // A run that wrote rows took its run number; a run that only skipped did not.
    manifest.next_run = Some(if changed { run + 1 } else { run });
    let result =
        destination.publish_run(&staging.0, &published, &removes, &old_manifest, &manifest);
    // Into an existing local directory the journal may name the staged files: the next run
    // finishes from them (or, without a journal, removes them).
    staging.1 =
        result.is_err() && matches!(&destination, Destination::Local(local) if !local.fresh);
    result?;
    drop(staging);
    summary.partitions = partitions.len();
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
fn ingest_one(
    file: &SourceFile,
    (run, index): (u64, u64),
    layout: &Partitioning,
    opts: &IngestOptions,
    manifest: &Manifest,
    staging: &Path,
    strict: bool,
    progress: &Progress,
) -> Result<FileOutcome> {
    let display = &file.display;
    let raw = file.read_raw()?;
    let hash = format!("{:016x}", fnv1a64(&raw));
    if manifest
        .sources
        .get(&file.key)
        .is_some_and(|e| e.hash == hash && e.size == raw.len() as u64)
    {
        return Ok(FileOutcome::Skipped);
    }
    let data = file.contents(&raw)?;
    let parsed = parse::parse_file(
        display,
        &file.name,
        &data,
        SeqBase::new(run, index)?,
        &opts.parse,
        strict,
        &progress.rows,
    )?;
    let staged = write::write_partitions(&parsed, staging, &output_name(file), display, layout)?;
    let entry = SourceEntry {
        size: raw.len() as u64,
        hash,
        rows: parsed.batch.num_rows() as u64,
        rejected: parsed.rejects.len() as u64,
        outputs: staged.iter().map(|f| f.relative.clone()).collect(),
    };
    Ok(FileOutcome::Done {
        entry,
        staged,
        rejects: parsed.rejects,
    })
}

/// The run's partitioning: `--partition-by`, which must be the table's if its manifest records
/// one (else an error naming the ways out), or the recorded one, or `date`.
fn run_partitioning(
    asked: Option<Partitioning>,
    manifest: &Manifest,
    out: &Path,
) -> Result<Partitioning> {
    let what = manifest::manifest_path(out).display().to_string();
    match (asked, manifest.partitioning(&what)?) {
        (Some(asked), Some(recorded)) if asked != recorded => Err(Error::invalid(format!(
            "--partition-by {asked}: the table in {} is partitioned by {recorded} (recorded by an earlier ingest in _tickflow/ingest.json), and one table has one layout: give --partition-by {recorded} (or leave it out) to add to it, or ingest into a new directory (all sources) to lay them out by {asked}",
            out.display()
        ))),
        (Some(asked), _) => Ok(asked),
        (None, Some(recorded)) => Ok(recorded),
        (None, None) => Ok(Partitioning::default()),
    }
}

/// The types of the run's columns that have no fixed type: `--schema`'s, else the one the
/// table's manifest recorded (if every value of the run fits it; else an error naming the way
/// out), else inferred from every value of the run's files (a pre-scan of those fields only).
fn run_types(
    files: &[SourceFile],
    opts: &ParseOptions,
    manifest: &Manifest,
    out: &Path,
) -> Result<BTreeMap<String, ColType>> {
    let mut stats: BTreeMap<String, (schema::Stats, bool)> = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for file in files {
        let raw = file.read_raw()?;
        let data = file.contents(&raw)?;
        let (names, scanned) = parse::scan_file(&file.display, &file.name, &data, opts)?;
        seen.extend(names);
        for (name, s, integral) in scanned {
            let e = stats
                .entry(name)
                .or_insert((schema::Stats::default(), integral));
            e.0.merge(&s);
        }
    }
    let recorded = |name: &str| -> Result<Option<ColType>> {
        manifest
            .columns
            .get(name)
            .map(|t| {
                ColType::parse(t).map_err(|e| {
                    Error::invalid(format!("{}: manifest column '{name}': {e}", out.display()))
                })
            })
            .transpose()
    };
    let mut types = BTreeMap::new();
    for (name, ty) in &opts.schema {
        if !seen.contains(name) {
            return Err(Error::invalid(format!(
                "--schema names column '{name}', which no source file has (their columns: {})",
                seen.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        if let Some(old) = recorded(name)?
            && old != *ty
        {
            return Err(Error::invalid(format!(
                "--schema gives column '{name}' the type {ty}, but the table in {} has {name} {old} (recorded by an earlier ingest in _tickflow/ingest.json): ingest into a new directory with --schema '{name} {ty}', or drop --schema for {name}",
                out.display()
            )));
        }
        if *ty != ColType::Timestamp {
            types.insert(name.clone(), *ty);
        }
    }
    for (name, (s, integral)) in stats {
        if types.contains_key(&name) {
            continue;
        }
        let needed = s.infer(integral);
        let ty = match recorded(&name)? {
            Some(old) if s.fits(old, integral) => old,
            Some(old) => {
                return Err(Error::invalid(format!(
                    "column '{name}' needs {needed} for the values of this run, but the table in {} has {name} {old} (recorded by an earlier ingest in _tickflow/ingest.json), which cannot hold them exactly: ingest into a new directory (all sources, optionally with --schema '{name} {needed}'), or remove {} and ingest every source again",
                    out.display(),
                    out.display()
                )));
            }
            None => needed,
        };
        types.insert(name, ty);
    }
    Ok(types)
}

/// Whether the run may publish: with `--rejects`, more rejected rows than `--max-rejects`, or
/// (without it) a file whose every row was rejected, fails the run. Nothing is published then;
/// the rejects file was already written.
fn check_rejects(
    files: &[SourceFile],
    outcomes: &[FileOutcome],
    opts: &IngestOptions,
) -> Result<()> {
    let (mut rows, mut rejected) = (0u64, 0u64);
    let mut empty = Vec::new();
    for (file, outcome) in files.iter().zip(outcomes) {
        if let FileOutcome::Done { entry, .. } = outcome {
            rows += entry.rows;
            rejected += entry.rejected;
            if entry.rejected > 0 && entry.rows == 0 {
                empty.push(file.display.clone());
            }
        }
    }
    if rejected == 0 {
        return Ok(());
    }
    let total = rows + rejected;
    let why = match opts.max_rejects {
        Some(RejectLimit::Rows(n)) if rejected > n => Some(format!("more than --max-rejects {n}")),
        Some(RejectLimit::Fraction(f)) if rejected as f64 > f * total as f64 => Some(format!(
            "more than --max-rejects {} of the rows read",
            RejectLimit::Fraction(f)
        )),
        _ if rows == 0 => Some("every row was rejected".to_string()),
        None if !empty.is_empty() => Some(format!(
            "every row of {} was rejected (--max-rejects N or a fraction allows rejected rows)",
            empty.join(", ")
        )),
        _ => None,
    };
    match why {
        None => Ok(()),
        Some(why) => Err(Error::invalid(format!(
            "ingest failed: {rows} rows ingested, {rejected} rejected of {total}: {why}; nothing was published{}",
            opts.rejects
                .as_ref()
                .map(|p| format!(", the rejected rows are in {}", p.display()))
                .unwrap_or_default()
        ))),
    }
}

/// `file,line,column,reason,record` — `record` is the row's bytes as they were in the source.
fn write_rejects(path: &Path, files: &[SourceFile], outcomes: &[FileOutcome]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let write = || -> Result<(), BoxError> {
        let mut w = csv::Writer::from_writer(fs::File::create(&tmp)?);
        w.write_record(["file", "line", "column", "reason", "record"])?;
        for (file, outcome) in files.iter().zip(outcomes) {
            if let FileOutcome::Done { rejects, .. } = outcome {
                let name = &file.display;
                for r in rejects {
                    w.write_record([
                        name.as_bytes(),
                        r.line.to_string().as_bytes(),
                        r.column.to_string().as_bytes(),
                        r.reason.as_bytes(),
                        &r.raw,
                    ])?;
                }
            }
        }
        let mut f = w.into_inner().map_err(|e| e.into_error())?;
        f.flush()?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok(())
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        Error::format(format!("rejects file {}", path.display()), e)
    })
}

/// The statement that registers an ingested directory as a table: its partition columns
/// declared (they are VARCHAR), and the order every file has.
pub fn create_table_sql(name: &str, dir: &Path, layout: &Partitioning) -> String {
    let mut location = dir.display().to_string();
    if !location.ends_with('/') {
        location.push('/');
    }
    let columns = layout.columns();
    let partitioned = if columns.is_empty() {
        String::new()
    } else {
        format!(" PARTITIONED BY ({})", columns.join(", "))
    };
    // With symbol directories a file holds one symbol and is sorted by ts.
    let order = if layout.symbol {
        "ts ASC"
    } else {
        "symbol ASC, ts ASC"
    };
    format!(
        "CREATE EXTERNAL TABLE {name} STORED AS PARQUET{partitioned} LOCATION '{}' WITH ORDER ({order});",
        location.replace('\'', "''")
    )
}

#[cfg(test)]
mod tests;
