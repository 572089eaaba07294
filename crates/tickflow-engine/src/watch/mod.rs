//! `tickflow watch`: keeps a bar table current as trade files arrive, exactly once.
//!
//! Each trigger takes the next files (by name) from a directory or object storage prefix: trade
//! CSV files, parsed with ingest's rules (a bad row stops the watcher with `file:line:column:
//! reason`; nothing of that trigger is committed), or Parquet trade files ([`parquet_rows`]).
//! It updates the bars of `sql/01_bars.sql` (or of a `--bars FILE.sql`, [`bars::BarDefinition`])
//! incrementally ([`bars`]): partial aggregate states of the new trades are merged with the
//! states of the buckets still open; a bucket whose end is at or before the watermark (the
//! largest trade time taken so far) is closed, finished and written once. The work of a trigger
//! grows with its new trades and the open buckets (about one per symbol), not with the history.
//!
//! **Exactly once.** See [`checkpoint`]: the checkpoint names the files done and holds the open
//! buckets' states; its atomic replacement commits a trigger. A watcher killed at any instant
//! and restarted resumes from the last commit: no file is lost or counted twice.
//!
//! **Late trades.** With `allowed_lateness` L, a bucket closes when its end is at or before the
//! watermark minus L, so trades up to L behind the latest one are still merged. A trade whose
//! bucket was already closed when it arrived is not merged into a bar that was already written: it is diverted, with every column, to `OUT/_late/late-<trigger>.parquet` and counted
//! (`late_rows` in the checkpoint and the progress line). `SELECT * FROM 'OUT/_late/'` shows them.
//!
//! **End of input.** With `flush`, once no file is left every open bucket is closed and written;
//! the table then equals a batch run of `01_bars.sql` over every file (without late trades).
//!
//! **Open bars.** With [`Emit::Complete`] each trigger also publishes the live view
//! `OUT/_live/`: every bar, the open ones at their current values ([`live`]).
//!
//! ```sql
//! -- the bar table, at any moment: every committed trigger's closed bars
//! CREATE EXTERNAL TABLE bars STORED AS PARQUET LOCATION 'OUT/';
//! ```

pub mod bars;
pub mod checkpoint;
pub mod live;
pub mod parquet_rows;
pub mod sources;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use datafusion::arrow::array::{AsArray, Date32Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimestampNanosecondType};
use datafusion::arrow::ipc::reader::FileReader;
use datafusion::arrow::ipc::writer::FileWriter;
use datafusion::parquet::arrow::ArrowWriter;

use crate::bars::BarWidth;
use crate::error::{Context, Error, Result};
use crate::ingest::parse::{self, ParseOptions, Shape};
use crate::ingest::seq::SeqBase;
use crate::storage::SessionStorage;
use crate::table_lock::TableLock;
use bars::{BarDefinition, BarQuery, States};
use checkpoint::{Checkpoint, LATE_DIR, Layout};
use live::LIVE_DIR;
use sources::{Arrived, Source};

/// What to watch and how.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// A directory or object storage prefix (`s3://bucket/incoming/`) where trade files arrive.
    pub source: String,
    /// The bar table directory.
    pub out: PathBuf,
    /// Bar width (`1 minute`, `5 minutes`).
    pub width: BarWidth,
    /// Files taken per trigger at most.
    pub files_per_trigger: usize,
    /// How far behind the latest trade a trade may arrive and still be merged: a bucket closes
    /// when its end is at or before the latest trade time minus this (Spark's `withWatermark`).
    pub allowed_lateness: std::time::Duration,
    pub parse: ParseOptions,
    pub storage: SessionStorage,
    /// What a bar is (`sql/01_bars.sql`, or a `--bars FILE.sql`).
    pub bars: BarDefinition,
    /// Emit mode: closed bars only, or also the live view of every bar (see [`live`]).
    pub emit: Emit,
    /// How long a new file must stay the same size and age before it is taken (see
    /// [`sources`]).
    pub settle: std::time::Duration,
}

