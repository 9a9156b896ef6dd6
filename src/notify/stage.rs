//! Writing a campaign's notices into the case folder: every message rendered, checked and
//! written in one streaming pass into a staging folder that becomes `notices/` only when every
//! customer passed the check, so a half-written or failed render never looks like a finished
//! one.

use super::check::{Item, Plan, Preparer};
use super::input::Recipient;
use super::{par, Layout};
use crate::error::{Error, Result};
use crate::output::{self, CsvOut};
use crate::progress::Progress;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Renders, checks and writes every notice in one pass over the customers, on `threads`
/// threads: each message is rendered, written and dropped, so memory stays flat whatever the
/// number of customers. Files go to a staging folder; only when every customer passed the
/// check do they move into `notices/` (the whole folder in one rename when `notices/` is new),
/// with `index.csv` (in the customers' order) last. On a problem the staging folder is
/// removed and nothing is written. Returns the number of notices written.
pub fn write_notices(
    layout: &Layout,
    recipients: &[Recipient],
    preparer: &Preparer,
    threads: usize,
    force: bool,
    ui: &dyn Progress,
) -> Result<usize> {
    let dir = layout.notices();
    let exists = dir.exists();
    if exists {
        // Refuse before rendering, not after (`output::prepare_dir` does the same checks).
        output::prepare_dir(&dir, force)?;
    }
    let staging = Staging::create(layout.staging())?;
    let mut index = CsvOut::create(
        &staging.0.join("index.csv"),
        &["customer_id", "to", "locale", "subject", "sha256"],
    )?;
    enum Done {
        Written([String; 5]),
        Other(Item),
    }
    // After the first problem, messages are still rendered and checked (every problem is
    // reported) but no longer written.
    let failed = AtomicBool::new(false);
    let mut plan = Plan::default();
    let mut rendered = 0;
    par::map_ordered(
        recipients,
        threads,
        |_, r| -> Result<Done> {
            match preparer.prepare(r) {
                Item::Message(m) if !failed.load(Ordering::Relaxed) => {
                    let name = format!("{}.eml", file_stem(&m.customer_id));
                    write_eml(&staging.0.join(name), &m.built.bytes)?;
                    let digest = crate::digest::sri_of(&m.built.bytes);
                    Ok(Done::Written([
                        m.customer_id,
                        m.built.to.to_string(),
                        m.locale,
                        m.subject,
                        digest,
                    ]))
                }
                item => Ok(Done::Other(item)),
            }
        },
        |done| {
            match done? {
                Done::Written(row) => {
                    rendered += 1;
                    index.row(&row)?;
                }
                Done::Other(Item::Message(_)) => rendered += 1,
                Done::Other(Item::Problems(p)) => {
                    failed.store(true, Ordering::Relaxed);
                    plan.problems.extend(p);
                }
                Done::Other(Item::NoEmail(n)) => plan.no_email.push(n),
            }
            Ok::<_, Error>(())
        },
    )?;
    super::run::report_plan(&plan, rendered, layout, ui);
    super::run::check_passed(&plan)?;
    super::run::write_no_email(layout, &plan)?;
    index.commit()?;
    if !exists {
        std::fs::rename(&staging.0, &dir).map_err(|e| Error::io(&dir, e))?;
        staging.keep();
    } else {
        let entries = std::fs::read_dir(&staging.0).map_err(|e| Error::io(&staging.0, e))?;
        for e in entries {
            let e = e.map_err(|e| Error::io(&staging.0, e))?;
            if e.file_name() != "index.csv" {
                let to = dir.join(e.file_name());
                std::fs::rename(e.path(), &to).map_err(|err| Error::io(&to, err))?;
            }
        }
        let to = dir.join("index.csv");
        std::fs::rename(staging.0.join("index.csv"), &to).map_err(|e| Error::io(&to, e))?;
    }
    Ok(rendered)
}

/// The staging folder, removed with what it holds unless [`Staging::keep`] is called.
struct Staging(PathBuf);

impl Staging {
    fn create(path: PathBuf) -> Result<Staging> {
        // Left by a run that was killed: its files never reached notices/.
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
        let mut b = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        b.create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Staging(path))
    }

    fn keep(mut self) {
        self.0 = PathBuf::new();
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Writes one .eml, owner-only, into the staging folder (which only ever holds this run's
/// files: a half-written file there never reaches `notices/`). No fsync per file: 100,000
/// fsyncs take a minute on a common disk, and a notice lost in a power cut is re-rendered byte
/// for byte (`index.csv` holds the digests).
fn write_eml(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))
}

/// A customer id as a file name (ids are `c-…` base32; anything else is replaced).
fn file_stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
