//! sqllogictest runner for tickflow.
//!
//! Runs every `tests/slt/*.slt` file (sorted by name) against a fresh DataFusion
//! `SessionContext` with tickflow's functions registered, once per configuration in [`CONFIGS`]
//! (one partition with large batches, and four partitions with 2-row batches so that the
//! multi-partition and multi-batch code paths are exercised). Every file must pass under every
//! configuration.
//!
//! ```text
//! cargo test -p tickflow-tests --test sqllogictests                 # all files
//! cargo test -p tickflow-tests --test sqllogictests -- vwap ohlc    # files whose name contains `vwap` or `ohlc`
//! TICKFLOW_SLT=vwap cargo test -p tickflow-tests --test sqllogictests   # same, from the environment
//! cargo test -p tickflow-tests --test sqllogictests -- --complete vwap  # rewrite expected results
//! ```
//!
//! `--complete` rewrites the selected files in place with the results the engine actually
//! produces (sqllogictest's `update_test_file`, run under the first configuration). It is ONLY a
//! drafting aid for new files: it records whatever the code does, bugs included. Every completed
//! value must be checked by hand (against a reference such as DuckDB or a hand computation)
//! before the file is committed, and the file must then pass a normal run.
//!
//! # Adding a file
//!
//! Drop `tests/slt/<feature>.slt` in place; it is picked up automatically. Files in
//! sub-directories are not run on their own; they can be pulled into a file with
//! `include <relative/path>.slt` (paths are relative to the including file, globs allowed).
//!
//! # Data files
//!
//! The runner defines the variable `SLT_DIR` (absolute path of `tests/slt`). sqllogictest only
//! substitutes variables after `control substitution on` in the file:
//!
//! ```text
//! control substitution on
//!
//! statement ok
//! CREATE EXTERNAL TABLE trades STORED AS PARQUET LOCATION '${SLT_DIR}/data/trades.parquet';
//! ```
//!
//! `$__TEST_DIR__` (also only with substitution on) is a fresh temporary directory per file run,
//! for tests that write files (`COPY ... TO '${__TEST_DIR__}/out.parquet'`). With substitution
//! on, a literal `$` or `\` in SQL must be escaped as `\$` / `\\`, so switch it on only in files
//! that need it (`control substitution off` switches it back).
//!
//! # Value formatting (what expected results look like)
//!
//! - NULL (at top level) is `NULL`; an empty string is `(empty)`.
//! - Booleans are `true` / `false`.
//! - Floats (Float16/32/64) are rounded to 12 significant digits, trailing zeros removed, so
//!   `1.0` prints `1` and `0.1 + 0.2` prints `0.3`; plain notation for magnitudes in
//!   `[1e-6, 1e15)`, otherwise scientific like `1.5e20` / `2e-7`. `-0.0` prints `0`; `NaN`,
//!   `inf`, `-inf`. Float32 and Float16 are first taken at their shortest representation, so
//!   `0.1::float` prints `0.1`.
//! - Decimals print with their scale, as arrow displays them: `1.50` for `Decimal(10, 2)`.
//! - Everything else uses arrow's display with NULL shown as `NULL`: timestamps
//!   `2024-01-02T09:30:00` (with a time zone: `2024-01-02T09:30:00Z` / `+05:00`), dates
//!   `2024-01-02`, structs `{open: 1.0, high: 2.5, low: NULL, close: 2.0}`, lists `[1, 2, NULL]`.
//!   Floats nested inside structs and lists are NOT rounded (arrow prints their shortest
//!   round-trip form, `1.0`).
//! - When the LAST cell of a row contains newlines (EXPLAIN output) the row is split into several
//!   result lines; leading spaces of the continuation lines become `-` so that indentation
//!   survives sqllogictest's whitespace normalisation, and a blank continuation line is `(empty)`.
//!   EXPLAIN output depends on `target_partitions`, so guard such queries with
//!   `onlyif partitions_1` (see below) or avoid them.
//! - Whitespace runs inside a value compare equal to a single space (sqllogictest's normaliser).
//!
//! Each run carries the sqllogictest label `partitions_<target_partitions>` (`partitions_1`,
//! `partitions_4`), so a record whose output legitimately depends on the partitioning (EXPLAIN)
//! can be written `onlyif partitions_1` / `skipif partitions_4`.
//!
//! Column letters in `query` headers are checked: `I` integers, `R` floats and decimals, `T`
//! everything else (strings, booleans, timestamps, structs, lists, ...).
//!
//! Errors surface as `DataFusion error: <DataFusion's message>`, so `statement error <regex>` and
//! `query error <regex>` can match any part of DataFusion's text (the regex is searched, not
//! anchored). Some messages span lines (`No field named x.\nValid fields are ...`): match the
//! break with `\s+`, or stop the regex before it.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    Array, ArrayRef, AsArray, Float16Array, Float32Array, Float64Array, LargeStringArray,
    StringArray, StringViewArray,
};
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use datafusion::error::DataFusionError;
use datafusion::physical_plan::collect;
use datafusion::prelude::{SessionConfig, SessionContext};
use sqllogictest::{
    AsyncDB, DBOutput, DefaultColumnType, Runner, default_validator, strict_column_validator,
};

