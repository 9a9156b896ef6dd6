//! `skimtrace rules list`, `export` and `check`: what the evidence run would match with, and
//! whether a rule folder loads. The active set is assembled by [`crate::rules::assemble`], as
//! for `evidence`.

use super::common::{print_out, Ui};
use crate::access_log::format::LineFormat;
use crate::cli::{RuleArgs, RulesArgs, RulesCommand};
use crate::config::Config;
use crate::error::Result;
use crate::evidence::LogsConfig;
use crate::rules::assemble::{active_rules, line_format, RuleOptions};
use crate::rules::RuleSet;

impl From<&RuleArgs> for RuleOptions {
    fn from(a: &RuleArgs) -> RuleOptions {
        RuleOptions {
            rules: a.rules.clone(),
            no_builtin: a.no_builtin,
            ioc_ips: a.ioc_ips.clone(),
            ioc_domains: a.ioc_domains.clone(),
            ioc_paths: a.ioc_paths.clone(),
        }
    }
}

pub fn run(args: &RulesArgs, ui: &Ui) -> Result<u8> {
    match &args.command {
        RulesCommand::List(a) => {
            let cfg = match &a.config {
                Some(p) => Config::load(p)?,
                None => Config::empty(),
            };
            let logs: LogsConfig = cfg.logs();
            let set = active_rules(&cfg, &logs, &(&a.rules).into())?;
            let triggers = a
                .triggers
                .then(|| crate::rules::Matcher::new(&set.rules).triggers());
            for (i, r) in set.rules.iter().enumerate() {
                let mut line = format!("{}\t{}\t{}\t{}", r.id, r.level, r.title, r.source);
                if let Some(t) = &triggers {
                    line = format!("{line}\t{}", describe(&t[i]));
                }
                print_out(line + "\n");
            }
            report_skipped(ui, &set);
            if let Some(t) = &triggers {
                let most = t.iter().filter(|t| t.on_most_requests()).count();
                ui.say(format!(
                    "{most} of {} rules are evaluated on most requests (no literal, or one of the status, the protocol or the method GET or HEAD)",
                    t.len()
                ));
            }
            ui.say(format!("{} rules active", set.rules.len()));
            Ok(0)
        }
        RulesCommand::Export(a) => {
            let cfg = match &a.config {
                Some(p) => Config::load(p)?,
                None => Config::empty(),
            };
            let logs: LogsConfig = cfg.logs();
            let set = active_rules(&cfg, &logs, &(&a.rules).into())?;
            report_skipped(ui, &set);
            let ex = crate::rules::export::export(&set, &a.dir)?;
            for (file, id, title) in &ex.written {
                print_out(format!("{file}\t{id}\t{title}\n"));
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
                print_out(format!("accepted\t{}\t{}\t{}\n", r.id, r.title, r.source));
            }
            for s in &set.skipped {
                print_out(format!(
                    "skipped\t{}\t{}\t{}\n",
                    s.source,
                    s.title.as_deref().unwrap_or("-"),
                    s.reason
                ));
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

/// A rule's trigger for `rules list --triggers`: `every request`, or `field 'literal' | …`.
fn describe(t: &crate::rules::matcher::Trigger) -> String {
    use crate::rules::matcher::Trigger;
    match t {
        Trigger::Every => "every request".into(),
        Trigger::Literals(v) => v
            .iter()
            .map(|(f, l)| format!("{f} {l:?}"))
            .collect::<Vec<_>>()
            .join(" | "),
    }
}
