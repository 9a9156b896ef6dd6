//! `skimtrace report OUT`: find the config (--config, else the one the manifest recorded) →
//! pick the language (--lang wins) → write report.html, report.md and ppc-report.md from the
//! case folder's figures, with the deadlines as of today (SOURCE_DATE_EPOCH when set).

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
    let clock = crate::manifest::Clock::from_env()?;
    let mut ctx = Context::from_config(cfg.as_ref(), &clock)?;
    if let Some(l) = args.lang.as_deref().and_then(report::lang::Lang::parse) {
        ctx.lang = l;
    }
    let w = report::write(&args.out, &ctx)?;
    for warning in &w.warnings {
        ui.warn(warning);
    }
    ui.say(format!(
        "skimtrace: wrote {}, {} and {}",
        w.html.display(),
        w.md.display(),
        w.ppc.display()
    ));
    for line in report::deadline_lines(&w.deadlines) {
        ui.say(format!("  {line}"));
    }
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
