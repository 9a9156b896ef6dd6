//! `evidence --emit-events FILE.parquet`: every parsed request as one Parquet row, with the W3C
//! column names the Sigma rules use, for the engines that keep months of logs (DuckDB, Spark,
//! Athena, ClickHouse…). See the README's "At scale" for the schema.
//!
//! - The scan's chunk workers fill the columns of their chunk ([`EventRows`]): every text
//!   column as written ([`crate::access_log::written`]: bytes that are not UTF-8 as `\xHH`,
//!   card numbers masked, nothing else changed), `-` and empty values as null. The same worker encodes
//!   and compresses them into one row group ([`EventSender::send`]): the costly part runs on
//!   every core, and a row group holds the requests of one chunk ([`EVENTS_CHUNK`] bytes of
//!   log at most), so memory stays flat in the size of the logs.
//! - The reader numbers each chunk's first line as it cuts the file, so a worker writes exact
//!   line numbers without waiting for the chunks before its own.
//! - One writer thread receives the encoded chunks over a bounded channel, puts each file's
//!   chunks back in order (checking that each starts where the ones before it end) and
//!   appends each as a row group to that file's part file beside the target.
//! - At the end the parts are joined in input order into the target, column chunks copied as
//!   they are (no re-encoding): the output is the same whichever file finished first.

use crate::access_log::written::{escape, written, Form};
use crate::access_log::Record;
use crate::error::{Error, Result};
use crate::output::AtomicFile;
use arrow_array::builder::{Int32Builder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, Int64Array, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use jiff::Timestamp;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowColumnChunk, ArrowRowGroupWriterFactory};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::ParquetMetaDataReader;
use parquet::file::properties::EnabledStatistics;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;

/// Bytes of log per chunk when events are written: one chunk is one row group (about 35,000
/// requests of a combined log), within the sizes engines read well, and one per core in flight.
pub const EVENTS_CHUNK: usize = 8 << 20;

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

impl EventRows {
    /// Room for the requests of a chunk of `bytes` bytes, sized from a combined log (about
    /// 200 bytes a line, a third of it the target, half the user agent), so that the columns
    /// rarely grow, as growing copies them and touches fresh memory.
    pub fn with_capacity(bytes: usize) -> Self {
        let rows = bytes / 128 + 16;
        let text = |per_row: usize, share: usize| {
            StringBuilder::with_capacity(rows, per_row.max(bytes / share))
        };
        EventRows {
            time: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            text: [
                text(rows * 15, usize::MAX),
                text(rows, usize::MAX),
                text(rows * 4, usize::MAX),
                text(0, 8),
                text(0, 3),
                text(0, 3),
            ],
            status: Int32Builder::with_capacity(rows),
            referer: text(0, 4),
            user_agent: text(0, 2),
            host: text(0, usize::MAX),
            lines: Vec::with_capacity(rows),
            raw: text(0, 1),
        }
    }
}

/// A value as written (see [`crate::access_log::written`]): `-`, empty or absent is null; bytes
/// that are not UTF-8 as `\xHH`; card numbers masked. `line_clean`: the raw line cannot hold a
/// card number (the detector's prefilter, which has no false negative for any slice of a
/// text), so a value that is a verbatim slice of it (not unescaped) needs no scan. Most values
/// are valid UTF-8 and are borrowed as they are, with no copy.
fn value<'v>(v: &'v crate::access_log::Value<'_>, line_clean: bool) -> Option<Cow<'v, str>> {
    let b: &[u8] = match v.as_deref() {
        None | Some(b"") | Some(b"-") => return None,
        Some(b) => b,
    };
    if line_clean && matches!(v, Some(Cow::Borrowed(_))) {
        return Some(escape(b, Form::Value));
    }
    Some(written(b, Form::Value).0)
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
        // `cs-uri-query` and `cs-uri` are both the whole target: written once, twice.
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
            self.raw.append_value(escape(raw, Form::Line));
        } else {
            self.raw.append_value(written(raw, Form::Line).0);
        }
    }

    /// The columns in schema order; `first_line`: the lines of the file before the chunk.
    fn finish(mut self, source: &str, first_line: u64) -> Vec<ArrayRef> {
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
            self.lines.iter().map(|l| (l + first_line) as i64),
        )));
        cols.push(Arc::new(self.raw.finish()));
        cols
    }
}

