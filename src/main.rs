//! The `skimtrace` binary: parse the arguments, run the command, print the error chain, exit
//! with the documented code (0 success, 1 failure while running, 2 usage or config error).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    skimtrace::allocator::return_freed_memory_at_once();
    let cli = match skimtrace::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // The parser quotes the argument it refused (`unrecognized subcommand '4111…'`).
            eprint!("{}", skimtrace::cards::detect::mask(&e.to_string()).0);
            return ExitCode::from(2);
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
