//! The NYSE (`XNYS`) schedule, 2000–2030, derived from the exchange's published rules (Nasdaq,
//! `XNAS`, follows the same one).
//!
//! Regular session 09:30–16:00 America/New_York, Monday to Friday. Full holidays (NYSE Rule
//! 7.2): New Year's Day, Martin Luther King Jr. Day (third Monday of January), Washington's
//! Birthday (third Monday of February), Good Friday, Memorial Day (last Monday of May),
//! Juneteenth (June 19, from 2022), Independence Day, Labor Day (first Monday of September),
//! Thanksgiving (fourth Thursday of November) and Christmas. A holiday on a Sunday is observed
//! the Monday after; on a Saturday the Friday before, except New Year's Day, which then is not
//! observed (the year's last trading day is never closed for it). Early closes at 13:00: July 3
//! when it is Monday to Thursday, the day after Thanksgiving, and December 24 when it is Monday
//! to Thursday. Unscheduled closings: September 11–14, 2001; June 11, 2004 (President Reagan);
//! January 2, 2007 (President Ford); October 29–30, 2012 (Hurricane Sandy); December 5, 2018
//! (President G. H. W. Bush); January 9, 2025 (President Carter).

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Weekday};
use datafusion::arrow::array::timezone::Tz;

use super::Calendar;

const FIRST_YEAR: i32 = 2000;
const LAST_YEAR: i32 = 2030;

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("a valid calendar date")
}

/// The `n`-th (1-based) `weekday` of a month.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n).expect("a valid calendar date")
}

/// The last `weekday` of a month.
fn last_weekday(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    let mut day = (date(year, month, 1) + chrono::Months::new(1)) - Duration::days(1);
    while day.weekday() != weekday {
        day -= Duration::days(1);
    }
    day
}

/// Easter Sunday (Gregorian), by the anonymous Gregorian algorithm (Meeus/Jones/Butcher).
fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    date(year, month as u32, day as u32)
}

/// A fixed-date holiday as observed: Sunday → Monday, Saturday → Friday.
fn observed(day: NaiveDate) -> NaiveDate {
    match day.weekday() {
        Weekday::Sun => day + Duration::days(1),
        Weekday::Sat => day - Duration::days(1),
        _ => day,
    }
}

/// The full holidays of `year`, as observed.
fn holidays(year: i32) -> Vec<NaiveDate> {
    let mut days = vec![
        nth_weekday(year, 1, Weekday::Mon, 3),
        nth_weekday(year, 2, Weekday::Mon, 3),
        easter(year) - Duration::days(2),
        last_weekday(year, 5, Weekday::Mon),
        observed(date(year, 7, 4)),
        nth_weekday(year, 9, Weekday::Mon, 1),
        nth_weekday(year, 11, Weekday::Thu, 4),
        observed(date(year, 12, 25)),
    ];
    let new_year = date(year, 1, 1);
    match new_year.weekday() {
        Weekday::Sat => {} // not observed on the Friday before
        _ => days.push(observed(new_year)),
    }
    if year >= 2022 {
        days.push(observed(date(year, 6, 19)));
    }
    days
}

/// Closings outside the rules (national days of mourning, September 11, Hurricane Sandy).
const UNSCHEDULED: [(i32, u32, u32); 10] = [
    (2001, 9, 11),
    (2001, 9, 12),
    (2001, 9, 13),
    (2001, 9, 14),
    (2004, 6, 11),
    (2007, 1, 2),
    (2012, 10, 29),
    (2012, 10, 30),
    (2018, 12, 5),
    (2025, 1, 9),
];

/// The early closes of `year` (all at 13:00).
fn early_closes(year: i32) -> Vec<NaiveDate> {
    let mon_to_thu = |d: NaiveDate| {
        matches!(
            d.weekday(),
            Weekday::Mon | Weekday::Tue | Weekday::Wed | Weekday::Thu
        )
    };
    let mut days = vec![nth_weekday(year, 11, Weekday::Thu, 4) + Duration::days(1)];
    days.extend(
        [date(year, 7, 3), date(year, 12, 24)]
            .into_iter()
            .filter(|d| mon_to_thu(*d)),
    );
    days
}

