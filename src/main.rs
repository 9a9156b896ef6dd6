//! The `skimtrace` binary: parse the arguments, run the command, print the error chain, exit
//! with the documented code (0 success, 1 failure while running, 2 usage or config error).

use clap::Parser;
use std::process::ExitCode;

/// mimalloc instead of the system allocator: a run builds and frees millions of small strings
/// (one set per affected order and customer), where glibc's allocator spends a quarter of the
/// time (measured with `cargo bench --bench throughput`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc's `mi_option_e` (the same place in its v2 and v3
/// headers; the Rust bindings leave it unnamed).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Freed memory goes back to the system at once instead of after mimalloc's 10 ms delay. A
/// stage frees large buffers while it builds the next (the chunk lists of the hits while they
/// are joined into one, the order index once the order files are read); with the delay both
/// stay resident and the peak holds them twice: 1,000,000 hits 317 → 211 MB, `affected` on
/// 1,000,000 rows 294 → 273 MiB, no slower (benches/speed.sh). `MIMALLOC_PURGE_DELAY` in the
/// environment still wins.
fn return_freed_memory_at_once() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: sets one integer option; mimalloc reads options at any time, thread-safely.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    }
}

fn main() -> ExitCode {
    return_freed_memory_at_once();
    let cli = match skimtrace::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    skimtrace::logging::init(cli.verbose, cli.quiet);
    match skimtrace::commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            let code = err.exit_code();
            let err = anyhow::Error::from(err);
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            // No message quotes a cell, and card numbers are masked all the same: an error
            // from a library (the CSV reader, a template engine) may quote input.
            let mask = |s: String| skimtrace::cards::detect::mask(&s).0.into_owned();
            eprintln!("skimtrace: error: {}", mask(err.to_string()));
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {}", mask(cause.to_string()));
            }
            ExitCode::from(code as u8)
        }
    }
}

/// `skimtrace … | head` is not an error (ripgrep's rule).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
