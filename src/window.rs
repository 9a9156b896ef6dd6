//! The compromise window: the declared period in which every card typed into the checkout was
//! skimmed.
//!
//! Written as inclusive local dates in the incident's zone (`2020-04-27..2021-12-22`), it is kept
//! half-open: `[2020-04-27T00:00:00+09:00, 2021-12-23T00:00:00+09:00)`. Inclusive dates, because
//! that is how forensic reports and notices state it ("from April 27, 2020 to December 22,
//! 2021"); half-open instants, because that makes the last second of the last day (and any
//! fraction of it) fall inside, and the first instant of the next day outside, without rounding.
//! Bounds written as full datetimes with an offset are instants: the start is included and the
//! end is excluded.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error("window {0:?} must be written START..END, e.g. 2020-04-27..2021-12-22")]
    Shape(String),
    #[error("window bound {0:?} is neither a date (YYYY-MM-DD) nor a datetime with an offset (2020-04-27T00:00:00+09:00)")]
    Bound(String),
    #[error("window bound {0:?} is a date, and dates need a time zone: pass --tz (e.g. --tz Asia/Tokyo) or set incident.timezone")]
    NeedsZone(String),
    #[error("window {0:?} is empty: its end is not after its start")]
    Empty(String),
    #[error("unknown time zone {0:?}: use an IANA name such as Asia/Tokyo or UTC")]
    Zone(String),
}

/// Looks up an IANA time-zone name (the tz database is compiled into the binary).
pub fn zone(name: &str) -> Result<TimeZone, WindowError> {
    TimeZone::get(name.trim()).map_err(|_| WindowError::Zone(name.to_string()))
}

#[derive(Debug, Clone)]
pub struct Window {
    /// First instant inside.
    pub start: Timestamp,
    /// First instant after.
    pub end: Timestamp,
    /// The zone the window was declared in (and outputs are written in).
    pub tz: Option<TimeZone>,
    pub tz_name: Option<String>,
    /// The window as the user wrote it.
    pub spec: String,
}

impl Window {
    /// Parses `START..END`, each a date (inclusive, in `tz`) or a datetime with an offset.
    pub fn parse(spec: &str, tz_name: Option<&str>) -> Result<Window, WindowError> {
        let tz = tz_name.map(zone).transpose()?;
        let (a, b) = spec
            .split_once("..")
            .ok_or_else(|| WindowError::Shape(spec.to_string()))?;
        let start = bound(a.trim(), tz.as_ref(), false)?;
        let end = bound(b.trim(), tz.as_ref(), true)?;
        if end <= start {
            return Err(WindowError::Empty(spec.to_string()));
        }
        Ok(Window {
            start,
            end,
            tz,
            tz_name: tz_name.map(str::to_string),
            spec: spec.trim().to_string(),
        })
    }

    /// Whether an instant lies inside: `start <= t < end`.
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }

    /// The first local day of the window, in its zone (UTC without one).
    pub fn first_day(&self) -> Date {
        self.local_date(self.start)
    }

    /// The last local day touched by the window (the day of the last instant inside).
    pub fn last_day(&self) -> Date {
        let last = self
            .end
            .checked_sub(jiff::SignedDuration::from_nanos(1))
            .unwrap_or(self.end);
        self.local_date(last)
    }

    /// The local date of an instant in the window's zone.
    pub fn local_date(&self, t: Timestamp) -> Date {
        match &self.tz {
            Some(tz) => t.to_zoned_datetime(tz.clone()).date(),
            None => t.to_zoned_datetime(TimeZone::UTC).date(),
        }
    }

    /// Formats an instant in the window's zone (RFC 3339 with its offset).
    pub fn format(&self, t: Timestamp) -> String {
        crate::timestamp::format_rfc3339(t, self.tz.as_ref())
    }

    /// Calendar days between the local date of `t` and the window's first day (positive when
    /// `t` is before it), and likewise after its last day.
    pub fn days_before_start(&self, t: Timestamp) -> i64 {
        days_between(self.local_date(t), self.first_day())
    }

    pub fn days_after_end(&self, t: Timestamp) -> i64 {
        days_between(self.last_day(), self.local_date(t))
    }

    pub fn summary(&self) -> WindowSummary {
        WindowSummary {
            spec: self.spec.clone(),
            start: self.format(self.start),
            end_exclusive: self.format(self.end),
            first_day: self.first_day().to_string(),
            last_day: self.last_day().to_string(),
            timezone: self.tz_name.clone(),
        }
    }
}

