//! Dates, times and time zones of source files: `YYYY-MM-DD`, `HH:MM:SS[.f]`, chrono formats,
//! and local wall-clock times → UTC nanoseconds.

use chrono::{LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};
use chrono_tz::Tz;

use super::parse::FieldErr;
use crate::error::InvalidValue;

pub(crate) const NANOS_PER_SEC: i64 = 1_000_000_000;
pub(crate) const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SEC;

/// What a local time that happens twice means: the hour repeated when clocks go back
/// (`--ambiguous`; pandas' `ambiguous`). `Raise` (the default) is a `file:line:column` error,
/// so that no trade silently lands an hour off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ambiguous {
    #[default]
    Raise,
    /// The first of the two instants (daylight saving time, before the clocks go back).
    Earliest,
    /// The second of the two instants (standard time, after the clocks went back).
    Latest,
}

impl Ambiguous {
    /// `raise`, `earliest` or `latest`.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s.trim().to_ascii_lowercase().as_str() {
            "raise" => Ok(Self::Raise),
            "earliest" => Ok(Self::Earliest),
            "latest" => Ok(Self::Latest),
            _ => Err(InvalidValue(format!(
                "'{s}' is not raise, earliest or latest"
            ))),
        }
    }
}

/// What a local time that never happens means: the hour skipped when clocks go forward
/// (`--nonexistent`; pandas' `nonexistent`). `Raise` (the default) is a `file:line:column`
/// error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Nonexistent {
    #[default]
    Raise,
    /// The first instant after the gap (02:30 on a spring-forward night in New York → 03:00
    /// EDT, 07:00 UTC).
    ShiftForward,
    /// The last nanosecond before the gap (→ 01:59:59.999999999 EST).
    ShiftBackward,
}

impl Nonexistent {
    /// `raise`, `shift-forward` or `shift-backward` (or with `_`, as pandas spells them).
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "raise" => Ok(Self::Raise),
            "shift-forward" => Ok(Self::ShiftForward),
            "shift-backward" => Ok(Self::ShiftBackward),
            _ => Err(InvalidValue(format!(
                "'{s}' is not raise, shift-forward or shift-backward"
            ))),
        }
    }
}

impl std::str::FromStr for Ambiguous {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        Self::parse(s)
    }
}

impl std::str::FromStr for Nonexistent {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        Self::parse(s)
    }
}

/// The range of a nanosecond timestamp (an `i64` since the epoch), for error messages.
pub(crate) const TIMESTAMP_RANGE: &str =
    "1677-09-21 00:12:43.145224192 to 2262-04-11 23:47:16.854775807 UTC";

/// Converts local wall-clock times of one zone to UTC, caching the offset of whole days
/// without a transition.
pub(crate) struct LocalToUtc {
    tz: Tz,
    ambiguous: Ambiguous,
    nonexistent: Nonexistent,
    day: Option<NaiveDate>,
    /// Offset (seconds east of UTC) if constant over `day`.
    fixed: Option<i64>,
}

impl LocalToUtc {
    pub(crate) fn new(tz: Tz, ambiguous: Ambiguous, nonexistent: Nonexistent) -> Self {
        Self {
            tz,
            ambiguous,
            nonexistent,
            day: None,
            fixed: None,
        }
    }

