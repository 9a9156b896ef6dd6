//! Tracing on stderr: warnings by default, `-v` info, `-vv` debug; `RUST_LOG` overrides.
//! Nothing logged by this crate ever holds a full card number: card values only travel as
//! [`crate::cards::Pan`], whose `Debug` is masked.

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
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .without_time()
        .try_init();
}