/// What a trigger publishes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Emit {
    /// The bars it closed, into `OUT/` (Spark's append mode).
    #[default]
    Append,
    /// Also every bar with the open ones at their current values, into `OUT/_live/` (Spark's
    /// complete mode); `OUT/` still holds the closed bars only.
    Complete,
}

/// What one trigger did (the progress line).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TriggerSummary {
    pub trigger: u64,
    pub files: usize,
    pub rows: u64,
    pub late_rows: u64,
    pub bars_written: u64,
    pub open_bars: u64,
    pub seconds: f64,
}

impl std::fmt::Display for TriggerSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "trigger {}: {} file(s), {} trades ({} late), {} bars written, {} open, {:.2} s",
            self.trigger,
            self.files,
            self.rows,
            self.late_rows,
            self.bars_written,
            self.open_bars,
            self.seconds
        )
    }
}

/// A watcher bound to its source and bar table, resumed from the last commit.
#[derive(Debug)]
pub struct Watcher {
    opts: WatchOptions,
    source: Source,
    layout: Layout,
    query: BarQuery,
    checkpoint: Checkpoint,
    done: HashSet<String>,
    /// The new files of the last listing and their (size, modification time): a file is
    /// taken when the next listing finds it the same.
    seen: std::collections::HashMap<String, (u64, i64)>,
    /// The table is this watcher's while it lives.
    _lock: TableLock,
}

/// Columns of the trades a trigger aggregates: ingest's, plus the trade date.
pub fn rows_schema() -> SchemaRef {
    let trades = parse::output_schema(Shape::Trades);
    let mut fields: Vec<Field> = trades.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("date", DataType::Date32, false));
    Arc::new(Schema::new(fields))
}

impl Watcher {
    /// Opens the bar table (creating it), recovers from a killed run, checks the source.
    pub async fn open(opts: WatchOptions) -> Result<Watcher> {
        let query = Self::bar_query(&opts.width, &opts.bars).await?;
        let layout = Layout {
            out: opts.out.clone(),
        };
        // Before recovery, which deletes what another watcher may still be writing.
        let lock = TableLock::acquire(&layout.watch_dir().join("watcher.lock"), "tickflow watch")
            .map_err(|e| match e {
            Error::Invalid(v) => Error::invalid(format!("{}: {}", opts.out.display(), v.0)),
            other => other,
        })?;
        let mut checkpoint = layout.recover()?;
        let bar_sql = (!opts.bars.is_default()).then(|| opts.bars.text.clone());
        let live = opts.emit == Emit::Complete;
        if checkpoint.trigger == 0 {
            checkpoint.width = opts.width.to_string();
            checkpoint.bar_sql = bar_sql;
            checkpoint.live = live;
        } else if checkpoint.width != opts.width.as_str() {
            return Err(Error::invalid(format!(
                "{} holds {} bars; it cannot continue with {} bars (use another --out)",
                opts.out.display(),
                checkpoint.width,
                opts.width
            )));
        } else if checkpoint.bar_sql != bar_sql {
            return Err(Error::invalid(format!(
                "{} holds bars of another definition than {}; it cannot continue with it \
                 (use another --out)",
                opts.out.display(),
                opts.bars.name
            )));
        } else if checkpoint.live != live {
            return Err(Error::invalid(format!(
                "{} was built {} --emit complete; continue it the same way (or use another --out): \
                 its live view would miss bars",
                opts.out.display(),
                if checkpoint.live { "with" } else { "without" }
            )));
        }
        let zone = opts.parse.source_tz.name();
        match &checkpoint.source_tz {
            Some(recorded) if checkpoint.trigger > 0 && recorded != zone => {
                return Err(Error::invalid(format!(
                    "{} holds trades read with --source-tz {recorded}; it cannot continue with \
                     --source-tz {zone}: the same local times would be other instants (use \
                     --source-tz {recorded}, or another --out)",
                    opts.out.display()
                )));
            }
            _ => checkpoint.source_tz = Some(zone.to_string()),
        }
        if live {
            let dir = opts.out.join(LIVE_DIR);
            fs::create_dir_all(&dir).context(dir.display())?;
        }
        let source = Source::open(&opts.source, &opts.storage)?;
        source.check().await?;
        let done = checkpoint.files.iter().cloned().collect();
        Ok(Watcher {
            opts,
            source,
            layout,
            query,
            checkpoint,
            done,
            seen: Default::default(),
            _lock: lock,
        })
    }

