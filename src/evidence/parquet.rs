//! `evidence --emit-events FILE.parquet`: every parsed request as one Parquet row, with the W3C
//! column names the Sigma rules use, for the engines that keep months of logs (DuckDB, Spark,
//! Athena, ClickHouse…). See the README's "At scale" for the schema.
//!
//! - The scan's chunk workers fill the columns of their chunk ([`EventRows`]): card-like digit
//!   runs masked in every text column, `-` and empty values as null.
//! - One writer thread receives the chunks over a bounded channel, puts each file's chunks back
//!   in order (so line numbers are exact) and writes them with that file's own Parquet writer
//!   into a part file beside the target: zstd, row groups of at most [`ROW_GROUP`] rows, so
//!   memory stays flat in the size of the logs.
//! - At the end the parts are joined in input order into the target, column chunks copied as
//!   they are (no re-encoding): the output is the same whichever file finished first.

use crate::access_log::Record;
use crate::cards::mask_card_runs;
use crate::error::{Error, Result};
use crate::output::AtomicFile;
use arrow_array::builder::{Int32Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use jiff::Timestamp;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;

/// Rows per row group, at most.
pub const ROW_GROUP: usize = 65_536;

/// The text columns, in schema order after `time`.
pub const TEXT_COLUMNS: [&str; 6] = [
    "c-ip",
    "cs-username",
    "cs-method",
    "cs-uri-stem",
    "cs-uri-query",
    "cs-uri",
];

/// The schema of the events file.
pub fn schema() -> SchemaRef {
    let utf8 = |n: &str| Field::new(n, DataType::Utf8, true);
    let mut fields = vec![Field::new(
        "time",
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        false,
    )];
    fields.extend(TEXT_COLUMNS.iter().map(|n| utf8(n)));
    fields.push(Field::new("sc-status", DataType::Int32, true));
    fields.push(utf8("cs-referer"));
    fields.push(utf8("cs-user-agent"));
    fields.push(utf8("cs-host"));
    fields.push(Field::new("source_file", DataType::Utf8, false));
    fields.push(Field::new("line", DataType::Int64, false));
    fields.push(Field::new("raw", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

/// The rows of one chunk, line numbers relative to the chunk.
pub struct EventRows {
    time: TimestampMicrosecondBuilder,
    text: [StringBuilder; 6],
    status: Int32Builder,
    referer: StringBuilder,
    user_agent: StringBuilder,
    host: StringBuilder,
    lines: Vec<u64>,
    raw: StringBuilder,
}

impl Default for EventRows {
    fn default() -> Self {
        EventRows {
            time: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            text: std::array::from_fn(|_| StringBuilder::new()),
            status: Int32Builder::new(),
            referer: StringBuilder::new(),
            user_agent: StringBuilder::new(),
            host: StringBuilder::new(),
            lines: Vec::new(),
            raw: StringBuilder::new(),
        }
    }
}

/// A value as written: `-`, empty or absent is null; card-like runs masked. `line_clean`: the
/// raw line holds no run of 13 digits, so a value that is a verbatim slice of it (not unescaped)
/// holds none either and needs no scan.
fn value<'v>(v: &'v crate::access_log::Value<'_>, line_clean: bool) -> Option<Cow<'v, str>> {
    let b: &[u8] = match v.as_deref() {
        None | Some(b"") | Some(b"-") => return None,
        Some(b) => b,
    };
    if line_clean && matches!(v, Some(Cow::Borrowed(_))) {
        return Some(match std::str::from_utf8(b) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(b),
        });
    }
    Some(masked(b))
}

/// The text of a field with card-like runs masked. Most fields hold no run of 13 digits at all
/// (a byte scan tells) and valid UTF-8: they are borrowed as they are, with no copy.
fn masked(b: &[u8]) -> Cow<'_, str> {
    let s = match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    };
    if !crate::cards::may_hold_card(b) {
        return s;
    }
    Cow::Owned(mask_card_runs(&s).0)
}

impl EventRows {
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Adds one parsed request: line `rel` of the chunk, `raw` as read.
    pub fn push(&mut self, rec: &Record<'_>, t: Timestamp, rel: u64, raw: &[u8]) {
        self.time.append_value(t.as_microsecond());
        let clean = !crate::cards::may_hold_card(raw);
        let path: crate::access_log::Value<'_> = rec.path().map(Cow::Borrowed);
        let vals = [&rec.ip, &rec.user, &rec.method];
        for (b, v) in self.text.iter_mut().zip(vals) {
            b.append_option(value(v, clean));
        }
        // The path is a slice of the target: verbatim exactly when the target is.
        let path_clean = clean && matches!(rec.target, Some(Cow::Borrowed(_)));
        self.text[3].append_option(value(&path, path_clean));
        // `cs-uri-query` and `cs-uri` are both the whole target: masked once, written twice.
        let target_value = value(&rec.target, clean);
        self.text[4].append_option(target_value.as_deref());
        self.text[5].append_option(target_value);
        self.status.append_option(
            rec.status
                .as_deref()
                .and_then(|s| std::str::from_utf8(s).ok()?.trim().parse::<i32>().ok()),
        );
        self.referer.append_option(value(&rec.referer, clean));
        self.user_agent.append_option(value(&rec.user_agent, clean));
        self.host.append_option(value(&rec.host, clean));
        self.lines.push(rel);
        if clean {
            self.raw.append_value(String::from_utf8_lossy(raw).as_ref());
        } else {
            self.raw.append_value(masked(raw).as_ref());
        }
    }

    /// The record batch, with `offset` added to the line numbers.
    fn finish(mut self, source: &str, offset: u64) -> std::result::Result<RecordBatch, String> {
        let n = self.lines.len();
        let mut cols: Vec<ArrayRef> = vec![Arc::new(self.time.finish())];
        for b in &mut self.text {
            cols.push(Arc::new(b.finish()));
        }
        cols.push(Arc::new(self.status.finish()));
        cols.push(Arc::new(self.referer.finish()));
        cols.push(Arc::new(self.user_agent.finish()));
        cols.push(Arc::new(self.host.finish()));
        cols.push(Arc::new(StringArray::from(vec![source; n])));
        cols.push(Arc::new(Int64Array::from_iter_values(
            self.lines.iter().map(|l| (l + offset) as i64),
        )));
        cols.push(Arc::new(self.raw.finish()));
        RecordBatch::try_new(schema(), cols).map_err(|e| e.to_string())
    }
}

/// One chunk's share: every chunk of a file is sent exactly once, rows or not, so the writer
/// knows the line offset of the next.
pub struct ChunkMsg {
    pub file: usize,
    pub idx: usize,
    pub lines: u64,
    pub rows: Option<EventRows>,
}

/// The sending side, handed to the scan.
pub type EventSender = mpsc::SyncSender<ChunkMsg>;

/// What was written.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmitStats {
    pub rows: u64,
    pub row_groups: usize,
}

