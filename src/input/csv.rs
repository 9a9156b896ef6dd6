//! Reading one CSV export, whatever its encoding, fast: the machinery that order exports and
//! payment-gateway exports share.
//!
//! - Encoding: as asked, or `auto`: a BOM names it; otherwise the evidence of the whole file
//!   decides ([`decode::decide`]). The hashing thread reads the file anyway, so it also runs
//!   the UTF-8 decoder over it and counts the lines with invalid bytes (and, only when most
//!   non-ASCII lines are not UTF-8, makes a second pass with the Shift_JIS decoder). Meanwhile the file is read as UTF-8 on speculation; only when a record is not
//!   UTF-8 does the reading wait for that verdict: a few damaged lines in a UTF-8 file are
//!   read with U+FFFD and warned about by line; a CP932 file makes the visitor forget what it
//!   saw ([`Visitor::restart`]) and the file is read again as Shift_JIS. Japanese exports
//!   show it at the header, so the second reading costs little. Memory stays flat.
//! - Records are split here ([`Splitter`], on `csv_core`), which also bounds quoted fields: a
//!   quote that runs past [`MAX_QUOTED_LINES`] lines or [`MAX_QUOTED_BYTES`] bytes, to the end of
//!   the file, into a record of the wrong width over several lines, or over lines that are
//!   rows by themselves ([`swallowed_row`]: a second stray quote closed it), is taken for an
//!   unterminated quote: its first line is rejected ([`Visitor::rejected`]) and reading goes on
//!   at the next line, so a stray `"` cannot swallow the rows after it. Two lines that are
//!   each a row may be an address too: kept as one record, and named ([`Opened::merged_rows`]).
//! - Two threads: one reads and splits records (I/O, CSV parsing, UTF-8 checks, line numbers),
//!   the caller's thread visits them. Batches of records are handed back for reuse.
//! - Line numbers are physical lines (`\n`, `\r\n` or a lone `\r`); a record is named by the
//!   line its data starts on, blank lines before it skipped.

use crate::error::{Error, Result};
use crate::input::decode::{self, Damage, Evidence, Verdict};
use encoding_rs::Encoding;
use std::io::Read;
use std::path::Path;
use std::sync::{mpsc, Mutex, OnceLock};

/// A quoted field may hold at most this many line ends before it is taken for an
/// unterminated quote.
pub const MAX_QUOTED_LINES: usize = 100;
/// A record that runs over several lines may be at most this long (bytes).
pub const MAX_QUOTED_BYTES: usize = 64 * 1024;

/// What a reading of one file sees, in order: its header, then its records.
pub trait Visitor {
    /// The header row (trimmed, BOM removed).
    fn header(&mut self, headers: Vec<String>) -> Result<()>;
    /// One record and the line it starts on.
    fn record(&mut self, rec: &csv::ByteRecord, line: u64) -> Result<()>;
    /// A line that opened a quote that never closed (its fields as they stand on that line
    /// alone): to be rejected and counted with `reason`.
    fn rejected(&mut self, rec: &csv::ByteRecord, line: u64, reason: &str) -> Result<()>;
    /// The file turned out not to be UTF-8: forget everything seen so far; the file is read
    /// again from its header.
    fn restart(&mut self) -> Result<()>;
    /// A block of records in file order, each with its line and, for a line cut off a runaway
    /// quote, why. One at a time through [`Visitor::record`] and [`Visitor::rejected`] unless
    /// the visitor works on blocks (order and payment files are classified a block at a time,
    /// prepared on every core: [`Ahead`]).
    fn records(&mut self, recs: Records<'_>, lines: &[u64], cuts: &[Option<Cut>]) -> Result<()> {
        for ((rec, &line), cut) in recs.as_slice().iter().zip(lines).zip(cuts) {
            match cut {
                None => self.record(rec, line)?,
                Some(c) => self.rejected(rec, line, &c.reason())?,
            }
        }
        Ok(())
    }
}

/// A block of records kept past the reader's call (so that a visitor can work on it while the
/// reader's next block is prepared), with what was prepared for each.
pub(crate) struct Block<P> {
    pub recs: Vec<csv::ByteRecord>,
    pub lines: Vec<u64>,
    pub cuts: Vec<Option<Cut>>,
    pub prepared: Vec<Option<P>>,
}

impl<P> Default for Block<P> {
    fn default() -> Block<P> {
        Block {
            recs: Vec::new(),
            lines: Vec::new(),
            cuts: Vec::new(),
            prepared: Vec::new(),
        }
    }
}

impl<P> Block<P> {
    /// Takes a copy of the reader's records (reusing this block's room).
    pub fn fill(&mut self, recs: &[csv::ByteRecord], lines: &[u64], cuts: &[Option<Cut>]) {
        self.recs.resize_with(recs.len(), csv::ByteRecord::new);
        for (mine, rec) in self.recs.iter_mut().zip(recs) {
            mine.clone_from(rec);
        }
        self.set_lines(lines, cuts);
    }

    /// Takes the first `len` of the reader's records by swapping lists with it: the reader
    /// gets this block's old list back to fill ([`Records::Owned`]).
    pub fn take(
        &mut self,
        recs: &mut Vec<csv::ByteRecord>,
        len: usize,
        lines: &[u64],
        cuts: &[Option<Cut>],
    ) {
        std::mem::swap(&mut self.recs, recs);
        self.recs.truncate(len);
        self.set_lines(lines, cuts);
    }

    /// The records in file order, each with its line, why it was cut off a runaway quote (if
    /// it was) and what was prepared for it; the prepared list is left empty, so that a block
    /// classified twice classifies nothing the second time.
    pub fn drain(
        &mut self,
    ) -> impl Iterator<Item = (&csv::ByteRecord, u64, Option<&Cut>, Option<P>)> + '_ {
        self.recs
            .iter()
            .zip(&self.lines)
            .zip(&self.cuts)
            .zip(self.prepared.drain(..))
            .map(|(((rec, &line), cut), p)| (rec, line, cut.as_ref(), p))
    }

    fn set_lines(&mut self, lines: &[u64], cuts: &[Option<Cut>]) {
        self.lines.clear();
        self.lines.extend_from_slice(lines);
        self.cuts.clear();
        self.cuts.extend_from_slice(cuts);
    }
}

/// Blocks of records prepared on the thread pool one ahead of the block classified: the
/// reader's block is prepared while the one before it is classified, in file order, then waits
/// its turn as the pending block. Order and payment files are read this way: what a record
/// alone decides is worked out on every core, what depends on the records before it on one.
pub(crate) struct Ahead<P> {
    pending: Block<P>,
    /// Room for what the next block's preparing yields (reused).
    spare: Vec<Option<P>>,
}

