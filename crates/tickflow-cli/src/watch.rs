//! `tickflow watch`: keeps a bar table current as trade files arrive (see
//! `tickflow_engine::watch`). One progress line per trigger.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use datafusion::common::Result;

use crate::ingest::source_tz;
use tickflow_engine::bars::BarWidth;
use tickflow_engine::ingest::{Ambiguous, Nonexistent, ParseOptions};
use tickflow_engine::storage::options::parse_duration;
use tickflow_engine::watch::bars::BarDefinition;
use tickflow_engine::watch::{Emit, WatchOptions, Watcher};

/// Keep 01_bars.sql's bar table (or --bars FILE.sql's) current as trade files arrive, exactly
/// once.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  tickflow watch incoming/ --out bars/ --bar-width '1 minute'
  tickflow watch s3://desk/incoming/ --out bars/ --once --flush
  tickflow --table bars=bars/ sql -c \"SELECT * FROM bars ORDER BY start DESC LIMIT 5\"
  tickflow watch incoming/ --out bars/ --bars my_bars.sql --emit complete
  (closed bars: SELECT * FROM 'bars/'; every bar, open ones at their current values: the
   live view query of the README over 'bars/_live/')")]
pub struct WatchArgs {
    /// Directory or object storage prefix (s3://, az://, gs://) where trade files arrive (CSV as
    /// `tickflow ingest` reads them, or Parquet with symbol, ts, price, size, seq); files are
    /// taken in name order
    #[arg(value_name = "SOURCE")]
    pub source: String,
    /// The bar table directory (its bookkeeping is in OUT/_watch, late trades in OUT/_late)
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: PathBuf,
    /// Bar width: a positive interval, a fixed length ('1 minute', '5 minutes', '1 hour', '1 day')
    /// or whole months
    #[arg(long, default_value = "1 minute", value_name = "WIDTH")]
    pub bar_width: BarWidth,
    /// Files taken per trigger at most
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub files_per_trigger: usize,
    /// Time between looks for new files when none is waiting: seconds (5, 0.5) or a duration
    /// (500ms, 1m), at most a year
    #[arg(long, default_value = "5", value_name = "SECONDS", value_parser = parse_duration)]
    pub interval: Duration,
    /// How far behind the latest trade a trade may arrive and still be merged into its bar
    /// (e.g. 5m, 30s): bars close that much later. Older trades are diverted to OUT/_late
    #[arg(long, default_value = "0s", value_name = "DURATION", value_parser = parse_duration)]
    pub allowed_lateness: Duration,
    /// A new file is taken once two listings this far apart find the same size and
    /// modification time (so a file still being copied in is not read short)
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = parse_duration)]
    pub settle: Duration,
    /// Stop when no new file is waiting (instead of watching on)
    #[arg(long)]
    pub once: bool,
    /// With --once: at the end, close and write every open bar (the input is complete)
    #[arg(long, requires = "once")]
    pub flush: bool,
    /// The bar definition: a SQL file whose `CREATE TABLE ... AS SELECT` (or one SELECT) groups
    /// trades by time_bucket(INTERVAL '${bar_width}', ts) (and the symbol) with mergeable
    /// aggregates (ohlc, vwap, bar_std, total_volume, count, sum, min, max, avg,
    /// first_value/last_value with ORDER BY) and any projection over them. Default:
    /// sql/01_bars.sql
    #[arg(long, value_name = "FILE.sql")]
    pub bars: Option<PathBuf>,
    /// append: write closed bars only (OUT/*.parquet). complete: also keep the live view
    /// OUT/_live/, every bar with the open ones at their current values, after each trigger
    #[arg(long, value_enum, default_value = "append", value_name = "MODE")]
    pub emit: EmitMode,
    /// Time zone of the timestamps in the files (IANA name)
    #[arg(long, default_value = "America/New_York", value_name = "TZ")]
    pub source_tz: String,
    /// A local time that happens twice, in the hour repeated when clocks go back in --source-tz:
    /// raise (an error naming file:line:column, or a reject), earliest (the first instant, still
    /// daylight saving time) or latest (the second)
    #[arg(long, default_value = "raise", value_name = "raise|earliest|latest")]
    pub ambiguous: Ambiguous,
    /// A local time that never happens, in the hour skipped when clocks go forward in
    /// --source-tz: raise (an error naming file:line:column, or a reject), shift-forward (the
    /// first instant after the gap: 02:30 becomes 03:00) or shift-backward (the last nanosecond
    /// before it)
    #[arg(
        long,
        default_value = "raise",
        value_name = "raise|shift-forward|shift-backward"
    )]
    pub nonexistent: Nonexistent,
}

/// `--emit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EmitMode {
    Append,
    Complete,
}

/// A bad `--bars` is a bad argument: clap's message and exit status (2), nothing created.
fn bad_bars(message: impl std::fmt::Display) -> ! {
    clap::Error::raw(
        clap::error::ErrorKind::InvalidValue,
        format!("invalid value for '--bars <FILE.sql>': {message}\n"),
    )
    .exit()
}

/// Runs `tickflow watch`.
pub async fn run(args: WatchArgs) -> Result<()> {
    let source_tz = source_tz(&args.source_tz)?;
    let bars = match &args.bars {
        None => BarDefinition::default(),
        Some(path) => BarDefinition::from_file(path).unwrap_or_else(|e| bad_bars(e)),
    };
    // Checked before anything is created.
    if let Err(e) = Watcher::bar_query(&args.bar_width, &bars).await {
        bad_bars(e);
    }
    let mut watcher = Watcher::open(WatchOptions {
        source: args.source.clone(),
        out: args.out.clone(),
        width: args.bar_width.clone(),
        files_per_trigger: args.files_per_trigger,
        allowed_lateness: args.allowed_lateness,
        parse: ParseOptions {
            source_tz,
            ambiguous: args.ambiguous,
            nonexistent: args.nonexistent,
            ..ParseOptions::default()
        },
        storage: Default::default(),
        bars,
        settle: args.settle,
        emit: match args.emit {
            EmitMode::Append => Emit::Append,
            EmitMode::Complete => Emit::Complete,
        },
    })
    .await?;
    let done = watcher.checkpoint();
    eprintln!(
        "watching {} into {} ({} bars): {} trigger(s) committed, {} file(s), {} trades ({} late), {} bars",
        args.source,
        args.out.display(),
        args.bar_width,
        done.trigger,
        done.files.len(),
        done.rows + done.late_rows,
        done.late_rows,
        done.bars
    );
    loop {
        let ran = tokio::select! {
            ran = watcher.trigger() => ran?,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("interrupted: the trigger in progress was not committed");
                return Ok(());
            }
        };
        match ran {
            Some(summary) => println!("{summary}"),
            None if args.once => {
                if args.flush
                    && let Some(summary) = watcher.flush().await?
                {
                    println!("{summary} (flush)");
                }
                return Ok(());
            }
            None => {
                tokio::select! {
                    () = tokio::time::sleep(args.interval) => {}
                    _ = tokio::signal::ctrl_c() => return Ok(()),
                }
            }
        }
    }
}
