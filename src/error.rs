//! The crate's error type: one variant per kind of failure, each able to say which exit code it
//! maps to. Exit codes (documented in `--help` and the README):
//! - `0` success;
//! - `1` a failure while running (an input that cannot be read, an output that cannot be
//!   written, a check the user asked for that failed);
//! - `2` a usage or configuration error (bad flags, a config that does not parse, naive
//!   timestamps without a zone, an unknown export layout).

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something that cannot work as written; fix the command or config.
    #[error("{0}")]
    Usage(String),
    /// A config file that cannot be read or does not parse.
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    /// An input file that cannot be read as the kind of input it was given as.
    #[error("{path}: {message}")]
    Input { path: PathBuf, message: String },
    /// A line of an input that cannot be read as what it should be (the file stops there:
    /// journals, the case folder's own records), with its line as a field.
    #[error("{path}: line {line}: {message}")]
    Record {
        path: PathBuf,
        line: u64,
        message: String,
    },
    /// An input whose layout the tool cannot map (missing columns, unknown headers). This is a
    /// usage error: the fix is a preset or a column mapping.
    #[error("{path}: {message}")]
    Layout { path: PathBuf, message: String },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A run that finished but broke one of its own invariants (e.g. counts that do not
    /// reconcile). Never expected; reported loudly rather than written as if fine.
    #[error("internal check failed: {0}")]
    Invariant(String),
    /// A check the user asked for failed (e.g. `verify` found a difference).
    #[error("{0}")]
    CheckFailed(String),
    #[error(transparent)]
    Window(#[from] crate::window::WindowError),
    /// Preparing or sending notices (`notify`).
    #[error(transparent)]
    Notify(#[from] crate::notify::Error),
    /// Comparing two runs (`diff`).
    #[error(transparent)]
    Diff(#[from] crate::diff::Error),
    /// The `evidence` stage.
    #[error(transparent)]
    Evidence(#[from] crate::evidence::Error),
    /// The `affected` stage.
    #[error(transparent)]
    Affected(#[from] crate::affected::Error),
}

impl Error {
    /// The process exit code for this error (see the module docs).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Config { .. } | Error::Layout { .. } | Error::Window(_) => 2,
            Error::Input { .. }
            | Error::Record { .. }
            | Error::Io { .. }
            | Error::Invariant(_)
            | Error::CheckFailed(_) => 1,
            Error::Notify(e) => e.exit_code(),
            Error::Diff(e) => e.exit_code(),
            Error::Evidence(e) => e.exit_code(),
            Error::Affected(e) => e.exit_code(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn usage(msg: impl Into<String>) -> Error {
        Error::Usage(msg.into())
    }
}
