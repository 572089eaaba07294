mod accumulate;
mod args;
mod compensated;
#[cfg(test)]
mod test_util;
pub mod total_volume;
pub mod vwap;
pub mod bar_std;
pub mod ohlc;
