//! The bucketing arithmetic behind `time_bucket` (scalar), `time_buckets` and the `time_bucket`
//! table function: which bucket an instant falls in, and where bucket `k` starts.
//!
//! Semantics are DuckDB's `time_bucket` (itself TimescaleDB's), so DuckDB is a valid reference:
//!
//! - Buckets are `[start, start + width)` on a grid anchored at an origin: 2000-01-03 00:00 (a
//!   Monday) for widths without months, 2000-01-01 for widths in months/years.
//! - Without a time zone, instants are bucketed as UTC: a width without months is a fixed length
//!   (days are 24 h); a width in months counts calendar months from the origin's month (the
//!   origin's day and time are ignored, as in DuckDB), and buckets start on the 1st at 00:00.
//! - With a time zone, the origin is local midnight of 2000-01-03 (or 2000-01-01) in that zone;
//!   widths below a day are fixed lengths from that origin; day widths count local calendar days
//!   and month widths local calendar months, so buckets start at local midnight on both sides of
//!   a DST change (a day bucket is then 23 or 25 hours long). A width mixing days with hours has no
//!   single meaning across DST and is an error, except in fixed-offset zones (UTC, `+05:30`).
//! - Where local midnight does not exist (clocks jump forward at 00:00) the day starts at its first
//!   real instant. Where it happens twice (clocks go back from 01:00 to 00:00, as in Havana) the
//!   day starts at the second one, the standard-time reading DuckDB and PostgreSQL give an
//!   ambiguous wall time; the hour between the two midnights stays in the day before.
//!
//! Everything is computed on nanoseconds in `i128`, so no intermediate step overflows; the
//! common case (fixed width, a grid aligned to the timestamp's unit) has an `i64` fast path.

use std::cell::Cell;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, Months, NaiveDate, NaiveDateTime,
    Offset, TimeZone,
};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::compute::kernels::cast_utils::parse_interval_month_day_nano;
use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, IntervalUnit, TimeUnit};
use datafusion::common::{DataFusionError, Result, ScalarValue, exec_err};

use crate::args::Arg;

pub const NANOS_PER_DAY: i128 = 86_400_000_000_000;

/// Nanoseconds in one tick of `unit`.
pub const fn unit_nanos(unit: TimeUnit) -> i128 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// A time zone argument: parsed, and whether its offset never changes.
#[derive(Debug, Clone)]
pub struct Zone {
    pub tz: Tz,
    pub fixed: bool,
}

impl Zone {
    pub fn parse(name: &str, arg: &Arg) -> Result<Zone> {
        let tz = Tz::from_str(name).map_err(|_| {
            arg.error(format!(
                "'{name}' is not a known time zone: use an IANA name such as 'America/New_York' \
                 or an offset such as '+05:30'{}",
                if NaiveDate::from_str(name.get(..10).unwrap_or(name)).is_ok() {
                    "; to give an origin, write it as TIMESTAMP '...'"
                } else {
                    ""
                }
            ))
        })?;
        let utc = [
            "UTC",
            "Etc/UTC",
            "Z",
            "GMT",
            "Etc/GMT",
            "UCT",
            "Zulu",
            "Universal",
        ];
        let fixed =
            FixedOffset::from_str(name).is_ok() || utc.iter().any(|u| u.eq_ignore_ascii_case(name));
        Ok(Zone { tz, fixed })
    }

    /// The local wall-clock time of an instant.
    fn local(&self, instant_ns: i128) -> Result<NaiveDateTime> {
        let utc = naive_from_nanos(instant_ns)?;
        Ok(utc
            + Duration::seconds(
                self.tz
                    .offset_from_utc_datetime(&utc)
                    .fix()
                    .local_minus_utc() as i64,
            ))
    }