/// The writer thread and its channel.
pub struct EventWriter {
    tx: EventSender,
    handle: std::thread::JoinHandle<std::result::Result<EmitStats, Error>>,
}

impl EventWriter {
    /// Starts the writer for `target`; `sources` are the input names, in input order.
    pub fn start(target: &Path, sources: Vec<String>) -> Result<EventWriter> {
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let (tx, rx) = mpsc::sync_channel::<ChunkMsg>(16);
        let target = target.to_path_buf();
        let handle = std::thread::Builder::new()
            .name("skimtrace-events".into())
            .spawn(move || write_all(rx, &target, &sources))
            .map_err(|e| Error::Invariant(format!("cannot start the events writer: {e}")))?;
        Ok(EventWriter { tx, handle })
    }

    pub fn sender(&self) -> EventSender {
        self.tx.clone()
    }

    /// Waits for the last chunk and writes the target.
    pub fn finish(self) -> Result<EmitStats> {
        drop(self.tx);
        self.handle
            .join()
            .map_err(|_| Error::Invariant("the events writer panicked".into()))?
    }
}

/// zstd level 1 and no dictionary for the columns that are mostly distinct (a dictionary
/// there is built, found too big and thrown away for every page).
fn props() -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level")))
        .set_max_row_group_row_count(Some(ROW_GROUP));
    for c in ["raw", "cs-uri-query", "cs-uri", "time", "line"] {
        b = b.set_column_dictionary_enabled(c.into(), false);
    }
    b.build()
}

/// One input file's part: its writer and the chunks not yet in order.
struct Part {
    path: PathBuf,
    writer: Option<ArrowWriter<File>>,
    next: usize,
    offset: u64,
    pending: BTreeMap<usize, (u64, Option<EventRows>)>,
}

