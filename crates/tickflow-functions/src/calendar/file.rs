//! User calendars, read from a JSON file: any exchange, any years.
//!
//! ```json
//! {
//!   "name": "XLON",
//!   "timezone": "Europe/London",
//!   "open": "08:00",
//!   "close": "16:30",
//!   "weekend": ["Saturday", "Sunday"],
//!   "first": "2024-01-01",
//!   "last": "2025-12-31",
//!   "holidays": ["2024-01-01", "2024-03-29", "2024-04-01", "2024-12-25", "2024-12-26"],
//!   "early_closes": {"2024-12-24": "12:30", "2024-12-31": "12:30"}
//! }
//! ```
//!
//! `weekend` defaults to Saturday and Sunday, `early_closes` to none. `first` and `last` bound
//! the dates the calendar answers for: holidays are only known where someone listed them. Every
//! error names the file and the field.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use chrono::{NaiveDate, NaiveTime, Weekday};
use datafusion::arrow::array::timezone::Tz;
use datafusion::common::{DataFusionError, Result};
use serde::Deserialize;

use super::Calendar;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CalendarFile {
    name: Option<String>,
    timezone: String,
    open: String,
    close: String,
    #[serde(default)]
    weekend: Option<Vec<String>>,
    first: String,
    last: String,
    #[serde(default)]
    holidays: Vec<String>,
    #[serde(default)]
    early_closes: BTreeMap<String, String>,
}

/// Reads the calendar file at `path`.
pub fn load(path: &str) -> Result<Calendar> {
    let error = |what: String| DataFusionError::Execution(format!("calendar file {path}: {what}"));
    let text = std::fs::read_to_string(path).map_err(|e| error(format!("cannot read it: {e}")))?;
    parse(&text).map_err(|e| error(e.0))
}

/// Why a calendar file is refused: which field is wrong and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Invalid(String);

/// The calendar `text` describes; the error says which field is wrong and why.
fn parse(text: &str) -> std::result::Result<Calendar, Invalid> {
    let file: CalendarFile = serde_json::from_str(text).map_err(|e| Invalid(e.to_string()))?;
    let day = |field: &str, s: &str| {
        NaiveDate::from_str(s)
            .map_err(|_| Invalid(format!("{field}: '{s}' is not a date (YYYY-MM-DD)")))
    };
    let time = |field: &str, s: &str| {
        NaiveTime::parse_from_str(s, "%H:%M")
            .map_err(|_| Invalid(format!("{field}: '{s}' is not a time (HH:MM)")))
    };
    let tz = Tz::from_str(&file.timezone).map_err(|_| {
        Invalid(format!(
            "timezone: '{}' is not a known time zone (use an IANA name such as 'Europe/London')",
            file.timezone
        ))
    })?;
    let (open, close) = (time("open", &file.open)?, time("close", &file.close)?);
    if open >= close {
        return Err(Invalid(format!(
            "open ({open}) must be before close ({close})"
        )));
    }
    let weekend = match &file.weekend {
        None => vec![Weekday::Sat, Weekday::Sun],
        Some(days) => days
            .iter()
            .map(|d| {
                Weekday::from_str(d)
                    .map_err(|_| Invalid(format!("weekend: '{d}' is not a day of the week")))
            })
            .collect::<std::result::Result<_, _>>()?,
    };
    let (first, last) = (day("first", &file.first)?, day("last", &file.last)?);
    if first > last {
        return Err(Invalid(format!("first ({first}) is after last ({last})")));
    }
    // Every session must be a timestamp: a wider calendar once gave an internal error
    // (`trading_days` over years 1-9999) or silent NULL sessions.
    let (lo, hi) = representable_days();
    for (field, d) in [("first", first), ("last", last)] {
        if d < lo || d > hi {
            return Err(Invalid(format!(
                "{field}: {d} is outside {lo} to {hi}, the days whose sessions a nanosecond \
                 timestamp can hold"
            )));
        }
    }
    let holidays = file
        .holidays
        .iter()
        .map(|h| day("holidays", h))
        .collect::<std::result::Result<BTreeSet<_>, _>>()?;
    let mut early_closes = BTreeMap::new();
    for (d, t) in &file.early_closes {
        let (d, t) = (day("early_closes", d)?, time("early_closes", t)?);
        if t <= open || t >= close {
            return Err(Invalid(format!(
                "early_closes: {d} closes at {t}, outside {open}–{close}"
            )));
        }
        early_closes.insert(d, t);
    }
    Ok(Calendar {
        name: file.name.unwrap_or_else(|| "file".into()),
        tz,
        open,
        close,
        weekend,
        holidays,
        early_closes,
        first,
        last,
    })
}

