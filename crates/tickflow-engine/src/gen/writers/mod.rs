//! The output shapes of `tickflow gen`: each writer takes the day's trades batch by batch.

pub(super) mod csv;
pub(super) mod minute_bars;
pub(super) mod parquet;

use datafusion::common::Result;

use super::market::{Day, Trades};

/// Where the generated trades go, a day at a time.
pub(super) trait TapeWriter {
    fn start_day(&mut self, day: &Day) -> Result<()>;
    fn write(&mut self, day: &Day, batch: &Trades, names: &[String]) -> Result<()>;
    fn finish_day(&mut self, day: &Day) -> Result<()>;
    /// Files and bytes written.
    fn finish(self: Box<Self>) -> Result<(u64, u64)>;
}
