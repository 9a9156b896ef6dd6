//! Writing outputs safely: atomically (a temporary file renamed into place, so an interrupted
//! run never leaves a half-written file that looks complete), with owner-only permissions for
//! files that hold personal data, and CSV cells neutralised against formula injection (legal
//! staff open these files in Excel).

use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Creates the output folder (mode 0700 on Unix). Refuses a non-empty folder unless `force`.
///
/// The folder itself must be a real folder, never a symbolic link: a link would send every
/// output (and the removal of stale temporaries) somewhere the user did not name, e.g. a
/// `notices` link into another case. Only a folder this call creates gets mode 0700: the tool
/// never changes the mode of something it did not make.
pub fn prepare_dir(dir: &Path, force: bool) -> Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(Error::usage(format!(
                "{}: is a symbolic link; skimtrace writes only into a real folder and follows no link: give the folder itself (not a link to it), or pick another --out",
                dir.display()
            )))
        }
        Ok(m) if !m.is_dir() => {
            return Err(Error::usage(format!(
                "{}: exists and is not a folder; pick another --out",
                dir.display()
            )))
        }
        Ok(_) => {
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
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut b = fs::DirBuilder::new();
            b.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                b.mode(0o700);
            }
            b.create(dir).map_err(|e| Error::io(dir, e))?;
            // The umask may have taken bits away; never adds any beyond 0700.
            set_mode(dir, 0o700);
        }
        Err(e) => return Err(Error::io(dir, e)),
    }
    Ok(())
}

/// Removes the temporary files ([`AtomicFile`]'s `.NAME.tmp-PID`) that a killed run left in
/// the folder and its subfolders. A SIGKILL runs no destructor, so without this they would
/// stay beside the outputs of the next run (and be listed by nothing, checked by nothing).
/// Only regular files are removed and only real subfolders entered: a link is never followed.
fn remove_stale_temporaries(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        // `DirEntry::file_type` does not follow a symbolic link.
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            remove_stale_temporaries(&path)?;
        } else if kind.is_file() && is_temporary_name(&entry.file_name().to_string_lossy()) {
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

/// `.NAME.tmp-PID`, the name [`AtomicFile::create`] gives.
pub fn is_temporary_name(name: &str) -> bool {
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

/// Opens a file for reading only when it is a regular file: a symbolic link is not followed
/// and a FIFO or device is not opened (reading `/dev/zero` or a FIFO with no writer would never
/// end). The file opened is checked to be the one examined, so a swap between the two steps is
/// refused too.
pub fn open_regular(path: &Path) -> std::io::Result<File> {
    let before = fs::symlink_metadata(path)?;
    if !before.file_type().is_file() {
        return Err(std::io::Error::other(not_a_file(&before)));
    }
    let f = File::open(path)?;
    let after = f.metadata()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (before.dev(), before.ino()) != (after.dev(), after.ino()) {
            return Err(std::io::Error::other("replaced while being opened"));
        }
    }
    if !after.is_file() {
        return Err(std::io::Error::other(not_a_file(&after)));
    }
    Ok(f)
}

/// What a non-regular file is, for messages.
pub fn not_a_file(m: &fs::Metadata) -> &'static str {
    if m.file_type().is_symlink() {
        "a symbolic link, not a file"
    } else if m.is_dir() {
        "a folder, not a file"
    } else {
        "a special file (FIFO, socket or device), not a regular file"
    }
}

/// The record a `run` keeps in its case folder while it works: what it will remove and every
/// file it writes, one JSON string per line, each line written before the file is created. A
/// run killed at any point leaves it behind, so the next run knows which files in the folder
/// are the tool's own (and removes them) though no manifest lists them. Removed once the
/// manifest is written.
pub const RUN_RECORD: &str = ".skimtrace-run.jsonl";

struct Armed {
    root: PathBuf,
    file: File,
    written: Vec<String>,
}

/// The run record of the one `run` in this process, when one is under way.
static ARMED: std::sync::Mutex<Option<Armed>> = std::sync::Mutex::new(None);