    /// The instant of a local wall-clock time. An ambiguous time (the repeated hour when clocks
    /// go back) takes the later instant, as DuckDB (ICU) and PostgreSQL do; a skipped time (clocks
    /// go forward) is moved forward by the gap, as ICU's lenient calendars do.
    fn instant(&self, local: NaiveDateTime) -> Result<i128> {
        let offset = match self.tz.offset_from_local_datetime(&local) {
            LocalResult::Single(o) => o.fix(),
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.fix(), b.fix());
                // The later instant is the one with the smaller UTC offset.
                if a.local_minus_utc() <= b.local_minus_utc() {
                    a
                } else {
                    b
                }
            }
            LocalResult::None => {
                // In a gap: use the offset in force before it.
                let before = local - Duration::hours(6);
                match self.tz.offset_from_local_datetime(&before) {
                    LocalResult::Single(o) | LocalResult::Ambiguous(o, _) => o.fix(),
                    LocalResult::None => {
                        return exec_err!("cannot resolve local time {local} in {}", self.tz);
                    }
                }
            }
        };
        Ok(nanos_from_naive(local) - offset.local_minus_utc() as i128 * 1_000_000_000)
    }
}

pub fn naive_from_nanos(ns: i128) -> Result<NaiveDateTime> {
    let secs = ns.div_euclid(1_000_000_000);
    let nsec = ns.rem_euclid(1_000_000_000) as u32;
    i64::try_from(secs)
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, nsec))
        .map(|d| d.naive_utc())
        .ok_or_else(|| {
            DataFusionError::Execution(format!(
                "time_bucket: {ns} ns since 1970 is outside the supported date range"
            ))
        })
}

pub fn nanos_from_naive(t: NaiveDateTime) -> i128 {
    let utc = t.and_utc();
    utc.timestamp() as i128 * 1_000_000_000 + utc.timestamp_subsec_nanos() as i128
}

fn date(y: i32, m: u32, d: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// Whole calendar months since year 0, month 1.
fn month_number(t: &NaiveDateTime) -> i64 {
    t.year() as i64 * 12 + t.month0() as i64
}

fn add_months(t: NaiveDateTime, months: i64) -> Result<NaiveDateTime> {
    let shifted = if months >= 0 {
        u32::try_from(months)
            .ok()
            .and_then(|m| t.checked_add_months(Months::new(m)))
    } else {
        u32::try_from(-months)
            .ok()
            .and_then(|m| t.checked_sub_months(Months::new(m)))
    };
    shifted
        .ok_or_else(|| DataFusionError::Execution(format!("{t} + {months} months is out of range")))
}

/// A validated bucket grid.
#[derive(Debug, Clone)]
pub enum Grid {
    /// Fixed-length buckets on UTC instants: `[origin + k·width, origin + (k+1)·width)`.
    Fixed { width: i128, origin: i128 },
    /// Calendar months. Without a zone: counted from the origin's month, buckets start on the
    /// 1st at 00:00 UTC. With a zone: whole local months from the local origin.
    Months {
        width: i64,
        origin: NaiveDateTime,
        zone: Option<Zone>,
    },
    /// Local calendar days in a zone with DST: whole local days from the local origin.
    Days {
        width: i64,
        origin: NaiveDateTime,
        zone: Zone,
    },
}

/// What a width argument means once its months/days/nanos parts are checked.
enum WidthParts {
    Nanos(i128),
    Days(i64, i128),
    Months(i64),
}

/// Why `width` cannot be a bucket width, or `None` when it can: a width is positive, and whole
/// months or a fixed length, never both (`1 month 2 days` has no fixed grid). What
/// `time_bucket` checks, for callers that take a width elsewhere (a CLI flag).
pub fn width_problem(width: IntervalMonthDayNano) -> Option<&'static str> {
    let IntervalMonthDayNano {
        months,
        days,
        nanoseconds,
    } = width;
    if months != 0 {
        if days != 0 || nanoseconds != 0 {
            return Some(
                "mixes months with days or time (e.g. '1 month 2 days'); a bucket is either \
                 whole months/years or a fixed length",
            );
        }
        return (months < 0).then_some("must be positive");
    }
    let total_fixed = days as i128 * NANOS_PER_DAY + nanoseconds as i128;
    (total_fixed <= 0 || days < 0 || nanoseconds < 0).then_some("must be positive")
}

