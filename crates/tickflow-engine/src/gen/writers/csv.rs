//! `Csv`: the tape as TAQ-style daily trade files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use datafusion::common::Result;

use super::TapeWriter;
use crate::r#gen::format::{push_int, push_price, push_time};
use crate::r#gen::market::{CONDITIONS, Day, EXCHANGES, Trades};
use crate::r#gen::{BATCH_ROWS, io_error, publish, temp_path};

/// `OUT/trades_YYYYMMDD.csv`, one file per day.
pub(in crate::r#gen) struct CsvTapeWriter {
    out: PathBuf,
    current: Option<(BufWriter<File>, PathBuf, PathBuf)>,
    line: Vec<u8>,
    files: u64,
    bytes: u64,
}

/// The header of the TAQ-style CSV.
pub const CSV_HEADER: &str = "date,time,symbol,price,size,exchange,conditions,seq";

impl CsvTapeWriter {
    pub(in crate::r#gen) fn new(out: &Path) -> CsvTapeWriter {
        CsvTapeWriter {
            out: out.to_path_buf(),
            current: None,
            line: Vec::with_capacity(BATCH_ROWS * 64),
            files: 0,
            bytes: 0,
        }
    }
}

impl TapeWriter for CsvTapeWriter {
    fn start_day(&mut self, day: &Day) -> Result<()> {
        let path = self
            .out
            .join(format!("trades_{}.csv", day.date.format("%Y%m%d")));
        let tmp = temp_path(&path);
        let file = File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        writeln!(w, "{CSV_HEADER}").map_err(|e| io_error(&tmp, e))?;
        self.current = Some((w, tmp, path));
        Ok(())
    }

    fn write(&mut self, day: &Day, batch: &Trades, names: &[String]) -> Result<()> {
        let Some((w, tmp, _)) = &mut self.current else {
            return Ok(());
        };
        let buf = &mut self.line;
        buf.clear();
        for i in 0..batch.len() {
            buf.extend_from_slice(day.iso.as_bytes());
            buf.push(b',');
            push_time(buf, day.local_us(batch.ts_us[i]), true);
            buf.push(b',');
            buf.extend_from_slice(names[batch.symbol[i] as usize].as_bytes());
            buf.push(b',');
            push_price(buf, batch.price_cents[i]);
            buf.push(b',');
            push_int(buf, batch.size[i]);
            buf.push(b',');
            buf.extend_from_slice(EXCHANGES[batch.exchange[i] as usize].0.as_bytes());
            buf.push(b',');
            buf.extend_from_slice(CONDITIONS[batch.condition[i] as usize].as_bytes());
            buf.push(b',');
            push_int(buf, batch.seq[i]);
            buf.push(b'\n');
        }
        w.write_all(buf).map_err(|e| io_error(tmp, e))
    }

    fn finish_day(&mut self, _day: &Day) -> Result<()> {
        if let Some((w, tmp, path)) = self.current.take() {
            let file = w.into_inner().map_err(|e| io_error(&tmp, e.error()))?;
            drop(file);
            self.bytes += publish(&tmp, &path)?;
            self.files += 1;
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<(u64, u64)> {
        Ok((self.files, self.bytes))
    }
}
