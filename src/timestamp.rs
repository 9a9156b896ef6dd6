//! Timestamps as order exports, gateways and logs write them, turned into instants once.
//!
//! Accepted without configuration:
//! - RFC 3339 / ISO 8601 with an offset or `Z` (`2021-12-22T23:59:59+09:00`, `…T14:59:59.5Z`);
//! - a time followed by a numeric offset (Shopify: `2021-12-22 23:30:00 +0900`);
//! - naive `YYYY-MM-DD HH:MM[:SS[.f]]`, `YYYY/MM/DD HH:MM[:SS]`, `YYYY-MM-DDTHH:MM:SS`,
//!   `YYYY年MM月DD日 HH:MM[:SS]` (month, day and hour may have one digit, as Excel writes them);
//! - Magento's grid form `Dec 22, 2021 11:59:59 PM`.
//!
//! Naive values are read in the configured zone; without one they are an error the caller turns
//! into a usage error (there is no silent default zone). Epoch seconds or milliseconds, or a
//! strftime format, are read only when the configuration says so. Fractional seconds of 1 to 9
//! digits are kept exactly: the window compares instants without rounding.

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};
use jiff::Timestamp;

/// How a timestamp column is written, when auto-detection is not wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeFormat {
    Auto,
    EpochSeconds,
    EpochMillis,
    /// A strftime-style format (jiff's `%Y-%m-%d %H:%M:%S` syntax), naive or with `%z`.
    Strftime(String),
}