fn classify_width(width: IntervalMonthDayNano, arg: &Arg) -> Result<WidthParts> {
    if let Some(problem) = width_problem(width) {
        return Err(arg.error(problem));
    }
    let IntervalMonthDayNano {
        months,
        days,
        nanoseconds,
    } = width;
    if months != 0 {
        Ok(WidthParts::Months(months as i64))
    } else if days > 0 {
        Ok(WidthParts::Days(days as i64, nanoseconds as i128))
    } else {
        Ok(WidthParts::Nanos(nanoseconds as i128))
    }
}

/// Where the grid is anchored.
#[derive(Debug, Clone, Copy)]
pub enum Origin {
    /// 2000-01-03 (or 2000-01-01 for month widths), local midnight in the zone if there is one.
    Default,
    /// An instant, in nanoseconds since the epoch.
    At(i128),
}

impl Grid {
    /// Validates a width (argument `width_arg` of the call) and builds the grid.
    pub fn new(
        width: IntervalMonthDayNano,
        origin: Origin,
        zone: Option<Zone>,
        width_arg: &Arg,
    ) -> Result<Grid> {
        let parts = classify_width(width, width_arg)?;
        // A zone whose offset never changes is UTC shifted: days are 24 h there.
        let (calendar_zone, fixed_offset) = match zone {
            Some(z) if z.fixed => (None, Some(z)),
            z => (z, None),
        };
        let local_origin = |y, m, d| -> Result<i128> {
            let local = date(y, m, d);
            match (&calendar_zone, &fixed_offset) {
                (Some(z), _) | (None, Some(z)) => z.instant(local),
                (None, None) => Ok(nanos_from_naive(local)),
            }
        };
        match parts {
            WidthParts::Months(width) => {
                let origin = match origin {
                    Origin::Default => date(2000, 1, 1),
                    Origin::At(ns) => match (&calendar_zone, &fixed_offset) {
                        (Some(z), _) | (None, Some(z)) => z.local(ns)?,
                        (None, None) => naive_from_nanos(ns)?,
                    },
                };
                Ok(Grid::Months {
                    width,
                    origin,
                    zone: calendar_zone.or(fixed_offset),
                })
            }
            WidthParts::Days(days, nanos) if calendar_zone.is_some() => {
                if nanos != 0 {
                    return Err(width_arg.error(
                        "mixes days with a time part (e.g. '1 day 2 hours'), which has no single \
                         length across a DST change; write it in hours, e.g. '26 hours'",
                    ));
                }
                let zone = calendar_zone.unwrap_or_else(|| unreachable!());
                let origin = match origin {
                    Origin::Default => date(2000, 1, 3),
                    Origin::At(ns) => zone.local(ns)?,
                };
                Ok(Grid::Days {
                    width: days,
                    origin,
                    zone,
                })
            }
            WidthParts::Days(days, nanos) => {
                let width = days as i128 * NANOS_PER_DAY + nanos;
                let origin = match origin {
                    Origin::Default => local_origin(2000, 1, 3)?,
                    Origin::At(ns) => ns,
                };
                Ok(Grid::Fixed {
                    width,
                    origin: origin.rem_euclid(width),
                })
            }
            WidthParts::Nanos(width) => {
                let origin = match origin {
                    Origin::Default => local_origin(2000, 1, 3)?,
                    Origin::At(ns) => ns,
                };
                Ok(Grid::Fixed {
                    width,
                    origin: origin.rem_euclid(width),
                })
            }
        }
    }

