//! `skimtrace evidence`: the flags into [`evidence::Options`], the [`evidence::run`] stage, the
//! exit code.

use super::common::{self, Ui};
use crate::cli::EvidenceArgs;
use crate::error::Result;
use crate::evidence::{self, Options, Output};

/// The stage's options from the command line.
pub fn options(args: &EvidenceArgs) -> Options {
    Options {
        logs: args.logs.clone(),
        format: args.format.clone(),
        log_format: args.log_format.clone(),
        rules: (&args.rules).into(),
        checkout_paths: args.checkout_path.clone(),
        emit_events: args.emit_events.clone(),
        hits: args.hits.clone(),
        force: args.case.force,
    }
}

pub fn run(args: &EvidenceArgs, ui: &Ui) -> Result<Output> {
    let case = common::open_case(&args.case, None)?;
    evidence::run(&case, &options(args), ui)
}
