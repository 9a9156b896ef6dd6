//! `skimtrace report OUT`: find the config (--config, else the one the manifest recorded) →
//! write report.html and report.md from the case folder's figures.

use super::common::Ui;
use crate::cli::ReportArgs;
use crate::config::Config;
use crate::error::Result;
use crate::report::{self, Context};

pub fn run(args: &ReportArgs, ui: &Ui) -> Result<()> {
    let cfg = match &args.config {
        Some(p) => Some(Config::load(p)?),
        None => recorded_config(args, ui)?,
    };
    let ctx = Context::from_config(cfg.as_ref())?;
    let w = report::write(&args.out, &ctx)?;
    for warning in &w.warnings {
        ui.warn(warning);
    }
    ui.say(format!(
        "skimtrace: wrote {} and {}",
        w.html.display(),
        w.md.display()
    ));
    Ok(())
}

/// The config text a manifest recorded, so a report can be rebuilt from the case folder alone.
fn recorded_config(args: &ReportArgs, ui: &Ui) -> Result<Option<Config>> {
    if !args.out.join(crate::manifest::FILE).exists() {
        ui.say("skimtrace: no --config and no manifest.json: the report has no thresholds, contact or discovered date");
        return Ok(None);
    }
    let m = crate::manifest::read(&args.out)?;
    match m.config {
        Some(c) => Ok(Some(Config::from_text(
            c.text,
            std::path::Path::new(&c.path),
        )?)),
        None => Ok(None),
    }
}
