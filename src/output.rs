//! Writing outputs safely: atomically (a temporary file renamed into place, so an interrupted
//! run never leaves a half-written file that looks complete), with owner-only permissions for
//! files that hold personal data, and CSV cells neutralised against formula injection (legal
//! staff open these files in Excel).

use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Creates the output folder (mode 0700 on Unix). Refuses a non-empty folder unless `force`.
pub fn prepare_dir(dir: &Path, force: bool) -> Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            return Err(Error::usage(format!(
                "{}: exists and is not a folder; pick another --out",
                dir.display()
            )));
        }
        // The case folder's lock file (held by this run) does not make it non-empty.
        let non_empty = fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .any(|e| e.map_or(true, |e| e.file_name() != crate::notify::lock::FILE));
        if non_empty && !force {
            return Err(Error::usage(format!(
                "{}: the output folder is not empty; pass --force to write into it, or pick another --out",
                dir.display()
            )));
        }
        remove_stale_temporaries(dir)?;
    } else {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    set_mode(dir, 0o700);
    Ok(())
}

/// Removes the temporary files ([`AtomicFile`]'s `.NAME.tmp-PID`) that a killed run left in
/// the folder and its subfolders. A SIGKILL runs no destructor, so without this they would
/// stay beside the outputs of the next run (and be listed by nothing, checked by nothing).
fn remove_stale_temporaries(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            remove_stale_temporaries(&path)?;
        } else if is_temporary_name(&entry.file_name().to_string_lossy()) {
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

/// `.NAME.tmp-PID`, the name [`AtomicFile::create`] gives.
fn is_temporary_name(name: &str) -> bool {
    name.starts_with('.')
        && name.rsplit_once(".tmp-").is_some_and(|(stem, pid)| {
            stem.len() > 1 && !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit())
        })
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) {}

/// A file being written: bytes go to `NAME.tmp-PID` beside the target, and only
/// [`AtomicFile::commit`] renames it into place. Dropped without commit, the temporary file is
/// removed.
pub struct AtomicFile {
    target: PathBuf,
    tmp: PathBuf,
    writer: Option<BufWriter<File>>,
}

/// Creates (or truncates) a working file readable by the owner only, as every output is: a
/// scratch file beside an output holds the same data.
pub fn private_file(path: &Path) -> Result<fs::File> {
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map_err(|e| Error::io(path, e))
}

impl AtomicFile {
    /// Opens a temporary file beside `target`, readable by the owner only.
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let tmp = target.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let _ = fs::remove_file(&tmp);
        let f = opts.open(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            tmp,
            writer: Some(BufWriter::with_capacity(1 << 16, f)),
        })
    }

    pub fn path(&self) -> &Path {
        &self.target
    }

    /// Flushes and renames into place. A symlink at the target is replaced, not followed.
    ///
    /// No fsync: the rename already keeps a killed run from leaving a half-written file under
    /// the final name, and after a power loss `skimtrace verify` (which re-hashes every output
    /// against the manifest) tells a damaged case folder. Syncing 150 MB of outputs would cost
    /// half a second on every run. Journals that must survive a power loss sync themselves.
    pub fn commit(mut self) -> Result<()> {
        let w = self.writer.take().expect("committed twice");
        let f = w
            .into_inner()
            .map_err(|e| Error::io(&self.tmp, e.into_error()))?;
        drop(f);
        fs::rename(&self.tmp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        Ok(())
    }
}

impl AtomicFile {
    /// Bytes written so far.
    pub fn position(&mut self) -> std::io::Result<u64> {
        use std::io::Seek;
        let w = self.writer.as_mut().expect("position after commit");
        w.flush()?;
        w.get_mut().stream_position()
    }