fn armed() -> std::sync::MutexGuard<'static, Option<Armed>> {
    ARMED.lock().unwrap_or_else(|e| e.into_inner())
}

/// A run record under way (see [`RUN_RECORD`]). While it lives, every [`AtomicFile`] and
/// [`private_file`] below its folder is recorded before it is created, and the folders between
/// the case folder and the file are checked to be real folders (no link followed).
pub struct RunRecord {
    root: PathBuf,
}

impl RunRecord {
    /// Starts the record of a run in `root`, first naming `pending` (relative paths the run is
    /// about to remove), written whole before this returns.
    pub fn begin(root: &Path, pending: &[String]) -> Result<RunRecord> {
        let path = root.join(RUN_RECORD);
        let mut text = Vec::new();
        for p in pending {
            serde_json::to_writer(&mut text, p).map_err(|e| Error::io(&path, e.into()))?;
            text.push(b'\n');
        }
        write_file(&path, &text)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        *armed() = Some(Armed {
            root: root.to_path_buf(),
            file,
            written: Vec::new(),
        });
        Ok(RunRecord {
            root: root.to_path_buf(),
        })
    }

    /// Records a folder whose every file this run writes (the notices, renamed in from a
    /// staging folder), as `DIR/`.
    pub fn note_dir(&self, rel: &str) -> Result<()> {
        let mut guard = armed();
        let a = guard.as_mut().expect("run record armed");
        let line = format!("{}\n", serde_json::Value::from(format!("{rel}/")));
        a.file
            .write_all(line.as_bytes())
            .map_err(|e| Error::io(self.root.join(RUN_RECORD), e))?;
        a.written.push(format!("{rel}/"));
        Ok(())
    }

    /// What this run has written so far (relative paths; folders end with `/`), in order.
    pub fn written(&self) -> Vec<String> {
        armed()
            .as_ref()
            .map(|a| a.written.clone())
            .unwrap_or_default()
    }

    /// Ends the record and removes it: the run is complete (its manifest is written).
    pub fn finish(self) -> Result<()> {
        *armed() = None;
        let path = self.root.join(RUN_RECORD);
        fs::remove_file(&path).map_err(|e| Error::io(&path, e))
    }
}

impl Drop for RunRecord {
    /// A run that stops on an error keeps its record on disk: it did not finish.
    fn drop(&mut self) {
        *armed() = None;
    }
}

/// Reads the record an earlier run left (see [`RUN_RECORD`]): the relative paths it named, or
/// `None` when there is none. A line cut short by a kill is ignored (its file was never
/// created).
pub fn read_run_record(root: &Path) -> Result<Option<Vec<String>>> {
    let path = root.join(RUN_RECORD);
    let mut f = match open_regular(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let mut text = String::new();
    std::io::Read::read_to_string(&mut f, &mut text).map_err(|e| Error::io(&path, e))?;
    Ok(Some(
        text.lines()
            .filter_map(|l| serde_json::from_str::<String>(l).ok())
            .collect(),
    ))
}

/// Under a run record: records `target` (when inside the case folder) before it is created,
/// and refuses when a folder between the case folder and `target` is a symbolic link or not a
/// folder.
fn note_write(target: &Path) -> Result<()> {
    let mut guard = armed();
    let Some(a) = guard.as_mut() else {
        return Ok(());
    };
    let Ok(rel) = target.strip_prefix(&a.root) else {
        return Ok(());
    };
    let mut at = a.root.clone();
    let parts: Vec<_> = rel.components().collect();
    for c in parts.iter().take(parts.len().saturating_sub(1)) {
        at.push(c);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(m) => {
                return Err(Error::io(
                    &at,
                    std::io::Error::other(format!(
                        "is {} where the case folder has a folder of its own; skimtrace follows no link there: remove it and run again",
                        if m.file_type().is_symlink() { "a symbolic link" } else { "not a folder" }
                    )),
                ))
            }
            Err(_) => {} // created later by the writer, as a real folder
        }
    }
    let rel = rel.to_string_lossy().replace('\\', "/");
    let line = format!("{}\n", serde_json::Value::from(rel.as_str()));
    a.file
        .write_all(line.as_bytes())
        .map_err(|e| Error::io(a.root.join(RUN_RECORD), e))?;
    a.written.push(rel);
    Ok(())
}

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
    note_write(path)?;
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
        note_write(target)?;
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
    if cell_bytes(cell.as_bytes()) & SUSPECT == 0 {
        return cell;
    }
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

