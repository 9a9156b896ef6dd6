//! The LogFormat / log_format compilers: any format string (before a NUL byte), then a line
//! (after it) parsed with what compiled.
#![no_main]
use libfuzzer_sys::fuzz_target;
use skimtrace::access_log::format::LineFormat;

fuzz_target!(|data: &[u8]| {
    let (spec, line) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(spec) = std::str::from_utf8(spec) else { return };
    for compiled in [LineFormat::custom(spec), LineFormat::apache(spec), LineFormat::nginx(spec)] {
        if let Ok(f) = compiled {
            if let Ok(r) = f.parse(line) {
                let _ = (r.path(), r.query());
            }
        }
    }
});
