//! The one place that assembles the active rule set — the built-in pack (unless turned off),
//! Sigma files from the command line or `[logs] rules`, and the IOC lists — and the line format,
//! for `evidence`, `affected --logs` and `rules list/export` alike, so they never disagree on
//! what matches.

use crate::access_log::format::LineFormat;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::evidence::LogsConfig;
use crate::rules::{Iocs, RuleSet};
use std::path::PathBuf;

/// What the command line adds to or changes in `[logs]`'s rules.
#[derive(Debug, Clone, Default)]
pub struct RuleOptions {
    /// Sigma rule files or folders; when given, they replace `[logs] rules`.
    pub rules: Vec<PathBuf>,
    /// Leave the built-in skimmer pack out.
    pub no_builtin: bool,
    pub ioc_ips: Option<PathBuf>,
    pub ioc_domains: Option<PathBuf>,
    pub ioc_paths: Option<PathBuf>,
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
pub fn active_rules(cfg: &Config, logs: &LogsConfig, args: &RuleOptions) -> Result<RuleSet> {
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