fn days_between(a: Date, b: Date) -> i64 {
    // Whole days from a to b (b - a).
    let span = a.until(b).map(|s| s.get_days() as i64);
    span.unwrap_or_default()
}

/// How the window is described in `summary.json` and reports.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WindowSummary {
    pub spec: String,
    pub start: String,
    pub end_exclusive: String,
    pub first_day: String,
    pub last_day: String,
    pub timezone: Option<String>,
}

fn bound(s: &str, tz: Option<&TimeZone>, is_end: bool) -> Result<Timestamp, WindowError> {
    if let Ok(d) = s.parse::<Date>() {
        if s.len() == 10 {
            let tz = tz.ok_or_else(|| WindowError::NeedsZone(s.to_string()))?;
            let day = if is_end {
                d.tomorrow()
                    .map_err(|_| WindowError::Bound(s.to_string()))?
            } else {
                d
            };
            return tz
                .to_ambiguous_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
                .compatible()
                .map_err(|_| WindowError::Bound(s.to_string()));
        }
    }
    match crate::timestamp::parse(s, &crate::timestamp::TimeFormat::Auto, None) {
        Ok(t) => Ok(t),
        Err(crate::timestamp::TsError::NaiveWithoutZone(_)) => Err(WindowError::Bound(format!(
            "{s} (a datetime bound needs an offset)"
        ))),
        Err(_) => Err(WindowError::Bound(s.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w() -> Window {
        Window::parse("2020-04-27..2021-12-22", Some("Asia/Tokyo")).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn dates_are_inclusive_local_days() {
        let w = w();
        assert_eq!(w.format(w.start), "2020-04-27T00:00:00+09:00");
        assert_eq!(w.format(w.end), "2021-12-23T00:00:00+09:00");
        assert!(!w.contains(ts("2020-04-26T23:59:59+09:00")));
        assert!(w.contains(ts("2020-04-27T00:00:00+09:00")));
        assert!(w.contains(ts("2021-12-22T23:59:59.999999999+09:00")));
        assert!(!w.contains(ts("2021-12-23T00:00:00+09:00")));
        // The same instants in UTC.
        assert!(!w.contains(ts("2020-04-26T14:59:59Z")));
        assert!(w.contains(ts("2020-04-26T15:00:00Z")));
        assert!(w.contains(ts("2021-12-22T14:59:59Z")));
        assert!(!w.contains(ts("2021-12-22T15:00:00Z")));
        assert_eq!(w.first_day().to_string(), "2020-04-27");
        assert_eq!(w.last_day().to_string(), "2021-12-22");
    }

    #[test]
    fn datetime_bounds_are_half_open() {
        let w =
            Window::parse("2020-04-27T00:00:00+09:00..2021-12-23T00:00:00+09:00", None).unwrap();
        assert!(w.contains(ts("2020-04-26T15:00:00Z")));
        assert!(!w.contains(ts("2021-12-22T15:00:00Z")));
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = Window::parse("2020-04-27..2021-12-22", None).unwrap_err();
        assert!(e.to_string().contains("--tz"), "{e}");
        assert!(Window::parse("2020-04-27", Some("UTC")).is_err());
        assert!(Window::parse("2021-12-22..2020-04-27", Some("UTC")).is_err());
        assert!(Window::parse("2020-04-27..2021-12-22", Some("Mars/Olympus")).is_err());
    }

    #[test]
    fn days_outside() {
        let w = w();
        assert_eq!(w.days_before_start(ts("2020-03-02T04:11:09+09:00")), 56);
        assert_eq!(w.days_after_end(ts("2021-12-24T01:00:00+09:00")), 2);
    }
}