    /// The index of the bucket holding `ts` by its calendar position (see [`Self::locate`]).
    fn index(&self, ts: i128) -> Result<i128> {
        Ok(match self {
            Grid::Fixed { width, origin } => (ts - origin).div_euclid(*width),
            Grid::Months {
                width,
                origin,
                zone: None,
            } => {
                let months = month_number(&naive_from_nanos(ts)?) - month_number(origin);
                months.div_euclid(*width) as i128
            }
            Grid::Months {
                width,
                origin,
                zone: Some(zone),
            } => {
                let local = zone.local(ts)?;
                let mut months = month_number(&local) - month_number(origin);
                // Whole months: not yet a full month if the origin's day and time is not reached.
                if add_months(*origin, months)? > local {
                    months -= 1;
                }
                months.div_euclid(*width) as i128
            }
            Grid::Days {
                width,
                origin,
                zone,
            } => {
                let local = zone.local(ts)?;
                let days =
                    (nanos_from_naive(local) - nanos_from_naive(*origin)).div_euclid(NANOS_PER_DAY);
                (days as i64).div_euclid(*width) as i128
            }
        })
    }

    /// The start of bucket `index`, in nanoseconds since the epoch.
    pub fn start(&self, index: i128) -> Result<i128> {
        let months_or_days = |width: i64| -> Result<i64> {
            i64::try_from(index)
                .ok()
                .and_then(|k| k.checked_mul(width))
                .ok_or_else(|| {
                    DataFusionError::Execution(format!("bucket {index} is out of range"))
                })
        };
        match self {
            Grid::Fixed { width, origin } => Ok(origin + index * width),
            Grid::Months {
                width,
                origin,
                zone: None,
            } => {
                let first = date(origin.year(), origin.month(), 1);
                Ok(nanos_from_naive(add_months(
                    first,
                    months_or_days(*width)?,
                )?))
            }
            Grid::Months {
                width,
                origin,
                zone: Some(zone),
            } => zone.instant(add_months(*origin, months_or_days(*width)?)?),
            Grid::Days {
                width,
                origin,
                zone,
            } => {
                let local = origin
                    .checked_add_signed(Duration::days(months_or_days(*width)?))
                    .ok_or_else(|| {
                        DataFusionError::Execution(format!("bucket {index} is out of range"))
                    })?;
                zone.instant(local)
            }
        }
    }

    /// The index and start of the bucket holding `ts` (nanoseconds).
    ///
    /// The index comes from `ts`'s local calendar date; when that date's midnight is ambiguous
    /// and resolves to the later instant, `ts` may fall before it and belong to the previous
    /// bucket — the one case where the calendar index needs correcting.
    pub fn locate(&self, ts: i128) -> Result<(i128, i128)> {
        let index = self.index(ts)?;
        let start = self.start(index)?;
        if start > ts {
            return Ok((index - 1, self.start(index - 1)?));
        }
        Ok((index, start))
    }

    /// The start of the bucket holding `ts`, both in nanoseconds.
    #[cfg(test)]
    pub fn bucket_start(&self, ts: i128) -> Result<i128> {
        Ok(self.locate(ts)?.1)
    }

    /// A per-row function for timestamps stored in `unit`, with the i64 fast path when the grid
    /// is a fixed width aligned to whole units.
    pub fn for_unit(&self, unit: TimeUnit) -> UnitBucketer<'_> {
        let u = unit_nanos(unit);
        let fast = match self {
            Grid::Fixed { width, origin } if width % u == 0 && origin % u == 0 => {
                match (i64::try_from(width / u), i64::try_from(origin / u)) {
                    (Ok(w), Ok(o)) => Some((w, o)),
                    _ => None,
                }
            }
            _ => None,
        };
        UnitBucketer {
            grid: self,
            unit_nanos: u,
            fast,
            last: Cell::new(None),
        }
    }
}

