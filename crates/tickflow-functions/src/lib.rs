mod accumulate;
mod args;
mod compensated;
#[cfg(test)]
mod test_util;
pub mod total_volume;
