//! `Parquet`: the tape as hive-partitioned Parquet.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use datafusion::common::Result;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

use super::TapeWriter;
use crate::r#gen::market::{Day, Trades};
use crate::r#gen::{ROW_GROUP_ROWS, io_error, publish, temp_path, trades_schema};

/// `OUT/date=YYYY-MM-DD/part-0.parquet`, one file per day.
pub(in crate::r#gen) struct ParquetTapeWriter {
    out: PathBuf,
    current: Option<(ArrowWriter<BufWriter<File>>, PathBuf, PathBuf)>,
    files: u64,
    bytes: u64,
}

impl ParquetTapeWriter {
    pub(in crate::r#gen) fn new(out: &Path) -> ParquetTapeWriter {
        ParquetTapeWriter {
            out: out.to_path_buf(),
            current: None,
            files: 0,
            bytes: 0,
        }
    }
}

impl TapeWriter for ParquetTapeWriter {
    fn start_day(&mut self, day: &Day) -> Result<()> {
        let dir = self.out.join(format!("date={}", day.iso));
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        let path = dir.join("part-0.parquet");
        let tmp = temp_path(&path);
        let file = File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .build();
        let writer = ArrowWriter::try_new(
            BufWriter::with_capacity(1 << 20, file),
            trades_schema(),
            Some(props),
        )?;
        self.current = Some((writer, tmp, path));
        Ok(())
    }

    fn write(&mut self, _day: &Day, batch: &Trades, names: &[String]) -> Result<()> {
        if let Some((writer, _, _)) = &mut self.current {
            writer.write(&batch.to_record_batch(names)?)?;
        }
        Ok(())
    }

    fn finish_day(&mut self, _day: &Day) -> Result<()> {
        if let Some((writer, tmp, path)) = self.current.take() {
            let mut inner = writer.into_inner()?;
            inner.flush().map_err(|e| io_error(&tmp, e))?;
            drop(inner);
            self.bytes += publish(&tmp, &path)?;
            self.files += 1;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(u64, u64)> {
        Ok((self.files, self.bytes))
    }
}