    /// The bar query of `bars` at `width`, checked: an error names the file and what cannot be
    /// computed in steps.
    pub async fn bar_query(width: &BarWidth, bars: &BarDefinition) -> Result<BarQuery> {
        let query = BarQuery::new(width, rows_schema(), bars)?;
        query.check().await?;
        Ok(query)
    }

    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// Runs one trigger over the next files. `None` when no new file has arrived.
    pub async fn trigger(&mut self) -> Result<Option<TriggerSummary>> {
        let started = Instant::now();
        let new = loop {
            let arrived = self.source.list().await?;
            self.check_taken(&arrived)?;
            let new: Vec<Arrived> = arrived
                .into_iter()
                .filter(|f| !self.done.contains(&f.name))
                .collect();
            if new.is_empty() {
                return Ok(None);
            }
            // In name order, up to the first file that has not settled.
            let settled: Vec<Arrived> = new
                .iter()
                .take_while(|f| self.seen.get(&f.name) == Some(&f.version()))
                .take(self.opts.files_per_trigger.max(1))
                .cloned()
                .collect();
            self.seen = new.iter().map(|f| (f.name.clone(), f.version())).collect();
            if !settled.is_empty() {
                break settled;
            }
            tokio::time::sleep(self.opts.settle).await;
        };
        let mut rows = Vec::new();
        let mut taken = Vec::new();
        for (i, file) in new.into_iter().enumerate() {
            let data = self.source.read(&file.name).await?;
            if data.len() as u64 != file.size {
                // Changed since it was listed: not settled after all; the next trigger looks
                // again.
                self.seen.remove(&file.name);
                break;
            }
            let index = (self.checkpoint.files.len() + i) as u64;
            rows.push(self.parse(&file.name, data, index)?);
            taken.push(file);
        }
        if taken.is_empty() {
            return Ok(None);
        }
        let summary = self.step(&taken, rows, false).await?;
        Ok(Some(TriggerSummary {
            seconds: started.elapsed().as_secs_f64(),
            ..summary
        }))
    }

    /// Closes and writes every open bucket (end of input). `None` when none is open.
    pub async fn flush(&mut self) -> Result<Option<TriggerSummary>> {
        if self.checkpoint.state.is_none() {
            return Ok(None);
        }
        let started = Instant::now();
        let summary = self.step(&[], Vec::new(), true).await?;
        Ok(Some(TriggerSummary {
            seconds: started.elapsed().as_secs_f64(),
            ..summary
        }))
    }

    /// A file's trades with their date column.
    fn parse(&self, name: &str, data: bytes::Bytes, index: u64) -> Result<RecordBatch> {
        let display = format!("{}/{name}", self.source.display);
        if name.to_ascii_lowercase().ends_with(".parquet") {
            return parquet_rows::parquet_rows(&display, data, self.opts.parse.source_tz);
        }
        let mut opts = self.opts.parse.clone();
        opts.shape = Some(Shape::Trades);
        let parsed = parse::parse_file(
            &display,
            name,
            &data,
            SeqBase::new(0, index)?,
            &opts,
            true,
            &AtomicU64::new(0),
        )?;
        // The trade columns; a file's other columns are not part of a bar.
        let trades = parse::output_schema(Shape::Trades).fields().len();
        let mut columns = parsed.batch.columns()[..trades].to_vec();
        columns.push(Arc::new(Date32Array::from(parsed.dates)));
        RecordBatch::try_new(rows_schema(), columns).context(display)
    }

