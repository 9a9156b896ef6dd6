//! `skimtrace affected`: the flags into [`affected::Options`], the [`affected::run`] stage.

use super::common::{self, Ui};
use crate::affected::{self, Options, Output};
use crate::cli::AffectedArgs;
use crate::error::Result;

/// The stage's options from the command line.
pub fn options(args: &AffectedArgs) -> Options {
    Options {
        orders: args.orders.clone(),
        preset: args.preset.clone(),
        encoding: args.encoding.clone(),
        payments: args.payments.clone(),
        payments_preset: args.payments_preset.clone(),
        logs: args.logs.clone(),
        with_logs: args.with_logs,
        force: args.case.force,
    }
}

pub fn run(args: &AffectedArgs, ui: &Ui) -> Result<Output> {
    let case = common::open_case(&args.case, args.key_file.as_deref())?;
    affected::run(&case, &options(args), ui)
}
