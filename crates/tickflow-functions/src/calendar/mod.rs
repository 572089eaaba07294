//! Exchange calendars: which dates an exchange trades, and its session's open and close.
//!
//! Bars, gap filling and returns are only right on real sessions: no bars at night, on weekends
//! or holidays, or after an early close. A [`Calendar`] holds an exchange's time zone, regular
//! session, weekend days, full holidays and early closes for the years it covers; outside those
//! years it refuses to answer rather than guess. Built in: `XNYS` (NYSE) and `XNAS` (Nasdaq),
//! which share one schedule ([`xnys`]); any other calendar is read from a JSON file
//! ([`file`]). SQL functions name a calendar by its code or by the path of its file:
//!
//! ```sql
//! SELECT is_trading_day(DATE '2019-11-28');                       -- false: Thanksgiving
//! SELECT * FROM trading_days(DATE '2019-11-25', DATE '2019-11-29', 'XNYS');
//! SELECT is_trading_day(DATE '2024-12-26', 'calendars/xlon.json');
//! ```

pub mod file;
pub mod in_session;
pub mod is_trading_day;
pub mod session_close;
pub mod session_open;
pub mod trading_days;
pub mod xnys;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use datafusion::arrow::array::timezone::Tz;
use datafusion::catalog::TableFunctionImpl;
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::ScalarUDF;

/// `is_trading_day` as a [`ScalarUDF`].
pub fn is_trading_day_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(is_trading_day::IsTradingDay::new()))
}

/// `in_session` as a [`ScalarUDF`].
pub fn in_session_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(in_session::InSession::new()))
}

/// `session_open` as a [`ScalarUDF`].
pub fn session_open_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(session_open::SessionBoundary::new(
        session_open::Bound::Open,
    )))
}

/// `session_close` as a [`ScalarUDF`].
pub fn session_close_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::from(session_open::SessionBoundary::new(
        session_open::Bound::Close,
    )))
}

/// The calendar's scalar functions.
pub fn udfs() -> Vec<Arc<ScalarUDF>> {
    vec![
        is_trading_day_udf(),
        in_session_udf(),
        session_open_udf(),
        session_close_udf(),
    ]
}

/// The calendar's table functions, with their SQL names.
pub fn table_functions() -> Vec<(&'static str, Arc<dyn TableFunctionImpl>)> {
    vec![(trading_days::NAME, Arc::new(trading_days::TradingDays) as _)]
}

/// The calendar functions use when none is named.
pub const DEFAULT: &str = "XNYS";

/// A session's open and close, as UTC instants.
pub type OpenClose = (DateTime<Utc>, DateTime<Utc>);

/// A trading day and its session's open and close, as UTC instants.
pub type Session = (NaiveDate, DateTime<Utc>, DateTime<Utc>);

/// One exchange's trading days and sessions.
#[derive(Debug, Clone)]
pub struct Calendar {
    /// The code it is known by (`XNYS`), or its file's path.
    pub name: String,
    /// The exchange's time zone; sessions are in its local time.
    pub tz: Tz,
    /// The regular session, local time.
    pub open: NaiveTime,
    pub close: NaiveTime,
    /// Days of the week with no session.
    pub weekend: Vec<Weekday>,
    /// Weekdays with no session.
    pub holidays: BTreeSet<NaiveDate>,
    /// Days whose session ends early, and when.
    pub early_closes: BTreeMap<NaiveDate, NaiveTime>,
    /// The first and last date the calendar knows.
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl Calendar {
    /// A clear error if `date` is outside the years this calendar covers.
    fn check_covered(&self, date: NaiveDate) -> Result<()> {
        if date < self.first || date > self.last {
            return Err(DataFusionError::Execution(format!(
                "calendar {} covers {} to {}; {date} is outside it",
                self.name, self.first, self.last
            )));
        }
        Ok(())
    }

    /// Whether the exchange has a session on `date`.
    pub fn is_trading_day(&self, date: NaiveDate) -> Result<bool> {
        self.check_covered(date)?;
        Ok(!self.weekend.contains(&date.weekday()) && !self.holidays.contains(&date))
    }

    /// The session of `date` as UTC instants `[open, close)`, or `None` on a day without one.
    pub fn session(&self, date: NaiveDate) -> Result<Option<OpenClose>> {
        if !self.is_trading_day(date)? {
            return Ok(None);
        }
        let close = self.early_closes.get(&date).copied().unwrap_or(self.close);
        Ok(Some((
            self.instant(date, self.open)?,
            self.instant(date, close)?,
        )))
    }

    /// The UTC instant of local `time` on `date`.
    fn instant(&self, date: NaiveDate, time: NaiveTime) -> Result<DateTime<Utc>> {
        match self.tz.from_local_datetime(&date.and_time(time)) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Ok(t.with_timezone(&Utc)),
            LocalResult::None => Err(DataFusionError::Execution(format!(
                "calendar {}: {time} does not exist on {date} in its time zone",
                self.name
            ))),
        }
    }

