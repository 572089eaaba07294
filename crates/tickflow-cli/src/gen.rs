//! `tickflow gen`: writes a deterministic synthetic trade tape (see `tickflow_engine::gen`, spelled `r#gen` in Rust 2024) with
//! a progress bar and a closing summary.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use datafusion::common::{DataFusionError, Result, exec_err};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tickflow_engine::error::InvalidValue;
use tickflow_engine::{GenFormat, GenOptions, generate};

/// `tickflow gen`: synthetic trades like a TAQ trade file.
///
/// N trades over D business days (Mon-Fri) and S symbols with Zipf-like activity (a few symbols
/// make most trades), random-walk prices on the $0.01 grid, round and odd lots, TAQ exchange
/// letters and sale conditions, and a per-day sequence number in time order. Timestamps fall in
/// 09:30-16:00 America/New_York and are stored as UTC. The same options always write the same
/// files. Every file is written under a temporary name and renamed when complete.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    tickflow gen --rows 10M --days 5 --symbols 5000 --out data/trades\n  \
    tickflow gen --rows 1e6 --format csv --out data/taq\n  \
    tickflow sql -c \"SELECT date, count(*) FROM 'data/trades/' GROUP BY date\"")]
pub struct GenArgs {
    /// Trades to generate in total: an integer, with an optional K, M or B suffix (10M, 2.5K) or
    /// in exponent form (1e6)
    #[arg(long, value_name = "N", default_value = "1M", value_parser = parse_rows)]
    pub rows: u64,
    /// Business days (Monday to Friday; holidays are not skipped)
    #[arg(long, value_name = "D", default_value_t = 5)]
    pub days: u32,
    /// Distinct symbols (AAA, AAB, ...; at most 1,000,000)
    #[arg(long, value_name = "S", default_value_t = 500)]
    pub symbols: u32,
    /// First day (a weekend moves to the next Monday)
    #[arg(long, value_name = "YYYY-MM-DD", default_value = "2024-03-04", value_parser = parse_date)]
    pub start: NaiveDate,
    /// Seed of the random generator: the same seed and options give identical files
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output shape
    #[arg(long, value_enum, default_value_t = GenFormatArg::Parquet)]
    pub format: GenFormatArg,
    /// Output directory (created if missing; must be empty unless --force)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Write into a non-empty --out: files of the same name are replaced, other files are left
    /// as they are
    #[arg(long)]
    pub force: bool,
}

/// The output shapes of `tickflow gen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenFormatArg {
    /// Hive-partitioned Parquet: DIR/date=YYYY-MM-DD/part-0.parquet with symbol, ts
    /// (timestamp ns UTC), price (decimal 18,4), size, exchange, conditions, seq
    Parquet,
    /// TAQ-style daily trade CSV: DIR/trades_YYYYMMDD.csv with the header
    /// date,time,symbol,price,size,exchange,conditions,seq (time: New York HH:MM:SS.ffffff)
    Csv,
    /// Per-symbol one-minute bars of the generated trades: DIR/SYMBOL_full_1min.txt with lines
    /// YYYY-MM-DD HH:MM:SS,open,high,low,close,volume (New York time, no header)
    MinuteBars,
}

impl From<GenFormatArg> for GenFormat {
    fn from(f: GenFormatArg) -> GenFormat {
        match f {
            GenFormatArg::Parquet => GenFormat::Parquet,
            GenFormatArg::Csv => GenFormat::Csv,
            GenFormatArg::MinuteBars => GenFormat::MinuteBars,
        }
    }
}

/// Parses a row count: `5000`, `1_000_000`, `10M`, `2.5k`, `1e6`, `3B`.
pub fn parse_rows(s: &str) -> std::result::Result<u64, InvalidValue> {
    let t = s.trim().replace('_', "");
    let (number, multiplier) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1e3),
        Some('M') => (&t[..t.len() - 1], 1e6),
        Some('B') | Some('G') => (&t[..t.len() - 1], 1e9),
        _ => (t.as_str(), 1.0),
    };
    let bad = || {
        InvalidValue(format!(
            "'{s}' is not a row count (examples: 5000, 10M, 2.5K, 1e6)"
        ))
    };
    if multiplier == 1.0
        && let Ok(n) = number.parse::<u64>()
    {
        return Ok(n);
    }
    let x: f64 = number.parse().map_err(|_| bad())?;
    let n = x * multiplier;
    if !n.is_finite() || n < 0.0 || n.fract() != 0.0 || n > 1e15 {
        return Err(bad());
    }
    Ok(n as u64)
}

fn parse_date(s: &str) -> std::result::Result<NaiveDate, InvalidValue> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|e| InvalidValue(format!("'{s}' is not a date YYYY-MM-DD: {e}")))
}

/// Whether `dir` exists and holds anything.
fn non_empty(dir: &Path) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            exec_err!("--out {} is a file, not a directory", dir.display())
        }
        Err(e) => exec_err!("cannot read --out {}: {e}", dir.display()),
    }
}

/// Runs `tickflow gen`.
pub async fn run(args: GenArgs) -> Result<()> {
    if args.out.is_file() {
        return exec_err!("--out {} is a file, not a directory", args.out.display());
    }
    if !args.force && non_empty(&args.out)? {
        return exec_err!(
            "--out {} is not empty; choose an empty directory or pass --force to write into it",
            args.out.display()
        );
    }
    let opts = GenOptions {
        rows: args.rows,
        days: args.days,
        symbols: args.symbols,
        start_date: args.start,
        seed: args.seed,
        format: args.format.into(),
        out: args.out.clone(),
    };
    let bar = ProgressBar::with_draw_target(Some(args.rows), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} rows ({per_sec}, eta {eta})",
        )
        .map_err(|e| DataFusionError::Internal(e.to_string()))?,
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let started = Instant::now();
    let progress = bar.clone();
    let summary =
        tokio::task::spawn_blocking(move || generate(&opts, &|rows| progress.set_position(rows)))
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
    bar.finish_and_clear();
    let summary = summary?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "generated {} rows in {} files ({}) to {} in {:.2} s ({} rows/s)",
        summary.rows,
        summary.files,
        human_bytes(summary.bytes),
        args.out.display(),
        secs,
        (summary.rows as f64 / secs.max(1e-9)).round() as u64,
    );
    Ok(())
}

fn human_bytes(bytes: u64) -> String {
    let mut x = bytes as f64;
    for unit in ["B", "KiB", "MiB", "GiB"] {
        if x < 1024.0 {
            return if unit == "B" {
                format!("{bytes} B")
            } else {
                format!("{x:.1} {unit}")
            };
        }
        x /= 1024.0;
    }
    format!("{x:.1} TiB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_counts() {
        assert_eq!(parse_rows("5000"), Ok(5000));
        assert_eq!(parse_rows("1_000_000"), Ok(1_000_000));
        assert_eq!(parse_rows("10M"), Ok(10_000_000));
        assert_eq!(parse_rows("10m"), Ok(10_000_000));
        assert_eq!(parse_rows("2.5K"), Ok(2500));
        assert_eq!(parse_rows("1e6"), Ok(1_000_000));
        assert_eq!(parse_rows("3B"), Ok(3_000_000_000));
        assert!(parse_rows("1.5").is_err());
        assert!(parse_rows("-3").is_err());
        assert!(parse_rows("ten").is_err());
        assert!(parse_rows("").is_err());
    }

    #[test]
    fn bytes() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
