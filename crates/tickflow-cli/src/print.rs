//! Printing results: a table for people, CSV or JSON lines for programs, Parquet to files.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use clap::ValueEnum;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::parquet::arrow::ArrowWriter;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned table
    Table,
    /// CSV with a header row
    Csv,
    /// One JSON object per row (JSON lines)
    Json,
    /// Parquet (with --output only)
    Parquet,
}

/// Prints a result to `out`.
pub fn print_batches(batches: &[RecordBatch], format: Format, out: &mut dyn Write) -> Result<()> {
    match format {
        Format::Table => {
            if batches.iter().all(|b| b.num_rows() == 0)
                && batches.first().is_none_or(|b| b.num_columns() == 0)
            {
                return Ok(());
            }
            writeln!(out, "{}", pretty_format_batches(batches)?)?;
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            writeln!(out, "{rows} row(s)")?;
        }
        Format::Csv => {
            let mut writer = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            for batch in batches {
                writer.write(batch)?;
            }
        }
        Format::Json => {
            let mut writer = datafusion::arrow::json::LineDelimitedWriter::new(out);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
        Format::Parquet => return plan_err!("--format parquet needs --output FILE"),
    }
    Ok(())
}

/// Writes a result to a file, atomically: to a temporary file beside it, renamed at the end, so
/// a failure never leaves a half-written file under the final name. The format is `format`
/// unless it is the default (table), in which case the extension decides.
pub fn write_output(batches: &[RecordBatch], path: &Path, format: Format) -> Result<()> {
    let format = match format {
        Format::Table => match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => Format::Csv,
            Some("json") | Some("jsonl") | Some("ndjson") => Format::Json,
            Some("parquet") => Format::Parquet,
            _ => {
                return plan_err!(
                    "cannot tell the format of {} from its extension: pass --format csv|json|parquet",
                    path.display()
                );
            }
        },
        f => f,
    };
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("output"),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut file = File::create(&tmp)?;
        match format {
            Format::Parquet => {
                let schema = match batches.first() {
                    Some(b) => b.schema(),
                    None => return plan_err!("the query returned no batches; nothing to write"),
                };
                let mut writer = ArrowWriter::try_new(file, schema, None)?;
                for batch in batches {
                    writer.write(batch)?;
                }
                writer.close()?;
            }
            other => {
                print_batches(batches, other, &mut file)?;
                file.sync_all()?;
            }
        }
        std::fs::rename(&tmp, path)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| {
        DataFusionError::Execution(format!(
            "cannot write {}: {}",
            path.display(),
            e.strip_backtrace()
        ))
    })
}
