//! Notices to affected customers: one reviewed message per person, rendered to files or sent
//! over SMTP, never twice.
//!
//! The stages, in the order data moves through them:
//! - [`input`] reads `affected.jsonl` (the output of `affected`) into [`Recipient`]s;
//! - [`settings`] reads `[notify]` and `[contact]` from the case's config;
//! - [`render`] fills the minijinja templates (built-in or from `--templates DIR`) with values
//!   formatted here in Rust (dates, window, exposed items, cards as brand + last 4);
//! - [`message`] turns a rendered notice into deterministic RFC 5322 bytes with lettre (fixed
//!   `Date`, boundary and `Message-ID`, so a re-render is byte-identical);
//! - [`check`] scans every rendered message before anything is written or sent, on every core
//!   ([`par`]: an ordered parallel map, so outputs keep the customers' order);
//! - [`journal`] is the append-only `sent.jsonl` that makes sending resumable and exactly once;
//!   [`lock`] keeps a second run out of the case folder while one renders or sends;
//! - [`run()`] is the stage: the case and [`Options`] in; [`stage`] writes a campaign's
//!   notices, [`select`] picks what a sending run sends (exactly once per address);
//! - [`send`] runs the batch through [`smtp`], our SMTP client (one write per message and
//!   `TCP_NODELAY`), step by step so the journal can record the moment the server accepted
//!   `DATA`.
//!
//! Everything is keyed by a *campaign* name (`notice` by default; built in: `preliminary`,
//! `notice`, `correction`): template sets live under `DIR/<campaign>/<locale>/`, Message-IDs
//! carry the campaign, each campaign has its own journal, `notices` folder and CSVs in the case
//! folder ([`Layout`]), and [`status`] sums them up. Exactly once is per campaign and per
//! normalised recipient address: a customer may get one preliminary warning and one formal
//! notice, never two of either, even from lists of different runs.

pub mod check;
pub mod input;
pub mod journal;
pub mod lock;
pub mod message;
pub mod par;
pub mod render;
mod run;
pub mod select;
pub mod send;
pub mod settings;
pub mod smtp;
pub mod stage;
pub mod status;

pub use input::Recipient;
pub use run::{run, Options};

/// The campaign used when none is named.
pub const DEFAULT_CAMPAIGN: &str = "notice";

/// Where a campaign's files go in a case folder. The `notice` campaign keeps the names it had
/// before there were campaigns (`notices/`, `sent.jsonl`, `failed.csv`, `no_email.csv`), so
/// case folders and scripts written for it keep working; every other campaign `C` gets
/// `notices-C/`, `sent-C.jsonl`, `failed-C.csv` and `no_email-C.csv` beside them.
#[derive(Debug, Clone)]
pub struct Layout {
    pub dir: std::path::PathBuf,
    pub campaign: String,
}

impl Layout {
    /// The layout of `campaign` (a name [`check_campaign`] accepted) in `dir`.
    pub fn new(dir: &std::path::Path, campaign: &str) -> Layout {
        Layout {
            dir: dir.to_path_buf(),
            campaign: campaign.to_string(),
        }
    }

    fn name(&self, stem: &str, ext: &str) -> std::path::PathBuf {
        if self.campaign == DEFAULT_CAMPAIGN {
            self.dir.join(format!("{stem}{ext}"))
        } else {
            self.dir.join(format!("{stem}-{}{ext}", self.campaign))
        }
    }

    /// The folder of rendered messages and `index.csv`.
    pub fn notices(&self) -> std::path::PathBuf {
        self.name("notices", "")
    }

    /// Where a rendering run stages its files before they move into [`Layout::notices`].
    pub fn staging(&self) -> std::path::PathBuf {
        self.name(".notices", ".tmp")
    }

    /// The send journal.
    pub fn journal(&self) -> std::path::PathBuf {
        self.name("sent", ".jsonl")
    }

    pub fn failed(&self) -> std::path::PathBuf {
        self.name("failed", ".csv")
    }

    pub fn no_email(&self) -> std::path::PathBuf {
        self.name("no_email", ".csv")
    }

    /// The campaigns that have a journal or a notices folder in `dir`, sorted.
    pub fn discover(dir: &std::path::Path) -> std::io::Result<Vec<String>> {
        let mut found = std::collections::BTreeSet::new();
        for e in std::fs::read_dir(dir)? {
            let name = e?.file_name().to_string_lossy().into_owned();
            let campaign = match name.as_str() {
                "sent.jsonl" | "notices" => Some(DEFAULT_CAMPAIGN.to_string()),
                n => n
                    .strip_prefix("sent-")
                    .and_then(|r| r.strip_suffix(".jsonl"))
                    .or_else(|| n.strip_prefix("notices-"))
                    .map(str::to_string),
            };
            if let Some(c) = campaign.filter(|c| check_campaign(c).is_ok()) {
                found.insert(c);
            }
        }
        Ok(found.into_iter().collect())
    }
}

/// A campaign name becomes part of file names and Message-IDs: lower-case ASCII letters,
/// digits, `-` and `_`, starting with a letter or digit, at most 40 characters.
pub fn check_campaign(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(Error::Settings(format!(
            "--campaign {name:?}: use lower-case letters, digits, - and _ (at most 40), e.g. preliminary, notice, correction"
        )))
    }
}

/// What can go wrong while preparing or sending notices.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A line of `affected.jsonl` that is not a customer record.
    #[error("{path}:{line}: {message}; re-create the file with `skimtrace affected`")]
    Affected {
        path: std::path::PathBuf,
        line: usize,
        message: String,
    },
    /// A template that does not parse or does not render (a missing variable included).
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    /// Settings that cannot work (a missing sender, a bad SMTP URL, credentials over clear text).
    #[error("{0}")]
    Settings(String),
    /// The SMTP conversation failed in a way that stops the batch (the server cannot be reached
    /// or keeps dropping the connection). The journal is saved.
    #[error("{0}")]
    Smtp(String),
    /// Another process holds the case folder ([`lock`]): nothing was done.
    #[error("{0}")]
    Locked(String),
    /// The command cannot work as written (a folder that is not one, a file where a folder
    /// belongs).
    #[error("{0}")]
    Usage(String),
    /// A line of a journal or a record file that cannot be read as what it should be.
    #[error("{path}: line {line}: {message}")]
    Record {
        path: std::path::PathBuf,
        line: usize,
        message: String,
    },
    /// A file that cannot be read as what it should be.
    #[error("{path}: {message}")]
    Input {
        path: std::path::PathBuf,
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// Exit code: settings and templates are the user's to fix (2); the rest happen while
    /// running (1).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Template { .. } | Error::Settings(_) | Error::Usage(_) => 2,
            Error::Affected { .. }
            | Error::Smtp(_)
            | Error::Locked(_)
            | Error::Record { .. }
            | Error::Input { .. }
            | Error::Io { .. } => 1,
        }
    }

    /// An I/O failure on `path`.
    pub fn io(path: impl Into<std::path::PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
