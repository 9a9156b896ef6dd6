//! `skimtrace run`: the flags into [`pipeline::Options`], the [`pipeline::run`] chain of stages.

use super::common::{self, Ui};
use crate::cli::RunArgs;
use crate::error::{Error, Result};
use crate::pipeline::{self, Options};
use std::collections::BTreeMap;

pub fn run(args: &RunArgs, ui: &Ui) -> Result<u8> {
    let config_path = args.case.config.clone().ok_or_else(|| {
        Error::usage("run needs the case's config: pass --config incident.toml (create one with `skimtrace init DIR`)")
    })?;
    let case = common::open_case(&args.case, args.key_file.as_deref())?;
    let mut overrides = BTreeMap::new();
    if let Some(w) = &args.case.window {
        overrides.insert("incident.window".to_string(), w.clone());
    }
    if let Some(tz) = &args.case.tz {
        overrides.insert("incident.timezone".to_string(), tz.clone());
    }
    let opts = Options {
        config_path,
        overrides,
        templates: args.templates.clone(),
        force: args.case.force,
    };
    Ok(pipeline::run(&case, &opts, ui)?.exit_code)
}
