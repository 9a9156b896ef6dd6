//! Finding the input files: paths, globs and folders expanded, sorted, each file once (however
//! it was named), each with the name to show for it in outputs and messages.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

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