/// (target_partitions, batch_size) for each run of every file.
const CONFIGS: [(usize, usize); 2] = [(1, 8192), (4, 2)];

/// Environment variable with a file-name filter (same meaning as a positional argument).
const FILTER_ENV: &str = "TICKFLOW_SLT";

// ---------------------------------------------------------------------------------------------
// The database adapter
// ---------------------------------------------------------------------------------------------

/// An error from DataFusion, displayed as `DataFusion error: <message>` (backtrace stripped).
#[derive(Debug)]
struct SltError(String);

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SltError {}

impl From<DataFusionError> for SltError {
    fn from(e: DataFusionError) -> Self {
        Self(format!("DataFusion error: {}", e.strip_backtrace()))
    }
}

impl From<arrow::error::ArrowError> for SltError {
    fn from(e: arrow::error::ArrowError) -> Self {
        Self(format!("Arrow error: {e}"))
    }
}

/// One sqllogictest connection: a DataFusion session.
struct DataFusionDb {
    ctx: SessionContext,
}

impl std::fmt::Debug for DataFusionDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataFusionDb")
            .field("session_id", &self.ctx.session_id())
            .finish()
    }
}

#[async_trait]
impl AsyncDB for DataFusionDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let df = self.ctx.sql(sql).await?;
        let task_ctx = Arc::new(df.task_ctx());
        let plan = df.create_physical_plan().await?;
        let schema = plan.schema();
        let batches = collect(plan, task_ctx).await?;
        let types = column_types(&schema);
        let rows = format_batches(&batches)?;
        if types.is_empty() && rows.is_empty() {
            // DDL (CREATE TABLE, SET, ...) yields an empty schema.
            Ok(DBOutput::StatementComplete(0))
        } else {
            Ok(DBOutput::Rows { types, rows })
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "DataFusion"
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Value normalisation
// ---------------------------------------------------------------------------------------------

fn column_types(schema: &Schema) -> Vec<DefaultColumnType> {
    schema
        .fields()
        .iter()
        .map(|f| column_type(f.data_type()))
        .collect()
}

fn column_type(dt: &DataType) -> DefaultColumnType {
    match dt {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DefaultColumnType::Integer,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => DefaultColumnType::FloatingPoint,
        DataType::Dictionary(_, value) => column_type(value),
        _ => DefaultColumnType::Text,
    }
}

fn format_batches(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, SltError> {
    let mut rows = Vec::new();
    for batch in batches {
        let columns = batch
            .columns()
            .iter()
            .map(format_column)
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let cells = columns.iter().map(|c| c[row].clone()).collect();
            rows.extend(expand_row(cells));
        }
    }
    Ok(rows)
}

/// Every value of one column as text, following the rules in the module docs.
fn format_column(array: &ArrayRef) -> Result<Vec<String>, SltError> {
    let n = array.len();
    let cell = |i: usize, f: &dyn Fn(usize) -> String| {
        if array.is_null(i) {
            "NULL".to_string()
        } else {
            f(i)
        }
    };
    let out = match array.data_type() {
        DataType::Float64 => {
            let a: &Float64Array = array.as_primitive();
            (0..n)
                .map(|i| cell(i, &|i| f64_to_str(a.value(i))))
                .collect()
        }
        DataType::Float32 => {
            let a: &Float32Array = array.as_primitive();
            (0..n)
                .map(|i| cell(i, &|i| f32_to_str(a.value(i))))
                .collect()
        }
        DataType::Float16 => {
            let a: &Float16Array = array.as_primitive();
            (0..n)
                .map(|i| cell(i, &|i| f32_to_str(a.value(i).to_f32())))
                .collect()
        }
        DataType::Utf8 => {
            let a: &StringArray = array.as_string();
            (0..n).map(|i| cell(i, &|i| text(a.value(i)))).collect()
        }
        DataType::LargeUtf8 => {
            let a: &LargeStringArray = array.as_string();
            (0..n).map(|i| cell(i, &|i| text(a.value(i)))).collect()
        }
        DataType::Utf8View => {
            let a: &StringViewArray = array.as_string_view();
            (0..n).map(|i| cell(i, &|i| text(a.value(i)))).collect()
        }
        DataType::Dictionary(_, value_type) => {
            let values = arrow::compute::cast(array, value_type)?;
            format_column(&values)?
        }
        _ => {
            let options = FormatOptions::default().with_null("NULL");
            let formatter = ArrayFormatter::try_new(array.as_ref(), &options)?;
            (0..n)
                .map(|i| {
                    if array.is_null(i) {
                        Ok("NULL".to_string())
                    } else {
                        formatter.value(i).try_to_string()
                    }
                })
                .collect::<Result<Vec<_>, _>>()?
        }
    };
    Ok(out)
}

fn text(s: &str) -> String {
    if s.is_empty() {
        "(empty)".to_string()
    } else {
        s.to_string()
    }
}

/// Float32 at its shortest round-trip representation, then the Float64 rule.
fn f32_to_str(v: f32) -> String {
    if !v.is_finite() {
        return f64_to_str(f64::from(v));
    }
    match v.to_string().parse::<f64>() {
        Ok(d) => f64_to_str(d),
        Err(_) => f64_to_str(f64::from(v)),
    }
}

/// Round to 12 significant digits; plain notation for exponents in [-6, 15), else scientific.
fn f64_to_str(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if v == 0.0 {
        return "0".to_string(); // also -0.0: its sign depends on summation order
    }
    // `{:.11e}` rounds the exact binary value to 12 significant digits: "-1.23450000000e-7".
    let sci = format!("{v:.11e}");
    let (mantissa, exp) = sci
        .split_once('e')
        .expect("LowerExp output has an exponent");
    let exp: i32 = exp.parse().expect("LowerExp exponent is an integer");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let sign = if negative { "-" } else { "" };

    if (-6..15).contains(&exp) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            if digits.len() <= int_len {
                format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
            } else {
                format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
            }
        } else {
            let zeros = "0".repeat((-exp - 1) as usize);
            format!("{sign}0.{zeros}{digits}")
        }
    } else if digits.len() == 1 {
        format!("{sign}{digits}e{exp}")
    } else {
        format!("{sign}{}.{}e{exp}", &digits[..1], &digits[1..])
    }
}

