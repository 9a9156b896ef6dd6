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
//! - [`check`] scans every rendered message before anything is written or sent;
//! - [`journal`] is the append-only `sent.jsonl` that makes sending resumable and exactly once;
//! - [`send`] speaks SMTP through lettre's connection-level API so the journal can record the
//!   moment the server accepted `DATA`.
//!
//! Everything is keyed by a *campaign* name (`notice` by default): template sets live under
//! `DIR/<campaign>/<locale>/`, Message-IDs carry the campaign, and journal events name it, so
//! later campaigns (preliminary warning, correction) slot in without a new layout.

pub mod check;
pub mod input;
pub mod journal;
pub mod message;
pub mod render;
pub mod send;
pub mod settings;

pub use input::Recipient;

/// The campaign used when none is named.
pub const DEFAULT_CAMPAIGN: &str = "notice";

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
}

impl Error {
    /// Exit code: settings and templates are the user's to fix (2); the rest happen while
    /// running (1).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Template { .. } | Error::Settings(_) => 2,
            Error::Affected { .. } | Error::Smtp(_) => 1,
        }
    }
}
