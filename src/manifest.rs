//! `manifest.json`: what a case folder holds and where it came from, so that months later anyone
//! can check that nothing in it changed since the run (`skimtrace verify`).
//!
//! The manifest names the tool version, the effective config (its text and digest, plus the
//! command-line overrides), every input file and every file in the case folder (relative path,
//! size, `sha256-<base64>` digest), the run's counts and its timing. The manifest does not list
//! itself: it cannot hold its own digest. `verify` prints that digest instead, so it can be
//! recorded outside the folder (a ticket, a letter to counsel), which is what detects a
//! rewritten manifest.
//!
//! Determinism: with `SOURCE_DATE_EPOCH` set, `generated_at` is that instant and no durations
//! are written, so the same inputs, key and epoch give a byte-identical case folder
//! (<https://reproducible-builds.org/specs/source-date-epoch/>). Without it, the current time
//! and each stage's duration are recorded.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The manifest's file name in the case folder.
pub const FILE: &str = "manifest.json";
/// Where a re-run keeps the manifest it replaces.
pub const PREV_FILE: &str = "manifest.prev.json";
/// Bumped when a field changes meaning.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub manifest_version: u32,
    /// `skimtrace <version>`.
    pub tool: String,
    pub incident_id: String,
    /// The config the run used; `None` when every setting came from the command line.
    pub config: Option<ConfigEntry>,
    /// Files read, in the order the stages read them.
    pub inputs: Vec<FileEntry>,
    /// Every file in the case folder except the manifest, sorted by path.
    pub outputs: Vec<FileEntry>,
    /// The run's headline counts (copied from summary.json and the notices index).
    pub counts: serde_json::Map<String, serde_json::Value>,
    pub timing: Timing,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigEntry {
    /// The path as given on the command line.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// Command-line settings that override the file (`--window`, `--tz`), by config key.
    pub overrides: std::collections::BTreeMap<String, String>,
    /// The file's text, so the manifest alone says what was run.
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// Inputs: as shown in the summary (relative to the config's folder when inside it).
    /// Outputs: relative to the case folder, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// Inputs only: `orders`, `payments`, `logs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Timing {
    /// RFC 3339, UTC.
    pub generated_at: String,
    /// `SOURCE_DATE_EPOCH` or `clock`.
    pub source: String,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stage {
    pub stage: String,
    /// `done`, `skipped: <why>`, or `done with warnings`.
    pub status: String,
    /// Wall-clock duration; absent under `SOURCE_DATE_EPOCH` (it would differ run to run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub millis: Option<u64>,
}

/// The time a run records: `SOURCE_DATE_EPOCH` when set (then durations are left out), else now.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub at: jiff::Timestamp,
    pub pinned: bool,
}

impl Clock {
    /// Reads `SOURCE_DATE_EPOCH`; a value that is not a whole number of seconds is a usage error.
    pub fn from_env() -> Result<Clock> {
        match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) if !v.trim().is_empty() => {
                let secs: i64 = v.trim().parse().map_err(|_| {
                    Error::usage(format!(
                        "SOURCE_DATE_EPOCH={v:?}: not a number of seconds since 1970-01-01 UTC (e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct))"
                    ))
                })?;
                let at = jiff::Timestamp::from_second(secs).map_err(|e| {
                    Error::usage(format!("SOURCE_DATE_EPOCH={v:?}: out of range ({e})"))
                })?;
                Ok(Clock { at, pinned: true })
            }
            _ => Ok(Clock {
                at: jiff::Timestamp::now(),
                pinned: false,
            }),
        }
    }
}

/// Size and `sha256-<base64>` digest of a file, read in blocks (logs can be gigabytes).
pub fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        h.update(&buf[..n]);
    }
    Ok((size, crate::digest::sri(&h.finalize())))
}