/// A byte that may belong to a character [`scrub_cell`] replaces: an ASCII control other than
/// tab, CR and LF, or the first byte of a non-ASCII one (C1 controls `C2 80..9F`, U+061C
/// `D8 9C`, the marks, overrides and isolates `E2 80 8E..AE`, `E2 81 A6..A9`). Japanese text
/// has none: its characters start with `E3`..`E9`.
const SUSPECT: u8 = 1;
/// A byte that makes a CSV field quoted: comma, quote, CR, LF.
const QUOTED: u8 = 2;

static CELL_BYTE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        let suspect = (b < 0x20 && !matches!(b, b'\t' | b'\r' | b'\n'))
            || matches!(b, 0x7f | 0xc2 | 0xd8 | 0xe2);
        let quoted = matches!(b, b',' | b'"' | b'\r' | b'\n');
        t[c] = ((suspect as u8) * SUSPECT) | ((quoted as u8) * QUOTED);
        c += 1;
    }
    t
};

/// [`SUSPECT`] and [`QUOTED`], for the bytes of a cell, in one pass.
fn cell_bytes(b: &[u8]) -> u8 {
    b.iter().fold(0, |acc, &x| acc | CELL_BYTE[x as usize])
}

/// Appends one CSV field, RFC 4180: quoted when it holds a comma, a quote, CR or LF (quotes
/// doubled), as it is otherwise.
pub fn push_field(line: &mut Vec<u8>, b: &[u8]) {
    push_field_as(line, b, cell_bytes(b) & QUOTED != 0);
}

/// [`push_field`], quoted or not as the caller found.
fn push_field_as(line: &mut Vec<u8>, b: &[u8], quoted: bool) {
    if quoted {
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

/// A CSV writer over an [`AtomicFile`] that neutralises every cell and masks every card number
/// in it (the one detector, [`crate::cards::detect`], on each cell: the commas between cells
/// never join two numbers). RFC 4180: CRLF line ends,
/// a field quoted when it holds a comma, a quote, CR or LF (quotes doubled). UTF-8 without a
/// BOM.
pub struct CsvOut {
    f: AtomicFile,
    path: PathBuf,
    line: CsvRows,
}

/// CSV rows formatted in memory, as [`CsvOut::row`] writes them (every cell neutralised and
/// masked), to be written later with [`CsvOut::write_rows`]: a writer formats blocks of rows
/// on several threads and writes them in order. Only [`CsvRows::row`] adds to it, so what a
/// [`CsvOut`] writes has always passed the detector.
#[derive(Default)]
pub struct CsvRows(Vec<u8>);

impl CsvRows {
    /// Appends one row.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for (i, c) in cells.into_iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            // One pass over the bytes tells whether the cell needs scrubbing and quoting; a
            // cell that scrubbing or masking changed is looked at again.
            let cell = csv_safe(c.as_ref());
            let flags = cell_bytes(cell.as_bytes());
            let scrubbed = if flags & SUSPECT != 0 {
                scrub_cell(cell)
            } else {
                cell
            };
            let changed = matches!(scrubbed, std::borrow::Cow::Owned(_));
            let masked = crate::cards::detect::mask(&scrubbed).0;
            let quoted = if changed || matches!(masked, std::borrow::Cow::Owned(_)) {
                cell_bytes(masked.as_bytes()) & QUOTED != 0
            } else {
                flags & QUOTED != 0
            };
            push_field_as(&mut self.0, masked.as_bytes(), quoted);
        }
        self.0.extend_from_slice(b"\r\n");
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }
}