/// The NYSE schedule under the code `name` (`XNYS`, or `XNAS` for Nasdaq's identical one).
pub fn calendar(name: &str) -> Calendar {
    let time = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("a valid time");
    let mut holidays_set = std::collections::BTreeSet::new();
    let mut early = std::collections::BTreeMap::new();
    for year in FIRST_YEAR..=LAST_YEAR {
        holidays_set.extend(holidays(year));
        for day in early_closes(year) {
            early.insert(day, time(13, 0));
        }
    }
    holidays_set.extend(UNSCHEDULED.iter().map(|&(y, m, d)| date(y, m, d)));
    Calendar {
        name: name.to_string(),
        tz: "America/New_York".parse::<Tz>().expect("a known time zone"),
        open: time(9, 30),
        close: time(16, 0),
        weekend: vec![Weekday::Sat, Weekday::Sun],
        holidays: holidays_set,
        early_closes: early,
        first: date(FIRST_YEAR, 1, 1),
        last: date(LAST_YEAR, 12, 31),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NYSE's holiday and early-close schedule for 2019–2026 as NYSE published it, written out
    /// by hand date by date (this machine has no internet, so it was not fetched from
    /// nyse.com), separately from the rules above: (year, holidays, 13:00 early closes).
    /// (month, day) pairs of one year.
    type Days = &'static [(u32, u32)];

    const PUBLISHED: [(i32, Days, Days); 8] = [
        (
            2019,
            &[
                (1, 1),
                (1, 21),
                (2, 18),
                (4, 19),
                (5, 27),
                (7, 4),
                (9, 2),
                (11, 28),
                (12, 25),
            ],
            &[(7, 3), (11, 29), (12, 24)],
        ),
        (
            2020,
            &[
                (1, 1),
                (1, 20),
                (2, 17),
                (4, 10),
                (5, 25),
                (7, 3),
                (9, 7),
                (11, 26),
                (12, 25),
            ],
            &[(11, 27), (12, 24)],
        ),
        (
            2021,
            &[
                (1, 1),
                (1, 18),
                (2, 15),
                (4, 2),
                (5, 31),
                (7, 5),
                (9, 6),
                (11, 25),
                (12, 24),
            ],
            &[(11, 26)],
        ),
        (
            2022,
            &[
                (1, 17),
                (2, 21),
                (4, 15),
                (5, 30),
                (6, 20),
                (7, 4),
                (9, 5),
                (11, 24),
                (12, 26),
            ],
            &[(11, 25)],
        ),
        (
            2023,
            &[
                (1, 2),
                (1, 16),
                (2, 20),
                (4, 7),
                (5, 29),
                (6, 19),
                (7, 4),
                (9, 4),
                (11, 23),
                (12, 25),
            ],
            &[(7, 3), (11, 24)],
        ),
        (
            2024,
            &[
                (1, 1),
                (1, 15),
                (2, 19),
                (3, 29),
                (5, 27),
                (6, 19),
                (7, 4),
                (9, 2),
                (11, 28),
                (12, 25),
            ],
            &[(7, 3), (11, 29), (12, 24)],
        ),
        (
            2025,
            &[
                (1, 1),
                (1, 9),
                (1, 20),
                (2, 17),
                (4, 18),
                (5, 26),
                (6, 19),
                (7, 4),
                (9, 1),
                (11, 27),
                (12, 25),
            ],
            &[(7, 3), (11, 28), (12, 24)],
        ),
        (
            2026,
            &[
                (1, 1),
                (1, 19),
                (2, 16),
                (4, 3),
                (5, 25),
                (6, 19),
                (7, 3),
                (9, 7),
                (11, 26),
                (12, 25),
            ],
            &[(11, 27), (12, 24)],
        ),
    ];

    /// Every weekday of 2019–2026 is a holiday, an early close or a full session exactly as
    /// NYSE published.
    #[test]
    fn matches_nyse_published_lists() {
        let xnys = calendar("XNYS");
        for (year, holidays, early) in PUBLISHED {
            let holidays: Vec<NaiveDate> =
                holidays.iter().map(|&(m, d)| date(year, m, d)).collect();
            let early: Vec<NaiveDate> = early.iter().map(|&(m, d)| date(year, m, d)).collect();
            for day in date(year, 1, 1)
                .iter_days()
                .take_while(|d| d.year() == year)
            {
                let weekday = !matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
                let expected = weekday && !holidays.contains(&day);
                assert_eq!(xnys.is_trading_day(day).unwrap(), expected, "{day}");
                assert_eq!(
                    xnys.early_closes.contains_key(&day),
                    early.contains(&day),
                    "{day}"
                );
            }
        }
    }

    /// The sessions of the done-when days: 390 minutes on a full day, 210 on 2019-11-29, none
    /// on Thanksgiving, and open/close in New York time on both sides of a DST change.
    #[test]
    fn sessions() {
        let xnys = calendar("XNYS");
        let minutes = |d| {
            xnys.session(d)
                .unwrap()
                .map(|(open, close)| (close - open).num_minutes())
        };
        assert_eq!(minutes(date(2019, 11, 27)), Some(390));
        assert_eq!(minutes(date(2019, 11, 28)), None);
        assert_eq!(minutes(date(2019, 11, 29)), Some(210));
        let (open, _) = xnys.session(date(2024, 3, 8)).unwrap().unwrap();
        assert_eq!(open.to_rfc3339(), "2024-03-08T14:30:00+00:00"); // EST
        let (open, close) = xnys.session(date(2024, 3, 11)).unwrap().unwrap();
        assert_eq!(open.to_rfc3339(), "2024-03-11T13:30:00+00:00"); // EDT
        assert_eq!(close.to_rfc3339(), "2024-03-11T20:00:00+00:00");
        assert!(xnys.in_session(open).unwrap());
        assert!(!xnys.in_session(close).unwrap());
    }

    /// Outside 2000–2030 the calendar refuses to answer, naming what it covers.
    #[test]
    fn years_outside_the_range_are_an_error() {
        let err = calendar("XNYS")
            .is_trading_day(date(1999, 12, 31))
            .unwrap_err();
        assert!(
            err.to_string().contains("covers 2000-01-01 to 2030-12-31"),
            "{err}"
        );
    }

    /// `in_session` against a plain loop written from NYSE's published lists and New York's
    /// clock (chrono-tz directly): seeded random instants over 2019-2026, half of them within a
    /// second of an open or a close (where DST and early closes bite).
    #[test]
    fn in_session_equals_a_plain_loop() {
        use chrono::{DateTime, Duration, TimeZone, Timelike, Utc};
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let reference = |t: DateTime<Utc>| {
            let local = t.with_timezone(&chrono_tz::America::New_York);
            let day = local.date_naive();
            let (_, holidays, early) = PUBLISHED
                .iter()
                .find(|p| p.0 == day.year())
                .expect("a published year");
            let md = (day.month(), day.day());
            if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) || holidays.contains(&md) {
                return false;
            }
            let minutes = local.hour() * 60 + local.minute();
            let close = if early.contains(&md) {
                13 * 60
            } else {
                16 * 60
            };
            (9 * 60 + 30..close).contains(&minutes)
        };
        let xnys = calendar("XNYS");
        let mut rng = StdRng::seed_from_u64(20191129);
        let mut instants = Vec::new();
        let first = Utc.with_ymd_and_hms(2019, 1, 1, 5, 0, 0).unwrap();
        let span = (Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap() - first).num_seconds();
        for i in 0..200_000 {
            let t = if i % 2 == 0 {
                first + Duration::seconds(rng.random_range(0..span))
            } else {
                // Near a session's open or close: 09:30, 13:00 or 16:00 New York, +-1 s.
                let day = (first + Duration::seconds(rng.random_range(0..span))).date_naive();
                let (h, m) = [(9, 30), (13, 0), (16, 0)][rng.random_range(0..3)];
                let local = chrono_tz::America::New_York
                    .from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
                    .single()
                    .expect("no DST change at these hours");
                local.with_timezone(&Utc) + Duration::seconds(rng.random_range(-1..=1))
            };
            assert_eq!(xnys.in_session(t).unwrap(), reference(t), "{t}");
            instants.push(t);
        }
        // The column form, over instants in time order (a date's session looked up once).
        instants.sort();
        let column = xnys.in_sessions(instants.iter().map(|t| Some(*t))).unwrap();
        for (t, got) in instants.iter().zip(column) {
            assert_eq!(got, Some(reference(*t)), "{t}");
        }
    }

    /// Easter against known dates (the Gregorian tables).
    #[test]
    fn easter_sundays() {
        for (y, m, d) in [
            (2000, 4, 23),
            (2008, 3, 23),
            (2011, 4, 24),
            (2019, 4, 21),
            (2030, 4, 21),
        ] {
            assert_eq!(easter(y), date(y, m, d));
        }
    }
}
