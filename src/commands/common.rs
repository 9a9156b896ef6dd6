//! What every command needs: the case's config with command-line overrides, the window, the
//! fingerprint key, input paths expanded, and the terminal (progress bar, messages on stderr).

use crate::case::{Case, Overrides};
use crate::cli::CaseArgs;
use crate::error::{Error, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The terminal side of a run: messages and progress go to stderr, never stdout.
pub struct Ui {
    pub quiet: bool,
}

impl Ui {
    pub fn new(quiet: bool) -> Ui {
        Ui { quiet }
    }

    /// A line on stderr, unless `--quiet`. Card numbers masked, as in every output.
    pub fn say(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", crate::cards::detect::mask(msg.as_ref()).0);
        }
    }

    /// A warning on stderr (also under `--quiet`: warnings change what a user must do). Card
    /// numbers masked.
    pub fn warn(&self, msg: impl AsRef<str>) {
        eprintln!(
            "skimtrace: warning: {}",
            crate::cards::detect::mask(msg.as_ref()).0
        );
    }

    /// A byte-counting progress bar, shown only when stderr is a terminal and not `--quiet`.
    pub fn bytes_bar(&self, total: u64, what: &str) -> Option<ProgressBar> {
        if self.quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid progress template"),
        );
        pb.set_prefix(what.to_string());
        Some(pb)
    }
}

/// The case named by the command line's `--config`, `--window`, `--tz`, `--out` (and a
/// `--key-file` where the command has one).
pub fn open_case(args: &CaseArgs, key_file: Option<&Path>) -> Result<Case> {
    Case::open(&Overrides {
        config: args.config.clone(),
        window: args.window.clone(),
        tz: args.tz.clone(),
        out: args.out.clone(),
        key_file: key_file.map(Path::to_path_buf),
    })
}

/// Expands paths, globs and folders into files, sorted; relative ones against `base`.
/// Returns each file with the name to show for it (relative to `base` where it lies inside).
pub fn expand_inputs(
    patterns: &[String],
    base: &Path,
    what: &str,
) -> Result<Vec<(PathBuf, String)>> {
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    for pat in patterns {
        let full = clean_path(&if Path::new(pat).is_absolute() {
            PathBuf::from(pat)
        } else {
            base.join(pat)
        });
        let mut found: Vec<PathBuf> = Vec::new();
        if pat.contains(['*', '?', '[']) {
            let s = full.to_string_lossy().into_owned();
            let paths =
                glob::glob(&s).map_err(|e| Error::usage(format!("{what} pattern {pat:?}: {e}")))?;
            for p in paths.flatten() {
                if p.is_file() {
                    found.push(p);
                }
            }
            if found.is_empty() {
                return Err(Error::usage(format!(
                    "{what}: no file matches {pat:?} (looked in {})",
                    base.display()
                )));
            }
        } else if full.is_dir() {
            for e in std::fs::read_dir(&full).map_err(|e| Error::io(&full, e))? {
                let p = e.map_err(|e| Error::io(&full, e))?.path();
                if p.is_file()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                {
                    found.push(p);
                }
            }
        } else if full.is_file() {
            found.push(full);
        } else {
            return Err(Error::usage(format!(
                "{what}: {} does not exist",
                full.display()
            )));
        }
        found.sort();
        for p in found {
            let p = clean_path(&p);
            if !out.iter().any(|(q, _)| same_file(q, &p)) {
                let shown = display_name(&p, &clean_path(base));
                out.push((p, shown));
            }
        }
    }
    Ok(out)
}

/// A path without `.` components (`./orders/a.csv` and `orders/a.csv` are one file).
pub fn clean_path(p: &Path) -> PathBuf {
    let cleaned: PathBuf = p
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    if cleaned.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        cleaned
    }
}

/// Whether two paths name one file (after resolving links, where both exist).
pub fn same_file(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// A path as shown in outputs: relative to `base` when inside it.
pub fn display_name(p: &Path, base: &Path) -> String {
    let rel = p.strip_prefix(base).unwrap_or(p);
    rel.to_string_lossy().replace('\\', "/")
}
