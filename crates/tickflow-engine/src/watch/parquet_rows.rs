//! Trades from an arriving Parquet file, in the watcher's row layout ([`super::rows_schema`]).
//!
//! The file needs `symbol`, `ts`, `price`, `size` and `seq` (as `tickflow ingest` writes them);
//! `exchange`, `conditions` and `source_seq` may be missing (NULL). Columns are cast to the
//! watcher's types (a price that does not fit DECIMAL(18,4) is an error naming the file and the
//! column). The trade date is the file's `date` column when it has one, else the date of `ts`
//! in the source time zone, as ingest computes it.

use std::sync::Arc;

use bytes::Bytes;
use chrono::TimeZone;
use chrono_tz::Tz;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, RecordBatch, RecordBatchReader, new_null_array,
};
use datafusion::arrow::compute::{CastOptions, cast_with_options, concat_batches};
use datafusion::arrow::datatypes::{DataType, TimestampNanosecondType};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::rows_schema;
use crate::error::{Context, Error, Result};

/// The file's rows, or an error naming `display` and what is wrong.
pub fn parquet_rows(display: &str, data: Bytes, tz: Tz) -> Result<RecordBatch> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(data)
        .context(display)?
        .build()
        .context(display)?;
    let file_schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>().context(display)?;
    let batch = concat_batches(&file_schema, &batches).context(display)?;
    let rows = rows_schema();
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(rows.fields().len());
    for field in rows.fields().iter().filter(|f| f.name() != "date") {
        let column = match batch.column_by_name(field.name()) {
            Some(column) => {
                cast_with_options(column, field.data_type(), &strict).context(format!(
                    "{display}: column {} ({}) is not {}",
                    field.name(),
                    column.data_type(),
                    field.data_type()
                ))?
            }
            None if field.is_nullable() => new_null_array(field.data_type(), batch.num_rows()),
            None => {
                return Err(Error::invalid(format!(
                    "{display}: no column {} (a trade file needs symbol, ts, price, size and seq)",
                    field.name()
                )));
            }
        };
        if !field.is_nullable() && column.null_count() > 0 {
            return Err(Error::invalid(format!(
                "{display}: column {} has NULLs",
                field.name()
            )));
        }
        columns.push(column);
    }
    let date = match batch.column_by_name("date") {
        Some(date) => cast_with_options(date, &DataType::Date32, &strict)
            .context(format!("{display}: column date is not a date"))?,
        None => {
            let ts = columns[1].as_primitive::<TimestampNanosecondType>();
            let days: Date32Array = ts
                .iter()
                .map(|t| {
                    t.map(|t| {
                        let local = tz.timestamp_nanos(t).date_naive();
                        (local - chrono::NaiveDate::default()).num_days() as i32
                    })
                })
                .collect();
            Arc::new(days)
        }
    };
    columns.push(date);
    RecordBatch::try_new(rows, columns).context(display)
}
