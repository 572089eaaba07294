//! Sorting a parsed file by (symbol, ts, seq), splitting it into the partitions of its
//! [`Partitioning`] and writing one Parquet file per partition into the staging directory
//! (fsynced).

use std::fs::File;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use datafusion::arrow::array::{Date32Array, StringArray, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::metadata::SortingColumn;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::layout::Partitioning;
use super::parse::Parsed;
use crate::error::{Context, Error, Result};

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// One Parquet file written to staging, to be moved to `DIR/<relative>`.
#[derive(Debug, Clone)]
pub struct StagedFile {
    /// `<staging>/<relative>`: the staging directory is a tree like the output's.
    pub staged: PathBuf,
    /// Path relative to the output directory: `date=YYYY-MM-DD/<name>.parquet`, or as the
    /// [`Partitioning`] says.
    pub relative: String,
    pub rows: u64,
}

/// Sorted by (symbol, ts), or by ts when the symbol is a partition column (not in the file).
fn writer_properties(symbol_in_file: bool) -> WriterProperties {
    let column = |column_idx| SortingColumn {
        column_idx,
        descending: false,
        nulls_first: false,
    };
    let sorting = if symbol_in_file {
        vec![column(0), column(1)]
    } else {
        vec![column(0)]
    };
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(false)
        .set_column_dictionary_enabled("symbol".into(), true)
        .set_column_dictionary_enabled("exchange".into(), true)
        .set_column_dictionary_enabled("conditions".into(), true)
        .set_sorting_columns(Some(sorting))
        .build()
}

/// `YYYY-MM-DD` of days since the epoch.
pub fn date_string(days: i32) -> String {
    chrono::DateTime::from_timestamp(i64::from(days) * 86_400, 0)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| format!("day{days}"))
}

/// Writes `parsed` (of the file `source`, which errors name) as one sorted Parquet file per
/// partition of `layout` into `staging`, at `<staging>/<partition>/<name>.parquet`; each file
/// is fsynced. Without `date` partitions each file gets a `date` column (the trade date); with
/// `symbol` partitions the symbol is the directory's and not in the file.
pub fn write_partitions(
    parsed: &Parsed,
    staging: &Path,
    name: &str,
    source: &str,
    layout: &Partitioning,
) -> Result<Vec<StagedFile>> {
    let batch = &parsed.batch;
    let n = batch.num_rows();
    if n == 0 {
        return Ok(Vec::new());
    }
    let symbols = batch
        .column(0)
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| Error::internal(format!("{source}: symbol column is not Utf8")))?;
    // Rank symbols once so the sort compares integers.
    let mut distinct: Vec<&str> = Vec::new();
    let mut ids = Vec::with_capacity(n);
    {
        let mut map = std::collections::HashMap::<&str, u32>::new();
        for i in 0..n {
            let s = symbols.value(i);
            let next = map.len() as u32;
            let id = *map.entry(s).or_insert_with(|| {
                distinct.push(s);
                next
            });
            ids.push(id);
        }
    }
    let mut order: Vec<u32> = (0..distinct.len() as u32).collect();
    order.sort_by_key(|&i| distinct[i as usize]);
    let mut rank = vec![0u32; distinct.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    let keys: Vec<i64> = parsed.dates.iter().map(|&d| layout.time_key(d)).collect();
    let mut idx: Vec<u32> = (0..n as u32).collect();
    // Stable: rows with equal (partition, symbol, ts) keep source order, i.e. seq order.
    idx.sort_by_key(|&i| {
        let i = i as usize;
        (keys[i], rank[ids[i] as usize], parsed.ts[i])
    });
    let add_date = layout.date_in_files() && batch.schema().column_with_name("date").is_none();
    let mut out = Vec::new();
    let mut start = 0;
    while start < n {
        let first = idx[start] as usize;
        let same = |j: usize| keys[j] == keys[first] && (!layout.symbol || ids[j] == ids[first]);
        let mut end = start;
        while end < n && same(idx[end] as usize) {
            end += 1;
        }
        let rows = &idx[start..end];
        let indices = UInt32Array::from(rows.to_vec());
        let mut part = take_record_batch(batch, &indices).context(source)?;
        if add_date {
            let dates =
                Date32Array::from_iter_values(rows.iter().map(|&i| parsed.dates[i as usize]));
            let mut fields: Vec<Field> = part
                .schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            fields.push(Field::new("date", DataType::Date32, false));
            let mut columns = part.columns().to_vec();
            columns.push(Arc::new(dates));
            part = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).context(source)?;
        }
        if layout.symbol {
            part.remove_column(0);
        }
        let dir = layout.directory(parsed.dates[first], symbols.value(first));
        let relative = if dir.is_empty() {
            format!("{name}.parquet")
        } else {
            format!("{dir}/{name}.parquet")
        };
        let staged = staging.join(&relative);
        if let Some(parent) = staged.parent() {
            std::fs::create_dir_all(parent).context(parent.display())?;
        }
        write_file(
            &staged,
            &part,
            !layout.symbol,
            &format!("{source}: writing {}", staged.display()),
        )?;
        out.push(StagedFile {
            staged,
            relative,
            rows: (end - start) as u64,
        });
        start = end;
    }
    Ok(out)
}

/// Errors are about `what`.
fn write_file(path: &Path, batch: &RecordBatch, symbol_in_file: bool, what: &str) -> Result<()> {
    let file = File::create(path).context(what)?;
    let mut writer = ArrowWriter::try_new(
        file,
        batch.schema(),
        Some(writer_properties(symbol_in_file)),
    )
    .context(what)?;
    // Write in row-group sized slices so the writer does not hold more than one group.
    let mut offset = 0;
    while offset < batch.num_rows() {
        let len = ROW_GROUP_ROWS.min(batch.num_rows() - offset);
        writer.write(&batch.slice(offset, len)).context(what)?;
        offset += len;
    }
    let file = writer.into_inner().context(what)?;
    file.sync_all().context(what)
}
