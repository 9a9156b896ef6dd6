//! `manifest.json`: what a case folder holds and where it came from, so that months later anyone
//! can check that nothing in it changed since the run (`skimtrace verify`).
//!
//! The manifest names the tool version, the effective config (its text and digest, plus the
//! command-line overrides), every input file and every file the run wrote into the case folder
//! (relative path, size, `sha256-<base64>` digest), the run's counts and its timing. Only what
//! the run wrote: a file found in the folder is never adopted, or a planted file would be
//! vouched for by the next `verify`. The manifest does not list
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
    /// The files the run wrote (and manifest.prev.json, which it moved aside), sorted by path;
    /// never a file it found in the folder.
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

/// Size and `sha256-<base64>` digest of a file ([`crate::digest::hash_file`]).
pub fn hash_file(path: &Path) -> Result<(u64, String)> {
    crate::digest::hash_file(path).map_err(|e| Error::io(path, e))
}

/// What an entry of a case folder is, read without following a symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    File,
    Dir,
    /// A symbolic link (never followed: the tool writes none).
    Link,
    /// A FIFO, socket or device (never opened: reading one may never end).
    Special,
}

impl Node {
    fn of(t: std::fs::FileType) -> Node {
        if t.is_symlink() {
            Node::Link
        } else if t.is_dir() {
            Node::Dir
        } else if t.is_file() {
            Node::File
        } else {
            Node::Special
        }
    }
}