    /// A taken file whose size or modification time is not what it was when taken: an error
    /// naming it, since its new contents would never be read.
    fn check_taken(&self, arrived: &[Arrived]) -> Result<()> {
        for f in arrived {
            if let Some(&(size, modified)) = self.checkpoint.taken.get(&f.name)
                && (size, modified) != f.version()
            {
                return Err(Error::invalid(format!(
                    "{}/{} changed after it was taken ({size} bytes then, {} now): what was \
                     added would never be read; put new trades in a new file (restore this one \
                     to go on)",
                    self.source.display, f.name, f.size
                )));
            }
        }
        Ok(())
    }

    /// One trigger: late split, partial states, merge, close, write, commit, publish.
    async fn step(
        &mut self,
        files: &[Arrived],
        rows: Vec<RecordBatch>,
        flush: bool,
    ) -> Result<TriggerSummary> {
        let schema = rows_schema();
        let q = &self.query;
        let trigger = self.checkpoint.trigger + 1;
        let lateness = i64::try_from(self.opts.allowed_lateness.as_nanos()).unwrap_or(i64::MAX);
        let (late, on_time) = match self.checkpoint.watermark {
            Some(wm) => {
                q.split_closed(
                    rows,
                    Arc::clone(&schema),
                    "ts",
                    false,
                    wm.saturating_sub(lateness),
                )
                .await?
            }
            None => (Vec::new(), rows),
        };
        let new_rows: u64 = on_time.iter().map(|b| b.num_rows() as u64).sum();
        let late_rows: u64 = late.iter().map(|b| b.num_rows() as u64).sum();
        let watermark = on_time
            .iter()
            .filter_map(|b| {
                let ts = b.column(1).as_primitive::<TimestampNanosecondType>();
                datafusion::arrow::compute::max(ts)
            })
            .chain(self.checkpoint.watermark)
            .max();

        let mut states = self.load_state()?;
        if !on_time.is_empty() {
            let partial = q.partial(on_time).await?;
            states = Some(match states {
                Some(open) => open.concat(partial),
                None => partial,
            });
        }
        let (closed, open) = match states {
            None => (Vec::new(), None),
            Some(states) => {
                // `None` closes every bucket (the end of the input).
                let close_until =
                    (!flush).then(|| watermark.unwrap_or(i64::MIN).saturating_sub(lateness));
                q.close(states, close_until).await?
            }
        };
        let bars_written: u64 = closed.iter().map(|b| b.num_rows() as u64).sum();
        let open_bars = open.as_ref().map_or(0, |s| s.rows() as u64);

        // Write everything of this trigger, then commit, then publish.
        let mut outputs = Vec::new();
        if bars_written > 0 {
            let name = format!("bars-{trigger:08}.parquet");
            write_parquet(&self.layout.pending_dir().join(&name), &closed)?;
            outputs.push((name.clone(), name));
        }
        if self.opts.emit == Emit::Complete {
            outputs.extend(self.live_outputs(trigger, &closed, open.as_ref()).await?);
        }
        if late_rows > 0 {
            let name = format!("late-{trigger:08}.parquet");
            write_parquet(&self.layout.pending_dir().join(&name), &late)?;
            outputs.push((name.clone(), format!("{LATE_DIR}/{name}")));
        }
        let state = match &open {
            Some(states) => {
                let name = format!("state-{trigger:08}.arrow");
                write_ipc(&self.layout.watch_dir().join(&name), states)?;
                Some(name)
            }
            None => None,
        };
        let previous_state = self.checkpoint.state.clone();
        let mut next = self.checkpoint.clone();
        next.trigger = trigger;
        next.files.extend(files.iter().map(|f| f.name.clone()));
        next.taken
            .extend(files.iter().map(|f| (f.name.clone(), f.version())));
        next.watermark = watermark;
        next.rows += new_rows;
        next.late_rows += late_rows;
        next.bars += bars_written;
        next.state = state;
        next.outputs = outputs;
        self.layout.commit(&next)?;
        for (pending, destination) in &next.outputs {
            self.layout
                .publish(&self.layout.pending_dir().join(pending), destination)?;
        }
        if let Some(old) = previous_state {
            let _ = fs::remove_file(self.layout.watch_dir().join(old));
        }
        if self.opts.emit == Emit::Complete {
            live::drop_old_snapshots(&self.opts.out.join(LIVE_DIR));
        }
        self.done.extend(files.iter().map(|f| f.name.clone()));
        self.checkpoint = next;
        Ok(TriggerSummary {
            trigger,
            files: files.len(),
            rows: new_rows + late_rows,
            late_rows,
            bars_written,
            open_bars,
            seconds: 0.0,
        })
    }

