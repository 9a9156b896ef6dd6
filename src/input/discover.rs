//! Finding the input files: paths, globs and folders expanded, sorted, each file once (however
//! it was named), each with the name to show for it in outputs and messages.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Expands paths, globs and folders into files, sorted; relative ones against `base`.
/// Returns each file with the name to show for it (relative to `base` where it lies inside).
/// What was passed over is logged as a warning (see [`expand_inputs_noting`]).
pub fn expand_inputs(
    patterns: &[String],
    base: &Path,
    what: &str,
) -> Result<Vec<(PathBuf, String)>> {
    let mut notes = Vec::new();
    let files = expand_inputs_noting(patterns, base, what, &mut notes)?;
    for n in notes {
        tracing::warn!("{n}");
    }
    Ok(files)
}

/// [`expand_inputs`], with what was passed over added to `notes` (for the stage's warnings,
/// which go to summary.json and to the user): a named folder with no file to read, and what a
/// folder holds that is not a file to read nor a subfolder (a link to nothing, a pipe, a
/// socket, a device).
pub fn expand_inputs_noting(
    patterns: &[String],
    base: &Path,
    what: &str,
    notes: &mut Vec<String>,
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
            let (root, rest) = if Path::new(pat).is_absolute() {
                (PathBuf::new(), Path::new(pat))
            } else {
                (base.to_path_buf(), Path::new(pat))
            };
            let matched = glob_files(root, rest, &|e| format!("{what} pattern {pat:?}: {e}"))?;
            let noted = notes.len();
            keep_files(matched, what, &mut found, notes);
            if found.is_empty() {
                let unreadable = notes.split_off(noted);
                let why = if unreadable.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; what it matches cannot be read: {}",
                        unreadable.join("; ")
                    )
                };
                return Err(Error::usage(format!(
                    "{what}: no file matches {pat:?} (looked in {}){why}",
                    base.display()
                )));
            }
        } else {
            let meta = match std::fs::metadata(&full) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::usage(format!(
                        "{what}: {} does not exist",
                        full.display()
                    )))
                }
                Err(e) => return Err(Error::io(&full, e)),
            };
            if meta.is_dir() {
                let mut listed = Vec::new();
                for e in std::fs::read_dir(&full).map_err(|e| Error::io(&full, e))? {
                    let p = e.map_err(|e| Error::io(&full, e))?.path();
                    if !p
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                    {
                        listed.push(p);
                    }
                }
                keep_files(listed, what, &mut found, notes);
                // An empty folder may be a drop folder with nothing in it yet (`init`'s
                // `inputs/payments/`), or the wrong folder, or an export not unpacked: said,
                // never passed over in silence.
                if found.is_empty() {
                    notes.push(format!(
                        "{what}: the folder {} holds no file to read, so nothing was read from it (hidden files and subfolders are not read; for those name the files, or a pattern such as {}/**/*.csv)",
                        full.display(),
                        full.display()
                    ));
                }
            } else if meta.is_file() {
                found.push(full);
            } else {
                return Err(Error::usage(format!(
                    "{what}: {} is not a regular file ({}): each input is read more than once (for its digest in the manifest, and again when its encoding is only known at its end); save it to a file first",
                    full.display(),
                    special_kind(&meta)
                )));
            }
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

/// What kind of special file `meta` is, in words.
fn special_kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a pipe, such as <(command) gives";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
    }
    let _ = meta;
    "not a file or a folder"
}

/// The files `pattern` matches below `root`: each component of the pattern is matched against
/// the names in the folders reached so far (`**` is any number of folders), the root as it is.
///
/// Not `glob::glob`, which leaves out every name that is not UTF-8 without a word ("How do we
/// handle non-utf8 filenames? Ignore them for now"): a Shift_JIS-named export unpacked from a
/// Windows zip (`注文.csv` as CP932 bytes) matched by `orders/*.csv` would have been lost. Here a
/// name is matched as its lossy UTF-8 text (so `*` matches it) and kept as it is on disk. A
/// folder that cannot be listed is an error, not a silent gap.
fn glob_files(
    root: PathBuf,
    pattern: &Path,
    bad_pattern: &dyn Fn(glob::PatternError) -> String,
) -> Result<Vec<PathBuf>> {
    let opts = glob::MatchOptions::new();
    let mut reached = vec![root];
    for comp in pattern.components() {
        let text = comp.as_os_str().to_string_lossy();
        let wild = text.contains(['*', '?', '[']);
        let mut next = Vec::new();
        for dir in &reached {
            if !wild {
                next.push(dir.join(comp));
                continue;
            }
            if text == "**" {
                folders_below(dir, &mut next)?;
                continue;
            }
            let pat = glob::Pattern::new(&text).map_err(|e| Error::usage(bad_pattern(e)))?;
            if !dir_or_here(dir).is_dir() {
                continue;
            }
            for name in list(dir)? {
                if pat.matches_with(&name.to_string_lossy(), opts) {
                    next.push(dir.join(name));
                }
            }
        }
        reached = next;
    }
    Ok(reached)
}