/// One chunk's row group, encoded and compressed by the scan worker that read the chunk.
struct EncodedRows {
    columns: Vec<ArrowColumnChunk>,
    rows: u64,
}

/// One chunk's share: every chunk of a file is sent exactly once, rows or not, so the writer
/// can check that the line numbers it was given follow on from the chunks before.
struct ChunkMsg {
    file: usize,
    idx: usize,
    first_line: u64,
    lines: u64,
    rows: Option<std::result::Result<EncodedRows, String>>,
}

/// What the scan workers share: the encoder settings and the channel to the writer thread.
struct Encoder {
    factory: ArrowRowGroupWriterFactory,
    sources: Vec<String>,
}

/// The sending side, handed to the scan. Encoding happens on the sending thread, so a scan on
/// N cores encodes on N cores; the writer thread only puts row groups in order and appends them.
#[derive(Clone)]
pub struct EventSender {
    tx: mpsc::SyncSender<ChunkMsg>,
    enc: Arc<Encoder>,
}

impl EventSender {
    /// Encodes chunk `idx` of input `file` (`first_line` lines before it, `lines` lines read,
    /// `rows` the parsed ones) into a row group and hands it to the writer. Every chunk must be
    /// sent, rows or not.
    pub fn send(
        &self,
        file: usize,
        idx: usize,
        first_line: u64,
        lines: u64,
        rows: Option<EventRows>,
    ) {
        let rows = rows
            .filter(|r| !r.is_empty())
            .map(|r| self.enc.encode(file, first_line, r));
        // The writer is gone only after an error of its own, which it reports.
        let _ = self.tx.send(ChunkMsg {
            file,
            idx,
            first_line,
            lines,
            rows,
        });
    }
}

impl Encoder {
    fn encode(
        &self,
        file: usize,
        first_line: u64,
        rows: EventRows,
    ) -> std::result::Result<EncodedRows, String> {
        let source = self.sources.get(file).map(String::as_str).unwrap_or("");
        let n = rows.len() as u64;
        let arrays = rows.finish(source, first_line);
        let schema = schema();
        let writers = self
            .factory
            .create_column_writers(0)
            .map_err(|e| e.to_string())?;
        let mut columns = Vec::with_capacity(writers.len());
        for ((mut w, field), array) in writers.into_iter().zip(schema.fields()).zip(&arrays) {
            for leaf in compute_leaves(field, array).map_err(|e| e.to_string())? {
                w.write(&leaf).map_err(|e| e.to_string())?;
            }
            columns.push(w.close().map_err(|e| e.to_string())?);
        }
        Ok(EncodedRows { columns, rows: n })
    }
}

/// What was written.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmitStats {
    pub rows: u64,
    pub row_groups: usize,
}

/// The writer thread and its channel.
pub struct EventWriter {
    sender: EventSender,
    handle: std::thread::JoinHandle<std::result::Result<EmitStats, Error>>,
}

impl EventWriter {
    /// Starts the writer for `target`; `sources` are the input names, in input order.
    pub fn start(target: &Path, sources: Vec<String>) -> Result<EventWriter> {
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let (_, factory) = ArrowWriter::try_new(std::io::sink(), schema(), Some(props()))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(|e| pq(target, e))?;
        let (tx, rx) = mpsc::sync_channel::<ChunkMsg>(4);
        let target = target.to_path_buf();
        let names = sources.clone();
        let handle = std::thread::Builder::new()
            .name("skimtrace-events".into())
            .spawn(move || write_all(rx, &target, &names))
            .map_err(|e| Error::Invariant(format!("cannot start the events writer: {e}")))?;
        Ok(EventWriter {
            sender: EventSender {
                tx,
                enc: Arc::new(Encoder { factory, sources }),
            },
            handle,
        })
    }