    /// The live view's files of trigger `trigger` (see [`live`]), written to `pending/`: the
    /// bars it closed, and the snapshot of those and of the open bars' current values.
    /// Nothing when no bar changed.
    async fn live_outputs(
        &self,
        trigger: u64,
        closed: &[RecordBatch],
        open: Option<&States>,
    ) -> Result<Vec<(String, String)>> {
        let current = match open {
            Some(states) => self.query.current(states).await?,
            None => Vec::new(),
        };
        let Some(schema) = closed.iter().chain(&current).map(|b| b.schema()).next() else {
            return Ok(Vec::new());
        };
        let schema = live::live_schema(&schema)?;
        let mut outputs = Vec::new();
        let mut snapshot = Vec::new();
        if !closed.is_empty() {
            let name = format!("closed-{trigger:08}.parquet");
            let rows = live::with_live_columns(&schema, closed, trigger, None, false)?;
            write_parquet(&self.layout.pending_dir().join(&name), &rows)?;
            outputs.push((name.clone(), format!("{LIVE_DIR}/{name}")));
            snapshot.extend(live::with_live_columns(
                &schema,
                closed,
                trigger,
                Some(trigger),
                false,
            )?);
        }
        snapshot.extend(live::with_live_columns(
            &schema,
            &current,
            trigger,
            Some(trigger),
            true,
        )?);
        let name = format!("open-{trigger:08}.parquet");
        write_parquet(&self.layout.pending_dir().join(&name), &snapshot)?;
        outputs.push((name.clone(), format!("{LIVE_DIR}/{name}")));
        Ok(outputs)
    }

    fn load_state(&self) -> Result<Option<States>> {
        let Some(name) = &self.checkpoint.state else {
            return Ok(None);
        };
        let path = self.layout.watch_dir().join(name);
        let file = fs::File::open(&path).context(path.display())?;
        let reader = FileReader::try_new(file, None)
            .context(format!("{}: not a state file", path.display()))?;
        let schema = reader.schema();
        let batches = reader
            .collect::<Result<Vec<_>, _>>()
            .context(path.display())?;
        Ok(Some(States { schema, batches }))
    }
}

/// Writes batches to a new Parquet file, fsynced.
fn write_parquet(path: &Path, batches: &[RecordBatch]) -> Result<()> {
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let file = fs::File::create(path).context(path.display())?;
    let mut writer = ArrowWriter::try_new(file, first.schema(), None).context(path.display())?;
    for b in batches {
        writer.write(b).context(path.display())?;
    }
    let file = writer.into_inner().context(path.display())?;
    file.sync_all().context(path.display())
}

/// Writes states to a new Arrow IPC file (types round-trip exactly), fsynced.
fn write_ipc(path: &Path, states: &States) -> Result<()> {
    let file = fs::File::create(path).context(path.display())?;
    let mut writer = FileWriter::try_new(file, &states.schema).context(path.display())?;
    for b in &states.batches {
        writer.write(b).context(path.display())?;
    }
    writer.finish().context(path.display())?;
    let file = writer.into_inner().context(path.display())?;
    file.sync_all().context(path.display())
}