/// What a path found in a folder or by a pattern is, for reading.
enum Entry {
    /// A file (through links, as a file named directly is read).
    File,
    /// A folder, or nothing at all (a pattern's fixed part that is not there): not a match.
    Skip,
    /// There but not readable as a file: a link to nothing, a pipe, a socket, a device.
    Unreadable(&'static str),
}

fn entry(p: &Path) -> Entry {
    match std::fs::metadata(p) {
        Ok(m) if m.is_file() => Entry::File,
        Ok(m) if m.is_dir() => Entry::Skip,
        Ok(m) => Entry::Unreadable(special_kind(&m)),
        Err(_) if std::fs::symlink_metadata(p).is_ok() => {
            Entry::Unreadable("a link to nothing, or not readable")
        }
        Err(_) => Entry::Skip,
    }
}

/// The files of `paths` (in `found`), and a note for each that is there but cannot be read.
fn keep_files(paths: Vec<PathBuf>, what: &str, found: &mut Vec<PathBuf>, notes: &mut Vec<String>) {
    let mut passed_over: Vec<(PathBuf, &str)> = Vec::new();
    for p in paths {
        match entry(&p) {
            Entry::File => found.push(p),
            Entry::Skip => {}
            Entry::Unreadable(kind) => passed_over.push((p, kind)),
        }
    }
    // A link to a file that is gone (an export moved away), a pipe: what a folder or a
    // pattern shows but cannot be read is named, not passed over in silence.
    passed_over.sort();
    for (p, kind) in passed_over {
        notes.push(format!(
            "{what}: {} was not read: it is {kind}",
            p.display()
        ));
    }
}

/// `dir`, or `.` for the empty path (a relative pattern without a base).
fn dir_or_here(dir: &Path) -> &Path {
    if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }
}

/// The names in a folder, sorted.
fn list(dir: &Path) -> Result<Vec<std::ffi::OsString>> {
    let at = dir_or_here(dir);
    let err = |e: std::io::Error| Error::io(at, e);
    let mut names = Vec::new();
    for e in std::fs::read_dir(at).map_err(err)? {
        names.push(e.map_err(err)?.file_name());
    }
    names.sort();
    Ok(names)
}

/// `dir` and every folder below it (links to folders are not followed), for `**`.
fn folders_below(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    out.push(dir.to_path_buf());
    if !dir_or_here(dir).is_dir() {
        return Ok(());
    }
    for name in list(dir)? {
        let p = dir.join(name);
        let real_dir = std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir());
        if real_dir {
            folders_below(&p, out)?;
        }
    }
    Ok(())
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    /// Globs find names that are not UTF-8, in every folder `**` reaches, and nothing else.
    #[test]
    fn globs_match_every_name_and_every_folder() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        let sjis = std::ffi::OsStr::from_bytes(b"\x92\x8d\x95\xb6.csv");
        for f in ["a.csv", "b.txt", "x/c.csv", "x/y/d.csv", ".h/e.csv"] {
            let p = base.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        std::fs::write(base.join("x").join(sjis), "").unwrap();
        let names = |pat: &str| -> Vec<String> {
            let pats = [pat.to_string()];
            expand_inputs(&pats, base, "test")
                .unwrap()
                .into_iter()
                .map(|(_, shown)| shown)
                .collect()
        };
        assert_eq!(names("*.csv"), ["a.csv"]);
        assert_eq!(
            names("x/*.csv"),
            ["x/c.csv", "x/\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}.csv"]
        );
        assert_eq!(
            names("**/*.csv"),
            [
                ".h/e.csv",
                "a.csv",
                "x/c.csv",
                "x/y/d.csv",
                "x/\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}.csv"
            ]
        );
        assert!(expand_inputs(&["*.pdf".into()], base, "test").is_err());
        assert!(expand_inputs(&["[.csv".into()], base, "test").is_err());
    }

    /// A pipe is refused, saying what to do; a missing path is named as missing; an empty
    /// folder gives no file (and a warning, `tests/ingest.rs`).
    #[test]
    fn pipes_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir_all(base.join("empty")).unwrap();
        std::fs::create_dir_all(base.join("hidden/sub")).unwrap();
        std::fs::write(base.join("hidden/.a.csv"), "").unwrap();
        std::fs::write(base.join("hidden/sub/b.csv"), "").unwrap();
        let fifo = base.join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let err = |p: &str| {
            expand_inputs(&[p.to_string()], base, "--orders")
                .unwrap_err()
                .to_string()
        };
        for p in ["empty", "hidden"] {
            assert!(expand_inputs(&[p.to_string()], base, "--orders")
                .unwrap()
                .is_empty());
        }
        let e = err("pipe");
        assert!(e.contains("is not a regular file (a pipe"), "{e}");
        assert!(e.contains("save it to a file first"), "{e}");
        assert!(err("nothing.csv").contains("does not exist"));
    }
}
