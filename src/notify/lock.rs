//! One run at a time in a case folder: `notify` (rendering and `--send`) and `run` hold an
//! exclusive lock on `.skimtrace.lock` in the case folder for as long as they work in it.
//!
//! Why: the journal makes a batch exactly once only if one process appends to it. Two
//! `notify --send` started a moment apart each read the journal before the other wrote to it,
//! and both sent the same customers. A second run now stops at once (exit 1) and names the
//! process that holds the folder.
//!
//! Why an OS advisory lock (`flock`) and not a file that exists or not: the kernel releases it
//! when the holder's process ends, however it ends (a crash, `kill -9`, a power cut), so a
//! lock left by a dead process never blocks the next run and nobody has to delete anything.
//! The file holds the holder's pid, command and start time, for the message. The holder
//! removes it when it is done, still locked, so a finished run leaves the folder as it was
//! (case folders stay byte-identical); a run that takes the lock checks that the file it
//! locked is still the one at that path, since another may have removed it in between. A lock
//! file left by a dead process is simply taken over. It is not an output: the manifest does
//! not list it and `verify` does not report it.
//!
//! Taking the lock again in the process that holds it (`run` calls `notify`) shares the held
//! lock instead of blocking on itself.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

/// The lock file's name in the case folder.
pub const FILE: &str = ".skimtrace.lock";

/// Who holds a case folder: written into the lock file by the holder.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Holder {
    pid: u32,
    command: String,
    started: String,
}

/// The open, locked file; closing it (when the last [`CaseLock`] is dropped) unlocks.
struct Held {
    /// Open for as long as the lock is held: the lock belongs to this open file.
    _file: File,
    path: PathBuf,
}

impl Drop for Held {
    /// Removes the lock file while it is still locked (the file closes after this), so nobody
    /// can lock it between the removal and the unlock. Where an open file cannot be removed,
    /// it is emptied instead.
    fn drop(&mut self) {
        #[cfg(unix)]
        let _ = std::fs::remove_file(&self.path);
        #[cfg(not(unix))]
        let _ = self._file.set_len(0);
    }
}

/// The case folders this process holds, by canonical path.
static HELD: Mutex<Option<HashMap<PathBuf, Weak<Held>>>> = Mutex::new(None);

/// An exclusive hold on a case folder, released when dropped (or when the process ends).
#[must_use = "the case folder is unlocked when this is dropped"]
pub struct CaseLock {
    _held: Arc<Held>,
}

impl CaseLock {
    /// Locks `dir` (created when missing) for `command` (`notify --send`, `run`, …), or
    /// returns [`super::Error::Locked`] at once, naming the holder, when another process holds
    /// it.
    pub fn acquire(dir: &Path, command: &str) -> Result<CaseLock, super::Error> {
        match std::fs::symlink_metadata(dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(super::Error::Usage(format!(
                    "{}: the case folder is a symbolic link; give the folder itself",
                    dir.display()
                )))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Created owner-only, as every case folder is (`output::prepare_dir` keeps the
                // mode of a folder it did not create).
                let mut b = std::fs::DirBuilder::new();
                b.recursive(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::DirBuilderExt;
                    b.mode(0o700);
                }
                b.create(dir).map_err(|e| super::Error::io(dir, e))?;
            }
            Err(e) => return Err(super::Error::io(dir, e)),
        }
        let key = dir.canonicalize().map_err(|e| super::Error::io(dir, e))?;
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        let held = held.get_or_insert_with(HashMap::new);
        if let Some(h) = held.get(&key).and_then(Weak::upgrade) {
            return Ok(CaseLock { _held: h });
        }
        let path = dir.join(FILE);
        let mut file = loop {
            let mut opts = OpenOptions::new();
            // Never truncated on open: the holder's details are in it until the lock is ours.
            opts.read(true).write(true).create(true).truncate(false);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let file = opts.open(&path).map_err(|e| super::Error::io(&path, e))?;
            if !try_lock(&file).map_err(|e| super::Error::io(&path, e))? {
                return Err(super::Error::Locked(format!(
                    "{}: {} holds this case folder ({}); nothing was done. Wait for it to finish (or stop it) and run again; a lock left by a process that died does not block",
                    dir.display(),
                    describe(&path),
                    path.display()
                )));
            }
            // The holder we waited on may have removed the file between our open and our
            // lock: then we hold a file nobody else will see; open the path again.
            if still_at(&file, &path) {
                break file;
            }
        };
        let me = Holder {
            pid: std::process::id(),
            command: command.to_string(),
            started: super::journal::now(),
        };
        let mut line = serde_json::to_vec(&me).map_err(|e| super::Error::io(&path, e.into()))?;
        line.push(b'\n');
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(&line))
            .map_err(|e| super::Error::io(&path, e))?;
        let h = Arc::new(Held { _file: file, path });
        held.retain(|_, w| w.strong_count() > 0);
        held.insert(key, Arc::downgrade(&h));
        Ok(CaseLock { _held: h })
    }
}

/// Whether `path` still names the open `file` (the same device and inode).
#[cfg(unix)]
fn still_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Where the lock file is never removed, the path always names the file.
#[cfg(not(unix))]
fn still_at(_file: &File, _path: &Path) -> bool {
    true
}

/// `true` when the lock was taken, `false` when another open file holds it.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use rustix::fs::{flock, FlockOperation};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `true` when the lock was taken, `false` when another open file holds it.
#[cfg(not(unix))]
fn try_lock(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// The holder as the lock file names it: "skimtrace (pid 4242, `notify --send`, started …)".
/// The holder writes its details right after it takes the lock, so an empty file is read again
/// for a moment before giving up on them.
fn describe(path: &Path) -> String {
    for _ in 0..20 {
        let mut text = String::new();
        let read = File::open(path).and_then(|mut f| f.read_to_string(&mut text));
        if read.is_ok() {
            if let Ok(h) = serde_json::from_str::<Holder>(text.trim()) {
                return format!(
                    "another skimtrace (pid {}, `{}`, started {})",
                    h.pid, h.command, h.started
                );
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    "another skimtrace process".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_and_named_and_the_same_process_shares() {
        let d = tempfile::tempdir().unwrap();
        let first = CaseLock::acquire(d.path(), "notify --send").unwrap();
        // The same process (run calling notify) shares its hold.
        let again = CaseLock::acquire(d.path(), "notify").unwrap();
        drop(again);
        // Another open file description (as another process has) is refused.
        let f = File::open(d.path().join(FILE)).unwrap();
        assert!(!try_lock(&f).unwrap());
        let who = describe(&d.path().join(FILE));
        assert!(
            who.contains(&format!("pid {}", std::process::id())),
            "{who}"
        );
        assert!(who.contains("`notify --send`"), "{who}");
        drop(first);
        // Released, and the file is gone: a finished run leaves the folder as it was.
        assert!(!d.path().join(FILE).exists());
        assert!(try_lock(&f).unwrap());
        // A lock file left by a process that died (no lock on it) is taken over.
        std::fs::write(
            d.path().join(FILE),
            r#"{"pid":999999,"command":"run","started":"2020-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let taken = CaseLock::acquire(d.path(), "notify").unwrap();
        assert!(describe(&d.path().join(FILE)).contains(&format!("pid {}", std::process::id())));
        drop(taken);
    }
}
