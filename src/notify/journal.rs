//! `sent.jsonl`: the send journal that makes a batch resumable and exactly once.
//!
//! Why it is written *before* each step and not after the send: a process can die at any point.
//! Every attempt appends `started` before `MAIL FROM`, `data` once the server has answered
//! `DATA` with 354 (before the body is streamed), then the final reply (`accepted`,
//! `deferred`, `failed`) or `unknown` when the connection broke after `data`. Each line is
//! flushed and fsynced before the next SMTP step. On a re-run:
//! - `accepted` is never sent again;
//! - a message whose last event is `started` never reached `DATA`: it was not delivered, so it
//!   is simply sent;
//! - a message whose last event is `data` or `unknown` may or may not have been delivered: it is
//!   reported and sent again only with `--resend-unknown`;
//! - `deferred` (4xx) is retried; `failed` (5xx) is left for `failed.csv` unless
//!   `--retry-failed`.
//!
//! The journal is append-only: nothing ever rewrites or deletes it.

use super::Error;

type Result<T, E = Error> = std::result::Result<T, E>;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// One journal line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Event {
    pub time: String,
    pub campaign: String,
    pub customer_id: String,
    pub message_id: String,
    /// The envelope recipient (the review inbox for a review copy).
    pub recipient: String,
    /// A review copy (`--to-override`): never counts as the customer's notice.
    #[serde(default)]
    pub review: bool,
    pub phase: Phase,
    /// The server's reply or the error, when there is one.
    #[serde(default)]
    pub reply: String,
    #[serde(default)]
    pub attempt: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Started,
    Data,
    Accepted,
    Deferred,
    Failed,
    Unknown,
}

/// Where a message stands according to the journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Never tried, or tried without reaching `DATA`.
    Pending,
    Accepted,
    Deferred,
    Failed,
    /// Reached `DATA` with no final reply.
    Unknown,
}

impl Phase {
    /// Where a message whose last event is this phase stands.
    pub fn status(self) -> Status {
        match self {
            Phase::Started => Status::Pending,
            Phase::Data | Phase::Unknown => Status::Unknown,
            Phase::Accepted => Status::Accepted,
            Phase::Deferred => Status::Deferred,
            Phase::Failed => Status::Failed,
        }
    }
}

/// The open journal: the events read at start and an append handle.
pub struct Journal {
    path: PathBuf,
    file: File,
    /// Message-ID → its last event.
    last: HashMap<String, Event>,
}

impl Journal {
    /// Opens (creating) the journal and reads what it holds (see [`read`] for torn lines).
    pub fn open(path: &Path) -> Result<Journal> {
        let (last, needs_newline) = read_last(path)?;
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(path).map_err(|e| Error::io(path, e))?;
        if needs_newline {
            // Start the next event on a line of its own after a torn write.
            file.write_all(b"\n").map_err(|e| Error::io(path, e))?;
        }
        Ok(Journal {
            path: path.to_path_buf(),
            file,
            last,
        })
    }

    /// The status of a message by its Message-ID.
    pub fn status(&self, message_id: &str) -> Status {
        self.last
            .get(message_id)
            .map_or(Status::Pending, |e| e.phase.status())
    }

    /// The last event of a message, if any.
    pub fn last(&self, message_id: &str) -> Option<&Event> {
        self.last.get(message_id)
    }

    /// Every message's last event, sorted by customer id then Message-ID.
    pub fn last_events(&self) -> Vec<&Event> {
        let mut v: Vec<&Event> = self.last.values().collect();
        v.sort_by(|a, b| (&a.customer_id, &a.message_id).cmp(&(&b.customer_id, &b.message_id)));
        v
    }

    /// Appends one event and syncs it to disk before returning.
    pub fn append(&mut self, mut ev: Event) -> Result<()> {
        // The server's reply is its own text: a server (or a relay quoting the message) may
        // echo a card number, which the journal must not keep.
        ev.reply = crate::cards::detect::mask_string(ev.reply);
        let mut line = serde_json::to_vec(&ev).map_err(|e| Error::io(&self.path, e.into()))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| Error::io(&self.path, e))?;
        self.last.insert(ev.message_id.clone(), ev);
        Ok(())
    }
}