/// Every file under `dir` except the manifest and the lock file, as `/`-separated relative
/// paths, sorted.
/// Symbolic links are listed (and hashed as what they point to) rather than skipped, so a file
/// swapped for a link is still noticed.
pub fn list_files(dir: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let e = e.map_err(|e| Error::io(dir, e))?;
            let p = e.path();
            let ft = e.file_type().map_err(|err| Error::io(&p, err))?;
            if ft.is_dir() {
                walk(root, &p, out)?;
            } else {
                let rel = p.strip_prefix(root).unwrap_or(&p);
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    // The lock file only says who works in the folder right now: not an output.
    out.retain(|p| p != FILE && p != crate::notify::lock::FILE);
    out.sort();
    Ok(out)
}

/// Hashes every file in the case folder (the manifest excluded).
pub fn outputs(dir: &Path) -> Result<Vec<FileEntry>> {
    list_files(dir)?
        .into_iter()
        .map(|rel| {
            let (size, sha256) = hash_file(&dir.join(&rel))?;
            Ok(FileEntry {
                path: rel,
                size,
                sha256,
                role: None,
            })
        })
        .collect()
}

/// Hashes input files given as (path on disk, path as shown, role).
pub fn inputs(files: &[(PathBuf, String, &str)]) -> Result<Vec<FileEntry>> {
    files
        .iter()
        .map(|(p, shown, role)| {
            let (size, sha256) = hash_file(p)?;
            Ok(FileEntry {
                path: shown.clone(),
                size,
                sha256,
                role: Some(role.to_string()),
            })
        })
        .collect()
}

/// Writes `manifest.json` into `dir` (atomically, owner-only, with a final newline).
pub fn write(dir: &Path, m: &Manifest) -> Result<()> {
    crate::output::write_json(&dir.join(FILE), m)
}

/// Reads `dir/manifest.json`. A missing manifest is a usage error (exit 2): the folder was not
/// made by `skimtrace run`, or the manifest was deleted.
pub fn read(dir: &Path) -> Result<Manifest> {
    let path = dir.join(FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::usage(format!(
                "{}: no manifest; is {} a case folder written by `skimtrace run`?",
                path.display(),
                dir.display()
            )))
        }
        Err(e) => return Err(Error::io(&path, e)),
    };
    serde_json::from_slice(&bytes).map_err(|e| Error::Input {
        path,
        message: format!("not a skimtrace manifest: {e}"),
    })
}

/// How a file differs from what the manifest lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Listed, present, but its size or digest differs.
    Changed,
    /// Listed, not present.
    Missing,
    /// Present, not listed.
    Extra,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Changed => "changed",
            Change::Missing => "missing",
            Change::Extra => "extra",
        }
    }
}

/// Re-hashes the case folder against its manifest: every difference, sorted by path.
pub fn verify(dir: &Path, m: &Manifest) -> Result<Vec<(Change, String)>> {
    let present = list_files(dir)?;
    let mut diffs = Vec::new();
    for entry in &m.outputs {
        let p = dir.join(&entry.path);
        if !present.contains(&entry.path) {
            diffs.push((Change::Missing, entry.path.clone()));
            continue;
        }
        let (size, sha) = hash_file(&p)?;
        if size != entry.size || sha != entry.sha256 {
            diffs.push((Change::Changed, entry.path.clone()));
        }
    }
    for p in present {
        if !m.outputs.iter().any(|e| e.path == p) {
            diffs.push((Change::Extra, p));
        }
    }
    diffs.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    Ok(diffs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_of(dir: &Path) -> Manifest {
        Manifest {
            manifest_version: VERSION,
            tool: "t".into(),
            incident_id: "x".into(),
            config: None,
            inputs: vec![],
            outputs: outputs(dir).unwrap(),
            counts: Default::default(),
            timing: Timing {
                generated_at: "1970-01-01T00:00:00Z".into(),
                source: "SOURCE_DATE_EPOCH".into(),
                stages: vec![],
            },
        }
    }

    #[test]
    fn verify_names_changed_missing_and_extra_files() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("a.csv"), b"abc").unwrap();
        std::fs::write(d.path().join("sub/b.eml"), b"hello").unwrap();
        std::fs::write(d.path().join("c.json"), b"{}").unwrap();
        let m = manifest_of(d.path());
        write(d.path(), &m).unwrap();
        assert_eq!(verify(d.path(), &m).unwrap(), vec![]);
        // Same size, one byte different.
        std::fs::write(d.path().join("a.csv"), b"abd").unwrap();
        std::fs::remove_file(d.path().join("c.json")).unwrap();
        std::fs::write(d.path().join("sub/new.txt"), b"").unwrap();
        assert_eq!(
            verify(d.path(), &m).unwrap(),
            vec![
                (Change::Changed, "a.csv".to_string()),
                (Change::Missing, "c.json".to_string()),
                (Change::Extra, "sub/new.txt".to_string()),
            ]
        );
    }

    #[test]
    fn digests_are_base64_never_hex() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a"), b"abc").unwrap();
        let (size, sha) = hash_file(&d.path().join("a")).unwrap();
        assert_eq!(size, 3);
        assert_eq!(sha, "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    }
}
