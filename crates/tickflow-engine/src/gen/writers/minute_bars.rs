//! `MinuteBars`: one-minute bars of the tape, one text file per symbol.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use datafusion::common::Result;

use super::TapeWriter;
use crate::r#gen::format::{push_int, push_price, push_time};
use crate::r#gen::market::{Day, Trades};
use crate::r#gen::{io_error, publish, temp_path};

/// The bar of one symbol being built.
#[derive(Debug, Clone, Copy)]
struct Bar {
    /// Minute of the local day, or -1 when there is none.
    minute: i64,
    open: i64,
    high: i64,
    low: i64,
    close: i64,
    volume: i64,
}

const NO_BAR: Bar = Bar {
    minute: -1,
    open: 0,
    high: 0,
    low: 0,
    close: 0,
    volume: 0,
};

/// Bytes of formatted bars buffered before they are appended to the symbols' temporary files.
const BAR_BUFFER_BYTES: usize = 64 << 20;

/// `OUT/SYMBOL_full_1min.txt`: one-minute bars per symbol over all days. Bars are formatted into
/// per-symbol buffers and appended to each symbol's temporary file at the end of every day (or
/// sooner when the buffers grow large); all files are renamed into place at the end.
///
/// It is its own loop, not `sql/01_bars.sql`: it writes *input* files in the shape published
/// minute-bar files have (no `seq`, prices in cents, integer volume, New York minutes), as the
/// trades stream past, so no query ever holds the whole tape. `tests/gen.rs` of tickflow-cli
/// checks its bars equal `ohlc` and `total_volume` over the same trades.
pub(in crate::r#gen) struct BarWriter {
    paths: Vec<PathBuf>,
    bars: Vec<Bar>,
    text: Vec<Vec<u8>>,
    buffered: usize,
    /// Whether the symbol's temporary file has been created (later writes append).
    created: Vec<bool>,
}

impl BarWriter {
    pub(in crate::r#gen) fn new(out: &Path, names: &[String]) -> BarWriter {
        BarWriter {
            paths: names
                .iter()
                .map(|n| out.join(format!("{n}_full_1min.txt")))
                .collect(),
            bars: vec![NO_BAR; names.len()],
            text: vec![Vec::new(); names.len()],
            buffered: 0,
            created: vec![false; names.len()],
        }
    }

    fn close_bar(&mut self, day: &Day, sym: usize) {
        let bar = self.bars[sym];
        if bar.minute < 0 {
            return;
        }
        let buf = &mut self.text[sym];
        let before = buf.len();
        buf.extend_from_slice(day.iso.as_bytes());
        buf.push(b' ');
        push_time(buf, bar.minute * 60_000_000, false);
        for p in [bar.open, bar.high, bar.low, bar.close] {
            buf.push(b',');
            push_price(buf, p);
        }
        buf.push(b',');
        push_int(buf, bar.volume);
        buf.push(b'\n');
        self.buffered += buf.len() - before;
        self.bars[sym] = NO_BAR;
    }

    fn spill(&mut self) -> Result<()> {
        for (sym, text) in self.text.iter_mut().enumerate() {
            if text.is_empty() {
                continue;
            }
            let tmp = temp_path(&self.paths[sym]);
            let mut file = if self.created[sym] {
                OpenOptions::new().append(true).open(&tmp)
            } else {
                File::create(&tmp)
            }
            .map_err(|e| io_error(&tmp, e))?;
            self.created[sym] = true;
            file.write_all(text).map_err(|e| io_error(&tmp, e))?;
            text.clear();
        }
        self.buffered = 0;
        Ok(())
    }
}

impl TapeWriter for BarWriter {
    fn start_day(&mut self, _day: &Day) -> Result<()> {
        Ok(())
    }

    fn write(&mut self, day: &Day, batch: &Trades, _names: &[String]) -> Result<()> {
        for i in 0..batch.len() {
            let sym = batch.symbol[i] as usize;
            let minute = day.local_us(batch.ts_us[i]) / 60_000_000;
            let price = batch.price_cents[i];
            if self.bars[sym].minute != minute {
                self.close_bar(day, sym);
                self.bars[sym] = Bar {
                    minute,
                    open: price,
                    high: price,
                    low: price,
                    close: price,
                    volume: 0,
                };
            }
            let bar = &mut self.bars[sym];
            bar.high = bar.high.max(price);
            bar.low = bar.low.min(price);
            bar.close = price;
            bar.volume += batch.size[i];
        }
        if self.buffered > BAR_BUFFER_BYTES {
            self.spill()?;
        }
        Ok(())
    }

    fn finish_day(&mut self, day: &Day) -> Result<()> {
        for sym in 0..self.bars.len() {
            self.close_bar(day, sym);
        }
        self.spill()
    }

    fn finish(self: Box<Self>) -> Result<(u64, u64)> {
        let (mut files, mut bytes) = (0, 0);
        for (sym, path) in self.paths.iter().enumerate() {
            if self.created[sym] {
                bytes += publish(&temp_path(path), path)?;
                files += 1;
            }
        }
        Ok((files, bytes))
    }
}