    /// Cuts the file back to `len` bytes (to drop what a rolled-back step wrote).
    pub fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom};
        let w = self.writer.as_mut().expect("truncate after commit");
        w.flush()?;
        let f = w.get_mut();
        f.set_len(len)?;
        f.seek(SeekFrom::Start(len))?;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.as_mut().expect("write after commit").write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.as_mut().expect("flush after commit").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.is_some() {
            self.writer = None;
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes a whole file atomically.
pub fn write_file(target: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(target)?;
    f.write_all(bytes).map_err(|e| Error::io(target, e))?;
    f.commit()
}

/// Neutralises a CSV cell that a spreadsheet would run as a formula: a cell that starts with
/// `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'` (OWASP's advice).
pub fn csv_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Replaces control characters other than tab, CR and LF (a NUL, an escape sequence) and Unicode
/// direction overrides and isolates (which make `Ta\u{202e}gnp.exe` display as `Taexe.png`) with
/// a space, so a cell shows what it holds. JSONL outputs keep the value as it was read.
pub fn scrub_cell(cell: std::borrow::Cow<'_, str>) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| crate::text::is_unsafe_char(c) && !matches!(c, '\t' | '\r' | '\n');
    if cell.chars().any(unsafe_char) {
        cell.chars()
            .map(|c| if unsafe_char(c) { ' ' } else { c })
            .collect::<String>()
            .into()
    } else {
        cell
    }
}

/// Appends one CSV field, RFC 4180: quoted when it holds a comma, a quote, CR or LF (quotes
/// doubled), as it is otherwise.
pub fn push_field(line: &mut Vec<u8>, b: &[u8]) {
    if b.iter().any(|&x| matches!(x, b',' | b'"' | b'\r' | b'\n')) {
        line.push(b'"');
        for &x in b {
            if x == b'"' {
                line.push(b'"');
            }
            line.push(x);
        }
        line.push(b'"');
    } else {
        line.extend_from_slice(b);
    }
}

/// A CSV writer over an [`AtomicFile`] that neutralises every cell. RFC 4180: CRLF line ends,
/// a field quoted when it holds a comma, a quote, CR or LF (quotes doubled). UTF-8 without a
/// BOM.
pub struct CsvOut {
    f: AtomicFile,
    path: PathBuf,
    line: Vec<u8>,
}

impl CsvOut {
    pub fn create(target: &Path, header: &[&str]) -> Result<CsvOut> {
        let f = AtomicFile::create(target)?;
        let mut out = CsvOut {
            f,
            path: target.to_path_buf(),
            line: Vec::with_capacity(1024),
        };
        out.row(header)?;
        Ok(out)
    }

    pub fn row<I, S>(&mut self, cells: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.line.clear();
        for (i, c) in cells.into_iter().enumerate() {
            if i > 0 {
                self.line.push(b',');
            }
            let cell = scrub_cell(csv_safe(c.as_ref()));
            push_field(&mut self.line, cell.as_bytes());
        }
        self.line.extend_from_slice(b"\r\n");
        self.f
            .write_all(&self.line)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Bytes written so far.
    pub fn position(&mut self) -> Result<u64> {
        self.f.position().map_err(|e| Error::io(&self.path, e))
    }

    /// Cuts the file back to a [`CsvOut::position`].
    pub fn truncate(&mut self, len: u64) -> Result<()> {
        self.f.truncate(len).map_err(|e| Error::io(&self.path, e))
    }

    pub fn commit(self) -> Result<()> {
        self.f.commit()
    }
}

/// Writes JSON lines atomically, one serialised value per line.
pub fn write_jsonl<T: serde::Serialize>(target: &Path, items: &[T]) -> Result<()> {
    let mut f = AtomicFile::create(target)?;
    for it in items {
        serde_json::to_writer(&mut f, it).map_err(|e| Error::io(target, e.into()))?;
        f.write_all(b"\n").map_err(|e| Error::io(target, e))?;
    }
    f.commit()
}

/// Writes pretty JSON atomically, with a final newline.
pub fn write_json<T: serde::Serialize>(target: &Path, value: &T) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::io(target, e.into()))?;
    bytes.push(b'\n');
    write_file(target, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn working_files_are_private_and_truncated() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("part");
        fs::write(&p, b"older and longer").unwrap();
        let mut f = private_file(&p).unwrap();
        f.write_all(b"new").unwrap();
        drop(f);
        assert_eq!(fs::read(&p).unwrap(), b"new");
        let fresh = d.path().join("fresh");
        drop(private_file(&fresh).unwrap());
        assert_eq!(
            fs::metadata(&fresh).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn formulas_are_neutralised() {
        for c in ["=SUM(A1)", "+1", "-2", "@cmd", "\tx", "\rx"] {
            assert!(csv_safe(c).starts_with('\''), "{c}");
        }
        assert_eq!(csv_safe("Taro"), "Taro");
        assert_eq!(csv_safe(""), "");
    }

    #[test]
    fn controls_and_direction_overrides_become_spaces() {
        assert_eq!(
            scrub_cell("Ta\u{202e}gnp.exe\u{202c}".into()),
            "Ta gnp.exe "
        );
        assert_eq!(scrub_cell("a\0b\u{1b}[31m".into()), "a b [31m");
        assert_eq!(scrub_cell("a\r\nb\tc".into()), "a\r\nb\tc");
    }

    #[test]
    fn a_forced_folder_loses_the_temporaries_of_a_killed_run() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("notices")).unwrap();
        for f in [
            ".a.csv.tmp-123",
            "notices/.index.csv.tmp-9",
            "keep.csv",
            ".tmp-1",
            "x.tmp-1",
        ] {
            fs::write(d.path().join(f), "x").unwrap();
        }
        prepare_dir(d.path(), true).unwrap();
        let mut left: Vec<String> = fs::read_dir(d.path())
            .unwrap()
            .chain(fs::read_dir(d.path().join("notices")).unwrap())
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [".tmp-1", "keep.csv", "notices", "x.tmp-1"]);
    }

    #[test]
    fn uncommitted_files_leave_nothing() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.csv");
        {
            let mut f = AtomicFile::create(&p).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert!(!p.exists());
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 0);
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"whole").unwrap();
        f.commit().unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"whole");
    }
}