impl<P> Default for Ahead<P> {
    fn default() -> Ahead<P> {
        Ahead {
            pending: Block::default(),
            spare: Vec::new(),
        }
    }
}

/// Prepares a block's records into a list of the same length (`None` for a record left to be
/// rejected as it is).
pub(crate) trait Prepare<P>:
    FnOnce(&[csv::ByteRecord], &[u64], &[Option<Cut>], &mut Vec<Option<P>>) + Send
{
}

impl<P, F> Prepare<P> for F where
    F: FnOnce(&[csv::ByteRecord], &[u64], &[Option<Cut>], &mut Vec<Option<P>>) + Send
{
}

/// A block of records as a visitor gets them ([`Visitor::records`]): lent, or, from the
/// reader, the first `len` of a list the visitor may keep past the call by swapping it with a
/// list of its own (of any length: the reader fills whatever it gets back). A visitor that
/// works on a block after the next one arrives takes it this way rather than copying it.
pub enum Records<'a> {
    Lent(&'a [csv::ByteRecord]),
    Owned(&'a mut Vec<csv::ByteRecord>, usize),
}

impl Records<'_> {
    pub fn as_slice(&self) -> &[csv::ByteRecord] {
        match self {
            Records::Lent(r) => r,
            Records::Owned(r, len) => &r[..*len],
        }
    }
}

impl<P: Send> Ahead<P> {
    /// The reader's records prepared with `prepare` while the pending block is classified
    /// with `classify`; they are then the pending block: taken by swapping lists with the
    /// reader when they are [`Records::Owned`] (copying them was 4 % of the orders' reading),
    /// else copied.
    pub fn step(
        &mut self,
        recs: Records<'_>,
        lines: &[u64],
        cuts: &[Option<Cut>],
        prepare: impl Prepare<P>,
        classify: impl FnOnce(&mut Block<P>) -> Result<()>,
    ) -> Result<()> {
        match recs {
            Records::Lent(recs) => {
                self.prepare_and_classify(recs, lines, cuts, prepare, classify)?;
                self.pending.fill(recs, lines, cuts);
            }
            Records::Owned(recs, len) => {
                self.prepare_and_classify(&recs[..len], lines, cuts, prepare, classify)?;
                self.pending.take(recs, len, lines, cuts);
            }
        }
        Ok(())
    }

    fn prepare_and_classify(
        &mut self,
        recs: &[csv::ByteRecord],
        lines: &[u64],
        cuts: &[Option<Cut>],
        prepare: impl Prepare<P>,
        classify: impl FnOnce(&mut Block<P>) -> Result<()>,
    ) -> Result<()> {
        let mut next = std::mem::take(&mut self.spare);
        let mut block = std::mem::take(&mut self.pending);
        let classified = rayon::in_place_scope(|scope| {
            scope.spawn(|_| prepare(recs, lines, cuts, &mut next));
            classify(&mut block)
        });
        // The block's room is reused for the one just prepared.
        self.spare = std::mem::replace(&mut block.prepared, next);
        self.pending = block;
        classified
    }

    /// The pending block, to be classified at the end of the file or before a record that
    /// comes alone; none is left.
    pub fn take_pending(&mut self) -> Block<P> {
        std::mem::take(&mut self.pending)
    }
}

/// What was learnt about the file.
#[derive(Debug, Clone)]
pub struct Opened {
    /// `UTF-8`, `UTF-8 (BOM)`, `Shift_JIS`…
    pub encoding: String,
    /// Whether the encoding was detected (`auto`) rather than given.
    pub detected: bool,
    /// Why this encoding: given, a BOM, or what the whole file showed.
    pub reason: String,
    /// Lines holding bytes that are not valid in that encoding (read with U+FFFD).
    pub damage: Damage,
    /// `sha256-<base64>` (see [`crate::digest`]).
    pub sha256: String,
    pub bytes: u64,
    /// The file had no header row at all.
    pub empty: bool,
    /// Lines where a quoted field runs over two lines each of which is a row of the file's
    /// width by itself: two stray quotes may have merged two rows ([`two_rows`]). Kept as one
    /// record each (an address over two lines can look the same) and warned about.
    pub merged_rows: Vec<u64>,
}

impl Opened {
    /// The warning a file with damaged lines gets.
    pub fn damage_warning(&self) -> Option<String> {
        (self.damage.lines > 0).then(|| {
            let name = self.encoding.trim_end_matches(" (BOM)");
            format!(
                "{} line(s) hold bytes that are not valid {name} ({}); they were read with U+FFFD in their place: check those lines, or --encoding",
                self.damage.lines,
                self.damage.describe_lines()
            )
        })
    }
}

impl Opened {
    /// Every warning of the reading itself: damaged lines, records that may be two rows.
    pub fn warnings(&self) -> impl Iterator<Item = String> {
        self.damage_warning()
            .into_iter()
            .chain(self.merged_warning())
    }

    /// The warning a file with records that may be two rows merged gets.
    pub fn merged_warning(&self) -> Option<String> {
        let (first, n) = (self.merged_rows.first()?, self.merged_rows.len());
        let lines = if n == 1 {
            format!("line {first}")
        } else {
            let shown: Vec<String> = self
                .merged_rows
                .iter()
                .take(10)
                .map(u64::to_string)
                .collect();
            let more = if n > 10 {
                format!(" and {} more", n - 10)
            } else {
                String::new()
            };
            format!("{n} records (lines {}{more})", shown.join(", "))
        };
        Some(format!(
            "{lines}: a quoted field runs over two lines, each of which is a row of the file's width by itself: two stray quotes may have merged two rows into one record. Kept as one record (an address over two lines can look the same): check those lines and fix the quotes in the export if they are two rows"
        ))
    }
}

/// The whole-file evidence, handed from the hashing thread to whoever needs it first.
struct Pending {
    rx: Mutex<mpsc::Receiver<Evidence>>,
    got: OnceLock<Option<Evidence>>,
}

impl Pending {
    /// Waits for the hashing thread's pass; `None` when it failed (its error is reported).
    fn wait(&self) -> Option<&Evidence> {
        self.got
            .get_or_init(|| self.rx.lock().ok().and_then(|rx| rx.recv().ok()))
            .as_ref()
    }

    /// Whether the file, read as UTF-8 on speculation, is to be read again as Shift_JIS.
    fn not_utf8(&self) -> std::result::Result<bool, ()> {
        match self.wait() {
            Some(ev) => Ok(decode::decide(ev).encoding != encoding_rs::UTF_8),
            None => Err(()),
        }
    }
}

