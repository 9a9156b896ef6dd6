//! Access-log lines: every named format, and format sniffing, on any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use skimtrace::access_log::format::LineFormat;

fuzz_target!(|data: &[u8]| {
    for name in ["combined", "common", "nginx", "vhost_combined", "json"] {
        let f = LineFormat::named(name).unwrap();
        if let Ok(r) = f.parse(data) {
            let _ = (r.path(), r.query(), r.verbatim());
        }
    }
    if let Some(f) = LineFormat::sniff(data) {
        for line in data.split(|&b| b == b'\n') {
            let _ = f.parse(line);
        }
    }
});