    /// UTC nanoseconds of a local date and nanosecond of day. Ambiguous times (DST fall-back)
    /// and times in a DST gap are resolved as [`Ambiguous`] and [`Nonexistent`] say; an
    /// instant outside [`TIMESTAMP_RANGE`] is an error, never a wrapped value.
    pub(crate) fn convert(
        &mut self,
        date: NaiveDate,
        nanos_of_day: i64,
        column: usize,
    ) -> Result<i64, FieldErr> {
        if self.day != Some(date) {
            self.day = Some(date);
            let offset_at = |t: NaiveTime| {
                self.tz
                    .offset_from_local_datetime(&date.and_time(t))
                    .single()
                    .map(|o| i64::from(o.fix().local_minus_utc()))
            };
            let start = offset_at(NaiveTime::MIN);
            let end = NaiveTime::from_hms_opt(23, 59, 59).and_then(offset_at);
            self.fixed = match (start, end) {
                (Some(a), Some(b)) if a == b => Some(a),
                _ => None,
            };
        }
        // i128: no date chrono accepts overflows it; the result is checked against i64 below.
        let local_nanos = i128::from(days_since_epoch(date)) * i128::from(NANOS_PER_DAY)
            + i128::from(nanos_of_day);
        let secs = nanos_of_day / NANOS_PER_SEC;
        let time = NaiveTime::from_num_seconds_from_midnight_opt(
            u32::try_from(secs).unwrap_or(u32::MAX),
            u32::try_from(nanos_of_day % NANOS_PER_SEC).unwrap_or(u32::MAX),
        )
        .ok_or_else(|| FieldErr::new(column, "time of day out of range".to_string()))?;
        let local = date.and_time(time);
        let utc = match self.fixed {
            Some(offset) => local_nanos - i128::from(offset) * i128::from(NANOS_PER_SEC),
            None => self.resolve(local, local_nanos, column)?,
        };
        i64::try_from(utc).map_err(|_| {
            FieldErr::new(
                column,
                format!(
                    "timestamp {local} ({}) is outside the range of a nanosecond timestamp \
                     ({TIMESTAMP_RANGE})",
                    self.tz
                ),
            )
        })
    }

    /// UTC nanoseconds of a local time on a day with a transition.
    fn resolve(
        &self,
        local: NaiveDateTime,
        local_nanos: i128,
        column: usize,
    ) -> Result<i128, FieldErr> {
        let minus = |o: &chrono_tz::TzOffset| {
            local_nanos - i128::from(o.fix().local_minus_utc()) * i128::from(NANOS_PER_SEC)
        };
        match self.tz.offset_from_local_datetime(&local) {
            LocalResult::Single(o) => Ok(minus(&o)),
            LocalResult::Ambiguous(first, second) => match self.ambiguous {
                Ambiguous::Earliest => Ok(minus(&first).min(minus(&second))),
                Ambiguous::Latest => Ok(minus(&first).max(minus(&second))),
                Ambiguous::Raise => Err(FieldErr::new(
                    column,
                    format!(
                        "time {local} happens twice in {} (clocks go back); --ambiguous \
                         earliest or latest chooses one",
                        self.tz
                    ),
                )),
            },
            LocalResult::None => {
                let after = self.first_instant_after(local_nanos);
                match (self.nonexistent, after) {
                    (Nonexistent::ShiftForward, Some(t)) => Ok(t),
                    (Nonexistent::ShiftBackward, Some(t)) => Ok(t - 1),
                    _ => Err(FieldErr::new(
                        column,
                        format!(
                            "time {local} does not exist in {} (daylight saving gap); \
                             --nonexistent shift-forward or shift-backward moves it",
                            self.tz
                        ),
                    )),
                }
            }
        }
    }

    /// The first UTC instant (nanoseconds) whose local time is after `local_nanos`, the local
    /// time in a gap: the end of the gap. Searched within a day and a half either side (no
    /// zone's offset or gap is larger).
    fn first_instant_after(&self, local_nanos: i128) -> Option<i128> {
        let span = i128::from(NANOS_PER_DAY) * 3 / 2;
        let local_of = |utc: i128| -> Option<i128> {
            let t = i64::try_from(utc).ok()?;
            let offset = self
                .tz
                .offset_from_utc_datetime(&chrono::DateTime::from_timestamp_nanos(t).naive_utc());
            Some(utc + i128::from(offset.fix().local_minus_utc()) * i128::from(NANOS_PER_SEC))
        };
        // Invariant: local_of(lo) <= local_nanos < local_of(hi).
        let (mut lo, mut hi) = (local_nanos - span, local_nanos + span);
        if local_of(lo)? > local_nanos || local_of(hi)? <= local_nanos {
            return None;
        }
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if local_of(mid)? > local_nanos {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(hi)
    }

    /// (days since the epoch of the local date, UTC nanoseconds).
    pub(crate) fn utc(
        &mut self,
        date: NaiveDate,
        nanos: i64,
        column: usize,
    ) -> Result<(i32, i64), FieldErr> {
        let ts = self.convert(date, nanos, column)?;
        Ok((days_since_epoch(date), ts))
    }
}

pub(crate) fn days_since_epoch(date: NaiveDate) -> i32 {
    // 719_163 = days from 0001-01-01 (CE day 1) to 1970-01-01.
    chrono::Datelike::num_days_from_ce(&date) - 719_163
}

/// `YYYY-MM-DD` or `YYYYMMDD`.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let y = digits(&b[0..4])?;
        let m = digits(&b[5..7])?;
        let d = digits(&b[8..10])?;
        return NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, m as u32, d as u32);
    }
    if b.len() == 8 {
        // YYYYMMDD, as in TAQ file names and some exports.
        let v = digits(b)?;
        return NaiveDate::from_ymd_opt(
            i32::try_from(v / 10_000).ok()?,
            (v / 100 % 100) as u32,
            (v % 100) as u32,
        );
    }
    None
}

