//! Reading one CSV export, whatever its encoding, fast: the machinery that order exports and
//! payment-gateway exports share.
//!
//! - Encoding: as asked, or `auto`: a BOM names it; otherwise the file is read as UTF-8 on
//!   speculation, every record is checked, and at the first invalid UTF-8 byte the visitor is
//!   told to forget what it saw ([`Visitor::restart`]) and the file is read again as
//!   Shift_JIS/CP932 (see [`crate::orders::decode`]). Japanese exports fail at the header, so
//!   the second reading costs little; the result is the same as deciding on the whole file first.
//! - Two threads: one reads and splits records (I/O, CSV parsing, UTF-8 checks, line numbers),
//!   the caller's thread visits them. Batches of records are handed back for reuse.
//! - A third thread computes the file's SHA-256 meanwhile.
//! - Line numbers are counted here ([`crate::orders::decode::LineCounter`]): the csv crate
//!   names the line before the record in CRLF files (BurntSushi/rust-csv#395).

use crate::error::{Error, Result};
use crate::orders::decode;
use encoding_rs::Encoding;
use std::path::Path;
use std::sync::mpsc;

/// What a reading of one file sees, in order: its header, then its records.
pub trait Visitor {
    /// The header row (trimmed, BOM removed).
    fn header(&mut self, headers: Vec<String>) -> Result<()>;
    /// One record and the line it starts on.
    fn record(&mut self, rec: &csv::ByteRecord, line: u64) -> Result<()>;
    /// The file turned out not to be UTF-8: forget everything seen so far; the file is read
    /// again from its header.
    fn restart(&mut self) -> Result<()>;
}

/// What was learnt about the file.
#[derive(Debug, Clone)]
pub struct Opened {
    /// `UTF-8`, `UTF-8 (BOM)`, `Shift_JIS`…
    pub encoding: String,
    /// Whether the encoding was detected (`auto`) rather than given.
    pub detected: bool,
    /// `sha256-<base64>` (see [`crate::digest`]).
    pub sha256: String,
    pub bytes: u64,
    /// The file had no header row at all.
    pub empty: bool,
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
    std::thread::scope(|scope| {
        let hasher = scope.spawn(|| decode::digest(path));
        let (mut encoding, mut detected, mut speculative) = match (requested, bom) {
            (Some(e), _) => (e, false, false),
            (None, Some(e)) => (e, true, false),
            (None, None) => (encoding_rs::UTF_8, true, true),
        };
        let empty = loop {
            match read_as(path, shown, encoding, speculative, progress, visitor) {
                Ok(empty) => break empty,
                Err(Attempt::NotUtf8) => {
                    tracing::info!("{shown}: not UTF-8: reading it again as Shift_JIS");
                    visitor.restart()?;
                    encoding = encoding_rs::SHIFT_JIS;
                    detected = true;
                    speculative = false;
                }
                Err(Attempt::Failed(e)) => return Err(e),
            }
        };
        let (sha256, bytes) = hasher
            .join()
            .map_err(|_| input_err(path, "the hashing thread failed".into()))??;
        Ok(Opened {
            encoding: decode::describe(encoding, bom.is_some()),
            detected,
            sha256,
            bytes,
            empty,
        })
    })
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

/// Records read ahead by the reader thread, with their line numbers.
struct Batch {
    records: Vec<csv::ByteRecord>,
    lines: Vec<u64>,
    len: usize,
}

const BATCH: usize = 2048;

/// One reading in one encoding. Returns whether the file was empty (no header).
fn read_as(
    path: &Path,
    shown: &str,
    encoding: &'static Encoding,
    speculative: bool,
    progress: Option<(&indicatif::ProgressBar, u64)>,
    visitor: &mut dyn Visitor,
) -> Result<bool, Attempt> {
    let reader = decode::LineCounter::new(decode::open_utf8(path, encoding)?);
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(reader);
    let mut rec = csv::ByteRecord::new();
    let has_header = csv
        .read_byte_record(&mut rec)
        .map_err(|e| input_err(path, format!("cannot read the header: {e}")))?;
    if !has_header {
        return Ok(true);
    }
    if speculative && std::str::from_utf8(rec.as_slice()).is_err() {
        return Err(Attempt::NotUtf8);
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
    visitor.header(headers)?;

    let progress = progress.map(|(p, base)| (p.clone(), base));
    let (tx, rx) = mpsc::sync_channel::<Result<Batch, Attempt>>(4);
    let (back_tx, back_rx) = mpsc::channel::<Batch>();
    std::thread::scope(|scope| -> Result<bool, Attempt> {
        scope.spawn(move || read_batches(csv, speculative, path, shown, progress, tx, back_rx));
        for msg in rx {
            let batch = msg?;
            for (rec, &line) in batch.records[..batch.len].iter().zip(&batch.lines) {
                visitor.record(rec, line)?;
            }
            let _ = back_tx.send(batch);
        }
        Ok(false)
    })
}

/// The reader thread: fills batches until the file ends, the visitor stops listening, or
/// (speculative UTF-8) a record is not UTF-8.
fn read_batches<R: std::io::Read>(
    mut csv: csv::Reader<decode::LineCounter<R>>,
    speculative: bool,
    path: &Path,
    shown: &str,
    progress: Option<(indicatif::ProgressBar, u64)>,
    tx: mpsc::SyncSender<Result<Batch, Attempt>>,
    back: mpsc::Receiver<Batch>,
) {
    let mut n: u64 = 0;
    loop {
        let mut batch = back.try_recv().unwrap_or_else(|_| Batch {
            records: (0..BATCH).map(|_| csv::ByteRecord::new()).collect(),
            lines: Vec::with_capacity(BATCH),
            len: 0,
        });
        batch.len = 0;
        batch.lines.clear();
        let mut done = false;
        while batch.len < BATCH {
            let rec = &mut batch.records[batch.len];
            match csv.read_byte_record(rec) {
                Ok(true) => {}
                Ok(false) => {
                    done = true;
                    break;
                }
                Err(e) => {
                    let msg = format!("{shown}: read failed near record {}: {e}", n + 2);
                    let _ = tx.send(Err(input_err(path, msg).into()));
                    return;
                }
            }
            n += 1;
            if speculative && std::str::from_utf8(rec.as_slice()).is_err() {
                let _ = tx.send(Err(Attempt::NotUtf8));
                return;
            }
            let start = rec.position().map(|p| p.byte()).unwrap_or(0);
            batch.lines.push(csv.get_mut().line_at(start));
            batch.len += 1;
        }
        if let Some((p, base)) = &progress {
            p.set_position(base + csv.position().byte());
        }
        if batch.len > 0 && tx.send(Ok(batch)).is_err() {
            return;
        }
        if done {
            return;
        }
    }
}

/// A record as CSV text for a rejects file, safe to write: security-code columns replaced by a
/// note, every card-like digit run masked, and `special` deciding columns of its own (the card
/// column, a gateway fingerprint). One line, RFC 4180 quoting.
pub fn redacted_record(
    rec: &csv::ByteRecord,
    security_code_cols: &[usize],
    special: impl Fn(usize, &str) -> Option<String>,
) -> String {
    let mut out: Vec<u8> = Vec::new();
    for (i, f) in rec.iter().enumerate() {
        let s = String::from_utf8_lossy(f);
        let cell = if security_code_cols.contains(&i) {
            if s.trim().is_empty() {
                String::new()
            } else {
                "[security code removed]".to_string()
            }
        } else if let Some(v) = special(i, &s) {
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

fn input_err(path: &Path, message: String) -> Error {
    Error::Input {
        path: path.to_path_buf(),
        message,
    }
}