/// Split a row whose last cell has several lines (EXPLAIN) into one result line per line
/// (as DataFusion's own runner does); continuation lines hold that one cell only.
fn expand_row(mut row: Vec<String>) -> Vec<Vec<String>> {
    let Some(last) = row.last() else {
        return vec![row];
    };
    if !last.contains('\n') {
        return vec![row];
    }
    let last = row.pop().unwrap_or_default();
    // A trailing newline would become an empty result line, which ends a record in a .slt file.
    let mut lines = last.trim_end_matches('\n').split('\n');
    row.push(lines.next().unwrap_or_default().to_string());
    let mut out = vec![row];
    for line in lines {
        if line.trim().is_empty() {
            out.push(vec!["(empty)".to_string()]); // a blank line would end the record
            continue;
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        out.push(vec![format!("{}{}", "-".repeat(indent), &line[indent..])]);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------------------------

fn new_context(target_partitions: usize, batch_size: usize) -> Result<SessionContext, SltError> {
    let config = SessionConfig::new()
        .with_target_partitions(target_partitions)
        .with_batch_size(batch_size)
        .with_information_schema(true);
    // The SQL extensions, and the rows window so that `rows_window.slt` runs through it.
    let extensions = tickflow_plan::sql_extensions()
        .with(Arc::new(tickflow_plan::rows_window::RowsWindowExtension));
    let ctx = tickflow_plan::session_context_with(config, extensions)?;
    Ok(ctx)
}

fn new_runner(
    ctx: &SessionContext,
    slt_dir: &Path,
    partitions: usize,
) -> Runner<DataFusionDb, impl sqllogictest::MakeConnection<Conn = DataFusionDb>> {
    let ctx = ctx.clone();
    // Named `connection`s in one file share the session (and so its tables).
    let mut runner = Runner::new(move || {
        let ctx = ctx.clone();
        async move { Ok::<_, SltError>(DataFusionDb { ctx }) }
    });
    runner.with_validator(default_validator);
    runner.with_column_validator(strict_column_validator);
    runner.set_var("SLT_DIR".to_string(), slt_dir.display().to_string());
    runner.add_label(&format!("partitions_{partitions}"));
    runner
}

struct Options {
    complete: bool,
    list: bool,
    filters: Vec<String>,
    skips: Vec<String>,
}

fn parse_args() -> Options {
    let mut opts = Options {
        complete: false,
        list: false,
        filters: Vec::new(),
        skips: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--complete" => opts.complete = true,
            "--list" => opts.list = true,
            "--skip" => opts.skips.extend(args.next()),
            // Flags cargo/libtest may pass to every test binary (--nocapture, --quiet, ...).
            a if a.starts_with('-') => {}
            _ => opts.filters.push(arg),
        }
    }
    if opts.filters.is_empty()
        && let Ok(f) = std::env::var(FILTER_ENV)
    {
        opts.filters
            .extend(f.split(',').filter(|s| !s.is_empty()).map(String::from));
    }
    opts
}

fn slt_files(dir: &Path, opts: &Options) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "slt"))
        .filter(|p| {
            let name = file_name(p);
            (opts.filters.is_empty() || opts.filters.iter().any(|f| name.contains(f.as_str())))
                && !opts.skips.iter().any(|s| name.contains(s.as_str()))
        })
        .collect();
    files.sort();
    Ok(files)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() {
    let opts = parse_args();
    let slt_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("slt");
    let files = match slt_files(&slt_dir, &opts) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("cannot read {}: {e}", slt_dir.display());
            std::process::exit(1);
        }
    };
    if opts.list {
        for f in &files {
            println!("{}: test", file_name(f));
        }
        return;
    }
    if files.is_empty() {
        println!(
            "no .slt file in {} matches {:?}",
            slt_dir.display(),
            opts.filters
        );
        println!("0 passed, 0 failed");
        return;
    }

    if opts.complete {
        complete(&files, &slt_dir).await;
        return;
    }

    let colorize = std::io::stdout().is_terminal();
    let mut passed = 0usize;
    let mut failures: Vec<String> = Vec::new();
    for file in &files {
        let name = file_name(file);
        for (partitions, batch_size) in CONFIGS {
            let label = format!("{name} [target_partitions={partitions}, batch_size={batch_size}]");
            let start = Instant::now();
            let result = run_file(file, &slt_dir, partitions, batch_size, colorize).await;
            let ms = start.elapsed().as_millis();
            match result {
                Ok(()) => {
                    passed += 1;
                    println!("ok     {label} ({ms} ms)");
                }
                Err(msg) => {
                    println!("FAILED {label} ({ms} ms)");
                    failures.push(format!("--- {label}\n{msg}"));
                }
            }
        }
    }

    if !failures.is_empty() {
        println!("\nfailures:\n");
        for f in &failures {
            println!("{f}\n");
        }
    }
    println!("{passed} passed, {} failed", failures.len());
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

