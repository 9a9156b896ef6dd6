//! `desk.jsonl`: one line per search, so every lookup of personal data is accountable.
//!
//! A line holds the time, the operator, the kind of key, a keyed hash of the key (HMAC-SHA256
//! with the case's fingerprint key, so a later audit can check whether someone looked up a
//! given address, without the journal holding the address) and how many people the search
//! found. Each line is written and fsynced before the answer is shown: a search that could not
//! be recorded is not answered. The file is append-only, owner-only (0600), never followed
//! through a link, and the only file the desk writes into the case folder; the manifest does
//! not list it and `verify` names it as not covered, like `sent.jsonl`.

use super::index::Key;
use crate::cards::FingerprintKey;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The journal's name in the case folder.
pub const FILE: &str = "desk.jsonl";

/// How many of an operator's own searches the page shows.
pub const RECENT: usize = 10;

/// One search.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Line {
    pub time: String,
    pub operator: String,
    pub kind: String,
    pub key_hash: String,
    pub found: usize,
}

/// The open journal and each operator's recent searches.
pub struct Journal {
    path: PathBuf,
    file: File,
    recent: HashMap<String, VecDeque<Line>>,
}

/// The keyed hash of a search key, as the journal records it.
pub fn key_hash(key: &FingerprintKey, k: &Key) -> String {
    key.fingerprint("desk-search", &k.hash_input())
}

impl Journal {
    /// Opens (creating, 0600) the journal in `dir` and reads the recent searches it holds. A
    /// torn last line (a crash mid-write) is ignored and the next line starts on its own.
    pub fn open(dir: &Path) -> Result<Journal> {
        let path = dir.join(FILE);
        let mut opts = OpenOptions::new();
        opts.create(true).append(true).read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
        }
        let mut file = opts.open(&path).map_err(|e| {
            Error::Input {
                path: path.clone(),
                message: format!("cannot open the desk journal ({e}); it must be a regular file in the case folder, not a link"),
            }
        })?;
        let meta = file.metadata().map_err(|e| Error::io(&path, e))?;
        if !meta.is_file() {
            return Err(Error::Input {
                path,
                message: "not a regular file; move it away and start the desk again".into(),
            });
        }
        let mut recent: HashMap<String, VecDeque<Line>> = HashMap::new();
        let reader = std::io::BufReader::new(File::open(&path).map_err(|e| Error::io(&path, e))?);
        for (i, line) in reader.lines().enumerate() {
            let line = line.map_err(|e| Error::io(&path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Line>(&line) {
                Ok(l) => {
                    let q = recent.entry(l.operator.clone()).or_default();
                    q.push_back(l);
                    if q.len() > RECENT {
                        q.pop_front();
                    }
                }
                Err(_) if line.starts_with('{') && !line.trim_end().ends_with('}') => {}
                Err(e) => {
                    return Err(Error::Record {
                        path,
                        line: i as u64 + 1,
                        message: format!("not a desk journal line ({e}); the journal is never edited by skimtrace: restore it from a backup"),
                    })
                }
            }
        }
        // Start on a line of our own after a torn write.
        if meta.len() > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::End(-1))
                .and_then(|_| file.read_exact(&mut last))
                .map_err(|e| Error::io(&path, e))?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(|e| Error::io(&path, e))?;
            }
        }
        Ok(Journal { path, file, recent })
    }

    /// Appends one line and syncs it to disk before returning.
    pub fn append(&mut self, line: Line) -> Result<()> {
        let mut bytes = serde_json::to_vec(&line).map_err(|e| Error::io(&self.path, e.into()))?;
        bytes.push(b'\n');
        self.file
            .write_all(&bytes)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| Error::io(&self.path, e))?;
        let q = self.recent.entry(line.operator.clone()).or_default();
        q.push_back(line);
        if q.len() > RECENT {
            q.pop_front();
        }
        Ok(())
    }

    /// The operator's own recent searches, newest first.
    pub fn recent(&self, operator: &str) -> Vec<Line> {
        self.recent
            .get(operator)
            .map(|q| q.iter().rev().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(op: &str, n: usize) -> Line {
        Line {
            time: "2026-01-01T00:00:00Z".into(),
            operator: op.into(),
            kind: "email".into(),
            key_hash: "h".into(),
            found: n,
        }
    }

    #[test]
    fn lines_survive_reopen_and_a_torn_last_line() {
        let d = tempfile::tempdir().unwrap();
        let mut j = Journal::open(d.path()).unwrap();
        j.append(line("aoi", 1)).unwrap();
        drop(j);
        let mut f = OpenOptions::new()
            .append(true)
            .open(d.path().join(FILE))
            .unwrap();
        f.write_all(b"{\"time\":\"x\",\"oper").unwrap();
        drop(f);
        let mut j = Journal::open(d.path()).unwrap();
        j.append(line("ken", 0)).unwrap();
        assert_eq!(j.recent("aoi"), vec![line("aoi", 1)]);
        drop(j);
        let text = std::fs::read_to_string(d.path().join(FILE)).unwrap();
        let last = text.lines().last().unwrap();
        assert_eq!(serde_json::from_str::<Line>(last).unwrap(), line("ken", 0));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(d.path().join(FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
