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
            if let Ok(t) = parse(value, f, zone) {
                let text = format_rfc3339(t, zone);
                assert_eq!(parse(&text, &TimeFormat::Auto, zone), Ok(t), "{text}");
            }
        }
    }
});