impl TimeFormat {
    pub fn from_config(s: &str) -> TimeFormat {
        match s.trim() {
            "" | "auto" => TimeFormat::Auto,
            "epoch_seconds" | "epoch" | "unix" | "unix_seconds" => TimeFormat::EpochSeconds,
            "epoch_millis" | "epoch_milliseconds" | "unix_millis" => TimeFormat::EpochMillis,
            other => TimeFormat::Strftime(other.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsError {
    #[error("empty timestamp")]
    Empty,
    #[error("cannot read {0:?} as a date and time")]
    Unreadable(String),
    #[error("{0:?} has no offset and no time zone is configured")]
    NaiveWithoutZone(String),
}

/// Parses one timestamp. `zone` is the zone naive values are in.
pub fn parse(
    raw: &str,
    format: &TimeFormat,
    zone: Option<&TimeZone>,
) -> Result<Timestamp, TsError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(TsError::Empty);
    }
    match format {
        TimeFormat::Auto => parse_auto(s, zone),
        TimeFormat::EpochSeconds => parse_epoch(s, 1).ok_or_else(|| TsError::Unreadable(s.into())),
        TimeFormat::EpochMillis => {
            parse_epoch(s, 1000).ok_or_else(|| TsError::Unreadable(s.into()))
        }
        TimeFormat::Strftime(fmt) => {
            if let Ok(z) = jiff::ZonedDateTime::strptime(fmt, s) {
                return Ok(z.timestamp());
            }
            if let Ok(ts) = jiff::fmt::strtime::parse(fmt, s).and_then(|t| t.to_timestamp()) {
                return Ok(ts);
            }
            let dt = DateTime::strptime(fmt, s).map_err(|_| TsError::Unreadable(s.into()))?;
            local(dt, zone, s)
        }
    }
}

fn parse_epoch(s: &str, per_second: i64) -> Option<Timestamp> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    let v: i64 = int.parse().ok()?;
    if !frac.is_empty() && !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos_per_unit: i64 = 1_000_000_000 / per_second;
    let mut frac_ns: i64 = 0;
    if !frac.is_empty() {
        let f = &frac[..frac.len().min(9)];
        let scaled: i64 = f.parse::<i64>().ok()? * 10i64.pow(9 - f.len() as u32);
        frac_ns = scaled / per_second;
    }
    let total = (v as i128) * (nanos_per_unit as i128)
        + if v < 0 {
            -(frac_ns as i128)
        } else {
            frac_ns as i128
        };
    Timestamp::from_nanosecond(total).ok()
}

fn local(dt: DateTime, zone: Option<&TimeZone>, raw: &str) -> Result<Timestamp, TsError> {
    match zone {
        Some(tz) => tz
            .to_ambiguous_timestamp(dt)
            .compatible()
            .map_err(|_| TsError::Unreadable(raw.into())),
        None => Err(TsError::NaiveWithoutZone(raw.into())),
    }
}

/// A cursor over the bytes of a timestamp.
struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cur<'a> {
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        let mut v: u32 = 0;
        while self.i < self.b.len() && self.i - start < max && self.b[self.i].is_ascii_digit() {
            v = v * 10 + u32::from(self.b[self.i] - b'0');
            self.i += 1;
        }
        if self.i - start >= min {
            Some(v)
        } else {
            None
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_str(&mut self, s: &str) -> bool {
        if self.b[self.i..].starts_with(s.as_bytes()) {
            self.i += s.len();
            true
        } else {
            false
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
}

fn parse_auto(s: &str, zone: Option<&TimeZone>) -> Result<Timestamp, TsError> {
    let bad = || TsError::Unreadable(s.into());
    if s.as_bytes()[0].is_ascii_alphabetic() {
        return parse_month_name(s, zone).ok_or_else(bad)?;
    }
    let mut c = Cur {
        b: s.as_bytes(),
        i: 0,
    };
    let year = c.digits(4, 4).ok_or_else(bad)?;
    let (month, day);
    if c.eat_str("年") {
        month = c.digits(1, 2).ok_or_else(bad)?;
        if !c.eat_str("月") {
            return Err(bad());
        }
        day = c.digits(1, 2).ok_or_else(bad)?;
        if !c.eat_str("日") {
            return Err(bad());
        }
    } else {
        let sep = c.peek().ok_or_else(bad)?;
        if sep != b'-' && sep != b'/' {
            return Err(bad());
        }
        c.i += 1;
        month = c.digits(1, 2).ok_or_else(bad)?;
        if !c.eat(sep) {
            return Err(bad());
        }
        day = c.digits(1, 2).ok_or_else(bad)?;
    }
    // Date and time are separated by `T`, one space, or (Japanese) nothing or a space.
    let separated = c.eat(b'T') || c.eat(b't') || c.eat(b' ');
    let time_follows = c.done() || c.peek().is_some_and(|b| b.is_ascii_digit());
    if !separated && !time_follows {
        return Err(bad());
    }
    if c.done() {
        return Err(TsError::Unreadable(format!("{s} (a date without a time)")));
    }
    let hour = c.digits(1, 2).ok_or_else(bad)?;
    if !c.eat(b':') && !c.eat_str("時") {
        return Err(bad());
    }
    let minute = c.digits(2, 2).ok_or_else(bad)?;
    let _ = c.eat_str("分");
    let mut second = 0;
    let mut nanos = 0;
    if c.eat(b':') {
        second = c.digits(2, 2).ok_or_else(bad)?;
        let _ = c.eat_str("秒");
        if c.eat(b'.') || c.eat(b',') {
            let start = c.i;
            let f = c.digits(1, 9).ok_or_else(bad)?;
            let n = c.i - start;
            nanos = f * 10u32.pow(9 - n as u32);
        }
    }
    let dt = DateTime::new(
        year as i16,
        month as i8,
        day as i8,
        hour as i8,
        minute as i8,
        second as i8,
        nanos as i32,
    )
    .map_err(|_| bad())?;
    // Optional offset: `Z`, `+09:00`, `+0900`, `+09`, with or without a space before it.
    let _ = c.eat(b' ');
    if c.done() {
        return local(dt, zone, s);
    }
    if c.eat(b'Z') || c.eat(b'z') {
        if !c.done() {
            return Err(bad());
        }
        return fixed(dt, 0).ok_or_else(bad);
    }
    let sign = match c.peek() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => {
            if (c.eat_str("UTC") || c.eat_str("GMT")) && c.done() {
                return fixed(dt, 0).ok_or_else(bad);
            }
            return Err(bad());
        }
    };
    c.i += 1;
    let oh = c.digits(2, 2).ok_or_else(bad)?;
    let _ = c.eat(b':');
    let om = if c.done() {
        0
    } else {
        c.digits(2, 2).ok_or_else(bad)?
    };
    if !c.done() || oh > 23 || om > 59 {
        return Err(bad());
    }
    fixed(dt, sign * (oh as i32 * 3600 + om as i32 * 60)).ok_or_else(bad)
}

fn fixed(dt: DateTime, offset_seconds: i32) -> Option<Timestamp> {
    let off = Offset::from_seconds(offset_seconds).ok()?;
    off.to_timestamp(dt).ok()
}

/// Magento's order grid: `Dec 22, 2021 11:59:59 PM` (also `Dec 22, 2021, 11:59:59 PM`).
fn parse_month_name(s: &str, zone: Option<&TimeZone>) -> Option<Result<Timestamp, TsError>> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = s.to_ascii_lowercase();
    let mut parts = lower.split([' ', ',']).filter(|p| !p.is_empty());
    let mon = parts.next()?;
    let month = MONTHS.iter().position(|m| mon.starts_with(m))? as i8 + 1;
    let day: i8 = parts.next()?.parse().ok()?;
    let year: i16 = parts.next()?.parse().ok()?;
    let time = parts.next()?;
    let mut t = time.split(':');
    let mut hour: i8 = t.next()?.parse().ok()?;
    let minute: i8 = t.next()?.parse().ok()?;
    let second: i8 = match t.next() {
        Some(x) => x.parse().ok()?,
        None => 0,
    };
    match parts.next() {
        Some("pm") if hour < 12 => hour += 12,
        Some("am") if hour == 12 => hour = 0,
        Some("am") | Some("pm") | None => {}
        Some(_) => return None,
    }
    if parts.next().is_some() {
        return None;
    }
    let dt = DateTime::new(year, month, day, hour, minute, second, 0).ok()?;
    Some(local(dt, zone, s))
}

/// RFC 3339 in the given zone's offset at that instant (`2021-12-22T23:59:59+09:00`), with
/// fractional seconds only when there are any. Without a zone, UTC (`Z`). An offset with
/// seconds (local mean time before a zone's first rule: Asia/Tokyo was +09:18:59 before 1888)
/// has no RFC 3339 form, so such an instant is written in UTC.
pub fn format_rfc3339(ts: Timestamp, zone: Option<&TimeZone>) -> String {
    let offset = zone.map(|tz| tz.to_offset(ts));
    if ts.subsec_nanosecond() == 0 {
        if let Some(text) = whole_seconds(ts, offset.filter(|o| o.seconds() % 60 == 0)) {
            return text;
        }
    }
    let zone = zone.filter(|_| offset.is_some_and(|o| o.seconds() % 60 == 0));
    match zone {
        Some(tz) => {
            let z = ts.to_zoned_datetime(tz.clone());
            let base = if z.subsec_nanosecond() == 0 {
                z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
            } else {
                z.strftime("%Y-%m-%dT%H:%M:%S%.f%:z").to_string()
            };
            base
        }
        None => {
            if ts.subsec_nanosecond() == 0 {
                ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
            } else {
                ts.strftime("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
            }
        }
    }
}

/// [`format_rfc3339`] of an instant in whole seconds of the years 0000-9999 (every time an
/// export holds), digit by digit: the writers format one or two times per order and per
/// customer, and jiff's `strftime` (a zoned date-time built, a format string read) was a
/// twentieth of their time. `None` outside those years (`strftime` then writes them).
fn whole_seconds(ts: Timestamp, offset: Option<Offset>) -> Option<String> {
    let dt = offset.unwrap_or(Offset::UTC).to_datetime(ts);
    let year = u32::try_from(dt.year()).ok().filter(|&y| y <= 9999)?;
    let mut b = [0u8; 25];
    let two = |b: &mut [u8], at: usize, v: u32| {
        b[at] = b'0' + (v / 10) as u8;
        b[at + 1] = b'0' + (v % 10) as u8;
    };
    two(&mut b, 0, year / 100);
    two(&mut b, 2, year % 100);
    b[4] = b'-';
    two(&mut b, 5, dt.month() as u32);
    b[7] = b'-';
    two(&mut b, 8, dt.day() as u32);
    b[10] = b'T';
    two(&mut b, 11, dt.hour() as u32);
    b[13] = b':';
    two(&mut b, 14, dt.minute() as u32);
    b[16] = b':';
    two(&mut b, 17, dt.second() as u32);
    let len = match offset {
        None => {
            b[19] = b'Z';
            20
        }
        Some(o) => {
            let secs = o.seconds();
            b[19] = if secs < 0 { b'-' } else { b'+' };
            let minutes = secs.unsigned_abs() / 60;
            two(&mut b, 20, minutes / 60);
            b[22] = b':';
            two(&mut b, 23, minutes % 60);
            25
        }
    };
    Some(String::from_utf8_lossy(&b[..len]).into_owned())
}

#[cfg(test)]
mod tests {
    /// Fuzz finding (fuzz/fuzz_targets/timestamp.rs): an epoch value in 1441 was written with
    /// Tokyo's local mean time offset, `+09:18:59`, which no RFC 3339 reader (ours included)
    /// reads back. Now such an instant is written in UTC.
    #[test]
    fn an_offset_with_seconds_is_written_in_utc_and_reads_back() {
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        let t: Timestamp = "1441-11-09T08:15:33.334Z".parse().unwrap();
        let text = format_rfc3339(t, Some(&tokyo));
        assert_eq!(text, "1441-11-09T08:15:33.334Z");
        assert_eq!(parse(&text, &TimeFormat::Auto, Some(&tokyo)), Ok(t));
        let recent: Timestamp = "2021-12-22T14:59:59Z".parse().unwrap();
        assert_eq!(
            format_rfc3339(recent, Some(&tokyo)),
            "2021-12-22T23:59:59+09:00"
        );
    }

    use super::*;

    fn tokyo() -> TimeZone {
        TimeZone::get("Asia/Tokyo").unwrap()
    }

    fn p(s: &str) -> String {
        let ts = parse(s, &TimeFormat::Auto, Some(&tokyo())).unwrap();
        format_rfc3339(ts, Some(&tokyo()))
    }

    #[test]
    fn naive_forms_are_read_in_the_zone() {
        assert_eq!(p("2020-04-27 00:00:00"), "2020-04-27T00:00:00+09:00");
        assert_eq!(p("2020-04-27 00:00"), "2020-04-27T00:00:00+09:00");
        assert_eq!(p("2020/04/27 00:00:01"), "2020-04-27T00:00:01+09:00");
        assert_eq!(p("2020/4/7 9:05"), "2020-04-07T09:05:00+09:00");
        assert_eq!(p("2020-04-27T10:11:12"), "2020-04-27T10:11:12+09:00");
        assert_eq!(p("2021年12月22日 23:59:59"), "2021-12-22T23:59:59+09:00");
        assert_eq!(p("2021年12月22日 23:59"), "2021-12-22T23:59:00+09:00");
        assert_eq!(
            p("2021-12-22 23:59:59.123456789"),
            "2021-12-22T23:59:59.123456789+09:00"
        );
    }

    #[test]
    fn offsets_are_honoured() {
        assert_eq!(p("2020-04-26T15:00:00Z"), "2020-04-27T00:00:00+09:00");
        assert_eq!(p("2020-04-26T14:59:59.5Z"), "2020-04-26T23:59:59.5+09:00");
        assert_eq!(p("2021-12-22 23:30:00 +0900"), "2021-12-22T23:30:00+09:00");
        assert_eq!(p("2021-12-22T14:30:00-05:00"), "2021-12-23T04:30:00+09:00");
        assert_eq!(p("2021-12-22 14:30:00 UTC"), "2021-12-22T23:30:00+09:00");
    }

    #[test]
    fn magento_grid_dates() {
        assert_eq!(p("Dec 22, 2021 11:59:59 PM"), "2021-12-22T23:59:59+09:00");
        assert_eq!(p("Apr 27, 2020 12:00:00 AM"), "2020-04-27T00:00:00+09:00");
    }

    #[test]
    fn naive_without_zone_is_its_own_error() {
        let e = parse("2020-04-27 00:00:00", &TimeFormat::Auto, None).unwrap_err();
        assert!(matches!(e, TsError::NaiveWithoutZone(_)));
        assert!(parse("2020-04-27T00:00:00Z", &TimeFormat::Auto, None).is_ok());
    }

    #[test]
    fn garbage_is_rejected() {
        for s in [
            "2021-13-01 00:00",
            "yesterday",
            "2021-12-22",
            "2021-12-22 25:00",
            "2021-02-30 10:00",
            "2021-12-22 10:00 +0900x",
        ] {
            assert!(parse(s, &TimeFormat::Auto, Some(&tokyo())).is_err(), "{s}");
        }
    }

    #[test]
    fn epochs() {
        let z = Some(tokyo());
        let ts = parse("1587913200", &TimeFormat::EpochSeconds, z.as_ref()).unwrap();
        assert_eq!(format_rfc3339(ts, z.as_ref()), "2020-04-27T00:00:00+09:00");
        let ts = parse("1587913199999", &TimeFormat::EpochMillis, z.as_ref()).unwrap();
        assert_eq!(
            format_rfc3339(ts, z.as_ref()),
            "2020-04-26T23:59:59.999+09:00"
        );
    }

    /// The digit-by-digit form is `strftime`'s, for any instant, zone and offset (the
    /// zones cover negative, half-hour and 45-minute offsets, and local mean time).
    #[test]
    fn whole_seconds_are_written_as_strftime_writes_them() {
        let zones: Vec<Option<TimeZone>> = [
            "Asia/Tokyo",
            "America/New_York",
            "Asia/Kolkata",
            "Asia/Kathmandu",
            "Europe/London",
            "UTC",
        ]
        .iter()
        .map(|z| Some(TimeZone::get(z).unwrap()))
        .chain([None])
        .collect();
        let strftime = |ts: Timestamp, zone: Option<&TimeZone>| match zone
            .filter(|tz| tz.to_offset(ts).seconds() % 60 == 0)
        {
            Some(tz) => ts
                .to_zoned_datetime(tz.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
            None => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        };
        proptest::proptest!(|(secs in -62_000_000_000i64..253_402_300_799i64, z in 0usize..7)| {
            let ts = Timestamp::from_second(secs).unwrap();
            let zone = zones[z].as_ref();
            proptest::prop_assert_eq!(format_rfc3339(ts, zone), strftime(ts, zone));
        });
    }
}
