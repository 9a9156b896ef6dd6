//! `skimtrace diff OLD NEW`: the flags into [`diff::Options`], the [`diff::run`] comparison.

use super::common::Ui;
use crate::cli::DiffArgs;
use crate::diff::{self, Diff, Options};
use crate::error::Result;

pub fn run(args: &DiffArgs, ui: &Ui) -> Result<Diff> {
    diff::run(
        &Options {
            old: args.old.clone(),
            new: args.new.clone(),
            out: args.out.clone(),
            affected_only: args.affected_only.clone(),
        },
        ui,
    )
}