    /// The exchange-local date of `instant`.
    pub fn local_date(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.tz).date_naive()
    }

    /// Whether `instant` falls in a session: `[open, close)` of its local date's session.
    pub fn in_session(&self, instant: DateTime<Utc>) -> Result<bool> {
        Ok(self.in_sessions([Some(instant)])?[0].unwrap_or(false))
    }

    /// [`Calendar::in_session`] of each instant (NULL for NULL). A date's session is looked up
    /// once for a run of instants on that date, as the rows of a bar or trade table come.
    pub fn in_sessions(
        &self,
        instants: impl IntoIterator<Item = Option<DateTime<Utc>>>,
    ) -> Result<Vec<Option<bool>>> {
        let mut last: Option<(NaiveDate, Option<OpenClose>)> = None;
        instants
            .into_iter()
            .map(|t| {
                let Some(t) = t else { return Ok(None) };
                let date = self.local_date(t);
                let session = match last {
                    Some((d, session)) if d == date => session,
                    _ => {
                        let session = self.session(date)?;
                        last = Some((date, session));
                        session
                    }
                };
                Ok(Some(
                    session.is_some_and(|(open, close)| open <= t && t < close),
                ))
            })
            .collect()
    }

    /// The sessions `(day, open, close)` of the trading days from `start` to `end`, both
    /// included.
    pub fn sessions(&self, start: NaiveDate, end: NaiveDate) -> Result<Vec<Session>> {
        let mut sessions = Vec::new();
        for date in start.iter_days().take_while(|d| *d <= end) {
            if let Some((open, close)) = self.session(date)? {
                sessions.push((date, open, close));
            }
        }
        Ok(sessions)
    }
}

/// The calendar `name` names: a built-in code (any case), or the path of a calendar file,
/// read once per process and kept.
pub fn lookup(name: &str) -> Result<Arc<Calendar>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Calendar>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().map_err(poisoned)?.get(name) {
        return Ok(Arc::clone(found));
    }
    let calendar = match name.to_ascii_uppercase().as_str() {
        "XNYS" | "NYSE" => xnys::calendar("XNYS"),
        "XNAS" | "NASDAQ" => xnys::calendar("XNAS"),
        _ if name.ends_with(".json") => file::load(name)?,
        _ => {
            return Err(DataFusionError::Plan(format!(
                "unknown calendar '{name}': use XNYS or XNAS, or the path of a calendar file \
                 ending in .json"
            )));
        }
    };
    let calendar = Arc::new(calendar);
    cache
        .lock()
        .map_err(poisoned)?
        .insert(name.to_string(), Arc::clone(&calendar));
    Ok(calendar)
}

fn poisoned<T>(_: T) -> DataFusionError {
    DataFusionError::Internal("the calendar cache's lock was poisoned".into())
}

/// The calendar argument of a SQL function at 1-based `position`: a constant string naming a
/// calendar ([`lookup`]), or [`DEFAULT`] when the call has no such argument.
pub(crate) fn calendar_arg(
    function: &'static str,
    position: usize,
    args: &[datafusion::logical_expr::ColumnarValue],
) -> Result<Arc<Calendar>> {
    use datafusion::logical_expr::ColumnarValue;
    match args.get(position - 1) {
        None => lookup(DEFAULT),
        Some(ColumnarValue::Scalar(value)) => calendar_named(function, position, Some(value)),
        Some(_) => Err(crate::args::Arg::new(function, position, "calendar")
            .error("must be a constant string such as 'XNYS'")),
    }
}

/// The calendar a constant `value` names (the argument at 1-based `position`), or [`DEFAULT`].
pub(crate) fn calendar_named(
    function: &'static str,
    position: usize,
    value: Option<&datafusion::common::ScalarValue>,
) -> Result<Arc<Calendar>> {
    use datafusion::common::ScalarValue;
    let arg = crate::args::Arg::new(function, position, "calendar");
    match value {
        None => lookup(DEFAULT),
        Some(
            ScalarValue::Utf8(Some(name))
            | ScalarValue::Utf8View(Some(name))
            | ScalarValue::LargeUtf8(Some(name)),
        ) => lookup(name).map_err(|e| match e {
            DataFusionError::Plan(message) | DataFusionError::Execution(message) => {
                arg.error(message)
            }
            other => other,
        }),
        Some(_) => Err(arg.error("must be a constant string such as 'XNYS'")),
    }
}

/// The dates or instants of a DATE or TIMESTAMP array, as exchange-local dates of `calendar`
/// (a TIMESTAMP without time zone is taken as UTC, as `time_bucket` takes it).
pub(crate) fn local_dates(
    calendar: &Calendar,
    values: &datafusion::arrow::array::ArrayRef,
) -> Result<Vec<Option<NaiveDate>>> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, Date32Type};
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch");
    match values.data_type() {
        DataType::Date32 => Ok(values
            .as_primitive::<Date32Type>()
            .iter()
            .map(|d| d.map(|d| epoch + chrono::Duration::days(i64::from(d))))
            .collect()),
        _ => Ok(instants(values)?
            .into_iter()
            .map(|t| t.map(|t| calendar.local_date(t)))
            .collect()),
    }
}

/// The UTC instants of a TIMESTAMP array (one without time zone is taken as UTC).
pub(crate) fn instants(
    values: &datafusion::arrow::array::ArrayRef,
) -> Result<Vec<Option<DateTime<Utc>>>> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit};
    let DataType::Timestamp(_, tz) = values.data_type() else {
        return Err(DataFusionError::Internal(format!(
            "expected a TIMESTAMP, got {}",
            values.data_type()
        )));
    };
    let nanos = cast(
        values,
        &DataType::Timestamp(TimeUnit::Nanosecond, tz.clone()),
    )?;
    let nanos = cast(&nanos, &DataType::Int64)?;
    Ok(nanos
        .as_primitive::<Int64Type>()
        .iter()
        .map(|n| n.map(DateTime::from_timestamp_nanos))
        .collect())
}