/// The first and last dates whose whole day, in any time zone (offsets up to ±14 hours), lies
/// within a nanosecond timestamp's range (1677-09-21 00:12:43 to 2262-04-11 23:47:16 UTC).
fn representable_days() -> (NaiveDate, NaiveDate) {
    (
        NaiveDate::from_ymd_opt(1677, 9, 22).unwrap_or(NaiveDate::MIN),
        NaiveDate::from_ymd_opt(2262, 4, 10).unwrap_or(NaiveDate::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const XLON: &str = r#"{
        "name": "XLON", "timezone": "Europe/London", "open": "08:00", "close": "16:30",
        "first": "2024-01-01", "last": "2024-12-31",
        "holidays": ["2024-12-25", "2024-12-26"], "early_closes": {"2024-12-24": "12:30"}
    }"#;

    #[test]
    fn a_calendar_file_reads_as_written() {
        let cal = parse(XLON).unwrap();
        let d = |s| NaiveDate::from_str(s).unwrap();
        assert!(!cal.is_trading_day(d("2024-12-25")).unwrap());
        assert!(!cal.is_trading_day(d("2024-12-28")).unwrap()); // Saturday
        let (open, close) = cal.session(d("2024-12-24")).unwrap().unwrap();
        assert_eq!(open.to_rfc3339(), "2024-12-24T08:00:00+00:00");
        assert_eq!(close.to_rfc3339(), "2024-12-24T12:30:00+00:00");
        let (open, _) = cal.session(d("2024-07-01")).unwrap().unwrap();
        assert_eq!(open.to_rfc3339(), "2024-07-01T07:00:00+00:00"); // BST
        assert!(cal.is_trading_day(d("2025-01-02")).is_err());
    }

    #[test]
    fn errors_name_the_field() {
        for (broken, message) in [
            (
                XLON.replace("Europe/London", "Europe/Londn"),
                "timezone: 'Europe/Londn'",
            ),
            (
                XLON.replace("\"08:00\"", "\"8am\""),
                "open: '8am' is not a time",
            ),
            (
                XLON.replace("2024-12-26", "2024-13-01"),
                "holidays: '2024-13-01' is not a date",
            ),
            (
                XLON.replace("12:30", "17:00"),
                "early_closes: 2024-12-24 closes at 17:00",
            ),
            (
                XLON.replace("\"first\"", "\"frist\""),
                "unknown field `frist`",
            ),
            (
                XLON.replace("2024-01-01", "0001-01-01"),
                "first: 0001-01-01 is outside 1677-09-22 to 2262-04-10",
            ),
            (
                XLON.replace("\"last\": \"2024-12-31\"", "\"last\": \"9999-12-31\""),
                "last: 9999-12-31 is outside 1677-09-22 to 2262-04-10",
            ),
        ] {
            let err = parse(&broken).unwrap_err().to_string();
            assert!(err.contains(message), "{err}");
        }
        let err = load("/nonexistent/cal.json").unwrap_err().to_string();
        assert!(
            err.contains("calendar file /nonexistent/cal.json: cannot read it"),
            "{err}"
        );
    }
}