/// Every entry under `dir` (folders included) as `/`-separated relative paths, sorted. Links
/// are reported as links and never followed; only real folders are entered.
pub fn walk(dir: &Path) -> Result<Vec<(String, Node)>> {
    fn go(root: &Path, dir: &Path, out: &mut Vec<(String, Node)>) -> Result<()> {
        for e in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            let e = e.map_err(|e| Error::io(dir, e))?;
            let p = e.path();
            // `DirEntry::file_type` does not follow a symbolic link.
            let node = Node::of(e.file_type().map_err(|err| Error::io(&p, err))?);
            let rel = p.strip_prefix(root).unwrap_or(&p);
            out.push((rel.to_string_lossy().replace('\\', "/"), node));
            if node == Node::Dir {
                go(root, &p, out)?;
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    go(dir, dir, &mut out)?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Every file under `dir` except the manifest, as `/`-separated relative paths, sorted.
/// Symbolic links and special files are listed (never followed or opened), so a file swapped
/// for one is still noticed.
pub fn list_files(dir: &Path) -> Result<Vec<String>> {
    Ok(walk(dir)?
        .into_iter()
        // The lock file only says who works in the folder right now: not an output.
        .filter(|(p, n)| *n != Node::Dir && p != FILE && p != crate::notify::lock::FILE)
        .map(|(p, _)| p)
        .collect())
}

/// A send journal or another record that the notify commands keep in the case folder and add
/// to after a run: `sent*.jsonl`, `failed*.csv`, `desk.jsonl` and lock files (`*.lock`), at the
/// top of the folder. `run` never removes one, never lists one it did not write, and `verify`
/// does not count one as a difference: they are meant to change after the run.
pub fn is_journal(rel: &str) -> bool {
    if rel.contains('/') {
        return false;
    }
    let campaign = |stem: &str, ext: &str| {
        rel == format!("{stem}{ext}")
            || rel
                .strip_prefix(&format!("{stem}-"))
                .and_then(|r| r.strip_suffix(ext))
                .is_some_and(|c| crate::notify::check_campaign(c).is_ok())
    };
    campaign("sent", ".jsonl")
        || campaign("failed", ".csv")
        || rel == "desk.jsonl"
        || (rel.ends_with(".lock") && rel.len() > ".lock".len())
}

/// The files the notify commands write beside a run's outputs, which `run --force` keeps and
/// does not refuse: the journals ([`is_journal`]), `no_email*.csv`, and the folders of other
/// campaigns (`notices-C/`, rendered by `notify --campaign C` into the case folder).
pub fn is_record(rel: &str) -> bool {
    if is_journal(rel) {
        return true;
    }
    let (first, rest) = rel.split_once('/').unwrap_or((rel, ""));
    let campaign = |prefix: &str| {
        first
            .strip_prefix(prefix)
            .is_some_and(|c| crate::notify::check_campaign(c).is_ok())
    };
    (rest.is_empty()
        && (first == "no_email.csv"
            || first
                .strip_prefix("no_email-")
                .and_then(|r| r.strip_suffix(".csv"))
                .is_some_and(|c| crate::notify::check_campaign(c).is_ok())))
        || campaign("notices-")
}

/// The metadata of `dir/rel` without following a link at any component: a component that is
/// a link or not a folder, or a path that is not plain (`..`, absolute), is "not found".
pub fn metadata_below(dir: &Path, rel: &str) -> std::io::Result<std::fs::Metadata> {
    let not_found = || std::io::Error::from(std::io::ErrorKind::NotFound);
    let parts: Vec<_> = Path::new(rel).components().collect();
    if parts.is_empty()
        || !parts
            .iter()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        return Err(not_found());
    }
    let mut at = dir.to_path_buf();
    for (i, c) in parts.iter().enumerate() {
        at.push(c);
        let m = std::fs::symlink_metadata(&at)?;
        if i + 1 == parts.len() {
            return Ok(m);
        }
        if !m.is_dir() {
            return Err(not_found());
        }
    }
    Err(not_found())
}

/// Size and digest of a file of the case folder, which must be a regular file (no link is
/// followed, no FIFO or device opened).
pub fn hash_regular(path: &Path) -> Result<(u64, String)> {
    let f = crate::output::open_regular(path).map_err(|e| Error::io(path, e))?;
    crate::digest::hash_reader(f).map_err(|e| Error::io(path, e))
}

/// Hashes every file in the case folder (the manifest excluded).
pub fn outputs(dir: &Path) -> Result<Vec<FileEntry>> {
    entries(dir, &list_files(dir)?)
}

/// Hashes the given files of the case folder (relative paths), sorted by path.
pub fn entries(dir: &Path, rels: &[String]) -> Result<Vec<FileEntry>> {
    let mut out = rels
        .iter()
        .map(|rel| {
            let (size, sha256) = hash_regular(&dir.join(rel))?;
            Ok(FileEntry {
                path: rel.clone(),
                size,
                sha256,
                role: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// An input file a stage read: where it is on disk, the name outputs give it, and its role
/// (`orders`, `payments`, `logs`).
///
/// The stages hand these over rather than the manifest reading the names back from
/// summary.json: a written name is not always a path that opens the file (a card-like number in
/// a file name is masked there, a name that is not UTF-8 is written with U+FFFD).
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub shown: String,
    pub role: &'static str,
}

/// Hashes the input files.
pub fn inputs(files: &[Input]) -> Result<Vec<FileEntry>> {
    files
        .iter()
        .map(|f| {
            let (size, sha256) = hash_file(&f.path)?;
            Ok(FileEntry {
                path: f.shown.clone(),
                size,
                sha256,
                role: Some(f.role.to_string()),
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
    read_named(dir, FILE)
}

/// Reads the manifest named `name` in `dir` (`manifest.json` or `manifest.prev.json`); a link
/// or special file there is an error, never followed or opened.
pub fn read_named(dir: &Path, name: &str) -> Result<Manifest> {
    let path = dir.join(name);
    let read = |p: &Path| -> std::io::Result<Vec<u8>> {
        let mut b = Vec::new();
        crate::output::open_regular(p)?.read_to_end(&mut b)?;
        Ok(b)
    };
    let bytes = match read(&path) {
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
    /// A symbolic link, listed or not (the tool writes none; never followed).
    Link,
    /// A FIFO, socket, device, or a folder where a file is listed (never opened).
    Special,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Changed => "changed",
            Change::Missing => "missing",
            Change::Extra => "extra",
            Change::Link => "link",
            Change::Special => "special",
        }
    }
}

/// Re-hashes the case folder against its manifest: every difference, sorted by path. Nothing
/// is followed or opened that is not a regular file: links and special files are differences
/// of their own, so a listed file replaced by a link to `/dev/zero` or by a FIFO is reported,
/// not read. Journals ([`is_journal`]) and other notify records ([`is_record`]) the manifest
/// does not list are not differences (see [`unlisted_records`]).
pub fn verify(dir: &Path, m: &Manifest) -> Result<Vec<(Change, String)>> {
    let mut diffs = Vec::new();
    let listed: std::collections::HashSet<&str> =
        m.outputs.iter().map(|e| e.path.as_str()).collect();
    for entry in &m.outputs {
        let p = dir.join(&entry.path);
        let meta = match metadata_below(dir, &entry.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                diffs.push((Change::Missing, entry.path.clone()));
                continue;
            }
            Err(e) => return Err(Error::io(&p, e)),
        };
        match Node::of(meta.file_type()) {
            Node::Link => diffs.push((Change::Link, entry.path.clone())),
            Node::Dir | Node::Special => diffs.push((Change::Special, entry.path.clone())),
            Node::File if meta.len() != entry.size => {
                diffs.push((Change::Changed, entry.path.clone()))
            }
            Node::File => {
                let (size, sha) = hash_regular(&p)?;
                if size != entry.size || sha != entry.sha256 {
                    diffs.push((Change::Changed, entry.path.clone()));
                }
            }
        }
    }
    for (p, node) in walk(dir)? {
        if p == FILE || listed.contains(p.as_str()) {
            continue;
        }
        match node {
            Node::Dir => {}
            Node::Link => diffs.push((Change::Link, p)),
            Node::Special => diffs.push((Change::Special, p)),
            Node::File if is_record(&p) => {}
            Node::File => diffs.push((Change::Extra, p)),
        }
    }
    diffs.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    Ok(diffs)
}

/// The regular files of the folder the manifest does not list but [`is_record`] expects there
/// (journals, `no_email*.csv`, other campaigns' notices), sorted: `verify` names them as not
/// covered by the manifest.
pub fn unlisted_records(dir: &Path, m: &Manifest) -> Result<Vec<String>> {
    Ok(walk(dir)?
        .into_iter()
        .filter(|(p, n)| {
            *n == Node::File && is_record(p) && !m.outputs.iter().any(|e| &e.path == p)
        })
        .map(|(p, _)| p)
        .collect())
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

    #[test]
    fn journals_and_records_are_named_by_the_notify_layout() {
        for j in [
            "sent.jsonl",
            "sent-preliminary.jsonl",
            "failed.csv",
            "failed-correction.csv",
            "desk.jsonl",
            "notify.lock",
        ] {
            assert!(is_journal(j) && is_record(j), "{j}");
        }
        for r in [
            "no_email.csv",
            "no_email-preliminary.csv",
            "notices-preliminary/index.csv",
        ] {
            assert!(is_record(r) && !is_journal(r), "{r}");
        }
        for other in [
            "notices/sent.jsonl",
            "sent-../x.jsonl",
            "sent-Big.jsonl",
            ".lock",
            "notices/index.csv",
            "no_email.csv.bak",
            "affected.csv",
            "notices-/x.eml",
        ] {
            assert!(!is_record(other), "{other}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn paths_below_a_link_are_not_found() {
        let d = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        std::fs::write(elsewhere.path().join("b.eml"), b"x").unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), d.path().join("sub")).unwrap();
        assert!(metadata_below(d.path(), "sub")
            .unwrap()
            .file_type()
            .is_symlink());
        assert!(metadata_below(d.path(), "sub/b.eml").is_err());
        assert!(metadata_below(d.path(), "../x").is_err());
        let found = walk(d.path()).unwrap();
        assert_eq!(found, vec![("sub".to_string(), Node::Link)]);
    }
}
