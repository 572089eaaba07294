//! Window functions over a series of bars: filling (`locf`, `interpolate`) and indicators
//! (`ema`, `rsi`, `macd`, `bollinger`, `atr`, `realized_volatility`, sharing [`smoothing`]).

pub mod atr;
pub mod bollinger;
pub mod ema;
pub mod interpolate;
pub mod locf;
pub mod macd;
pub mod realized_volatility;
pub mod rsi;
mod smoothing;

use std::sync::Arc;

use datafusion::logical_expr::WindowUDF;

/// `locf` (last observation carried forward) as a [`WindowUDF`].
pub fn locf_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(locf::Locf::new()))
}

/// `interpolate` (linear in time between the neighbouring values) as a [`WindowUDF`].
pub fn interpolate_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(interpolate::Interpolate::new()))
}

/// `ema` (exponential moving average) as a [`WindowUDF`].
pub fn ema_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(ema::Ema::new()))
}

/// `rsi` (Wilder's relative strength index) as a [`WindowUDF`].
pub fn rsi_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(rsi::Rsi::new()))
}

/// `macd` (line, signal and histogram) as a [`WindowUDF`].
pub fn macd_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(macd::Macd::new()))
}

/// `bollinger` (mid, upper and lower bands) as a [`WindowUDF`].
pub fn bollinger_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(bollinger::Bollinger::new()))
}

/// `atr` (Wilder's average true range) as a [`WindowUDF`].
pub fn atr_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(atr::Atr::new()))
}

/// `realized_volatility` (root of the summed squared returns) as a [`WindowUDF`].
pub fn realized_volatility_udwf() -> Arc<WindowUDF> {
    Arc::new(WindowUDF::from(
        realized_volatility::RealizedVolatility::new(),
    ))
}

/// Every window function, in reference order.
pub fn udwfs() -> Vec<Arc<WindowUDF>> {
    vec![
        locf_udwf(),
        interpolate_udwf(),
        ema_udwf(),
        rsi_udwf(),
        macd_udwf(),
        bollinger_udwf(),
        atr_udwf(),
        realized_volatility_udwf(),
    ]
}