fn digits(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 18 {
        return None;
    }
    let mut v = 0u64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u64::from(c - b'0');
    }
    Some(v)
}

/// `HH:MM:SS[.fffffffff]` → nanoseconds of day.
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let h = digits(&b[0..2])? as i64;
    let m = digits(&b[3..5])? as i64;
    let sec = digits(&b[6..8])? as i64;
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let mut nanos = 0i64;
    if b.len() > 8 {
        let frac = &b[9..];
        if b[8] != b'.' || frac.is_empty() || frac.len() > 9 {
            return None;
        }
        let f = digits(frac)? as i64;
        nanos = f * 10i64.pow(9 - frac.len() as u32);
    }
    Some((h * 3600 + m * 60 + sec) * NANOS_PER_SEC + nanos)
}

/// Whether `s` is `YYYY-MM-DD HH:MM:SS[.f]` (or with `T`).
pub(crate) fn looks_like_timestamp(s: &str) -> bool {
    s.split_once(' ')
        .or_else(|| s.split_once('T'))
        .is_some_and(|(d, t)| parse_date(d).is_some() && parse_time(t).is_some())
}

/// Parses a timestamp field (`fmt`, or `YYYY-MM-DD HH:MM:SS[.f]`, or a date alone, which is
/// midnight) to (date, nanos of day).
pub(crate) fn parse_timestamp(
    s: &str,
    fmt: Option<&str>,
    column: usize,
    name: &str,
) -> Result<(NaiveDate, i64), FieldErr> {
    let bad = || {
        FieldErr::new(
            column,
            format!(
                "{name} '{s}' does not match {}",
                fmt.unwrap_or("YYYY-MM-DD HH:MM:SS[.fffffffff]")
            ),
        )
    };
    let t = s.trim();
    match fmt {
        Some(f) => {
            if let Ok(dt) = NaiveDateTime::parse_from_str(t, f) {
                let tm = dt.time();
                if chrono::Timelike::nanosecond(&tm) >= 1_000_000_000 {
                    // chrono's leap second (`:60`): a UTC nanosecond timestamp has no such
                    // instant, and taking the next second would change the value silently.
                    return Err(FieldErr::new(
                        column,
                        format!("{name} '{s}' is a leap second, which a timestamp cannot hold"),
                    ));
                }
                let nanos = i64::from(chrono::Timelike::num_seconds_from_midnight(&tm))
                    * NANOS_PER_SEC
                    + i64::from(chrono::Timelike::nanosecond(&tm));
                return Ok((dt.date(), nanos));
            }
            NaiveDate::parse_from_str(t, f)
                .map(|d| (d, 0))
                .map_err(|_| bad())
        }
        None => {
            if let Some(d) = parse_date(t) {
                return Ok((d, 0));
            }
            let (d, tm) = t
                .split_once(' ')
                .or_else(|| t.split_once('T'))
                .ok_or_else(bad)?;
            Ok((
                parse_date(d).ok_or_else(bad)?,
                parse_time(tm).ok_or_else(bad)?,
            ))
        }
    }
}