async fn run_file(
    file: &Path,
    slt_dir: &Path,
    partitions: usize,
    batch_size: usize,
    colorize: bool,
) -> Result<(), String> {
    let ctx = new_context(partitions, batch_size).map_err(|e| format!("setup failed: {e}"))?;
    let mut runner = new_runner(&ctx, slt_dir, partitions);
    // Errors carry `at <file>:<line>` and, for result mismatches, sqllogictest's diff.
    let result = runner
        .run_file_async(file)
        .await
        .map_err(|e| e.display(colorize).to_string());
    runner.shutdown_async().await;
    result
}

/// `--complete`: rewrite each file with the actual output under the first configuration.
async fn complete(files: &[PathBuf], slt_dir: &Path) {
    let (partitions, batch_size) = CONFIGS[0];
    let mut failed = false;
    for file in files {
        let name = file_name(file);
        let ctx = match new_context(partitions, batch_size) {
            Ok(ctx) => ctx,
            Err(e) => {
                eprintln!("setup failed: {e}");
                std::process::exit(1);
            }
        };
        let mut runner = new_runner(&ctx, slt_dir, partitions);
        match runner
            .update_test_file(
                file,
                " ",
                default_validator,
                sqllogictest::default_normalizer,
                strict_column_validator,
            )
            .await
        {
            Ok(()) => println!("completed {name}"),
            Err(e) => {
                failed = true;
                println!("could not complete {name}: {e}");
            }
        }
        runner.shutdown_async().await;
    }
    println!(
        "\n--complete wrote ACTUAL results: check every value by hand, then run without --complete."
    );
    if failed {
        std::process::exit(1);
    }
}