impl CsvOut {
    pub fn create(target: &Path, header: &[&str]) -> Result<CsvOut> {
        let f = AtomicFile::create(target)?;
        let mut out = CsvOut {
            f,
            path: target.to_path_buf(),
            line: CsvRows(Vec::with_capacity(1024)),
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
        self.line.row(cells);
        self.f
            .write_all(&self.line.0)
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Writes rows formatted beforehand.
    pub fn write_rows(&mut self, rows: &CsvRows) -> Result<()> {
        self.f
            .write_all(&rows.0)
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

/// Writes JSON lines atomically, one serialised value per line, card numbers masked (see
/// [`to_json_writer`]).
pub fn write_jsonl<T: serde::Serialize>(target: &Path, items: &[T]) -> Result<()> {
    let mut f = AtomicFile::create(target)?;
    for it in items {
        json_line(&mut f, target, it)?;
    }
    f.commit()
}

/// Writes one value as a JSON line (card numbers masked).
pub fn json_line<W: Write, T: serde::Serialize + ?Sized>(
    w: &mut W,
    target: &Path,
    value: &T,
) -> Result<()> {
    to_json_writer(&mut *w, value, false).map_err(|e| Error::io(target, e))?;
    w.write_all(b"\n").map_err(|e| Error::io(target, e))
}

/// [`json_line`] appended to a buffer, the same bytes in less time: the value is written
/// plainly first, and only when that line holds an escape or may hold a card number is it
/// written again string by string through the card detector. Without an escape each string's
/// text is a slice of the line as written, and the pre-check finds nothing in any slice of a
/// text in which it finds nothing ([`crate::cards::may_hold_card`]), so the masking writer
/// would have written the same bytes; almost every line is answered by one pre-check instead
/// of a masking pass and a second escaping of each of its strings.
pub fn json_line_to_vec<T: serde::Serialize + ?Sized>(
    buf: &mut Vec<u8>,
    target: &Path,
    value: &T,
) -> Result<()> {
    let start = buf.len();
    serde_json::to_writer(&mut *buf, value)
        .map_err(|e| Error::io(target, std::io::Error::from(e)))?;
    let line = &buf[start..];
    if memchr::memchr(b'\\', line).is_some() || crate::cards::may_hold_card(line) {
        buf.truncate(start);
        to_json_writer(&mut *buf, value, false).map_err(|e| Error::io(target, e))?;
    }
    buf.push(b'\n');
    Ok(())
}

/// Writes pretty JSON atomically, with a final newline (card numbers masked).
pub fn write_json<T: serde::Serialize>(target: &Path, value: &T) -> Result<()> {
    let mut bytes = Vec::new();
    to_json_writer(&mut bytes, value, true).map_err(|e| Error::io(target, e))?;
    bytes.push(b'\n');
    write_file(target, &bytes)
}

/// Serialises `value` as JSON with every string — values and object keys alike — passed
/// through the card detector first, so no JSON output can hold a card number, whatever field it
/// came from (a region used as a key of `by_region`, a note, an error text).
pub fn to_json_writer<W: Write, T: serde::Serialize + ?Sized>(
    w: W,
    value: &T,
    pretty: bool,
) -> std::io::Result<()> {
    let res = if pretty {
        let mut ser = serde_json::Serializer::with_formatter(
            w,
            MaskingFormatter::new(serde_json::ser::PrettyFormatter::new()),
        );
        value.serialize(&mut ser)
    } else {
        let mut ser = serde_json::Serializer::with_formatter(
            w,
            MaskingFormatter::new(serde_json::ser::CompactFormatter),
        );
        value.serialize(&mut ser)
    };
    res.map_err(std::io::Error::from)
}

/// A `serde_json` formatter that collects each string, masks its card numbers and only then
/// writes it (escaped as `serde_json` escapes). Layout is left to the inner formatter.
struct MaskingFormatter<F> {
    inner: F,
    /// The string being collected; one buffer for every string of the value (a customer
    /// record has a score of them).
    string: String,
    /// Between `begin_string` and `end_string`.
    in_string: bool,
}

impl<F> MaskingFormatter<F> {
    fn new(inner: F) -> Self {
        MaskingFormatter {
            inner,
            string: String::new(),
            in_string: false,
        }
    }

    /// The string being collected, if inside one.
    fn collecting(&mut self) -> Option<&mut String> {
        self.in_string.then_some(&mut self.string)
    }
}

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for MaskingFormatter<F> {
    fn begin_string<W: ?Sized + Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.string.clear();
        self.in_string = true;
        Ok(())
    }
    fn write_string_fragment<W: ?Sized + Write>(
        &mut self,
        _w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        self.collecting()
            .expect("a fragment inside a string")
            .push_str(fragment);
        Ok(())
    }
    fn write_char_escape<W: ?Sized + Write>(
        &mut self,
        _w: &mut W,
        escape: serde_json::ser::CharEscape,
    ) -> std::io::Result<()> {
        use serde_json::ser::CharEscape as E;
        let c = match escape {
            E::Quote => '"',
            E::ReverseSolidus => '\\',
            E::Solidus => '/',
            E::Backspace => '\u{8}',
            E::FormFeed => '\u{c}',
            E::LineFeed => '\n',
            E::CarriageReturn => '\r',
            E::Tab => '\t',
            E::AsciiControl(b) => char::from(b),
        };
        self.collecting()
            .expect("an escape inside a string")
            .push(c);
        Ok(())
    }
    fn end_string<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        assert!(self.in_string, "the end of a string");
        self.in_string = false;
        let masked = crate::cards::detect::mask(&self.string).0;
        serde_json::to_writer(w, masked.as_ref()).map_err(std::io::Error::from)
    }
    // Numbers and booleans as map keys are written between `begin_string` and `end_string`.
    fn write_bool<W: ?Sized + Write>(&mut self, w: &mut W, v: bool) -> std::io::Result<()> {
        match self.collecting() {
            Some(s) => {
                s.push_str(&v.to_string());
                Ok(())
            }
            None => self.inner.write_bool(w, v),
        }
    }
    fn write_i8<W: ?Sized + Write>(&mut self, w: &mut W, v: i8) -> std::io::Result<()> {
        match self.collecting() {
            Some(s) => {
                s.push_str(&v.to_string());
                Ok(())
            }
            None => self.inner.write_i8(w, v),
        }
    }
    fn write_i16<W: ?Sized + Write>(&mut self, w: &mut W, v: i16) -> std::io::Result<()> {
        match self.collecting() {
            Some(s) => {
                s.push_str(&v.to_string());
                Ok(())
            }
            None => self.inner.write_i16(w, v),
        }
    }
    fn write_i32<W: ?Sized + Write>(&mut self, w: &mut W, v: i32) -> std::io::Result<()> {
        match self.collecting() {
            Some(s) => {
                s.push_str(&v.to_string());
                Ok(())
            }
            None => self.inner.write_i32(w, v),
        }
    }
    fn write_i64<W: ?Sized + Write>(&mut self, w: &mut W, v: i64) -> std::io::Result<()> {
        match self.collecting() {
            Some(s) => {
                s.push_str(&v.to_string());
                Ok(())
            }
            None => self.inner.write_i64(w, v),
        }
    }
    fn write_i128<W: ?Sized + Write>(&mut self, w: &mut W, v: i128) -> std::io::Result<()> {
        match self.collecting() {
            Some(s) => {
                s.push_str(&v.to_string());
                Ok(())
            }
            None => self.inner.write_i128(w, v),
        }
    }
    fn write_u8<W: ?Sized + Write>(&mut self, w: &mut W, v: u8) -> std::io::Result<()> {
        match self.collecting() {
            Some(s) => {
                s.push_str(&v.to_string());
                Ok(())
            }
            None => self.inner.write_u8(w, v),
        }
    }
    fn write_u16<W: ?Sized + Write>(&mut self, w: &mut W, v: u16) -> std::io::Result<()> {
        match self.collecting() {
            Some(s) => {
                s.push_str(&v.to_string());
                Ok(())
            }
            None => self.inner.write_u16(w, v),
        }
    }
    fn write_u32<W: ?Sized + Write>(&mut self, w: &mut W, v: u32) -> std::io::Result<()> {
        match self.collecting() {
            Some(s) => {
                s.push_str(&v.to_string());
                Ok(())
            }
            None => self.inner.write_u32(w, v),
        }
    }
    fn write_u64<W: ?Sized + Write>(&mut self, w: &mut W, v: u64) -> std::io::Result<()> {
        match self.collecting() {
            Some(s) => {
                s.push_str(&v.to_string());
                Ok(())
            }
            None => self.inner.write_u64(w, v),
        }
    }
    fn write_u128<W: ?Sized + Write>(&mut self, w: &mut W, v: u128) -> std::io::Result<()> {
        match self.collecting() {
            Some(s) => {
                s.push_str(&v.to_string());
                Ok(())
            }
            None => self.inner.write_u128(w, v),
        }
    }
    fn write_f32<W: ?Sized + Write>(&mut self, w: &mut W, v: f32) -> std::io::Result<()> {
        match self.collecting() {
            Some(s) => {
                s.push_str(&v.to_string());
                Ok(())
            }
            None => self.inner.write_f32(w, v),
        }
    }
    fn write_f64<W: ?Sized + Write>(&mut self, w: &mut W, v: f64) -> std::io::Result<()> {
        match self.collecting() {
            Some(s) => {
                s.push_str(&v.to_string());
                Ok(())
            }
            None => self.inner.write_f64(w, v),
        }
    }
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.inner.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.inner.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.inner.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quick JSON line is the masking writer's, byte for byte, on lines with and without
    /// card numbers: one in plain digits, one whose separators are tabs (written `\t`, so the
    /// line as escaped shows no run of digits: the masking writer has to read the string), one
    /// in full-width digits, and a line of Japanese and escapes holding none.
    #[test]
    fn the_quick_json_line_writes_what_the_masking_writer_writes() {
        let pan = crate::cards::with_check_digit("411111111111111");
        let tabbed = pan
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\t");
        let wide: String = pan
            .chars()
            .map(|c| char::from_u32(0xFF10 + c.to_digit(10).unwrap()).unwrap())
            .collect();
        let target = Path::new("affected.jsonl");
        for value in [
            serde_json::json!({"name": "顧客 89716", "note": "a \"quote\"\n", "n": 2}),
            serde_json::json!({"name": format!("memo {pan}"), "n": 1}),
            serde_json::json!({"name": tabbed, "list": ["x"]}),
            serde_json::json!({"name": wide}),
        ] {
            let mut quick = b"before\n".to_vec();
            json_line_to_vec(&mut quick, target, &value).unwrap();
            let mut slow = b"before\n".to_vec();
            json_line(&mut slow, target, &value).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&quick),
                String::from_utf8_lossy(&slow)
            );
            assert!(!crate::cards::detect::holds_card(&quick[7..]), "{value}");
        }
        let mut line = Vec::new();
        json_line_to_vec(&mut line, target, &serde_json::json!({"name": tabbed})).unwrap();
        let back: serde_json::Value = serde_json::from_slice(&line).unwrap();
        let name = back["name"].as_str().unwrap();
        assert!(!crate::cards::detect::holds_card(name.as_bytes()), "{name}");
    }

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

