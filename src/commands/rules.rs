//! `skimtrace rules list` and `skimtrace rules check`: what the evidence run would match with,
//! and whether a rule folder loads. Also the one place that assembles the active rule set from
//! the built-in pack, `[logs]` and the command line, for `evidence` too.

use super::common::Ui;
use crate::access_log::format::LineFormat;
use crate::cli::{RuleArgs, RulesArgs, RulesCommand};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::evidence::LogsConfig;
use crate::rules::{Iocs, RuleSet};

pub fn run(args: &RulesArgs, ui: &Ui) -> Result<u8> {
    match &args.command {
        RulesCommand::List(a) => {
            let cfg = match &a.config {
                Some(p) => Config::load(p)?,
                None => Config::empty(),
            };
            let logs: LogsConfig = cfg.logs();
            let set = active_rules(&cfg, &logs, &a.rules)?;
            for r in &set.rules {
                println!("{}\t{}\t{}\t{}", r.id, r.level, r.title, r.source);
            }
            report_skipped(ui, &set);
            ui.say(format!("{} rules active", set.rules.len()));
            Ok(0)
        }
        RulesCommand::Export(a) => {
            let cfg = match &a.config {
                Some(p) => Config::load(p)?,
                None => Config::empty(),
            };
            let logs: LogsConfig = cfg.logs();
            let set = active_rules(&cfg, &logs, &a.rules)?;
            report_skipped(ui, &set);
            let ex = crate::rules::export::export(&set, &a.dir)?;
            for (file, id, title) in &ex.written {
                println!("{file}\t{id}\t{title}");
            }
            for (id, why) in &ex.not_exported {
                ui.warn(format!("not exported: {id}: {why}"));
            }
            ui.say(format!(
                "{} rules written to {}, {} not exported",
                ex.written.len(),
                a.dir.display(),
                ex.not_exported.len()
            ));
            Ok(0)
        }
        RulesCommand::Check(a) => {
            let mut set = RuleSet::default();
            for p in &a.paths {
                set.load_path(p, &p.to_string_lossy())?;
            }
            let logs: LogsConfig = match &a.config {
                Some(p) => {
                    let cfg = Config::load(p)?;
                    cfg.logs()
                }
                None => LogsConfig::default(),
            };
            let format = line_format(
                a.format.as_deref().or(logs.format.as_deref()),
                a.log_format.as_deref().or(logs.log_format.as_deref()),
            )?
            .unwrap_or_else(|| LineFormat::named("combined").expect("preset"));
            for r in &set.rules {
                println!("accepted\t{}\t{}\t{}", r.id, r.title, r.source);
            }
            for s in &set.skipped {
                println!(
                    "skipped\t{}\t{}\t{}",
                    s.source,
                    s.title.as_deref().unwrap_or("-"),
                    s.reason
                );
            }
            for (id, fields) in set.fields_missing(&format) {
                ui.warn(format!(
                    "rule {id} uses {} which the {} format does not carry: those parts never match",
                    fields.join(", "),
                    format.name
                ));
            }
            ui.say(format!(
                "{} rules accepted, {} skipped",
                set.rules.len(),
                set.skipped.len()
            ));
            Ok(0)
        }
    }
}

fn report_skipped(ui: &Ui, set: &RuleSet) {
    for s in &set.skipped {
        ui.say(format!(
            "skimtrace: skipped {}{}: {}",
            s.source,
            s.title
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default(),
            s.reason
        ));
    }
}

/// The format from `--format` / `--log-format` (a usage error when it does not compile);
/// `None` for `auto`.
pub fn line_format(name: Option<&str>, custom: Option<&str>) -> Result<Option<LineFormat>> {
    if let Some(c) = custom {
        return LineFormat::custom(c)
            .map(Some)
            .map_err(|e| Error::usage(format!("log format {c:?}: {e}")));
    }
    match name.map(str::trim) {
        None | Some("auto") | Some("") => Ok(None),
        Some(n) => LineFormat::named(n).map(Some).map_err(Error::usage),
    }
}

/// The active rules: the built-in pack (unless turned off), `--rules` (else `[logs] rules`),
/// and the IOC lists (command line over config).
pub fn active_rules(cfg: &Config, logs: &LogsConfig, args: &RuleArgs) -> Result<RuleSet> {
    let builtin = !args.no_builtin && logs.builtin_rules.unwrap_or(true);
    let mut set = if builtin {
        RuleSet::builtin()
    } else {
        RuleSet::default()
    };
    if !args.rules.is_empty() {
        for p in &args.rules {
            set.load_path(p, &p.to_string_lossy())?;
        }
    } else {
        for p in &logs.rules {
            set.load_path(&cfg.resolve(p), p)?;
        }
    }
    let mut iocs = Iocs::default();
    let pick = |cli: &Option<std::path::PathBuf>, conf: &Option<String>| {
        cli.clone()
            .map(|p| (p.clone(), p.to_string_lossy().into_owned()))
            .or_else(|| conf.as_ref().map(|c| (cfg.resolve(c), c.clone())))
    };
    if let Some((p, shown)) = pick(&args.ioc_ips, &logs.ioc_ips) {
        iocs.load_ips(&p, &shown)?;
    }
    if let Some((p, shown)) = pick(&args.ioc_domains, &logs.ioc_domains) {
        iocs.load_domains(&p, &shown)?;
    }
    if let Some((p, shown)) = pick(&args.ioc_paths, &logs.ioc_paths) {
        iocs.load_paths(&p, &shown)?;
    }
    set.add_iocs(&iocs);
    Ok(set)
}
