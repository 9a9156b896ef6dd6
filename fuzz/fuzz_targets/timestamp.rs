//! Timestamps: any text, in auto, epoch and strftime formats. Never panics; what reads back
//! formats and reads again as the same instant.
#![no_main]
use libfuzzer_sys::fuzz_target;
use skimtrace::timestamp::{format_rfc3339, parse, TimeFormat};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
    let (fmt, value) = match s.split_once('\u{1}') {
        Some((f, v)) => (TimeFormat::from_config(f), v),
        None => (TimeFormat::Auto, s),
    };
    for zone in [None, Some(&tokyo)] {
        for f in [&fmt, &TimeFormat::EpochSeconds, &TimeFormat::EpochMillis] {
            // RFC 3339 only has years 0000-9999 (an epoch value can reach far beyond).
            let rfc_year = |t: jiff::Timestamp| (0..=9999).contains(&t.to_zoned_datetime(jiff::tz::TimeZone::UTC).year());
            if let Ok(t) = parse(value, f, zone).map_err(|_| ()).and_then(|t| if rfc_year(t) { Ok(t) } else { Err(()) }) {
                let text = format_rfc3339(t, zone);
                assert_eq!(parse(&text, &TimeFormat::Auto, zone), Ok(t), "{text}");
            }
        }
    }
});
