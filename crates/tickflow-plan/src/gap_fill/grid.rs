//! The buckets a gap-filled series gets: every bucket from the one holding the range's lower
//! bound up to its upper bound, or, with a calendar, those of them that meet a session.

use chrono::DateTime;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};

use super::placeholder::NAME;
use tickflow_functions::calendar;
use tickflow_functions::time::bucket::{grid_from_scalars, nanos_from_naive, unit_nanos};

/// More buckets than this in one range is an error, not an allocation that never ends (the
/// same limit as `time_buckets`).
pub use tickflow_functions::time::time_buckets::MAX_BUCKETS;

/// What defines the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct GridSpec {
    pub width: ScalarValue,
    pub anchor: Option<ScalarValue>,
    pub calendar: Option<String>,
    /// The range, in nanoseconds since the epoch: `[lower, upper)` or `[lower, upper]`.
    pub lower_ns: i64,
    pub upper_ns: i64,
    pub upper_inclusive: bool,
}

/// The bucket starts, ascending, in the unit of `ts_type` (the bucketed column's type).
pub(crate) fn bucket_starts(spec: &GridSpec, ts_type: &DataType) -> Result<Vec<i64>> {
    let DataType::Timestamp(unit, _) = ts_type else {
        return exec_err!("{NAME}: the bucket column is {ts_type}, not a TIMESTAMP");
    };
    let grid = grid_from_scalars(NAME, &spec.width, spec.anchor.as_ref(), 3, ts_type)?;
    let unit = unit_nanos(*unit);
    let (lower, upper) = (i128::from(spec.lower_ns), i128::from(spec.upper_ns));
    let mut starts: Vec<i64> = Vec::new();
    let mut push = |start: i128| -> Result<()> {
        let Ok(value) = i64::try_from(start.div_euclid(unit)) else {
            return exec_err!("{NAME}: a bucket starts outside the range of the timestamp type");
        };
        if starts.last() != Some(&value) {
            if starts.len() == MAX_BUCKETS {
                return exec_err!(
                    "{NAME}: the time range holds more than {MAX_BUCKETS} buckets of width \
                     {}; narrow the WHERE range or widen the buckets",
                    spec.width
                );
            }
            starts.push(value);
        }
        Ok(())
    };
    // The buckets meeting `[from, to)`.
    let mut cover = |from: i128, to: i128| -> Result<()> {
        let (mut index, mut start) = grid.locate(from)?;
        while start < to {
            push(start)?;
            index += 1;
            start = grid.start(index)?;
        }
        Ok(())
    };
    // The end of the range as an exclusive bound.
    let end = if spec.upper_inclusive {
        upper + 1
    } else {
        upper
    };
    if lower >= end {
        return Ok(Vec::new());
    }
    match &spec.calendar {
        None => cover(lower, end)?,
        Some(name) => {
            let calendar = calendar::lookup(name)?;
            let first = calendar.local_date(DateTime::from_timestamp_nanos(spec.lower_ns));
            let last = calendar.local_date(DateTime::from_timestamp_nanos(spec.upper_ns));
            let nanos = |t: DateTime<chrono::Utc>| nanos_from_naive(t.naive_utc());
            for (_, open, close) in calendar.sessions(first, last)? {
                let from = nanos(open).max(lower);
                let to = nanos(close).min(end);
                if from < to {
                    cover(from, to)?;
                }
            }
        }
    }
    Ok(starts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::TimeUnit;

    fn spec(width: &str, lower: &str, upper: &str, calendar: Option<&str>) -> GridSpec {
        let ns = |s: &str| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
                .expect("a test time")
                .and_utc()
                .timestamp_nanos_opt()
                .expect("in range")
        };
        GridSpec {
            width: ScalarValue::Utf8(Some(width.into())),
            anchor: None,
            calendar: calendar.map(str::to_string),
            lower_ns: ns(lower),
            upper_ns: ns(upper),
            upper_inclusive: false,
        }
    }

    const NS: DataType = DataType::Timestamp(TimeUnit::Nanosecond, None);

    #[test]
    fn sessions_give_390_and_210_minutes_and_none_on_thanksgiving() -> Result<()> {
        let full = bucket_starts(
            &spec(
                "1 minute",
                "2019-11-27 00:00",
                "2019-11-28 00:00",
                Some("XNYS"),
            ),
            &NS,
        )?;
        assert_eq!(full.len(), 390);
        assert_eq!(
            full[0],
            spec("1 minute", "2019-11-27 14:30", "2019-11-27 14:30", None).lower_ns
        );
        let thanksgiving = bucket_starts(
            &spec(
                "1 minute",
                "2019-11-28 00:00",
                "2019-11-29 00:00",
                Some("XNYS"),
            ),
            &NS,
        )?;
        assert!(thanksgiving.is_empty());
        let early = bucket_starts(
            &spec(
                "1 minute",
                "2019-11-29 00:00",
                "2019-11-30 00:00",
                Some("XNYS"),
            ),
            &NS,
        )?;
        assert_eq!(early.len(), 210);
        // A range inside a session is cut to it, bucket-aligned.
        let part = bucket_starts(
            &spec(
                "5 minutes",
                "2019-11-29 14:32",
                "2019-11-29 14:50",
                Some("XNYS"),
            ),
            &NS,
        )?;
        assert_eq!(part.len(), 4, "14:30, 14:35, 14:40, 14:45");
        Ok(())
    }

    #[test]
    fn a_plain_range_has_every_bucket_meeting_it() -> Result<()> {
        let starts = bucket_starts(
            &spec("1 hour", "2024-01-02 00:30", "2024-01-02 03:00", None),
            &NS,
        )?;
        assert_eq!(starts.len(), 3, "00:00, 01:00, 02:00");
        let mut inclusive = spec("1 hour", "2024-01-02 00:30", "2024-01-02 03:00", None);
        inclusive.upper_inclusive = true;
        assert_eq!(bucket_starts(&inclusive, &NS)?.len(), 4, "and 03:00");
        let empty = spec("1 hour", "2024-01-02 03:00", "2024-01-02 03:00", None);
        assert!(bucket_starts(&empty, &NS)?.is_empty());
        let huge = spec("1 second", "2000-01-01 00:00", "2024-01-01 00:00", None);
        let err = bucket_starts(&huge, &NS).expect_err("too many buckets");
        assert!(err.to_string().contains("narrow the WHERE range"), "{err}");
        Ok(())
    }
}
