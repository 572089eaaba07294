//! `tickflow ingest`: CSV files → hive-partitioned Parquet sorted by (symbol, ts). See
//! `tickflow_engine::ingest` for the guarantees (staging, atomic renames, manifest, `seq`).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::{Args, ValueEnum};
use datafusion::common::{DataFusionError, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tickflow_engine::ingest::{
    IngestOptions, ParseOptions, Progress, Shape, SymbolFromName, create_table_sql, ingest,
};

/// Input shape of the source files.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ShapeArg {
    /// Detect from the file name (`*_1min*`, `*_full_*`) and the first line
    Auto,
    /// TAQ-style trades: date,time,symbol,price,size,exchange,conditions[,seq]
    Trades,
    /// Minute bars without header: `YYYY-MM-DD HH:MM:SS,open,high,low,close,volume`, symbol from
    /// the file name
    MinuteBars,
}

/// Ingest CSV files into hive-partitioned Parquet (`DIR/date=YYYY-MM-DD/*.parquet`).
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// CSV files, globs (quoted) or directories (every *.csv and *.txt inside)
    #[arg(required = true, value_name = "SOURCES")]
    pub sources: Vec<String>,
    /// Output directory (created if missing), or an object storage prefix: s3://bucket/trades,
    /// az://container/trades, gs://bucket/trades (credentials and endpoint from AWS_*,
    /// AZURE_STORAGE_*, GOOGLE_* variables)
    #[arg(long, short = 'o', value_name = "DIR|URL")]
    pub out: PathBuf,
    /// Input shape
    #[arg(long, value_enum, default_value = "auto")]
    pub shape: ShapeArg,
    /// The first line is a header (trades: columns are found by name) [default: detected]
    #[arg(long, overrides_with = "no_header")]
    pub header: bool,
    /// There is no header line (trades: date,time,symbol,price,size,exchange,conditions[,seq])
    #[arg(long, overrides_with = "header")]
    pub no_header: bool,
    /// Field delimiter (one character; `\t` for tab)
    #[arg(long, default_value = ",", value_name = "CHAR")]
    pub delimiter: String,
    /// chrono format of the timestamp column (or of `date time` for trades), e.g.
    /// "%Y-%m-%d %H:%M:%S" [default: YYYY-MM-DD HH:MM:SS[.fffffffff]]
    #[arg(long, value_name = "FORMAT")]
    pub timestamp_format: Option<String>,
    /// Time zone of the timestamps in the files (IANA name); stored as UTC
    #[arg(long, default_value = "America/New_York", value_name = "TZ")]
    pub source_tz: String,
    /// How a minute-bar file's symbol is taken from its name: `prefix` (before the first `_`)
    /// or a regex whose first capture group is the symbol
    #[arg(long, default_value = "prefix", value_name = "prefix|REGEX")]
    pub symbol_from_filename: String,
    /// Keep going on bad rows: write each one here (CSV: file,line,column,reason,record) and
    /// ingest the good rows. Without it the first bad row fails the run and nothing is written.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// Files parsed in parallel
    #[arg(long, short = 'j', default_value_t = 2, value_name = "N")]
    pub jobs: usize,
    /// No progress bar
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

pub(crate) fn err(msg: impl Into<String>) -> DataFusionError {
    DataFusionError::Execution(msg.into())
}

/// `--source-tz`: an IANA time zone name (the zone type of `ParseOptions::source_tz`).
pub(crate) fn source_tz<Tz: std::str::FromStr>(name: &str) -> Result<Tz> {
    name.parse()
        .map_err(|_| err(format!("--source-tz: unknown time zone '{name}'")))
}

impl IngestArgs {
    fn options(&self) -> Result<IngestOptions> {
        let delimiter = match self.delimiter.as_str() {
            "\\t" | "tab" => b'\t',
            d if d.len() == 1 => d.as_bytes()[0],
            d => return Err(err(format!("--delimiter must be one character, got '{d}'"))),
        };
        let source_tz = source_tz(&self.source_tz)?;
        let header = match (self.header, self.no_header) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        };
        Ok(IngestOptions {
            sources: self.sources.clone(),
            out: self.out.clone(),
            parse: ParseOptions {
                shape: match self.shape {
                    ShapeArg::Auto => None,
                    ShapeArg::Trades => Some(Shape::Trades),
                    ShapeArg::MinuteBars => Some(Shape::MinuteBars),
                },
                header,
                delimiter,
                timestamp_format: self.timestamp_format.clone(),
                source_tz,
                symbol_from_filename: SymbolFromName::parse(&self.symbol_from_filename)?,
            },
            rejects: self.rejects.clone(),
            jobs: self.jobs.max(1),
            storage: Default::default(),
        })
    }
}

/// Runs `tickflow ingest`.
pub async fn run(args: IngestArgs) -> Result<()> {
    let opts = args.options()?;
    let progress = Arc::new(Progress::default());
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {human_pos} rows ({per_sec}) {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar
    };
    let worker = {
        let progress = Arc::clone(&progress);
        tokio::task::spawn_blocking(move || ingest(&opts, &progress))
    };
    tokio::pin!(worker);
    let result = loop {
        tokio::select! {
            r = &mut worker => break r,
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                bar.set_position(progress.rows.load(Ordering::Relaxed));
                bar.set_message(format!(
                    "files {}/{}",
                    progress.files_done.load(Ordering::Relaxed),
                    progress.files_total.load(Ordering::Relaxed)
                ));
            }
        }
    };
    bar.finish_and_clear();
    let summary = result.map_err(|e| err(format!("ingest task failed: {e}")))??;
    let mut lines = vec![format!(
        "ingested {} file(s) into {}: {} rows, {} rejected, {} skipped (unchanged), {} Parquet file(s) in {} partition(s), {:.2} s, {:.0} rows/s",
        summary.files - summary.skipped,
        summary.out.display(),
        summary.rows,
        summary.rejected,
        summary.skipped,
        summary.files_written,
        summary.partitions,
        summary.seconds,
        summary.rows_per_second(),
    )];
    if summary.files_removed > 0 {
        lines.push(format!(
            "replaced the outputs of changed sources: {} old file(s) removed",
            summary.files_removed
        ));
    }
    if let Some(path) = &args.rejects {
        lines.push(format!(
            "{} rejected row(s) written to {}",
            summary.rejected,
            path.display()
        ));
    }
    lines.push(format!(
        "register it with: {}",
        create_table_sql("trades", &summary.out)
    ));
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