/// Buckets raw timestamp values of one unit.
#[derive(Debug)]
pub struct UnitBucketer<'a> {
    grid: &'a Grid,
    unit_nanos: i128,
    /// (width, origin) in units, when the fast path applies.
    fast: Option<(i64, i64)>,
    /// The last bucket found on the slow path: `[start, end)` in ns and the start in units.
    /// Calendar buckets (days or months in a zone) cost time-zone lookups; sorted input asks for
    /// the same bucket many rows in a row, and then costs one comparison.
    last: Cell<Option<(i128, i128, i64)>>,
}

impl UnitBucketer<'_> {
    /// The bucket start of a timestamp value, in the same unit (floored when the grid is finer
    /// than the unit).
    #[inline]
    pub fn bucket(&self, ts: i64) -> Result<i64> {
        if let Some((w, o)) = self.fast
            && let Some(d) = ts.checked_sub(o)
            && let Some(start) = d
                .checked_sub(d.rem_euclid(w))
                .and_then(|s| s.checked_add(o))
        {
            return Ok(start);
        }
        let ns = ts as i128 * self.unit_nanos;
        if let Some((lo, hi, start)) = self.last.get()
            && lo <= ns
            && ns < hi
        {
            return Ok(start);
        }
        let (index, lo) = self.grid.locate(ns)?;
        let hi = self.grid.start(index + 1)?;
        let start = self.to_unit(lo)?;
        self.last.set(Some((lo, hi, start)));
        Ok(start)
    }

    /// Nanoseconds to this unit (floored); an error when out of the i64 range.
    pub fn to_unit(&self, ns: i128) -> Result<i64> {
        i64::try_from(ns.div_euclid(self.unit_nanos)).or_else(|_| {
            exec_err!("time_bucket: a bucket starts at {ns} ns since 1970, outside the range of the timestamp type")
        })
    }

    #[cfg(test)]
    pub fn nanos_of(&self, ts: i64) -> i128 {
        ts as i128 * self.unit_nanos
    }
}

/// Reads a width argument: an INTERVAL, or a string such as `'9 minutes'`.
pub fn width_from_scalar(value: &ScalarValue, arg: &Arg) -> Result<IntervalMonthDayNano> {
    match value {
        ScalarValue::IntervalMonthDayNano(Some(w)) => Ok(*w),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => parse_interval_month_day_nano(s).map_err(|_| {
            arg.error(format!(
                "'{s}' is not an interval; write it like '9 minutes', '1 day' or '3 months'"
            ))
        }),
        v if v.is_null() => Err(arg.error("is NULL; it must be a positive interval")),
        ScalarValue::IntervalYearMonth(_) | ScalarValue::IntervalDayTime(_) => {
            let cast = value.cast_to(&DataType::Interval(IntervalUnit::MonthDayNano))?;
            width_from_scalar(&cast, arg)
        }
        other => Err(arg.error(format!(
            "must be an INTERVAL or a string such as '9 minutes', got {}",
            other.data_type()
        ))),
    }
}

/// Reads an origin argument: a TIMESTAMP, as nanoseconds since the epoch.
pub fn origin_from_scalar(value: &ScalarValue, arg: &Arg) -> Result<i128> {
    let (v, unit) = match value {
        ScalarValue::TimestampSecond(v, _) => (v, TimeUnit::Second),
        ScalarValue::TimestampMillisecond(v, _) => (v, TimeUnit::Millisecond),
        ScalarValue::TimestampMicrosecond(v, _) => (v, TimeUnit::Microsecond),
        ScalarValue::TimestampNanosecond(v, _) => (v, TimeUnit::Nanosecond),
        other => return Err(arg.error(format!("must be a TIMESTAMP, got {}", other.data_type()))),
    };
    v.map(|v| v as i128 * unit_nanos(unit))
        .ok_or_else(|| arg.error("is NULL"))
}

