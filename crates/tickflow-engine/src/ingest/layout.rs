//! `--partition-by`: the directories an ingest writes its files into.
//!
//! | `--partition-by` | a file's directory                  | partition columns |
//! |------------------|-------------------------------------|-------------------|
//! | `date` (default) | `DIR/date=2024-01-02/`              | `date`            |
//! | `month`          | `DIR/month=2024-01/`                | `month`           |
//! | `year`           | `DIR/year=2024/`                    | `year`            |
//! | `none`           | `DIR/`                              | (none)            |
//! | `month,symbol`   | `DIR/month=2024-01/symbol=BRK.A/`   | `month`, `symbol` |
//!
//! A month is one level, `month=YYYY-MM`, not `year=YYYY/month=MM`: DataFusion prunes
//! directories only on filters of partition columns, and one column whose text sorts as time
//! answers `month = '2024-01'` as well as ranges (`month >= '2023-11' AND month < '2024-02'`),
//! which two columns cannot say simply. A filter on `ts` does not prune directories (DataFusion
//! does not know how `ts` relates to `month`); it prunes row groups by their `ts` statistics.
//!
//! With any partitioning but `date`, every file has a `date` column (DATE, the trade date in the
//! source time zone), so every layout has the columns the bar scripts use.
//!
//! With `symbol` as a second level the symbol is a partition column and not stored in the
//! files (a hive partition column cannot also be a file column). Its value is percent-encoded
//! in the directory name as DataFusion decodes it: `/`, `%`, `?`, `#`, space, control
//! characters, and `\ { } ^ [ ] " < > ~ | *` and the backtick (which object storage keys avoid)
//! become `%XX`; `BRK/A` is `symbol=BRK%2FA`, `BRK.A` stays `symbol=BRK.A`; `.` and `..` are `%2E` and
//! `%2E%2E`. Queries read the symbol back exactly.

use std::fmt;
use std::str::FromStr;

use crate::error::InvalidValue;

/// The time level of a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimeLevel {
    Date,
    Month,
    Year,
    None,
}

/// How an ingest lays out its files: a time level, optionally the symbol under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Partitioning {
    pub time: TimeLevel,
    pub symbol: bool,
}

impl Default for Partitioning {
    /// `date`, the layout of every ingest before `--partition-by` existed.
    fn default() -> Self {
        Self {
            time: TimeLevel::Date,
            symbol: false,
        }
    }
}

impl FromStr for Partitioning {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            InvalidValue(format!(
                "'{s}' is not a partitioning ({why}): give date, month, year or none, optionally followed by ,symbol"
            ))
        };
        let mut parts = s.split(',').map(str::trim);
        let time = match parts.next().map(str::to_ascii_lowercase).as_deref() {
            Some("date" | "day") => TimeLevel::Date,
            Some("month") => TimeLevel::Month,
            Some("year") => TimeLevel::Year,
            Some("none") => TimeLevel::None,
            Some("symbol") => return Err(bad("the time level comes first")),
            _ => return Err(bad("unknown time level")),
        };
        let symbol = match parts.next().map(str::to_ascii_lowercase).as_deref() {
            None => false,
            Some("symbol") => true,
            Some(_) => return Err(bad("the second level can only be symbol")),
        };
        if parts.next().is_some() {
            return Err(bad("at most two levels"));
        }
        Ok(Self { time, symbol })
    }
}

impl fmt::Display for Partitioning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let time = match self.time {
            TimeLevel::Date => "date",
            TimeLevel::Month => "month",
            TimeLevel::Year => "year",
            TimeLevel::None => "none",
        };
        f.write_str(time)?;
        if self.symbol {
            f.write_str(",symbol")?;
        }
        Ok(())
    }
}

