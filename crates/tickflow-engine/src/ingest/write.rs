//! Sorting a parsed file by (symbol, ts, seq), splitting it by trade date and writing one
//! Parquet file per date into the staging directory (fsynced).

use std::fs::File;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{StringArray, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::metadata::SortingColumn;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::parse::Parsed;
use crate::error::{Context, Error, Result};

/// Rows per Parquet row group.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// One Parquet file written to staging, to be moved to `DIR/<relative>`.
#[derive(Debug, Clone)]
pub struct StagedFile {
    pub staged: PathBuf,
    /// Path relative to the output directory: `date=YYYY-MM-DD/<name>.parquet`.
    pub relative: String,
    pub rows: u64,
}

fn writer_properties() -> WriterProperties {
    let sorting = vec![
        SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        },
        SortingColumn {
            column_idx: 1,
            descending: false,
            nulls_first: false,
        },
    ];
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
/// trade date into `staging`, named `<date>__<name>.parquet.tmp`; each file is fsynced.
pub fn write_partitions(
    parsed: &Parsed,
    staging: &Path,
    name: &str,
    source: &str,
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
    let mut idx: Vec<u32> = (0..n as u32).collect();
    // Stable: rows with equal (date, symbol, ts) keep source order, i.e. seq order.
    idx.sort_by_key(|&i| {
        let i = i as usize;
        (parsed.dates[i], rank[ids[i] as usize], parsed.ts[i])
    });
    let mut out = Vec::new();
    let mut start = 0;
    while start < n {
        let date = parsed.dates[idx[start] as usize];
        let mut end = start;
        while end < n && parsed.dates[idx[end] as usize] == date {
            end += 1;
        }
        let indices = UInt32Array::from(idx[start..end].to_vec());
        let part = take_record_batch(batch, &indices).context(source)?;
        let day = date_string(date);
        let staged = staging.join(format!("{day}__{name}.parquet.tmp"));
        write_file(
            &staged,
            &part,
            &format!("{source}: writing {}", staged.display()),
        )?;
        out.push(StagedFile {
            staged,
            relative: format!("date={day}/{name}.parquet"),
            rows: (end - start) as u64,
        });
        start = end;
    }
    Ok(out)
}

/// Errors are about `what`.
fn write_file(
    path: &Path,
    batch: &datafusion::arrow::record_batch::RecordBatch,
    what: &str,
) -> Result<()> {
    let file = File::create(path).context(what)?;
    let mut writer =
        ArrowWriter::try_new(file, batch.schema(), Some(writer_properties())).context(what)?;
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
