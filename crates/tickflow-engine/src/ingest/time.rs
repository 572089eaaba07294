//! Dates, times and time zones of source files: `YYYY-MM-DD`, `HH:MM:SS[.f]`, chrono formats,
//! and local wall-clock times → UTC nanoseconds.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};
use chrono_tz::Tz;

use super::parse::FieldErr;

pub(crate) const NANOS_PER_SEC: i64 = 1_000_000_000;
pub(crate) const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SEC;

/// Converts local wall-clock times of one zone to UTC, caching the offset of whole days
/// without a transition.
pub(crate) struct LocalToUtc {
    tz: Tz,
    day: Option<NaiveDate>,
    /// Offset (seconds east of UTC) if constant over `day`.
    fixed: Option<i64>,
}

impl LocalToUtc {
    pub(crate) fn new(tz: Tz) -> Self {
        Self {
            tz,
            day: None,
            fixed: None,
        }
    }

    /// UTC nanoseconds of a local date and nanosecond of day. Ambiguous times (DST fall-back)
    /// take the earlier instant; times in a DST gap are an error.
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
        let days = i64::from(days_since_epoch(date));
        let local_nanos = days * NANOS_PER_DAY + nanos_of_day;
        if let Some(offset) = self.fixed {
            return Ok(local_nanos - offset * NANOS_PER_SEC);
        }
        let secs = nanos_of_day / NANOS_PER_SEC;
        let time = NaiveTime::from_num_seconds_from_midnight_opt(
            u32::try_from(secs).unwrap_or(0),
            u32::try_from(nanos_of_day % NANOS_PER_SEC).unwrap_or(0),
        )
        .ok_or_else(|| FieldErr::new(column, "time of day out of range".to_string()))?;
        let local = date.and_time(time);
        match self.tz.offset_from_local_datetime(&local).earliest() {
            Some(o) => Ok(local_nanos - i64::from(o.fix().local_minus_utc()) * NANOS_PER_SEC),
            None => Err(FieldErr::new(
                column,
                format!(
                    "time {local} does not exist in {} (daylight saving gap)",
                    self.tz
                ),
            )),
        }
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
