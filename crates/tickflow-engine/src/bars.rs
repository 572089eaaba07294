//! A bar, defined once: `sql/01_bars.sql` says what a bar's columns are, for a batch run
//! (`tickflow sql -f sql/01_bars.sql`) and for the watcher, which plans this same script and runs
//! its aggregate in steps ([`crate::watch::bars`]). [`BarWidth`] is the width bars are cut at,
//! checked where it enters (`tickflow watch --bar-width`).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use datafusion::arrow::compute::kernels::cast_utils::{
    IntervalParseConfig, IntervalUnit, parse_interval_month_day_nano_config,
};
use datafusion::arrow::datatypes::IntervalMonthDayNano;

use crate::error::InvalidValue;

/// The text of `sql/01_bars.sql`.
pub const BARS_SQL: &str = include_str!("../../../sql/01_bars.sql");

/// How errors name [`BARS_SQL`].
pub const BARS_SQL_NAME: &str = "sql/01_bars.sql";

/// `01_bars.sql` over every trade of `trades`, with bars of `width`. Every date is the
/// script's default; every symbol is `symbols` = `symbol` (`symbol IN (symbol)`, which the
/// optimizer drops, where the default would plan a semi-join with the table's own symbols).
pub fn bars_sql(width: &BarWidth) -> datafusion::common::Result<String> {
    let params = BTreeMap::from([
        ("bar_width".to_string(), width.as_str().to_string()),
        ("symbols".to_string(), "symbol".to_string()),
    ]);
    crate::params::substitute(BARS_SQL, &params, BARS_SQL_NAME)
}

/// A bar width: an interval `time_bucket` accepts, written as SQL writes it in
/// `INTERVAL '<width>'` (`1 minute`, `5 minutes`, `1 hour`, `1 day`, `1 month`). It is positive,
/// and either a fixed length or whole months, never both (`1 month 2 days` has no fixed grid).
///
/// The text is kept as given: it is what goes into the SQL and into the watcher's checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarWidth {
    text: String,
    interval: IntervalMonthDayNano,
}

impl BarWidth {
    pub fn parse(text: &str) -> Result<BarWidth, InvalidValue> {
        let bad = |why: &str| InvalidValue(format!("bar width '{text}' {why}"));
        // Exactly how the SQL planner reads `INTERVAL '<text>'` (a bare number is seconds).
        let interval = parse_interval_month_day_nano_config(
            text,
            IntervalParseConfig::new(IntervalUnit::Second),
        )
        .map_err(|_| {
            bad("is not an interval; write it like '1 minute', '5 minutes', '1 hour' or '1 day'")
        })?;
        if let Some(problem) = tickflow_functions::time::bucket::width_problem(interval) {
            return Err(bad(problem));
        }
        Ok(BarWidth {
            text: text.to_string(),
            interval,
        })
    }

    /// The width as it was given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn interval(&self) -> IntervalMonthDayNano {
        self.interval
    }

    /// `INTERVAL '<width>'`.
    pub fn to_sql(&self) -> String {
        format!("INTERVAL '{}'", self.text)
    }
}

impl FromStr for BarWidth {
    type Err = InvalidValue;

    fn from_str(text: &str) -> Result<BarWidth, InvalidValue> {
        BarWidth::parse(text)
    }
}

impl fmt::Display for BarWidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_that_time_bucket_takes() -> Result<(), InvalidValue> {
        const MINUTE: i64 = 60_000_000_000;
        assert_eq!(
            BarWidth::parse("5 minutes")?.interval(),
            IntervalMonthDayNano::new(0, 0, 5 * MINUTE)
        );
        assert_eq!(
            BarWidth::parse("1 day")?.interval(),
            IntervalMonthDayNano::new(0, 1, 0)
        );
        assert_eq!(
            BarWidth::parse("1 month")?.interval(),
            IntervalMonthDayNano::new(1, 0, 0)
        );
        // A bare number is seconds, as in SQL's INTERVAL '30'.
        assert_eq!(
            BarWidth::parse("30")?.interval(),
            IntervalMonthDayNano::new(0, 0, 30_000_000_000)
        );
        let width = BarWidth::parse("1 hour")?;
        assert_eq!(
            (width.as_str(), width.to_sql()),
            ("1 hour", "INTERVAL '1 hour'".into())
        );
        Ok(())
    }

    #[test]
    fn bad_widths_say_why() {
        for (text, why) in [
            ("fortnight", "is not an interval"),
            ("1 minute', ts) --", "is not an interval"),
            ("", "is not an interval"),
            ("0 minutes", "must be positive"),
            ("-5 minutes", "must be positive"),
            ("1 day -25 hours", "must be positive"),
            ("1 month 2 days", "mixes months with days"),
        ] {
            match BarWidth::parse(text) {
                Ok(w) => panic!("{text:?} accepted as {w:?}"),
                Err(e) => {
                    let e = e.to_string();
                    assert!(e.starts_with(&format!("bar width '{text}' {why}")), "{e}");
                }
            }
        }
    }

    #[test]
    fn the_script_takes_the_width() -> datafusion::common::Result<()> {
        let sql = bars_sql(&BarWidth::parse("9 minutes").expect("a width"))?;
        assert!(
            sql.contains("time_bucket(INTERVAL '9 minutes', ts)"),
            "{sql}"
        );
        assert!(!sql.contains("${"), "{sql}");
        Ok(())
    }
}