    pub fn sender(&self) -> EventSender {
        self.sender.clone()
    }

    /// Waits for the last chunk and writes the target.
    pub fn finish(self) -> Result<EmitStats> {
        drop(self.sender);
        self.handle
            .join()
            .map_err(|_| Error::Invariant("the events writer panicked".into()))?
    }
}

/// zstd level 1 everywhere. No dictionary for the columns that are mostly distinct (a
/// dictionary there is built, found too big and thrown away for every page); no min/max
/// statistics for text (they cost a comparison per value and prune nothing: every row group
/// spans the whole alphabet of addresses and paths) but kept for `time`, `line`, `sc-status`
/// and `source_file`, which engines use to skip row groups; `time` and `line` delta-encoded
/// (they rise).
///
/// Statistics are kept whole, never cut to the writer's default 64 bytes: a cut `source_file`
/// (and a cut max, whose last byte the writer raises) can turn a long run of digits in a file
/// name, masked as no card number, into one.
fn props() -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("level")))
        .set_statistics_truncate_length(None)
        .set_column_index_truncate_length(None);
    for c in ["raw", "cs-uri-query", "cs-uri", "time", "line"] {
        b = b.set_column_dictionary_enabled(c.into(), false);
    }
    let text = TEXT_COLUMNS
        .iter()
        .chain(&["cs-referer", "cs-user-agent", "cs-host", "raw"]);
    for c in text {
        b = b.set_column_statistics_enabled((*c).into(), EnabledStatistics::None);
    }
    for c in ["time", "line"] {
        b = b.set_column_encoding(c.into(), Encoding::DELTA_BINARY_PACKED);
    }
    b.build()
}

/// A chunk waiting for the chunks before it: its first line, its line count and its rows.
type Pending = (u64, u64, Option<std::result::Result<EncodedRows, String>>);

/// One input file's part: its writer and the chunks not yet in order.
struct Part {
    path: PathBuf,
    writer: Option<SerializedFileWriter<File>>,
    next: usize,
    offset: u64,
    pending: BTreeMap<usize, Pending>,
}

impl Part {
    /// Appends one encoded chunk as a row group.
    fn append(&mut self, rows: EncodedRows) -> Result<u64> {
        if self.writer.is_none() {
            let f = crate::output::private_file(&self.path)?;
            let (w, _) = ArrowWriter::try_new(f, schema(), Some(props()))
                .and_then(ArrowWriter::into_serialized_writer)
                .map_err(|e| pq(&self.path, e))?;
            self.writer = Some(w);
        }
        let file = self.writer.as_mut().expect("just set");
        let path = &self.path;
        let mut rg = file.next_row_group().map_err(|e| pq(path, e))?;
        for c in rows.columns {
            c.append_to_row_group(&mut rg).map_err(|e| pq(path, e))?;
        }
        rg.close().map_err(|e| pq(path, e))?;
        Ok(rows.rows)
    }
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
            part.pending
                .insert(msg.idx, (msg.first_line, msg.lines, msg.rows));
            while let Some((first_line, lines, rows)) = part.pending.remove(&part.next) {
                if let Some(rows) = rows {
                    if first_line != part.offset {
                        return Err(Error::Invariant(format!(
                            "events of {}: chunk {} starts after line {first_line}, the chunks before it hold {} lines",
                            sources.get(msg.file).map(String::as_str).unwrap_or("?"),
                            part.next,
                            part.offset
                        )));
                    }
                    let rows = rows.map_err(|e| pq(&part.path, e))?;
                    stats.rows += part.append(rows)?;
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
        .set_statistics_truncate_length(None)
        .set_column_index_truncate_length(None)
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
