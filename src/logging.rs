//! Tracing on stderr: warnings by default, `-v` info, `-vv` debug; `RUST_LOG` overrides.
//! Nothing logged by this crate ever holds a full card number: card values only travel as
//! [`crate::cards::Pan`], whose `Debug` is masked, and every event passes through the card
//! detector on its way to stderr all the same ([`MaskedStderr`]).

use tracing_subscriber::EnvFilter;

pub fn init(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "skimtrace=info",
        (false, _) => "skimtrace=debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| MaskedStderr(Vec::new()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}

/// One log event, collected and written to stderr with its card numbers masked when the event
/// is complete (`tracing_subscriber` makes one writer per event).
pub struct MaskedStderr(Vec<u8>);

impl std::io::Write for MaskedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for MaskedStderr {
    fn drop(&mut self) {
        let masked = crate::cards::detect::mask_bytes(&self.0).0;
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), &masked);
    }
}