/// Reads one file through `visitor`. `shown` names the file in messages.
pub fn read(
    path: &Path,
    shown: &str,
    encoding_label: Option<&str>,
    progress: Option<(&indicatif::ProgressBar, u64)>,
    visitor: &mut dyn Visitor,
) -> Result<Opened> {
    let requested = decode::requested_encoding(encoding_label)?;
    let bom = decode::sniff_bom(path)?;
    let fixed = requested.or(bom);
    let (ev_tx, ev_rx) = mpsc::channel();
    let pending = Pending {
        rx: Mutex::new(ev_rx),
        got: OnceLock::new(),
    };
    std::thread::scope(|scope| {
        let hasher = scope.spawn(move || {
            let r = match fixed {
                Some(e) => decode::digest_and_scan(path, &[e]),
                None => decode::digest_and_detect(path),
            };
            if let Ok((_, _, ev)) = &r {
                let _ = ev_tx.send(ev.clone());
            }
            r
        });
        let (mut encoding, detected, mut speculative) = match (requested, bom) {
            (Some(e), _) => (e, false, false),
            (None, Some(e)) => (e, true, false),
            (None, None) => (encoding_rs::UTF_8, true, true),
        };
        let read_once = |encoding, speculative: bool, visitor: &mut dyn Visitor| {
            read_as(
                path,
                shown,
                encoding,
                speculative.then_some(&pending),
                progress,
                visitor,
            )
        };
        let mut outcome = read_once(encoding, speculative, visitor);
        loop {
            let not_utf8 = match &outcome {
                Err(Attempt::NotUtf8) => true,
                // Read to the end as UTF-8: the whole file's verdict has the last word.
                Ok(_) if speculative => pending.not_utf8().unwrap_or(false),
                _ => false,
            };
            if !not_utf8 {
                break;
            }
            tracing::info!("{shown}: not UTF-8: reading it again as Shift_JIS");
            visitor.restart()?;
            encoding = encoding_rs::SHIFT_JIS;
            speculative = false;
            outcome = read_once(encoding, speculative, visitor);
        }
        let (sha256, bytes, evidence) = hasher
            .join()
            .map_err(|_| input_err(path, "the hashing thread failed".into()))??;
        let (empty, merged_rows) = match outcome {
            Ok(read) => read,
            Err(Attempt::Failed(e)) => return Err(e),
            Err(Attempt::NotUtf8) => unreachable!("read again above"),
        };
        let verdict = match (requested, bom) {
            (Some(e), _) => given(e, "given (--encoding or the config)", &evidence),
            (None, Some(e)) => given(e, "byte-order mark", &evidence),
            (None, None) => decode::decide(&evidence),
        };
        debug_assert_eq!(verdict.encoding, encoding);
        Ok(Opened {
            encoding: decode::describe(encoding, bom.is_some()),
            detected,
            reason: verdict.reason,
            damage: verdict.damage,
            sha256,
            bytes,
            empty,
            merged_rows,
        })
    })
}

/// The verdict for an encoding that was not chosen by the evidence.
fn given(e: &'static Encoding, why: &str, ev: &Evidence) -> Verdict {
    Verdict {
        encoding: e,
        reason: why.to_string(),
        damage: ev.check(e).map(|c| c.damage.clone()).unwrap_or_default(),
    }
}

/// What a reading can end in besides success.
enum Attempt {
    /// Read as UTF-8 on speculation, and it is not.
    NotUtf8,
    Failed(Error),
}

impl From<Error> for Attempt {
    fn from(e: Error) -> Attempt {
        Attempt::Failed(e)
    }
}

/// Records read ahead by the reader thread, with their line numbers and, for lines cut off
/// a runaway quote, why.
struct Batch {
    records: Vec<csv::ByteRecord>,
    lines: Vec<u64>,
    cuts: Vec<Option<Cut>>,
    len: usize,
    /// Lines of the batch's records that may be two rows merged ([`Splitter::merged`]).
    merged: Vec<u64>,
}

const BATCH: usize = 2048;

/// One reading in one encoding (`speculative`: UTF-8 until the evidence says otherwise).
/// Returns whether the file was empty (no header), and the lines of the records that may be
/// two rows merged ([`Splitter::merged`]).
fn read_as(
    path: &Path,
    shown: &str,
    encoding: &'static Encoding,
    speculative: Option<&Pending>,
    progress: Option<(&indicatif::ProgressBar, u64)>,
    visitor: &mut dyn Visitor,
) -> Result<(bool, Vec<u64>), Attempt> {
    let mut split = Splitter::new(decode::open_utf8(path, encoding)?);
    let mut rec = csv::ByteRecord::new();
    let read_err = |e: std::io::Error| input_err(path, format!("{shown}: read failed: {e}"));
    let (line, cut) = match split.next(&mut rec).map_err(read_err)? {
        Next::End => return Ok((true, Vec::new())),
        Next::Record(line) => (line, None),
        Next::Cut(line, cut) => (line, Some(cut)),
    };
    if let Some(cut) = cut {
        return Err(input_err(
            path,
            format!(
                "{shown}:{line}: the header row cannot be read: {}; fix the quote in the export",
                cut.what()
            ),
        )
        .into());
    }
    let mut speculative = speculative;
    if let Some(p) = speculative {
        if std::str::from_utf8(rec.as_slice()).is_err() {
            match p.not_utf8() {
                Ok(true) => return Err(Attempt::NotUtf8),
                Ok(false) => speculative = None,
                Err(()) => return Err(input_err(path, "the encoding check failed".into()).into()),
            }
        }
    }
    let headers: Vec<String> = rec
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let s = String::from_utf8_lossy(f);
            let s = if i == 0 {
                s.trim_start_matches('\u{feff}')
            } else {
                &s
            };
            s.trim().to_string()
        })
        .collect();
    split.width = Some(headers.len());
    visitor.header(headers)?;

    let progress = progress.map(|(p, base)| (p.clone(), base));
    let (tx, rx) = mpsc::sync_channel::<Result<Batch, Attempt>>(4);
    let (back_tx, back_rx) = mpsc::channel::<Batch>();
    std::thread::scope(|scope| -> Result<(bool, Vec<u64>), Attempt> {
        scope.spawn(move || read_batches(split, speculative, path, shown, progress, tx, back_rx));
        let mut merged = Vec::new();
        for msg in rx {
            let mut batch = msg?;
            let len = batch.len;
            visitor.records(
                Records::Owned(&mut batch.records, len),
                &batch.lines,
                &batch.cuts,
            )?;
            merged.append(&mut batch.merged);
            let _ = back_tx.send(batch);
        }
        Ok((false, merged))
    })
}

