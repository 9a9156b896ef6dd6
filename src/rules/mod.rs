//! Detection rules: Sigma `webserver` rules (the built-in skimmer pack, plus files and folders
//! the user adds) and plain IOC lists, loaded, checked and compiled into one [`Matcher`].
//!
//! Loading a folder skips rules it cannot use (another log source, a construct outside the
//! subset) and lists each with its reason; a rule file named on its own must load, or the run
//! stops with a config error naming the file and the rule.

pub mod assemble;
pub mod export;
pub mod matcher;
pub mod sigma;

use crate::error::{Error, Result};
pub use matcher::Matcher;
use serde::Serialize;
pub use sigma::Rule;
use sigma::{Cond, Leaf, StrOp, Target, Test};
use std::path::{Path, PathBuf};

/// The built-in skimmer pack, embedded in the binary: (file name, YAML).
pub const BUILTIN: &[(&str, &str)] = &include!("builtin/list.rs");

/// A rule file that was not loaded, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Skipped {
    pub source: String,
    pub title: Option<String>,
    pub reason: String,
}

/// The active rules and the ones skipped on the way.
#[derive(Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub skipped: Vec<Skipped>,
}

impl RuleSet {
    /// The built-in pack. Its rules are tested to load; a failure here is a bug.
    pub fn builtin() -> RuleSet {
        let mut set = RuleSet::default();
        for (name, text) in BUILTIN {
            let rule = sigma::parse_rule(text, &format!("builtin:{name}"))
                .unwrap_or_else(|(_, p)| panic!("built-in rule {name}: {p}"));
            set.add(rule);
        }
        set
    }

    fn add(&mut self, rule: Rule) {
        if let Some(prev) = self.rules.iter().find(|r| r.id == rule.id) {
            self.skipped.push(Skipped {
                source: rule.source.clone(),
                title: Some(rule.title.clone()),
                reason: format!(
                    "duplicate id {} (already loaded from {})",
                    rule.id, prev.source
                ),
            });
            return;
        }
        self.rules.push(rule);
    }

    /// Loads a rule file (must load) or a folder (recursively; `.yml`/`.yaml` only; rules
    /// that cannot be used are skipped with their reason). `shown` is the name used in
    /// messages.
    pub fn load_path(&mut self, path: &Path, shown: &str) -> Result<()> {
        if path.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files)?;
            files.sort();
            for f in files {
                let name = format!(
                    "{}/{}",
                    shown.trim_end_matches('/'),
                    f.strip_prefix(path).unwrap_or(&f).to_string_lossy()
                );
                let text = match std::fs::read_to_string(&f) {
                    Ok(t) => t,
                    Err(e) => {
                        self.skipped.push(Skipped {
                            source: name,
                            title: None,
                            reason: format!("cannot read: {e}"),
                        });
                        continue;
                    }
                };
                match sigma::parse_rule(&text, &name) {
                    Ok(r) => self.add(r),
                    Err((title, p)) => self.skipped.push(Skipped {
                        source: name,
                        title,
                        reason: p.to_string(),
                    }),
                }
            }
            Ok(())
        } else {
            let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
                path: path.to_path_buf(),
                message: format!("cannot read the rule file: {e}"),
            })?;
            match sigma::parse_rule(&text, shown) {
                Ok(r) => {
                    self.add(r);
                    Ok(())
                }
                Err((title, p)) => Err(Error::Config {
                    path: path.to_path_buf(),
                    message: match title {
                        Some(t) => format!("rule {t:?}: {p}"),
                        None => p.to_string(),
                    },
                }),
            }
        }
    }

    /// Adds rules built from plain IOC lists.
    pub fn add_iocs(&mut self, iocs: &Iocs) {
        if !iocs.ips.is_empty() {
            self.rules.push(ioc_rule(
                "ioc-ips",
                &format!("Client address on the IOC list ({})", iocs.ips_source),
                Cond::Leaf(Leaf {
                    target: Target::Field(crate::access_log::Field::ClientIp),
                    test: Test::Cidr(iocs.ips.clone()),
                }),
            ));
        }
        if !iocs.domains.is_empty() {
            let mut v = Vec::new();
            for d in &iocs.domains {
                for f in [
                    crate::access_log::Field::Referer,
                    crate::access_log::Field::Target,
                ] {
                    v.push(Cond::Leaf(Leaf {
                        target: Target::Field(f),
                        test: Test::Domain(d.to_ascii_lowercase().into_bytes()),
                    }));
                }
            }
            self.rules.push(ioc_rule(
                "ioc-domains",
                &format!(
                    "IOC domain in the referer or the request ({})",
                    iocs.domains_source
                ),
                Cond::Or(v),
            ));
        }
        if !iocs.paths.is_empty() {
            let v = iocs
                .paths
                .iter()
                .map(|p| {
                    Cond::Leaf(Leaf {
                        target: Target::Field(crate::access_log::Field::UriStem),
                        test: Test::Str {
                            op: StrOp::Ends,
                            needle: p.to_ascii_lowercase().into_bytes(),
                            cased: false,
                        },
                    })
                })
                .collect();
            self.rules.push(ioc_rule(
                "ioc-paths",
                &format!("Request for a file on the IOC list ({})", iocs.paths_source),
                Cond::Or(v),
            ));
        }
    }

    /// Sigma fields the rules use that a format lacks: (rule id, field names).
    pub fn fields_missing(
        &self,
        format: &crate::access_log::format::LineFormat,
    ) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        for r in &self.rules {
            let mut fields = Vec::new();
            collect_fields(&r.cond, &mut fields);
            let mut missing: Vec<String> = fields
                .into_iter()
                .filter(|f| !format.carries(*f))
                .map(|f| format!("{f:?}"))
                .collect();
            missing.sort();
            missing.dedup();
            if !missing.is_empty() {
                out.push((r.id.clone(), missing));
            }
        }
        out
    }
}

