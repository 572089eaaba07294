//! Aggregate functions: the summaries of a bar.
//!
//! Each is one kernel behind both DataFusion accumulator interfaces ([`accumulate`]'s
//! `GroupKernel`), so the row-at-a-time and the vectorized paths cannot disagree.

mod accumulate;
pub mod bar_std;
mod compensated;
pub mod ohlc;
pub mod total_volume;
pub mod vwap;

use std::sync::Arc;

use datafusion::logical_expr::AggregateUDF;

/// `ohlc` as an [`AggregateUDF`].
pub fn ohlc_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(ohlc::Ohlc::new()))
}

/// `vwap` as an [`AggregateUDF`].
pub fn vwap_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(vwap::Vwap::new()))
}

/// `bar_std` as an [`AggregateUDF`].
pub fn bar_std_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(bar_std::BarStd::new()))
}

/// `total_volume` as an [`AggregateUDF`].
pub fn total_volume_udaf() -> Arc<AggregateUDF> {
    Arc::new(AggregateUDF::from(total_volume::TotalVolume::new()))
}

/// Every aggregate function, in reference order.
pub fn udafs() -> Vec<Arc<AggregateUDF>> {
    vec![
        ohlc_udaf(),
        vwap_udaf(),
        bar_std_udaf(),
        total_volume_udaf(),
    ]
}