fn write_all(
    rx: mpsc::Receiver<ChunkMsg>,
    target: &Path,
    sources: &[String],
) -> std::result::Result<EmitStats, Error> {
    let mut parts: BTreeMap<usize, Part> = BTreeMap::new();
    let part_path = |file: usize| {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "events".into());
        target.with_file_name(format!(".{name}.part{file}-{}", std::process::id()))
    };
    let result = (|| {
        let mut stats = EmitStats::default();
        for msg in rx {
            let part = parts.entry(msg.file).or_insert_with(|| Part {
                path: part_path(msg.file),
                writer: None,
                next: 0,
                offset: 0,
                pending: BTreeMap::new(),
            });
            part.pending.insert(msg.idx, (msg.lines, msg.rows));
            while let Some((lines, rows)) = part.pending.remove(&part.next) {
                if let Some(rows) = rows.filter(|r| !r.is_empty()) {
                    let source = sources.get(msg.file).map(String::as_str).unwrap_or("");
                    let batch = rows.finish(source, part.offset).map_err(Error::Invariant)?;
                    stats.rows += batch.num_rows() as u64;
                    if part.writer.is_none() {
                        let f = File::create(&part.path).map_err(|e| Error::io(&part.path, e))?;
                        part.writer = Some(
                            ArrowWriter::try_new(f, schema(), Some(props()))
                                .map_err(|e| pq(&part.path, e))?,
                        );
                    }
                    let w = part.writer.as_mut().expect("just set");
                    w.write(&batch).map_err(|e| pq(&part.path, e))?;
                }
                part.offset += lines;
                part.next += 1;
            }
        }
        let mut done = Vec::new();
        for (file, part) in std::mem::take(&mut parts) {
            if !part.pending.is_empty() {
                return Err(Error::Invariant(format!(
                    "events of {}: chunks after {} never arrived",
                    sources.get(file).map(String::as_str).unwrap_or("?"),
                    part.next
                )));
            }
            if let Some(w) = part.writer {
                w.close().map_err(|e| pq(&part.path, e))?;
                done.push(part.path);
            }
        }
        stats.row_groups = join_parts(&done, target)?;
        for p in &done {
            let _ = std::fs::remove_file(p);
        }
        Ok(stats)
    })();
    if result.is_err() {
        for p in parts.values() {
            let _ = std::fs::remove_file(&p.path);
        }
    }
    result
}

fn pq(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Input {
        path: path.to_path_buf(),
        message: format!("Parquet: {e}"),
    }
}

/// Joins the part files, in order, into `target` (column chunks copied, not re-encoded).
/// Returns the number of row groups.
fn join_parts(parts: &[PathBuf], target: &Path) -> Result<usize> {
    let out = AtomicFile::create(target)?;
    if parts.is_empty() {
        let w = ArrowWriter::try_new(out, schema(), Some(props())).map_err(|e| pq(target, e))?;
        let out = w.into_inner().map_err(|e| pq(target, e))?;
        out.commit()?;
        return Ok(0);
    }
    let mut inputs = Vec::new();
    for p in parts {
        let f = File::open(p).map_err(|e| Error::io(p, e))?;
        let meta = ParquetMetaDataReader::new()
            .parse_and_finish(&f)
            .map_err(|e| pq(p, e))?;
        inputs.push((f, meta));
    }
    let first = inputs[0].1.file_metadata();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level")))
        .set_key_value_metadata(first.key_value_metadata().cloned())
        .build();
    let root = first.schema_descr().root_schema_ptr();
    let mut w = SerializedFileWriter::new(out, root, Arc::new(props)).map_err(|e| pq(target, e))?;
    let mut groups = 0;
    for (f, meta) in &inputs {
        for rg in meta.row_groups() {
            let mut rg_out = w.next_row_group().map_err(|e| pq(target, e))?;
            for column in rg.columns() {
                let close = ColumnCloseResult {
                    bytes_written: column.compressed_size() as _,
                    rows_written: rg.num_rows() as _,
                    metadata: column.clone(),
                    bloom_filter: None,
                    column_index: None,
                    offset_index: None,
                };
                rg_out.append_column(f, close).map_err(|e| pq(target, e))?;
            }
            rg_out.close().map_err(|e| pq(target, e))?;
            groups += 1;
        }
    }
    let out = w.into_inner().map_err(|e| pq(target, e))?;
    out.commit()?;
    Ok(groups)
}
