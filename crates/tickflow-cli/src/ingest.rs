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
    Ambiguous, IngestOptions, Nonexistent, ParseOptions, Partitioning, Progress, RejectLimit,
    Shape, SymbolFromName, create_table_sql, ingest, parse_schema,
};

/// Input shape of the source files.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ShapeArg {
    /// Detect from the file name (`*_1min*`, `*_full_*`) and the first line (never csv)
    Auto,
    /// TAQ-style trades: date,time,symbol,price,size,exchange,conditions[,seq]; with a header,
    /// columns by name (and any other column kept)
    Trades,
    /// Minute bars without header: `YYYY-MM-DD HH:MM:SS,open,high,low,close,volume`, symbol from
    /// the file name
    MinuteBars,
    /// Daily bars, one file per ticker (Yahoo): `Date,Open,High,Low,Close,Adj Close,Volume`,
    /// symbol from the file name
    Daily,
    /// Any CSV: a timestamp column (--ts-column), a symbol column or the symbol from the file
    /// name, every other column typed by --schema or inferred
    Csv,
}

/// The shapes, with a sample line each (`tickflow ingest --help`).
pub const SHAPES_HELP: &str = "\
Shapes (--shape), each with a sample line:
  trades       date,time,symbol,price,size,exchange,conditions,seq   (header optional)
               2024-01-02,09:30:00.000123,AAPL,185.64,100,Q,@ F,17
  minute-bars  AAPL_full_1min.txt, BRK.A_full_1min_adjsplit.txt (no header; symbol = name before '_')
               2010-01-04 09:30:00,30.49,30.52,30.43,30.45,173492.0
  daily        AAPL.csv, BRK-B.csv (Yahoo; symbol = file name without extension)
               Date,Open,High,Low,Close,Adj Close,Volume
               2024-01-02,187.15,188.44,183.89,185.64,184.94,82488700
  csv          --shape csv --ts-column time [--schema 'time TIMESTAMP, bid DECIMAL(18,4), ...']
               time,symbol,bid,ask,venue
               2024-01-02 09:30:00.5,AAPL,185.63,185.65,XNAS

Every column of a file is kept: the ones a shape knows (ts, prices, volume, ...) and every other
one, typed by --schema or inferred over the whole run (whole numbers BIGINT, decimals
DECIMAL(18,4) or DECIMAL(38,s), else VARCHAR). A bar volume is BIGINT when every volume is
integral (524.0 is 524), else DECIMAL; the types are recorded in DIR/_tickflow/ingest.json and a
later run into DIR keeps them (or fails naming the way out).
Bars and daily prices must be positive with low <= open, close <= high.
Exit status: non-zero on any error; with --rejects, when more rows than --max-rejects were
rejected, or (without --max-rejects) when a file had rejected rows and no good row. A failed run
publishes nothing; the rejects file is still written.";

/// Ingest CSV files into hive-partitioned Parquet (`DIR/date=YYYY-MM-DD/*.parquet`, or as
/// --partition-by says).
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// CSV files, globs (quoted), directories (every *.csv and *.txt inside, also .gz/.zst
    /// compressed; other files are reported), or object storage URLs: a prefix
    /// (s3://bucket/raw/), an object (az://container/raw/AAPL.csv.gz) or a glob in the last
    /// part (gs://bucket/raw/*.csv); credentials as for --out
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
    /// How a file's symbol is taken from its name, for any shape without a symbol column:
    /// `prefix` (before the first `_`, else the name without its extensions: BRK.A_full_1min.txt
    /// and BRK.A.csv are BRK.A) or a regex whose first capture group is the symbol
    /// [default: prefix]
    #[arg(long, value_name = "prefix|REGEX")]
    pub symbol_from_filename: Option<String>,
    /// Column types, 'name TYPE, ...' (BIGINT, DECIMAL(p,s), DOUBLE, VARCHAR, TIMESTAMP); without
    /// a header line it also names the columns in order. Columns not given are inferred.
    #[arg(long, value_name = "'name TYPE, ...'")]
    pub schema: Option<String>,
    /// The timestamp column of --shape csv [default: ts, timestamp, datetime or date]
    #[arg(long, value_name = "NAME")]
    pub ts_column: Option<String>,
    /// Keep going on bad rows: write each one here (CSV: file,line,column,reason,record) and
    /// ingest the good rows. Without it the first bad row fails the run and nothing is written.
    #[arg(long, value_name = "FILE")]
    pub rejects: Option<PathBuf>,
    /// With --rejects: fail (publishing nothing) when more rows than this are rejected: a number
    /// of rows, or a fraction of the rows read (1%, 0.01) [default: fail when a file had rejected
    /// rows and no good row]
    #[arg(long, value_name = "N|FRACTION", requires = "rejects")]
    pub max_rejects: Option<RejectLimit>,
    /// Directories of the files: date (DIR/date=2024-01-02/), month (DIR/month=2024-01/), year
    /// (DIR/year=2024/) or none (files in DIR), optionally with the symbol under it
    /// (month,symbol: DIR/month=2024-01/symbol=AAPL/). Without date, files have a date column.
    /// A table keeps the layout of its first run (recorded in DIR/_tickflow/ingest.json)
    /// [default: the table's, else date]
    #[arg(long, value_name = "LEVEL[,symbol]")]
    pub partition_by: Option<Partitioning>,
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
    pub(crate) fn options(&self) -> Result<IngestOptions> {
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
                    ShapeArg::Daily => Some(Shape::Daily),
                    ShapeArg::Csv => Some(Shape::Csv),
                },
                header,
                delimiter,
                timestamp_format: self.timestamp_format.clone(),
                source_tz,
                ambiguous: self.ambiguous,
                nonexistent: self.nonexistent,
                symbol_from_filename: SymbolFromName::parse(
                    self.symbol_from_filename.as_deref().unwrap_or("prefix"),
                )?,
                symbol_from_filename_given: self.symbol_from_filename.is_some(),
                schema: self
                    .schema
                    .as_deref()
                    .map(parse_schema)
                    .transpose()?
                    .unwrap_or_default(),
                ts_column: self.ts_column.clone(),
                types: Default::default(),
            },
            rejects: self.rejects.clone(),
            jobs: self.jobs.max(1),
            storage: Default::default(),
            max_rejects: self.max_rejects,
            partition_by: self.partition_by,
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
    for skipped in &summary.skipped_files {
        eprintln!("warning: {skipped}");
    }
    let mut lines = Vec::new();
    if let Some(pid) = summary.recovered {
        lines.push(format!(
            "finished publishing the run of a killed ingest (pid {pid}) into {} first",
            summary.out.display()
        ));
    }
    lines.push(format!(
        "ingested {} file(s) into {} (run {}, partitioned by {}): {} rows, {} rejected, {} skipped (unchanged), {} Parquet file(s) in {} partition(s), {:.2} s, {:.0} rows/s",
        summary.files - summary.skipped,
        summary.out.display(),
        summary.run,
        summary.partitioning,
        summary.rows,
        summary.rejected,
        summary.skipped,
        summary.files_written,
        summary.partitions,
        summary.seconds,
        summary.rows_per_second(),
    ));
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
        create_table_sql("trades", &summary.out, &summary.partitioning)
    ));
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
