//! `tickflow demo`: the whole pipeline on one machine, end to end. Generates a small TAQ-style
//! trade data set (CSV) in a temporary directory, ingests it into date-partitioned Parquet,
//! registers it as `trades`, and runs the four steps of `sql/` in order, printing the first rows
//! of each and a summary. The scripts are built into the binary, so it runs from anywhere. The
//! user's catalog is not touched.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use datafusion::common::{DataFusionError, Result};
use tickflow_engine::r#gen::{GenFormat, GenOptions, generate};
use tickflow_engine::ingest::manifest::Manifest;
use tickflow_engine::ingest::{
    IngestOptions, ParseOptions, Partitioning, Progress, create_table_sql, ingest,
};

use crate::Session;
use crate::exec::{SqlArgs, run_sql_text};
use crate::print::Format;

/// The pipeline, one script per step (the files in `sql/`).
const STEPS: [(&str, &str); 4] = [
    ("01_bars.sql", include_str!("../../../sql/01_bars.sql")),
    ("02_fill.sql", include_str!("../../../sql/02_fill.sql")),
    (
        "03_prepare.sql",
        include_str!("../../../sql/03_prepare.sql"),
    ),
    (
        "04_analytics.sql",
        include_str!("../../../sql/04_analytics.sql"),
    ),
];

/// `tickflow demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Trades to generate
    #[arg(long, default_value_t = 200_000)]
    pub rows: u64,
    /// Symbols to generate
    #[arg(long, default_value_t = 20)]
    pub symbols: u32,
    /// Business days to generate, from 2024-01-02
    #[arg(long, default_value_t = 2)]
    pub days: u32,
    /// Bar width used by every step
    #[arg(long, default_value = "1 minute")]
    pub bar_width: String,
    /// Use this directory of ingested trades (as `tickflow ingest --out` writes) instead of
    /// generating and ingesting new data
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Rows printed per step
    #[arg(long, default_value_t = 5)]
    pub limit: usize,
    /// Keep the generated files (their directory is printed) instead of removing them
    #[arg(long)]
    pub keep: bool,
}

fn step(n: usize, total: usize, what: &str) {
    eprintln!("\n[{n}/{total}] {what}");
}

/// Removes the demo's temporary directory when the demo ends, however it ends.
struct TempDir(Option<PathBuf>);

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

pub async fn run(session: &mut Session, args: DemoArgs) -> Result<()> {
    let started = Instant::now();
    let total = STEPS.len() + if args.data.is_some() { 0 } else { 2 };
    let mut n = 0;
    let work = std::env::temp_dir().join(format!("tickflow-demo-{}", std::process::id()));
    let mut cleanup = TempDir((!args.keep && args.data.is_none()).then(|| work.clone()));

    let data = match &args.data {
        Some(dir) => dir.clone(),
        None => {
            let csv = work.join("csv");
            let parquet = work.join("trades");
            n += 1;
            step(
                n,
                total,
                &format!(
                    "generate {} TAQ-style trades ({} symbols, {} days) in {}",
                    args.rows,
                    args.symbols,
                    args.days,
                    csv.display()
                ),
            );
            let options = GenOptions {
                rows: args.rows,
                days: args.days,
                symbols: args.symbols,
                start_date: chrono_date(2024, 1, 2)?,
                seed: 42,
                format: GenFormat::Csv,
                out: csv.clone(),
            };
            let summary = tokio::task::spawn_blocking(move || generate(&options, &|_| {}))
                .await
                .map_err(|e| DataFusionError::Execution(format!("generator failed: {e}")))??;
            eprintln!("      {} rows in {} files", summary.rows, summary.files);

            n += 1;
            step(
                n,
                total,
                &format!(
                    "ingest into date-partitioned Parquet in {}",
                    parquet.display()
                ),
            );
            let options = IngestOptions {
                sources: vec![csv.display().to_string()],
                out: parquet.clone(),
                parse: ParseOptions::default(),
                rejects: None,
                jobs: 2,
                storage: Default::default(),
                max_rejects: None,
                partition_by: Some(Partitioning::default()),
            };
            let summary =
                tokio::task::spawn_blocking(move || ingest(&options, &Progress::default()))
                    .await
                    .map_err(|e| DataFusionError::Execution(format!("ingest failed: {e}")))??;
            eprintln!(
                "      {} rows, {} partitions, {} files, {:.0} rows/s",
                summary.rows,
                summary.partitions,
                summary.files_written,
                summary.rows_per_second()
            );
            parquet
        }
    };

    // Registered on this session only: the demo leaves the user's catalog as it was.
    session.ctx.deregister_table("trades")?;
    session
        .ctx
        .sql(&create_table_sql("trades", &data, &layout_of(&data)))
        .await?
        .collect()
        .await?;

    let params: BTreeMap<String, String> = [
        ("bar_width".to_string(), args.bar_width.clone()),
        ("limit".to_string(), args.limit.to_string()),
    ]
    .into();
    let print = SqlArgs::default();
    for (name, script) in STEPS {
        n += 1;
        step(
            n,
            total,
            &format!("sql/{name}: {}", first_comment_line(script)),
        );
        let step_started = Instant::now();
        let sql = tickflow_engine::params::substitute(script, &params, name)?;
        run_sql_text(session, &sql, &print).await?;
        eprintln!("      {:.2} s", step_started.elapsed().as_secs_f64());
    }

    let counts = session
        .ctx
        .sql(
            "SELECT (SELECT count(*) FROM trades) AS trades, (SELECT count(*) FROM bars) AS bars, \
             (SELECT count(*) FROM filled) AS filled_bars, (SELECT count(*) FROM daily) AS daily_bars, \
             (SELECT count(*) FROM features WHERE volatility IS NOT NULL) AS bars_with_volatility",
        )
        .await?
        .collect()
        .await?;
    eprintln!(
        "\nsummary ({:.1} s in all):",
        started.elapsed().as_secs_f64()
    );
    crate::print::print_batches(&counts, Format::Table, &mut std::io::stdout().lock())?;
    if args.keep && args.data.is_none() {
        eprintln!("the generated files are in {}", work.display());
    }
    cleanup.0.take().map(std::fs::remove_dir_all).transpose()?;
    Ok(())
}

/// The partitioning an ingest recorded in `dir`, else `date` (`tickflow gen`'s layout).
fn layout_of(dir: &std::path::Path) -> Partitioning {
    Manifest::load(dir)
        .ok()
        .and_then(|m| m.partitioning(&dir.display().to_string()).ok().flatten())
        .unwrap_or_default()
}

fn chrono_date(y: i32, m: u32, d: u32) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::from_ymd_opt(y, m, d)
        .ok_or_else(|| DataFusionError::Internal(format!("bad date {y}-{m}-{d}")))
}

/// What a script says it does: its first comment line, after the file name.
fn first_comment_line(script: &str) -> &str {
    let line = script
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("--")
        .trim();
    line.split_once(": ").map_or(line, |(_, what)| what)
}