/// The reader thread: fills batches until the file ends, the visitor stops listening, or
/// (speculative UTF-8) the whole file's evidence says it is not UTF-8.
fn read_batches<R: Read>(
    mut split: Splitter<R>,
    mut speculative: Option<&Pending>,
    path: &Path,
    shown: &str,
    progress: Option<(indicatif::ProgressBar, u64)>,
    tx: mpsc::SyncSender<Result<Batch, Attempt>>,
    back: mpsc::Receiver<Batch>,
) {
    loop {
        let mut batch = back.try_recv().unwrap_or_else(|_| Batch {
            records: (0..BATCH).map(|_| csv::ByteRecord::new()).collect(),
            lines: Vec::with_capacity(BATCH),
            cuts: Vec::with_capacity(BATCH),
            len: 0,
            merged: Vec::new(),
        });
        batch.len = 0;
        batch.lines.clear();
        batch.cuts.clear();
        batch.merged.clear();
        // The visitor may have handed back a list of another length (see `Records::Owned`).
        if batch.records.len() < BATCH {
            batch.records.resize_with(BATCH, csv::ByteRecord::new);
        }
        let mut done = false;
        while batch.len < BATCH {
            let rec = &mut batch.records[batch.len];
            let (line, cut) = match split.next(rec) {
                Ok(Next::Record(line)) => (line, None),
                Ok(Next::Cut(line, cut)) => (line, Some(cut)),
                Ok(Next::End) => {
                    done = true;
                    break;
                }
                Err(e) => {
                    let msg = format!("{shown}: read failed near line {}: {e}", split.line);
                    let _ = tx.send(Err(input_err(path, msg).into()));
                    return;
                }
            };
            if let Some(p) = speculative {
                if std::str::from_utf8(rec.as_slice()).is_err() {
                    match p.not_utf8() {
                        Ok(true) => {
                            let _ = tx.send(Err(Attempt::NotUtf8));
                            return;
                        }
                        Ok(false) => speculative = None,
                        Err(()) => {
                            let msg = "the encoding check failed".to_string();
                            let _ = tx.send(Err(input_err(path, msg).into()));
                            return;
                        }
                    }
                }
            }
            batch.lines.push(line);
            batch.cuts.push(cut);
            batch.len += 1;
        }
        if let Some((p, base)) = &progress {
            p.set_position(base + split.offset());
        }
        batch.merged.append(&mut split.merged);
        if batch.len > 0 && tx.send(Ok(batch)).is_err() {
            return;
        }
        if done {
            return;
        }
    }
}

/// Why a line was cut off as the start of an unterminated quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The quoted field ran past [`MAX_QUOTED_LINES`] lines.
    Lines,
    /// The record ran past [`MAX_QUOTED_BYTES`] over several lines.
    Bytes,
    /// The quote was still open at the end of the file.
    Eof,
    /// The quote closed on a later line, in a record of the wrong width.
    Width {
        lines: usize,
        found: usize,
        expected: usize,
    },
    /// The quote closed on a later line in a record of the right width, but two lines between
    /// (the first of them the `nth` of the record, from 1) are whole records by themselves: two
    /// stray quotes, the second closing what the first opened, the rows between swallowed.
    Swallowed {
        lines: usize,
        nth: usize,
        expected: usize,
    },
}

impl Cut {
    fn what(&self) -> String {
        match self {
            Cut::Lines => format!(
                "a quoted field opened on this line runs past {MAX_QUOTED_LINES} lines without closing"
            ),
            Cut::Bytes => format!(
                "a quoted field opened on this line runs past {} KiB without closing",
                MAX_QUOTED_BYTES / 1024
            ),
            Cut::Eof => {
                "a quoted field opened on this line never closes (it runs to the end of the file)"
                    .to_string()
            }
            Cut::Width {
                lines,
                found,
                expected,
            } => format!(
                "a quoted field opened on this line runs over {lines} lines into a record of {found} fields, not {expected}"
            ),
            Cut::Swallowed {
                lines,
                nth,
                expected,
            } => format!(
                "a quoted field opened on this line runs over {lines} lines, and line {nth} of them is a record of {expected} fields by itself (a second stray quote closed it?)"
            ),
        }
    }

    /// The reason written to the rejects file.
    pub fn reason(&self) -> String {
        format!(
            "{} (an unterminated quote?): this line alone is rejected and reading goes on at the next line",
            self.what()
        )
    }
}

/// What [`Splitter::next`] found.
enum Next {
    Record(u64),
    /// A line cut off a runaway quote (the record holds its fields, that line alone).
    Cut(u64, Cut),
    End,
}

/// Splits a stream of UTF-8 bytes into CSV records (RFC 4180 quoting, any line end), naming
/// the line each starts on and cutting runaway quotes (see [`Cut`]). The bytes of the record
/// being read are kept until it ends, so that a cut can go back to the line after its start;
/// the bounds keep that small.
struct Splitter<R> {
    inner: R,
    core: csv_core::Reader,
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Where the record being read starts in `buf` (blank lines before it included).
    start: usize,
    /// The next byte to parse.
    pos: usize,
    /// Bytes held in `buf`.
    len: usize,
    eof: bool,
    out: Vec<u8>,
    ends: Vec<usize>,
    /// Lines are counted up to here (in `buf`)…
    counted: usize,
    /// …and this is the line that `counted` is on.
    line: u64,
    /// The header's width, once known (for [`Cut::Width`]).
    width: Option<usize>,
    /// Lines of the records read so far that may be two rows merged ([`two_rows`]), until the
    /// reader thread hands them on with its batch.
    merged: Vec<u64>,
}

fn csv_parser() -> csv_core::Reader {
    csv_core::ReaderBuilder::new().build()
}

impl<R: Read> Splitter<R> {
    fn new(inner: R) -> Splitter<R> {
        Splitter {
            inner,
            core: csv_parser(),
            buf: vec![0; 1 << 20],
            base: 0,
            start: 0,
            pos: 0,
            len: 0,
            eof: false,
            out: vec![0; 4096],
            ends: vec![0; 64],
            counted: 0,
            line: 1,
            width: None,
            merged: Vec::new(),
        }
    }

    /// Stream offset of the next byte to parse.
    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn next(&mut self, rec: &mut csv::ByteRecord) -> std::io::Result<Next> {
        use csv_core::ReadRecordResult as R;
        rec.clear();
        self.start = self.pos;
        let (mut outlen, mut endlen) = (0, 0);
        loop {
            if self.pos == self.len && !self.eof {
                if let Some(cut) = self.over_bounds(self.pos) {
                    return Ok(self.cut(rec, cut));
                }
                self.fill()?;
                continue;
            }
            if self.pos == self.len && self.pending() {
                // The end of the file with a record begun: a line end closes it unless a
                // quote is open.
                self.room(outlen, endlen);
                let (res, _, nout, nend) =
                    self.core
                        .read_record(b"\n", &mut self.out[outlen..], &mut self.ends[endlen..]);
                if res != R::Record {
                    return Ok(self.cut(rec, Cut::Eof));
                }
                return Ok(self.finish(rec, outlen + nout, endlen + nend));
            }
            let (res, nin, nout, nend) = self.core.read_record(
                &self.buf[self.pos..self.len],
                &mut self.out[outlen..],
                &mut self.ends[endlen..],
            );
            self.pos += nin;
            outlen += nout;
            endlen += nend;
            match res {
                R::InputEmpty => {}
                R::OutputFull => {
                    let n = self.out.len() * 2;
                    self.out.resize(n, 0);
                }
                R::OutputEndsFull => {
                    let n = self.ends.len() * 2;
                    self.ends.resize(n, 0);
                }
                R::Record => return Ok(self.finish(rec, outlen, endlen)),
                R::End => return Ok(Next::End),
            }
        }
    }

