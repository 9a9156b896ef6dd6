//! `rules export`: the active rules as Sigma YAML files, one per rule, for `sigma convert` and
//! the engines it targets. Each file is the rule's text as loaded (the built-in pack's files as
//! shipped, a user's rules byte for byte), so its meaning is unchanged. Rules built from IOC
//! lists are not Sigma, and a rule whose text holds a card number cannot be written unmasked:
//! both are listed as not exported.

use super::RuleSet;
use crate::error::{Error, Result};
use crate::output;
use std::collections::BTreeSet;
use std::path::Path;

/// What an export wrote and left out.
#[derive(Debug, Default)]
pub struct Exported {
    /// (file name, rule id, title), in rule order.
    pub written: Vec<(String, String, String)>,
    /// (rule id, reason).
    pub not_exported: Vec<(String, String)>,
}

/// Writes every rule of `set` with YAML into `dir` (created if missing). File names: the
/// built-in file name, else the rule id made file-safe; a clash gets `-2`, `-3`, ….
pub fn export(set: &RuleSet, dir: &Path) -> Result<Exported> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut out = Exported::default();
    let mut names = BTreeSet::new();
    for r in &set.rules {
        let Some(yaml) = &r.yaml else {
            out.not_exported.push((
                r.id.clone(),
                "built from an IOC list, not a Sigma rule: give the list to the engine as a lookup table".into(),
            ));
            continue;
        };
        // The file is the rule's text as it is, which cannot be masked without changing what
        // the rule matches: a rule that names a card number stays in the tool.
        if crate::cards::detect::holds_card(yaml.as_bytes()) {
            out.not_exported.push((
                r.id.clone(),
                "holds a card number, which never leaves the tool: match it with a pattern or its first 6 and last 4 digits, then export again".into(),
            ));
            continue;
        }
        let stem = match r.source.strip_prefix("builtin:") {
            Some(f) => f.trim_end_matches(".yml").to_string(),
            None => file_safe(&r.id),
        };
        let mut name = format!("{stem}.yml");
        let mut n = 2;
        while !names.insert(name.to_ascii_lowercase()) {
            name = format!("{stem}-{n}.yml");
            n += 1;
        }
        output::write_file(&dir.join(&name), yaml.as_bytes())?;
        out.written.push((name, r.id.clone(), r.title.clone()));
    }
    Ok(out)
}

fn file_safe(id: &str) -> String {
    let s: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "rule".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_pack_round_trips_unchanged() {
        let set = RuleSet::builtin();
        let dir = tempfile::tempdir().unwrap();
        let ex = export(&set, dir.path()).unwrap();
        assert_eq!(ex.written.len(), set.rules.len());
        assert!(ex.not_exported.is_empty());
        let mut again = RuleSet::default();
        again.load_path(dir.path(), "x").unwrap();
        assert!(again.skipped.is_empty(), "{:?}", again.skipped);
        let mut a: Vec<_> = set.rules.iter().map(|r| format!("{:?}", r.cond)).collect();
        let mut b: Vec<_> = again
            .rules
            .iter()
            .map(|r| format!("{:?}", r.cond))
            .collect();
        a.sort();
        b.sort();
        assert_eq!(a, b);
        for (name, _, _) in &ex.written {
            let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
            assert!(super::super::BUILTIN
                .iter()
                .any(|(n, t)| n == name && *t == text));
        }
    }

    #[test]
    fn ioc_rules_are_listed_not_dropped() {
        let mut set = RuleSet::default();
        let mut iocs = crate::rules::Iocs::default();
        iocs.paths.push("/skin/x.php".into());
        set.add_iocs(&iocs);
        let dir = tempfile::tempdir().unwrap();
        let ex = export(&set, dir.path()).unwrap();
        assert!(ex.written.is_empty());
        assert_eq!(ex.not_exported[0].0, "ioc-paths");
        assert_eq!(file_safe("a/b c"), "a_b_c");
    }
}