/// Reads a journal without opening it for writing (`notify --status`): every message's last
/// event, sorted by customer id then Message-ID. A missing file has no events.
pub fn read(path: &Path) -> Result<Vec<Event>> {
    let (last, _) = read_last(path)?;
    let mut v: Vec<Event> = last.into_values().collect();
    v.sort_by(|a, b| (&a.customer_id, &a.message_id).cmp(&(&b.customer_id, &b.message_id)));
    Ok(v)
}

/// Every message's last event, and whether the file ends in a torn line (a prefix of an event:
/// it opens like one but has no closing brace, left by a crash mid-write; ignored, since it was
/// never fsynced as a whole, so its step did not complete). Any other line that does not parse
/// is an error naming the line.
fn read_last(path: &Path) -> Result<(HashMap<String, Event>, bool)> {
    let mut last: HashMap<String, Event> = HashMap::new();
    let mut needs_newline = false;
    if path.exists() {
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        let lines: Vec<String> = std::io::BufReader::new(f)
            .lines()
            .collect::<std::io::Result<_>>()
            .map_err(|e| Error::io(path, e))?;
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Event>(line) {
                Ok(ev) => {
                    last.insert(ev.message_id.clone(), ev);
                }
                Err(_) if line.starts_with('{') && !line.trim_end().ends_with('}') => {
                    needs_newline = i + 1 == lines.len();
                }
                Err(e) => {
                    return Err(Error::Record {
                        path: path.to_path_buf(),
                        line: i + 1,
                        message: format!("not a journal event ({e}); the journal is never edited by skimtrace: restore it from a backup"),
                    })
                }
            }
        }
    }
    Ok((last, needs_newline))
}

/// Now, as RFC 3339 UTC.
pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, phase: Phase) -> Event {
        Event {
            time: now(),
            campaign: "notice".into(),
            customer_id: "c".into(),
            message_id: id.into(),
            recipient: "a@example.com".into(),
            review: false,
            phase,
            reply: String::new(),
            attempt: 1,
        }
    }

    /// A server's reply that echoes a card number (`550 … 4111 1111 …`) is kept masked.
    #[test]
    fn replies_are_kept_masked() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sent.jsonl");
        let pan = ["4111", "1111", "1111", "1111"].join(" ");
        let mut j = Journal::open(&p).unwrap();
        let mut e = ev("<a>", Phase::Failed);
        e.reply = format!("550 5.1.1 card {pan} refused");
        j.append(e).unwrap();
        drop(j);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("card 4111 11** **** 1111 refused"), "{text}");
    }

    #[test]
    fn statuses_survive_reopen_and_torn_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sent.jsonl");
        let mut j = Journal::open(&p).unwrap();
        j.append(ev("<a>", Phase::Started)).unwrap();
        j.append(ev("<a>", Phase::Data)).unwrap();
        j.append(ev("<a>", Phase::Accepted)).unwrap();
        j.append(ev("<b>", Phase::Started)).unwrap();
        j.append(ev("<c>", Phase::Started)).unwrap();
        j.append(ev("<c>", Phase::Data)).unwrap();
        drop(j);
        // A crash mid-write leaves half a line.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"time\":\"x\",\"camp").unwrap();
        drop(f);
        let mut j = Journal::open(&p).unwrap();
        assert_eq!(j.status("<a>"), Status::Accepted);
        assert_eq!(j.status("<b>"), Status::Pending);
        assert_eq!(j.status("<c>"), Status::Unknown);
        assert_eq!(j.status("<d>"), Status::Pending);
        j.append(ev("<b>", Phase::Failed)).unwrap();
        drop(j);
        let j = Journal::open(&p).unwrap();
        assert_eq!(j.status("<b>"), Status::Failed);
        assert_eq!(j.status("<a>"), Status::Accepted);
    }
}
