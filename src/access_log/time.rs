//! Access-log timestamps, parsed by hand: a log has one per line and a general-purpose parser
//! would cost more than the rest of the line. Each parser returns `None` on anything it does
//! not recognise; the caller reports the line as malformed.

use jiff::Timestamp;

/// The month (1 to 12) of its English abbreviation, in any case (`Jan`, `jan`, `JAN`): one
/// `match` on the lowercased bytes rather than a search of the twelve names, on every line.
fn month(b: &[u8]) -> Option<i64> {
    let [a, b, c] = *b else { return None };
    Some(match [a | 0x20, b | 0x20, c | 0x20] {
        [b'j', b'a', b'n'] => 1,
        [b'f', b'e', b'b'] => 2,
        [b'm', b'a', b'r'] => 3,
        [b'a', b'p', b'r'] => 4,
        [b'm', b'a', b'y'] => 5,
        [b'j', b'u', b'n'] => 6,
        [b'j', b'u', b'l'] => 7,
        [b'a', b'u', b'g'] => 8,
        [b's', b'e', b'p'] => 9,
        [b'o', b'c', b't'] => 10,
        [b'n', b'o', b'v'] => 11,
        [b'd', b'e', b'c'] => 12,
        _ => return None,
    })
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[allow(clippy::too_many_arguments)] // the six parts of a civil time, fraction, offset
fn instant(
    y: i64,
    mo: i64,
    d: i64,
    h: i64,
    mi: i64,
    s: i64,
    nanos: i32,
    off: i64,
) -> Option<Timestamp> {
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s.min(59) - off;
    Timestamp::new(secs, nanos).ok()
}

/// `[`-less common log format time: `17/May/2015:10:05:03 +0000` (Apache `%t` without its
/// brackets, nginx `$time_local`).
pub fn parse_clf(b: &[u8]) -> Option<Timestamp> {
    if b.len() != 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    let d = digits(&b[0..2])?;
    let mo = month(&b[3..6])?;
    let y = digits(&b[7..11])?;
    let h = digits(&b[12..14])?;
    let mi = digits(&b[15..17])?;
    let s = digits(&b[18..20])?;
    let off = offset(&b[21..26])?;
    instant(y, mo, d, h, mi, s, 0, off)
}

/// `+0900`, `-0700`, `+09:00`, `Z`: seconds east of UTC.
fn offset(b: &[u8]) -> Option<i64> {
    match b {
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, m1, m2] | [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = digits(&[*h1, *h2])?;
            let m = digits(&[*m1, *m2])?;
            let v = h * 3600 + m * 60;
            Some(if *sign == b'-' { -v } else { v })
        }
        _ => None,
    }
}

/// ISO 8601 / RFC 3339 with an offset: `2021-12-22T23:59:59+09:00` (nginx `$time_iso8601`),
/// fractional seconds of 1 to 9 digits, `Z`, and a space instead of `T`.
pub fn parse_iso(b: &[u8]) -> Option<Timestamp> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let y = digits(&b[0..4])?;
    let mo = digits(&b[5..7])?;
    let d = digits(&b[8..10])?;
    let h = digits(&b[11..13])?;
    let mi = digits(&b[14..16])?;
    let s = digits(&b[17..19])?;
    let mut rest = &b[19..];
    let mut nanos: i32 = 0;
    if rest.first() == Some(&b'.') || rest.first() == Some(&b',') {
        let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        let frac = digits(&rest[1..1 + n])?;
        nanos = (frac * 10_i64.pow(9 - n as u32)) as i32;
        rest = &rest[1 + n..];
    }
    let off = offset(rest)?;
    instant(y, mo, d, h, mi, s, nanos, off)
}

/// Epoch seconds with an optional fraction (nginx `$msec`: `1640185199.123`).
pub fn parse_epoch(b: &[u8]) -> Option<Timestamp> {
    let (int, frac) = match memchr::memchr(b'.', b) {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b""[..]),
    };
    let secs = digits(int)?;
    let mut nanos = 0i32;
    if !frac.is_empty() {
        if frac.len() > 9 {
            return None;
        }
        nanos = (digits(frac)? * 10_i64.pow(9 - frac.len() as u32)) as i32;
    }
    Timestamp::new(secs, nanos).ok()
}

/// Any of the forms above (JSON logs name their time field freely).
pub fn parse_any(b: &[u8]) -> Option<Timestamp> {
    let b = b.trim_ascii();
    let b = b
        .strip_prefix(b"[")
        .and_then(|x| x.strip_suffix(b"]"))
        .unwrap_or(b);
    parse_clf(b)
        .or_else(|| parse_iso(b))
        .or_else(|| parse_epoch(b))
        .or_else(|| std::str::from_utf8(b).ok()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn clf_with_offsets() {
        assert_eq!(
            parse_clf(b"17/May/2015:10:05:03 +0000"),
            Some(ts("2015-05-17T10:05:03Z"))
        );
        assert_eq!(
            parse_clf(b"02/Mar/2020:04:11:09 +0900"),
            Some(ts("2020-03-01T19:11:09Z"))
        );
        assert_eq!(
            parse_clf(b"29/Feb/2020:23:59:59 -0700"),
            Some(ts("2020-03-01T06:59:59Z"))
        );
        assert_eq!(parse_clf(b"17/Foo/2015:10:05:03 +0000"), None);
        assert_eq!(parse_clf(b"17/May/2015:10:05:03"), None);
        assert_eq!(parse_clf(b"17/May/2015:25:05:03 +0000"), None);
    }

    #[test]
    fn every_month_in_any_case_and_nothing_else() {
        let names = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        for (i, name) in names.iter().enumerate() {
            for form in [name.to_string(), name.to_lowercase(), name.to_uppercase()] {
                let line = format!("01/{form}/2021:00:00:00 +0000");
                let want = ts(&format!("2021-{:02}-01T00:00:00Z", i + 1));
                assert_eq!(parse_clf(line.as_bytes()), Some(want), "{form}");
            }
        }
        // Bytes one bit away from a letter (`@` is `` ` `` lowercased, `J` minus 0x20 is `*`).
        for bad in ["J@n", "*an", "Ja\x0e", "Jam", "Ja", "Janu", "\u{c3}an"] {
            let line = format!("01/{bad}/2021:00:00:00 +0000");
            assert_eq!(parse_clf(line.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn iso_and_epoch() {
        assert_eq!(
            parse_iso(b"2021-12-22T23:59:59+09:00"),
            Some(ts("2021-12-22T14:59:59Z"))
        );
        assert_eq!(
            parse_iso(b"2021-12-22T14:59:59.123456789Z"),
            Some(ts("2021-12-22T14:59:59.123456789Z"))
        );
        assert_eq!(parse_iso(b"2021-12-22T14:59:59"), None);
        assert_eq!(
            parse_epoch(b"1640185199.5"),
            Some(ts("2021-12-22T14:59:59.5Z"))
        );
        assert_eq!(
            parse_any(b"[17/May/2015:10:05:03 +0000]"),
            Some(ts("2015-05-17T10:05:03Z"))
        );
    }
}