impl Partitioning {
    /// The partition columns, outermost first.
    pub fn columns(&self) -> Vec<&'static str> {
        let mut cols = match self.time {
            TimeLevel::Date => vec!["date"],
            TimeLevel::Month => vec!["month"],
            TimeLevel::Year => vec!["year"],
            TimeLevel::None => vec![],
        };
        if self.symbol {
            cols.push("symbol");
        }
        cols
    }

    /// Whether the files carry a `date` column (it is not a partition column).
    pub fn date_in_files(&self) -> bool {
        self.time != TimeLevel::Date
    }

    /// A key that is equal for the dates of one time partition and orders them.
    pub fn time_key(&self, days: i32) -> i64 {
        match self.time {
            TimeLevel::Date => i64::from(days),
            TimeLevel::None => 0,
            TimeLevel::Month | TimeLevel::Year => {
                let (y, m) = year_month(days);
                if self.time == TimeLevel::Month {
                    i64::from(y) * 12 + i64::from(m)
                } else {
                    i64::from(y)
                }
            }
        }
    }

    /// The directory (relative to the output, no trailing `/`; empty for `none` without the
    /// symbol) of the rows of trade date `days` and `symbol`.
    pub fn directory(&self, days: i32, symbol: &str) -> String {
        let mut parts = Vec::with_capacity(2);
        match self.time {
            TimeLevel::Date => parts.push(format!("date={}", super::write::date_string(days))),
            TimeLevel::Month => {
                let (y, m) = year_month(days);
                parts.push(format!("month={y:04}-{m:02}"));
            }
            TimeLevel::Year => parts.push(format!("year={:04}", year_month(days).0)),
            TimeLevel::None => {}
        }
        if self.symbol {
            parts.push(format!("symbol={}", encode_value(symbol)));
        }
        parts.join("/")
    }
}

/// Year and month (1-12) of days since the epoch.
fn year_month(days: i32) -> (i32, u32) {
    use chrono::Datelike;
    let date = chrono::NaiveDate::default() + chrono::Duration::days(i64::from(days));
    (date.year(), date.month())
}

/// A partition value as a path segment DataFusion decodes back to it (see the module docs).
pub fn encode_value(value: &str) -> String {
    match value {
        "." => return "%2E".into(),
        ".." => return "%2E%2E".into(),
        _ => {}
    }
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        let escape = c.is_ascii_control()
            || matches!(
                c,
                '/' | '%'
                    | '?'
                    | '#'
                    | ' '
                    | '\\'
                    | '{'
                    | '}'
                    | '^'
                    | '`'
                    | '['
                    | ']'
                    | '"'
                    | '<'
                    | '>'
                    | '~'
                    | '|'
                    | '*'
            );
        if escape {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_round_trip() {
        for s in [
            "date",
            "month",
            "year",
            "none",
            "month,symbol",
            "none,symbol",
        ] {
            let p: Partitioning = s.parse().expect(s);
            assert_eq!(p.to_string(), s);
        }
        for bad in ["week", "symbol", "month,ticker", "month,symbol,x", ""] {
            let e = bad.parse::<Partitioning>().expect_err(bad).to_string();
            assert!(e.contains("date, month, year or none"), "{e}");
        }
    }

    #[test]
    fn directories_of_each_level() {
        // 2024-01-31 and 2024-02-01.
        let (jan31, feb1) = (19753, 19754);
        let p = |s: &str| s.parse::<Partitioning>().expect(s);
        assert_eq!(p("date").directory(jan31, "A"), "date=2024-01-31");
        assert_eq!(p("month").directory(jan31, "A"), "month=2024-01");
        assert_eq!(p("month").directory(feb1, "A"), "month=2024-02");
        assert_eq!(p("year").directory(feb1, "A"), "year=2024");
        assert_eq!(p("none").directory(feb1, "A"), "");
        assert_eq!(
            p("month,symbol").directory(jan31, "BRK/A"),
            "month=2024-01/symbol=BRK%2FA"
        );
        assert_eq!(p("none,symbol").directory(jan31, "BRK.A"), "symbol=BRK.A");
        assert_eq!(p("none,symbol").directory(jan31, ".."), "symbol=%2E%2E");
        assert_eq!(p("none,symbol").directory(jan31, "a b%"), "symbol=a%20b%25");
        let m = p("month");
        assert_eq!(m.time_key(jan31) + 1, m.time_key(feb1));
        assert_eq!(p("year").time_key(jan31), p("year").time_key(feb1));
    }
}
