//! Sigma rules: any YAML text. Parsing never panics or hangs.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let _ = skimtrace::rules::sigma::parse_rule(s, "fuzz.yml");
});
