//! `skimtrace init DIR`: check DIR is empty (or `--force`) → write incident.toml (the bundled
//! case's commented config, paths pointed at inputs/) → templates/ → rules/ → inputs/ → print the
//! next steps.
//!
//! The config is the bundled case's own incident.toml, adjusted here, rather than a second copy:
//! every option is documented once, and the adjustments are checked by a test so that a change
//! to the fixture cannot silently break them.

use super::common::Ui;
use crate::cli::InitArgs;
use crate::error::{Error, Result};
use std::path::Path;

const BUNDLED: &str = include_str!("../../fixtures/vector-park/incident.toml");

const HEADER: &str = "\
# incident.toml: this case's settings, written by `skimtrace init`.
#
# Every option is shown, with the values of the bundled demo case (Vector Park) as examples:
# replace them with this case's. Put the exports under inputs/ (orders/, payments/, logs/), then
#
#     skimtrace run --config incident.toml --out out
#
# Relative paths below are relative to the folder that holds this file. Every setting can also
# be given on the command line, which wins (--window, --tz, --key-file, --out). Unknown keys are
# an error, so a typo never silently drops a setting.
";

/// (from, to): each must occur in the bundled config (checked by a test).
const REPLACEMENTS: &[(&str, &str)] = &[
    (
        "key_file = \"demo-fingerprint.key\"",
        "# key_file = \"/secure/keys/this-case.key\"   # outside the case folder and version control",
    ),
    ("paths = [\"orders/*.csv\"]", "paths = [\"inputs/orders/\"]"),
    (
        "paths = [\"payments/stripe.csv\", \"payments/stripe-legacy.csv\"]",
        "paths = [\"inputs/payments/\"]   # an empty folder: no gateway exports, the run goes on",
    ),
    (
        "paths = [\"logs/access.log*\", \"logs/shop-json.log\"]",
        "paths = [\"inputs/logs/\"]",
    ),
    (
        "rules = []",
        "rules = [\"rules/\"]\n# The rules/ folder holds a copy of the built-in pack (written by `skimtrace init`), so the\n# copy is used instead of the pack: edit, add or remove rules there.\nbuiltin_rules = false",
    ),
];

/// Blocks of the bundled config that name its own files: commented out, kept as examples.
/// (first line, line before which the block ends).
const COMMENT_OUT: &[(&str, &str)] = &[
    ("# EC-CUBE 4 受注CSV", "# The payment gateway's exports"),
    (
        "# A custom gateway (GMO-PG style",
        "# How charges are joined",
    ),
];

/// The scaffolded incident.toml.
pub fn config_text() -> Result<String> {
    let start = BUNDLED
        .find("[incident]")
        .ok_or_else(|| Error::Invariant("the bundled config has no [incident]".into()))?;
    let mut text = BUNDLED[start..].to_string();
    for (from, to) in REPLACEMENTS {
        if !text.contains(from) {
            return Err(Error::Invariant(format!(
                "init: the bundled config no longer holds {from:?}; update src/commands/init.rs"
            )));
        }
        text = text.replacen(from, to, 1);
    }
    for (first, end) in COMMENT_OUT {
        let (Some(a), Some(b)) = (text.find(first), text.find(end)) else {
            return Err(Error::Invariant(format!(
                "init: the bundled config no longer holds {first:?} … {end:?}; update src/commands/init.rs"
            )));
        };
        let block: String = text[a..b]
            .lines()
            .map(|l| {
                if l.is_empty() || l.starts_with('#') {
                    format!("{l}\n")
                } else {
                    format!("# {l}\n")
                }
            })
            .collect();
        text.replace_range(a..b, &block);
    }
    Ok(format!("{HEADER}\n{text}"))
}

pub fn run(args: &InitArgs, ui: &Ui) -> Result<()> {
    let dir = &args.dir;
    if dir.exists() {
        let non_empty = std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .next()
            .is_some();
        if non_empty && !args.force {
            return Err(Error::usage(format!(
                "{}: not empty; pick a new folder, or pass --force to write the scaffold into it (existing files of the same name are overwritten)",
                dir.display()
            )));
        }
    }
    // The case folder will hold customers' data: owner-only, like every output folder.
    crate::output::prepare_dir(dir, true)?;
    crate::output::write_file(&dir.join("incident.toml"), config_text()?.as_bytes())?;
    let templates = super::templates::write_builtin(&dir.join("templates"), true)?;
    let rules_dir = dir.join("rules");
    mkdir(&rules_dir)?;
    for (name, text) in crate::rules::BUILTIN {
        crate::output::write_file(&rules_dir.join(name), text.as_bytes())?;
    }
    for sub in ["orders", "payments", "logs"] {
        mkdir(&dir.join("inputs").join(sub))?;
    }
    let d = dir.display();
    ui.say(format!(
        "skimtrace: created {d}: incident.toml, templates/ ({templates} files), rules/ ({} Sigma rules), inputs/{{orders,payments,logs}}/",
        crate::rules::BUILTIN.len()
    ));
    ui.say(format!(
        "Next steps:
  1. Edit {d}/incident.toml: [incident] (id, company, shop, timezone, window, exposed, discovered),
     [notify], [contact] and [report] thresholds; replace the demo values.
  2. Put a fingerprint key outside the case folder: head -c 32 /dev/urandom | base64 > ~/keys/case.key
     and set [fingerprint] key_file (or SKIMTRACE_FINGERPRINT_KEY).
  3. Copy the exports: order exports to {d}/inputs/orders/, gateway exports to {d}/inputs/payments/,
     access logs to {d}/inputs/logs/ (or point the paths in incident.toml at them).
  4. Have counsel review {d}/templates/ (the notices) before anything is sent.
  5. Run: skimtrace run --config {d}/incident.toml --out {d}/out
     then read {d}/out/report.html and check the folder with skimtrace verify {d}/out"
    ));
    Ok(())
}

fn mkdir(p: &Path) -> Result<()> {
    std::fs::create_dir_all(p).map_err(|e| Error::io(p, e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn scaffolded_config_parses_and_points_at_inputs() {
        let text = super::config_text().unwrap();
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("incident.toml");
        std::fs::write(&p, &text).unwrap();
        let cfg = crate::config::Config::load(&p).unwrap();
        assert_eq!(cfg.orders.paths, ["inputs/orders/"]);
        assert!(cfg.orders.inputs.is_empty());
        assert!(cfg.fingerprint.key_file.is_none());
        assert!(!text.contains("demo-fingerprint.key\""), "{text}");
    }
}
