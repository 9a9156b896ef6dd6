//! incident.toml: any text. Loading never panics; a loaded config's window and zone either
//! parse or fail with an error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(cfg) = skimtrace::config::Config::from_text(s.to_string(), std::path::Path::new("/case/incident.toml")) {
        let _ = cfg.incident_id();
        if let Some(w) = cfg.incident.window.as_deref() {
            let _ = skimtrace::window::Window::parse(w, cfg.incident.timezone.as_deref());
        }
    }
});