    /// A record has ended at `pos`: checked against the bounds, then handed out.
    fn finish(&mut self, rec: &mut csv::ByteRecord, outlen: usize, endlen: usize) -> Next {
        let data = self.data_start();
        // The record's bytes without its terminator: a line end inside is a quoted one.
        let end = self.pos.saturating_sub(1).max(data);
        let inner = &self.buf[data..end];
        if memchr::memchr2(b'\n', b'\r', inner).is_some() {
            let cut = self.over_bounds(end).or_else(|| {
                let expected = self.width?;
                let lines = line_ends(inner) + 1;
                if endlen != expected {
                    return Some(Cut::Width {
                        lines,
                        found: endlen,
                        expected,
                    });
                }
                let nth = swallowed_row(inner, expected)?;
                Some(Cut::Swallowed {
                    lines,
                    nth,
                    expected,
                })
            });
            if let Some(cut) = cut {
                return self.cut(rec, cut);
            }
            if self.width.is_some_and(|w| two_rows(inner, w)) {
                let line = self.line_at(data);
                self.merged.push(line);
            }
        }
        fill_record(rec, &self.out[..outlen], &self.ends[..endlen]);
        Next::Record(self.line_at(data))
    }

    /// Whether the record read so far (up to `end`, its terminator left out) runs over more
    /// lines or bytes than a quoted field may.
    fn over_bounds(&self, end: usize) -> Option<Cut> {
        let data = self.data_start();
        let span = &self.buf[data..end.max(data)];
        memchr::memchr2(b'\n', b'\r', span)?;
        if line_ends(span) > MAX_QUOTED_LINES {
            Some(Cut::Lines)
        } else if span.len() > MAX_QUOTED_BYTES {
            Some(Cut::Bytes)
        } else {
            None
        }
    }

    /// Rejects the first line of the record being read and goes on at the next line.
    fn cut(&mut self, rec: &mut csv::ByteRecord, cut: Cut) -> Next {
        let data = self.data_start();
        let line = self.line_at(data);
        let end =
            memchr::memchr2(b'\n', b'\r', &self.buf[data..self.len]).map_or(self.len, |i| data + i);
        parse_alone(&self.buf[data..end], rec);
        let mut resume = end;
        if resume < self.len {
            resume += 1;
            if self.buf[end] == b'\r' && self.buf.get(resume) == Some(&b'\n') && resume < self.len {
                resume += 1;
            }
        }
        self.pos = resume;
        self.core = csv_parser();
        Next::Cut(line, cut)
    }

    /// Whether bytes other than line ends were read since the record began.
    fn pending(&self) -> bool {
        self.data_start() < self.pos
    }

    /// Where the record's data begins: after the line ends the parser skipped.
    fn data_start(&self) -> usize {
        self.buf[self.start..self.len]
            .iter()
            .position(|&b| b != b'\n' && b != b'\r')
            .map_or(self.len, |i| self.start + i)
    }

    /// The line that `at` (at or after everything asked before) is on.
    fn line_at(&mut self, at: usize) -> u64 {
        let from = self.counted;
        if at <= from {
            return self.line;
        }
        let mut upto = at;
        for i in memchr::memchr2_iter(b'\n', b'\r', &self.buf[from..at]) {
            let i = from + i;
            // A `\r` ends a line unless a `\n` follows (then the `\n` does); a `\r` at the end
            // of what is read so far waits for the next byte.
            if self.buf[i] == b'\r' {
                match self.buf[..self.len].get(i + 1) {
                    Some(b'\n') => continue,
                    None if !self.eof => {
                        upto = i;
                        break;
                    }
                    _ => {}
                }
            }
            self.line += 1;
        }
        self.counted = upto;
        self.line
    }