    #[cfg(unix)]
    #[test]
    fn a_linked_output_folder_is_refused_and_left_alone() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("theirs");
        fs::create_dir(&target).unwrap();
        fs::write(target.join(".a.csv.tmp-1"), "x").unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).unwrap();
        let link = d.path().join("out");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(prepare_dir(&link, true).is_err());
        assert!(target.join(".a.csv.tmp-1").exists());
        let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
    }

    /// The one-pass byte check gives what the definitions give: a cell is scrubbed exactly
    /// when it holds a character `is_unsafe_char` names (tab, CR and LF aside), and quoted
    /// exactly when it holds a comma, a quote, CR or LF, also after masking changed it.
    #[test]
    fn cells_are_scrubbed_and_quoted_as_defined() {
        let slow_scrub = |s: &str| -> String {
            let bad = |c: char| crate::text::is_unsafe_char(c) && !matches!(c, '\t' | '\r' | '\n');
            s.chars().map(|c| if bad(c) { ' ' } else { c }).collect()
        };
        let slow_row = |cells: &[String]| -> Vec<u8> {
            let mut out = Vec::new();
            for (i, c) in cells.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let cell = slow_scrub(&csv_safe(c));
                let cell = crate::cards::detect::mask(&cell).0;
                let b = cell.as_bytes();
                if b.iter().any(|&x| matches!(x, b',' | b'"' | b'\r' | b'\n')) {
                    out.push(b'"');
                    for &x in b {
                        if x == b'"' {
                            out.push(b'"');
                        }
                        out.push(x);
                    }
                    out.push(b'"');
                } else {
                    out.extend_from_slice(b);
                }
            }
            out.extend_from_slice(b"\r\n");
            out
        };
        let specials = "[a-z0-9 ,\"\r\n\t\u{0}\u{1b}\u{7f}\u{80}\u{9f}\u{a0}\u{61c}\u{200e}\u{200f}\u{202a}-\u{202e}\u{2066}-\u{2069}\u{2028}顧客県é=+@-]{0,24}";
        let card = "(4111[ ,.]?1111[ ,.]?1111[ ,.]?1111)?";
        let cell = format!("{specials}{card}{specials}");
        proptest::proptest!(|(cells in proptest::collection::vec(cell.as_str(), 1..5), any in "(?s).{0,30}")| {
            for c in cells.iter().chain([&any]) {
                proptest::prop_assert_eq!(scrub_cell(c.as_str().into()).into_owned(), slow_scrub(c));
            }
            let mut rows = CsvRows::default();
            rows.row(cells.iter());
            proptest::prop_assert_eq!(rows.0, slow_row(&cells));
        });
    }

    /// A value without card numbers comes out as `serde_json` writes it, escapes, non-ASCII
    /// text, number and boolean keys included, compact and pretty; a card number in a value or
    /// in a key comes out masked.
    #[test]
    fn json_is_serde_json_s_unless_a_card_is_masked() {
        use std::collections::BTreeMap;
        let ours = |v: &serde_json::Value, pretty| {
            let mut b = Vec::new();
            to_json_writer(&mut b, v, pretty).unwrap();
            String::from_utf8(b).unwrap()
        };
        let theirs = |v: &serde_json::Value, pretty: bool| {
            if pretty {
                serde_json::to_string_pretty(v).unwrap()
            } else {
                serde_json::to_string(v).unwrap()
            }
        };
        proptest::proptest!(|(texts in proptest::collection::vec("(?s).{0,40}", 1..6))| {
            let v = serde_json::json!({ "texts": texts, "first": texts[0] });
            proptest::prop_assume!(crate::cards::detect::find(&v.to_string()).is_empty());
            for pretty in [false, true] {
                proptest::prop_assert_eq!(ours(&v, pretty), theirs(&v, pretty));
            }
        });
        let keyed: BTreeMap<u32, BTreeMap<bool, &str>> =
            BTreeMap::from([(7, BTreeMap::from([(true, "a\"\n\u{1}é")]))]);
        let mut b = Vec::new();
        to_json_writer(&mut b, &keyed, false).unwrap();
        assert_eq!(
            String::from_utf8(b).unwrap(),
            serde_json::to_string(&keyed).unwrap()
        );
        let card = "4111 1111 1111 1111";
        let v = serde_json::json!({ card: format!("a\"{card}\n") });
        for pretty in [false, true] {
            let text = ours(&v, pretty);
            assert!(!text.contains(card) && text.contains("1111"), "{text}");
            assert!(text.contains("a\\\"") && text.contains("\\n"), "{text}");
        }
    }
}