/// Builds the grid of a call from its constant arguments. `ts_type` is the type of the
/// timestamps being bucketed: its time zone, if any, is the default zone. `anchor` is the
/// optional last argument, an origin (TIMESTAMP) or a time zone (string).
pub fn grid_from_scalars(
    function: &'static str,
    width: &ScalarValue,
    anchor: Option<&ScalarValue>,
    anchor_position: usize,
    ts_type: &DataType,
) -> Result<Grid> {
    let width_arg = Arg::new(function, 1, "width");
    let width = width_from_scalar(width, &width_arg)?;
    let type_zone = match ts_type {
        DataType::Timestamp(_, Some(tz)) => Some(Zone::parse(tz, &Arg::new(function, 2, "ts"))?),
        _ => None,
    };
    let (origin, zone) = match anchor {
        None => (Origin::Default, type_zone),
        Some(v) => match v {
            ScalarValue::Utf8(name)
            | ScalarValue::LargeUtf8(name)
            | ScalarValue::Utf8View(name) => {
                let arg = Arg::new(function, anchor_position, "timezone");
                let name = name.as_deref().ok_or_else(|| arg.error("is NULL"))?;
                (Origin::Default, Some(Zone::parse(name, &arg)?))
            }
            ScalarValue::Null => {
                let arg = Arg::new(function, anchor_position, "origin | timezone");
                return Err(arg.error("is NULL"));
            }
            v => {
                let arg = Arg::new(function, anchor_position, "origin");
                (Origin::At(origin_from_scalar(v, &arg)?), type_zone)
            }
        },
    };
    Grid::new(width, origin, zone, &width_arg)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARG: Arg = Arg::new("time_bucket", 1, "width");

    fn ns(s: &str) -> i128 {
        nanos_from_naive(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("datetime"))
    }

    fn show(ns: i128) -> String {
        naive_from_nanos(ns)
            .expect("in range")
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    fn width(months: i32, days: i32, nanos: i64) -> IntervalMonthDayNano {
        IntervalMonthDayNano::new(months, days, nanos)
    }

    fn zone(name: &str) -> Option<Zone> {
        Some(Zone::parse(name, &ARG).expect("zone"))
    }

    fn bucket(w: IntervalMonthDayNano, origin: Origin, zone: Option<Zone>, ts: &str) -> String {
        let grid = Grid::new(w, origin, zone, &ARG).expect("grid");
        show(grid.bucket_start(ns(ts)).expect("bucket"))
    }

    const MINUTE: i64 = 60_000_000_000;
    const HOUR: i64 = 60 * MINUTE;

    #[test]
    fn fixed_widths_anchor_on_2000_01_03() {
        assert_eq!(
            bucket(
                width(0, 0, 9 * MINUTE),
                Origin::Default,
                None,
                "2024-03-05 09:31:59"
            ),
            "2024-03-05 09:27:00"
        );
        assert_eq!(
            bucket(width(0, 7, 0), Origin::Default, None, "2024-03-07 12:00:00"),
            "2024-03-04 00:00:00"
        );
        // before the origin: floor, not truncation
        assert_eq!(
            bucket(width(0, 7, 0), Origin::Default, None, "1999-12-31 23:00:00"),
            "1999-12-27 00:00:00"
        );
        assert_eq!(
            bucket(
                width(0, 0, 9 * MINUTE),
                Origin::Default,
                None,
                "1959-12-31 23:59:59"
            ),
            "1959-12-31 23:51:00"
        );
    }

    #[test]
    fn months_count_from_the_origin_month() {
        assert_eq!(
            bucket(width(1, 0, 0), Origin::Default, None, "2024-02-29 23:59:59"),
            "2024-02-01 00:00:00"
        );
        assert_eq!(
            bucket(width(3, 0, 0), Origin::Default, None, "2024-05-15 00:00:00"),
            "2024-04-01 00:00:00"
        );
        assert_eq!(
            bucket(
                width(12, 0, 0),
                Origin::Default,
                None,
                "1969-05-15 00:00:00"
            ),
            "1969-01-01 00:00:00"
        );
        let origin = Origin::At(ns("2000-02-15 10:00:00"));
        assert_eq!(
            bucket(width(3, 0, 0), origin, None, "2024-01-20 00:00:00"),
            "2023-11-01 00:00:00"
        );
    }

    #[test]
    fn days_follow_local_midnight_across_dst() {
        let day = width(0, 1, 0);
        let cases = [
            // 2024-03-10: clocks go forward at 02:00 EST; local midnight is 05:00 UTC before, 04:00 after.
            (
                day,
                "America/New_York",
                "2024-03-10 04:59:59",
                "2024-03-09 05:00:00",
            ),
            (
                day,
                "America/New_York",
                "2024-03-10 05:00:00",
                "2024-03-10 05:00:00",
            ),
            (
                day,
                "America/New_York",
                "2024-03-11 03:59:59",
                "2024-03-10 05:00:00",
            ),
            (
                day,
                "America/New_York",
                "2024-03-11 04:00:00",
                "2024-03-11 04:00:00",
            ),
            // weeks start on Monday local midnight
            (
                width(0, 7, 0),
                "America/New_York",
                "2024-11-06 12:00:00",
                "2024-11-04 05:00:00",
            ),
            // months: local first of month
            (
                width(1, 0, 0),
                "America/New_York",
                "2024-07-01 03:00:00",
                "2024-06-01 04:00:00",
            ),
            // hours are fixed lengths from local midnight 2000-01-03: in Kolkata (+05:30) they start at :30 UTC
            (
                width(0, 0, HOUR),
                "Asia/Kolkata",
                "2024-01-01 10:10:00",
                "2024-01-01 09:30:00",
            ),
        ];
        for (w, tz, ts, expected) in cases {
            assert_eq!(
                bucket(w, Origin::Default, zone(tz), ts),
                expected,
                "{tz} {ts}"
            );
        }
    }

    #[test]
    fn midnight_in_a_dst_gap_or_overlap() {
        // Sao Paulo 2018-11-04: clocks jump from 00:00 to 01:00 (-03 -> -02); the day starts at
        // its first real instant, 01:00 local = 03:00 UTC (DuckDB agrees).
        let sp = || zone("America/Sao_Paulo");
        assert_eq!(
            bucket(width(0, 1, 0), Origin::Default, sp(), "2018-11-04 12:00:00"),
            "2018-11-04 03:00:00"
        );
        // Havana 2019-11-03: clocks go back from 01:00 to 00:00 (-04 -> -05), so local midnight
        // happens twice. The day starts at the second (05:00 UTC), as in DuckDB and PostgreSQL;
        // the hour between the two midnights (00:30 first time round) stays in Nov 2.
        let havana = || zone("America/Havana");
        let day = width(0, 1, 0);
        for (ts, expected) in [
            ("2019-11-03 04:30:00", "2019-11-02 04:00:00"),
            ("2019-11-03 05:00:00", "2019-11-03 05:00:00"),
            ("2019-11-04 04:59:59", "2019-11-03 05:00:00"),
            ("2019-11-04 05:00:00", "2019-11-04 05:00:00"),
        ] {
            assert_eq!(bucket(day, Origin::Default, havana(), ts), expected, "{ts}");
        }
    }

    #[test]
    fn fixed_offset_zones_allow_days_with_hours() {
        let grid =
            Grid::new(width(0, 1, 2 * HOUR), Origin::Default, zone("+05:30"), &ARG).expect("grid");
        assert!(matches!(grid, Grid::Fixed { .. }));
        let err = Grid::new(
            width(0, 1, 2 * HOUR),
            Origin::Default,
            zone("Europe/London"),
            &ARG,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("mixes days with a time part"),
            "{err}"
        );
    }

    #[test]
    fn bad_widths_are_errors() {
        for (w, message) in [
            (width(0, 0, 0), "must be positive"),
            (width(0, 0, -MINUTE), "must be positive"),
            (width(-1, 0, 0), "must be positive"),
            (width(1, 1, 0), "mixes months with days or time"),
        ] {
            let err = Grid::new(w, Origin::Default, None, &ARG)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("time_bucket: argument 1 (width)") && err.contains(message),
                "{err}"
            );
        }
        let err = Zone::parse("Mars/Olympus", &Arg::new("time_bucket", 3, "timezone"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'Mars/Olympus' is not a known time zone"),
            "{err}"
        );
    }

    #[test]
    fn cached_calendar_buckets_agree_with_uncached() {
        let grids = [
            Grid::new(
                width(0, 1, 0),
                Origin::Default,
                zone("America/New_York"),
                &ARG,
            ),
            Grid::new(width(1, 0, 0), Origin::Default, zone("Europe/London"), &ARG),
            Grid::new(width(1, 0, 0), Origin::Default, None, &ARG),
        ];
        // Sorted, then interleaved far apart, across the 2024 DST changes, in seconds.
        let start = 1_704_067_200i64; // 2024-01-01
        let mut ts: Vec<i64> = (0..2_000).map(|i| start + i * 17_777).collect();
        ts.extend((0..2_000).map(|i| start + ((i * 7_919) % 2_000) * 17_777));
        for grid in grids {
            let grid = grid.expect("grid");
            let b = grid.for_unit(TimeUnit::Second);
            for &t in &ts {
                let uncached = b
                    .to_unit(grid.bucket_start(b.nanos_of(t)).expect("start"))
                    .expect("unit");
                assert_eq!(b.bucket(t).expect("bucket"), uncached, "{grid:?} {t}");
            }
        }
    }

    #[test]
    fn unit_fast_path_agrees_with_general_path() {
        let grid = Grid::new(width(0, 0, 9 * MINUTE), Origin::Default, None, &ARG).expect("grid");
        for unit in [
            TimeUnit::Second,
            TimeUnit::Millisecond,
            TimeUnit::Microsecond,
            TimeUnit::Nanosecond,
        ] {
            let b = grid.for_unit(unit);
            assert!(b.fast.is_some());
            let per_sec = 1_000_000_000 / unit_nanos(unit) as i64;
            for ts in [-7_777_777 * per_sec, -1, 0, 1, 1_700_000_123 * per_sec + 7] {
                let general = b
                    .to_unit(grid.bucket_start(b.nanos_of(ts)).expect("start"))
                    .expect("unit");
                assert_eq!(b.bucket(ts).expect("bucket"), general, "{unit:?} {ts}");
            }
        }
        // At the ends of the i64 range a bucket that starts before the smallest timestamp is an
        // error, never a start wrapped to 2262 (`1677-09-21 00:12:44` once was one).
        for unit in [TimeUnit::Second, TimeUnit::Nanosecond] {
            let b = grid.for_unit(unit);
            for ts in [i64::MIN, i64::MIN + 1, -9_223_372_036_000_000_000, i64::MAX] {
                if let Ok(start) = b.bucket(ts) {
                    let (s, t) = (b.nanos_of(start), b.nanos_of(ts));
                    assert!(
                        s <= t && t < s + 9 * MINUTE as i128,
                        "{unit:?} {ts} -> {start}"
                    );
                }
            }
            assert!(b.bucket(i64::MIN).is_err() || unit == TimeUnit::Second);
        }
        // A grid finer than the unit floors to the unit.
        let grid =
            Grid::new(width(0, 0, 1_500_000_000), Origin::Default, None, &ARG).expect("grid");
        let b = grid.for_unit(TimeUnit::Second);
        assert!(b.fast.is_none());
        assert_eq!(b.bucket(946_857_600 + 2).expect("bucket"), 946_857_600 + 1);
    }
}