    /// Reads more input, keeping the record being read.
    fn fill(&mut self) -> std::io::Result<()> {
        self.line_at(self.start);
        let keep = self.start.min(self.counted);
        if keep > 0 {
            self.buf.copy_within(keep..self.len, 0);
            self.base += keep as u64;
            self.len -= keep;
            self.pos -= keep;
            self.counted -= keep;
            self.start -= keep;
        }
        if self.len == self.buf.len() {
            let n = self.buf.len() * 2;
            self.buf.resize(n, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.len..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.len += n;
                    return Ok(());
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Room for one more byte and one more field end.
    fn room(&mut self, outlen: usize, endlen: usize) {
        if outlen >= self.out.len() {
            self.out.resize(outlen * 2 + 1, 0);
        }
        if endlen >= self.ends.len() {
            self.ends.resize(endlen * 2 + 1, 0);
        }
    }
}

/// Of a record read over several lines (`inner`, its terminator left out), the first line
/// strictly between its first and its last (counted from 1) that is a row of the file's width
/// (3 fields or more) by itself ([`fields_alone`]), when the record holds rows: two such lines
/// between, or one between and its first and last lines each such a row too (two stray quotes
/// a row apart, each in a row of its own).
///
/// One such line may be an address or a note that happens to hold as many commas as the file
/// has columns less one (`Marunouchi Bldg 5F, 1-2-3 Marunouchi, Chiyoda-ku, …` in a file of 6
/// columns); two are rows. The first line of a quoted field in the last column is a row of the
/// file's width by itself whenever its text holds no comma, and so is the last line of one in
/// the first column: the first and last lines count only together, and only beside a line
/// between. Files of fewer than 3 columns are not judged. Rare and bounded: only a record that
/// spans lines is asked, and it spans at most [`MAX_QUOTED_LINES`].
fn swallowed_row(inner: &[u8], width: usize) -> Option<usize> {
    if width < 3 {
        return None;
    }
    let mut rec = csv::ByteRecord::new();
    // The line after the first line end, up to the last line end (the last line closed it).
    let first = memchr::memchr2(b'\n', b'\r', inner)?;
    let last = memchr::memrchr2(b'\n', b'\r', inner)?;
    let mut at = first;
    let mut found: Option<usize> = None;
    while at < last {
        let from = at + 1;
        let to = memchr::memchr2(b'\n', b'\r', &inner[from..]).map_or(inner.len(), |i| from + i);
        let line = &inner[from..to];
        if !line.is_empty() && fields_alone(line, &mut rec) == width {
            match found {
                Some(nth) => return Some(nth),
                None => found = Some(line_ends(&inner[..from]) + 1),
            }
        }
        at = to;
    }
    let nth = found?;
    ends_are_rows(inner, first, last, width, &mut rec).then_some(nth)
}

/// Whether a record read over exactly two lines (`inner`, its terminator left out) may be two
/// rows that two stray quotes merged: each line is a row of the file's width (3 fields or more)
/// by itself ([`fields_alone`]). Not cut, as [`swallowed_row`]'s rows are: an address over two
/// lines in the first or last column takes a single comma-count coincidence to look the same
/// (see there). The reader warns about it instead ([`Opened::merged_rows`]).
fn two_rows(inner: &[u8], width: usize) -> bool {
    if width < 3 {
        return false;
    }
    let (Some(first), Some(last)) = (
        memchr::memchr2(b'\n', b'\r', inner),
        memchr::memrchr2(b'\n', b'\r', inner),
    ) else {
        return false;
    };
    // `\r\n` is one line end.
    let one_end =
        last == first || (last == first + 1 && inner[first] == b'\r' && inner[last] == b'\n');
    one_end && ends_are_rows(inner, first, last, width, &mut csv::ByteRecord::new())
}

/// Whether the first line of a record over lines (up to its first line end, at `first`) and its
/// last line (after its last line end, at `last`) are each a row of `width` fields by themselves
/// ([`fields_alone`]).
fn ends_are_rows(
    inner: &[u8],
    first: usize,
    last: usize,
    width: usize,
    rec: &mut csv::ByteRecord,
) -> bool {
    fields_alone(&inner[..first], rec) == width && fields_alone(&inner[last + 1..], rec) == width
}

/// The fields of one line read alone as a row of its own, a quote it leaves open taken for a
/// character: the commas after it count (`1,"Sato,a` is three fields, as the row it was meant
/// to be).
fn fields_alone(line: &[u8], rec: &mut csv::ByteRecord) -> usize {
    parse_alone(line, rec);
    let open = memchr::memchr_iter(b'"', line).count() % 2 == 1;
    let after_open = match rec.iter().next_back() {
        Some(f) if open => memchr::memchr_iter(b',', f).count(),
        _ => 0,
    };
    rec.len() + after_open
}

/// Line ends (`\n`, `\r\n`, lone `\r`) in a run of bytes.
fn line_ends(b: &[u8]) -> usize {
    memchr::memchr2_iter(b'\n', b'\r', b)
        .filter(|&i| b[i] == b'\r' || i == 0 || b[i - 1] != b'\r')
        .count()
}

/// The record of the parsed fields `out` ending at `ends`. A byte-order mark that starts a
/// record after the first line (two exports joined into one file, the second with its BOM) is
/// left out: it is no part of the value, and an order id that kept it would differ from the
/// same id written without it, invisibly.
fn fill_record(rec: &mut csv::ByteRecord, out: &[u8], ends: &[usize]) {
    let bom = "\u{FEFF}".as_bytes();
    let mut from = if ends.first().is_some_and(|&e| out[..e].starts_with(bom)) {
        3
    } else {
        0
    };
    for &e in ends {
        rec.push_field(&out[from..e]);
        from = e;
    }
}

/// One line parsed as a record on its own (a quote left open runs to its end).
fn parse_alone(line: &[u8], rec: &mut csv::ByteRecord) {
    use csv_core::ReadRecordResult as R;
    let mut core = csv_parser();
    let mut out = vec![0u8; line.len() + 1];
    let mut ends = vec![0usize; line.len() + 2];
    let (mut input, mut outlen, mut endlen) = (line, 0, 0);
    rec.clear();
    loop {
        let (res, nin, nout, nend) =
            core.read_record(input, &mut out[outlen..], &mut ends[endlen..]);
        input = &input[nin..];
        outlen += nout;
        endlen += nend;
        match res {
            R::InputEmpty => {}
            R::OutputFull | R::OutputEndsFull => unreachable!("sized for the whole line"),
            R::Record | R::End => break,
        }
    }
    fill_record(rec, &out[..outlen], &ends[..endlen]);
}

/// A record as CSV text for a rejects file, safe to write. One line, RFC 4180 quoting.
///
/// - A record of the file's width: security-code columns replaced by a note, `special` deciding
///   columns of its own (the card column, a gateway fingerprint), every card number elsewhere
///   masked by the one detector.
/// - A record of another width (a field too many or too few: every column may have moved) is
///   trusted for nothing: every field that is a whole card-length number (12–19 digits, Luhn
///   or not, as a card column would hold it) is masked like a card number. When the file has a
///   security-code column, the code may now sit `d` columns either side of it (`d` the fields
///   too many or too few): every field of 3–4 digits found there is taken for a code, and every
///   field of the record equal to one is removed; a field that swallowed a separator (a comma,
///   a line break or a quote: the reason for the shift) has every free-standing 3–4-digit
///   number starred, since a code may sit inside it.
/// - `special(i, field, shift)` writes a field of a column of the caller's own (`shift`: how many
///   fields the record has too many or too few, 0 for a record of the header's width); `None`
///   leaves the field to the rules above.
pub fn redacted_record(
    rec: &csv::ByteRecord,
    width: usize,
    security_code_cols: &[usize],
    special: impl Fn(usize, &str, usize) -> Option<String>,
) -> String {
    redacted_moved_record(rec, rec.len().abs_diff(width), security_code_cols, special)
}

/// [`redacted_record`] of a record whose fields are known to have moved by up to `shift` (0:
/// they have not), whatever its width: one of the header's width that [`moved_into_code_column`]
/// caught.
pub fn redacted_moved_record(
    rec: &csv::ByteRecord,
    shift: usize,
    security_code_cols: &[usize],
    special: impl Fn(usize, &str, usize) -> Option<String>,
) -> String {
    let shifted = shift > 0;
    let short_number = |f: &[u8]| -> Option<String> {
        let n = crate::cards::detect::ascii_digits(String::from_utf8_lossy(f).trim());
        ((3..=4).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit())).then_some(n)
    };
    let codes: Vec<String> = if shifted {
        let d = shift;
        security_code_cols
            .iter()
            .flat_map(|&c| c.saturating_sub(d)..=c + d)
            .filter_map(|i| rec.get(i))
            .filter_map(short_number)
            .collect()
    } else {
        Vec::new()
    };
    let mut out: Vec<u8> = Vec::new();
    for (i, f) in rec.iter().enumerate() {
        let s = String::from_utf8_lossy(f);
        let cell = if let Some(v) = shifted.then(|| special(i, &s, shift)).flatten() {
            v
        } else if shifted {
            if short_number(f).is_some_and(|n| codes.contains(&n)) {
                "[security code removed]".to_string()
            } else {
                let s = match crate::cards::Pan::parse(&crate::cards::detect::ascii_digits(&s)) {
                    Some(p) => p.masked(),
                    None => crate::cards::mask_card_runs(&s).0,
                };
                if !security_code_cols.is_empty() && s.contains([',', '\n', '\r', '"']) {
                    star_short_numbers(&s)
                } else {
                    s
                }
            }
        } else if security_code_cols.contains(&i) {
            if s.trim().is_empty() {
                String::new()
            } else {
                "[security code removed]".to_string()
            }
        } else if let Some(v) = special(i, &s, 0) {
            v
        } else {
            crate::cards::mask_card_runs(&s).0
        };
        if i > 0 {
            out.push(b',');
        }
        crate::output::push_field(&mut out, cell.as_bytes());
    }
    String::from_utf8(out).expect("fields are UTF-8 text")
}

/// How far the fields of a record of the header's width may have moved when a security-code
/// column holds something that is no code (see [`moved_into_code_column`]): an unquoted comma
/// and a field left out keep the width, and the code may then sit a column or two away.
pub const MOVED_SHIFT: usize = 2;

/// The first security-code column of `rec` that holds what no security code, nor a code
/// column's "N/A" or "***", is: five digits or more (in any script: a card number moved
/// there), or an e-mail. A record of the header's width with one has had its fields moved (an
/// unquoted comma in a name and a field left out at its end): the code itself may now sit in a
/// column that is written out.
pub fn moved_into_code_column(
    rec: &csv::ByteRecord,
    security_code_cols: &[usize],
) -> Option<usize> {
    security_code_cols.iter().copied().find(|&c| {
        rec.get(c).is_some_and(|f| {
            let s = String::from_utf8_lossy(f);
            let digits = crate::cards::detect::ascii_digits(&s)
                .bytes()
                .filter(u8::is_ascii_digit)
                .count();
            digits >= 5 || s.contains('@')
        })
    })
}

/// Every free-standing number of 3 or 4 digits (in any script's digits, `⑫③` too) as `***`.
fn star_short_numbers(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    // How many digits a character reads as (`⑫` two), `Some(0)` for one that shows nothing (a
    // zero-width space between two digits leaves them one number), `None` for any other.
    let digits = |c: char| match crate::cards::detect::reading(c) {
        Some(r) if r.bytes().all(|b| b.is_ascii_digit()) => Some(r.len()),
        _ => None,
    };
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        if digits(chars[i]).is_some_and(|k| k > 0) {
            let (mut j, mut n) = (i, 0);
            while let Some(k) = chars.get(j).and_then(|&c| digits(c)) {
                n += k;
                j += 1;
            }
            if (3..=4).contains(&n) {
                out.push_str("***");
            } else {
                out.extend(&chars[i..j]);
            }
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn input_err(path: &Path, message: String) -> Error {
    Error::Input {
        path: path.to_path_buf(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every record of `data` with its line, read through buffers of `chunk` bytes; cut lines
    /// as `!line`.
    fn split(data: &[u8], chunk: usize, width: Option<usize>) -> Vec<(String, Vec<String>)> {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut s = Splitter::new(Trickle(data, chunk));
        s.width = width;
        let mut rec = csv::ByteRecord::new();
        let mut got = Vec::new();
        loop {
            let merged = s.merged.len();
            let (tag, fields) = match s.next(&mut rec).unwrap() {
                Next::End => return got,
                // A record kept but noted as two rows that may have merged.
                Next::Record(l) if s.merged.len() > merged => (format!("~{l}"), &rec),
                Next::Record(l) => (l.to_string(), &rec),
                Next::Cut(l, _) => (format!("!{l}"), &rec),
            };
            let fields = fields
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            got.push((tag, fields));
        }
    }

    fn lines_of(data: &[u8]) -> Vec<String> {
        let all: Vec<_> = [1, 3, 1 << 20]
            .iter()
            .map(|&c| split(data, c, None))
            .collect();
        assert!(all.windows(2).all(|w| w[0] == w[1]), "{all:?}");
        all[0].iter().map(|(l, _)| l.clone()).collect()
    }

    #[test]
    fn short_numbers_in_any_digits_are_starred() {
        assert_eq!(
            star_short_numbers("code 123, ４５６ or ⑫③, not 12 nor 12345 nor ⑫⑫⑫"),
            "code ***, *** or ***, not 12 nor 12345 nor ⑫⑫⑫"
        );
    }

    #[test]
    fn record_lines_for_every_line_ending() {
        assert_eq!(lines_of(b"h\na\nb\n"), ["1", "2", "3"]);
        assert_eq!(lines_of(b"h\r\na\r\nb\r\n"), ["1", "2", "3"]);
        assert_eq!(lines_of(b"h\ra\rb\r"), ["1", "2", "3"]);
        assert_eq!(lines_of(b"h\n\"x\ny\"\nb\n"), ["1", "2", "4"]);
        assert_eq!(lines_of(b"h\r\n\"x\r\ny\"\r\nb"), ["1", "2", "4"]);
        assert_eq!(lines_of(b"h\n\n\nb\n"), ["1", "4"]);
        assert_eq!(lines_of(b"h\r\n\r\nb\r\nc"), ["1", "3", "4"]);
        assert_eq!(
            lines_of(b"hhh\r\naaa\r\r\nbbbbbbb\rc"),
            ["1", "2", "4", "5"]
        );
    }

    #[test]
    fn a_quote_open_at_the_end_cuts_its_line_only() {
        for end in ["\n", "\r\n", "\r"] {
            let text = ["h,n", "1,\"Sato", "2,Ito", "3,Abe"].join(end);
            let got = split(text.as_bytes(), 4, Some(2));
            let tags: Vec<&str> = got.iter().map(|(l, _)| l.as_str()).collect();
            assert_eq!(tags, ["1", "!2", "3", "4"], "{end:?}");
            assert_eq!(got[1].1, ["1", "Sato"], "{end:?}");
            assert_eq!(got[3].1, ["3", "Abe"], "{end:?}");
        }
        // A last line that opens a quote and has no line end.
        let got = split(b"h,n\n1,\"Sato", 1 << 20, Some(2));
        assert_eq!(got[1].0, "!2");
        assert_eq!(got.len(), 2);
    }

    /// A BOM that starts a record mid-file (a second export appended, BOM and all) is no part of
    /// its first field (a first field that is only a BOM is empty); one inside a field or at the
    /// start of a later field stays as read.
    #[test]
    fn a_bom_starting_a_record_mid_file_is_left_out() {
        let got = split(
            "h,n\n\u{FEFF}B3,x\n,\u{FEFF}y\n\u{FEFF},z\nq\u{FEFF},w\n".as_bytes(),
            5,
            Some(2),
        );
        assert_eq!(got[1].1, ["B3", "x"]);
        assert_eq!(got[2].1, ["", "\u{FEFF}y"]);
        assert_eq!(got[3].1, ["", "z"]);
        assert_eq!(got[4].1, ["q\u{FEFF}", "w"]);
    }

    #[test]
    fn a_quoted_field_over_a_few_lines_of_the_right_width_is_one_record() {
        let got = split(b"h,n\n1,\"a\nb\nc\"\n2,x\n", 2, Some(2));
        assert_eq!(
            got[1],
            ("2".to_string(), vec!["1".into(), "a\nb\nc".into()])
        );
        assert_eq!(got[2].0, "5");
    }

    /// Two stray quotes in one column, rows apart: the record they make has the file's width,
    /// but the rows between them are records by themselves. The first line is cut and every
    /// row after it is read as itself, whatever the line ends and the buffering.
    #[test]
    fn two_stray_quotes_do_not_swallow_the_rows_between_them() {
        for end in ["\n", "\r\n", "\r"] {
            let text = [
                "h,n,m",
                "1,\"Sato,a",
                "2,Ito,b",
                "3,Abe,c",
                "4,Ono\",d",
                "5,Oe,e",
            ]
            .join(end)
                + end;
            for chunk in [3, 4096] {
                let got = split(text.as_bytes(), chunk, Some(3));
                let tags: Vec<&str> = got.iter().map(|(l, _)| l.as_str()).collect();
                assert_eq!(tags, ["1", "!2", "3", "4", "5", "6"], "{end:?} {chunk}");
                assert_eq!(got[2].1, ["2", "Ito", "b"]);
                assert_eq!(got[4].1, ["4", "Ono\"", "d"]);
            }
        }
        let cut = Cut::Swallowed {
            lines: 4,
            nth: 2,
            expected: 3,
        };
        assert!(cut.reason().contains("line 2 of them"), "{}", cut.reason());
        // A note over a few lines stays one record, in a narrow file too (its lines hold
        // commas, but not as many as the file has columns less one).
        let note = b"h,n,m\n1,\"Deliver after 5pm,\nplease, thanks\nto the back door\",x\n2,y,z\n";
        let got = split(note, 4096, Some(3));
        assert_eq!(got[1].0, "2");
        assert_eq!(got[2].0, "5");
        // One line of an address with as many commas as the file has columns less one is no
        // row; two such lines are.
        let address = "h,a,b,c,d,addr\n1,x,y,z,w,\"Yamada Taro\nMarunouchi Bldg 5F, 1-2-3 Marunouchi, Chiyoda-ku, Tokyo, 100-0005, Japan\nTel 03\"\n2,x,y,z,w,Osaka\n";
        let got = split(address.as_bytes(), 4096, Some(6));
        assert_eq!(got.len(), 3);
        assert_eq!((got[1].0.as_str(), got[2].0.as_str()), ("2", "5"));
        // Two stray quotes a row apart, each in a row of its own: the row between is no
        // coincidence any more.
        let one_between = "h,n,m\n1,\"Sato,a\n2,Ito,b\n4,Ono\",d\n5,Oe,e\n";
        let tags: Vec<String> = split(one_between.as_bytes(), 4096, Some(3))
            .into_iter()
            .map(|(l, _)| l)
            .collect();
        assert_eq!(tags, ["1", "!2", "3", "4", "5"]);
        // The same three-line address, closed on a line of as many commas: its first line and
        // the one between are rows by themselves, its last is not: one record.
        let address = "h,a,b,c,d,addr\n1,x,y,z,w,\"Yamada Taro\nMarunouchi Bldg 5F, 1-2-3 Marunouchi, Chiyoda-ku, Tokyo, 100-0005, Japan\nTel 03, ext. 5\"\n2,x,y,z,w,Osaka\n";
        let got = split(address.as_bytes(), 4096, Some(6));
        assert_eq!((got[1].0.as_str(), got[2].0.as_str()), ("2", "5"));
    }

    /// Two stray quotes on adjacent lines make one record of the file's width over two lines,
    /// each of which is a row by itself: kept as one record (an address over two lines can
    /// look the same) but noted, so that the file's report warns about it; a note over two
    /// lines is not noted.
    #[test]
    fn two_stray_quotes_on_adjacent_lines_are_noted() {
        for end in ["\n", "\r\n", "\r"] {
            let text = ["h,n,m", "1,\"Sato,a", "2,Ito\",b", "3,Abe,c"].join(end) + end;
            for chunk in [3, 4096] {
                let got = split(text.as_bytes(), chunk, Some(3));
                let tags: Vec<&str> = got.iter().map(|(l, _)| l.as_str()).collect();
                assert_eq!(tags, ["1", "~2", "4"], "{end:?} {chunk}");
                // The closing quote at the start of a field of the second line, too.
                let text = text.replace("2,Ito\",b", "2,\"Ito,b");
                assert!(text.contains("2,\"Ito,b"));
                let tags: Vec<String> = split(text.as_bytes(), chunk, Some(3))
                    .into_iter()
                    .map(|(l, _)| l)
                    .collect();
                assert_eq!(tags, ["1", "~2", "4"], "{end:?} {chunk} {text:?}");
            }
        }
        let note = b"h,n,m\n1,x,\"Leave at the door\nplease\"\n2,y,z\n";
        let tags: Vec<String> = split(note, 4096, Some(3))
            .into_iter()
            .map(|(l, _)| l)
            .collect();
        assert_eq!(tags, ["1", "2", "4"]);
    }

    #[test]
    fn the_bounds_hold_whatever_the_buffering() {
        let mut text = String::from("h,n\n1,\"open\n");
        for i in 0..150 {
            text.push_str(&format!("{i},x\n"));
        }
        text.push_str("9,close\"\n");
        for chunk in [7, 4096, 1 << 20] {
            let got = split(text.as_bytes(), chunk, Some(2));
            assert_eq!(got[1].0, "!2", "{chunk}");
            assert_eq!(got.len(), 1 + 1 + 150 + 1, "{chunk}");
        }
        // One long line (no line end inside) is no runaway, however long.
        let long = format!("h,n\n1,\"{}\"\n", "x".repeat(MAX_QUOTED_BYTES * 2));
        assert_eq!(split(long.as_bytes(), 1000, Some(2))[1].0, "2");
        // Many lines of a quoted field over the byte bound.
        let wide = format!(
            "h,n\n1,\"{}\n{}\"\n",
            "x".repeat(40_000),
            "y".repeat(40_000)
        );
        assert_eq!(split(wide.as_bytes(), 1000, Some(2))[1].0, "!2");
    }
}