fn collect_fields(c: &Cond, out: &mut Vec<crate::access_log::Field>) {
    match c {
        Cond::And(v) | Cond::Or(v) => v.iter().for_each(|x| collect_fields(x, out)),
        Cond::Not(x) => collect_fields(x, out),
        Cond::Leaf(l) => {
            if let Target::Field(f) = l.target {
                // A `null` test on a missing field is what the rule wants; do not warn.
                if !matches!(l.test, Test::Null) {
                    out.push(f);
                }
            }
        }
    }
}

fn ioc_rule(id: &str, title: &str, cond: Cond) -> Rule {
    Rule {
        id: id.into(),
        title: title.into(),
        level: "high".into(),
        status: "ioc".into(),
        tags: vec!["ioc".into()],
        description: String::new(),
        source: "ioc".into(),
        cond,
        yaml: None,
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let p = e.map_err(|e| Error::io(dir, e))?.path();
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(&p, out)?;
        } else if p
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("yml") || x.eq_ignore_ascii_case("yaml"))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Plain IOC lists: one entry a line, `#` comments.
#[derive(Debug, Default, Clone)]
pub struct Iocs {
    pub ips: Vec<(std::net::IpAddr, u8)>,
    pub ips_source: String,
    pub domains: Vec<String>,
    pub domains_source: String,
    pub paths: Vec<String>,
    pub paths_source: String,
}

/// The entries of an IOC list file, with their line numbers.
pub fn read_list(path: &Path) -> Result<Vec<(usize, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        message: format!("cannot read the IOC list: {e}"),
    })?;
    Ok(text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.split('#').next().unwrap_or("").trim();
            (!l.is_empty()).then(|| (i + 1, l.to_string()))
        })
        .collect())
}

impl Iocs {
    pub fn load_ips(&mut self, path: &Path, shown: &str) -> Result<()> {
        for (n, l) in read_list(path)? {
            let net = sigma::parse_cidr(&l).ok_or_else(|| Error::Config {
                path: path.to_path_buf(),
                message: format!("line {n}: {l:?} is not an IP address or CIDR block"),
            })?;
            self.ips.push(net);
        }
        self.ips_source = shown.to_string();
        Ok(())
    }

    pub fn load_domains(&mut self, path: &Path, shown: &str) -> Result<()> {
        for (n, l) in read_list(path)? {
            let d = l.trim_start_matches("*.").trim_end_matches('.').to_string();
            if d.is_empty()
                || !d
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
            {
                return Err(Error::Config {
                    path: path.to_path_buf(),
                    message: format!("line {n}: {l:?} is not a domain name"),
                });
            }
            self.domains.push(d);
        }
        self.domains_source = shown.to_string();
        Ok(())
    }

    pub fn load_paths(&mut self, path: &Path, shown: &str) -> Result<()> {
        for (_, l) in read_list(path)? {
            self.paths.push(l);
        }
        self.paths_source = shown.to_string();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
