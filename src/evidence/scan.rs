//! Reading the logs: every file in parallel, and each file cut into chunks of whole lines that
//! are parsed and matched in parallel while one thread reads (and decompresses) ahead. Results
//! come back tagged with their chunk number and are put back in order, so line numbers are
//! exact. Nothing per line outlives its chunk except the hits, so memory stays flat in the size
//! of the logs.

use crate::access_log::format::LineFormat;
use crate::access_log::open::{self, Chunk, Chunker, MAX_LINE, OVERLONG_KEPT, OVERLONG_SAMPLE};
use crate::access_log::written::{self, Form};
use crate::access_log::Record;
use crate::rules::Matcher;
use crate::window::Window;
use jiff::civil::Date;
use jiff::Timestamp;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;

/// What the scan needs besides the files.
pub struct ScanOptions<'a> {
    pub matcher: &'a Matcher,
    /// A fixed format, or `None` to pick one per file from its first lines.
    pub format: Option<&'a LineFormat>,
    pub window: &'a Window,
    /// Regexes over the request target of POSTs that submit a checkout.
    pub checkout: Option<&'a regex::bytes::RegexSet>,
    /// How many malformed lines to keep as samples, per file.
    pub reject_samples: usize,
    /// Told how many bytes of the files were read (a progress bar).
    pub progress: Option<indicatif::ProgressBar>,
    /// Where every parsed request goes as a Parquet row (`--emit-events`), if anywhere.
    pub events: Option<super::parquet::EventSender>,
}

impl<'a> ScanOptions<'a> {
    /// The same options, without an events sink.
    pub fn clone_without_events(&self) -> ScanOptions<'a> {
        ScanOptions {
            matcher: self.matcher,
            format: self.format,
            window: self.window,
            checkout: self.checkout,
            reject_samples: self.reject_samples,
            progress: self.progress.clone(),
            events: None,
        }
    }
}

/// One input file.
#[derive(Debug, Clone)]
pub struct Input {
    pub path: PathBuf,
    pub display: String,
}

/// A request that matched at least one rule. Every text is as written (see
/// [`crate::access_log::written`]): bytes that are not UTF-8 as `\xHH`, card numbers masked.
///
/// Kept compactly, since a scan of `/.env` gives a hit per request: 56 bytes here, and one
/// allocation that holds the rule indices and the six texts together, so a hit costs about
/// 150 bytes with a typical user agent.
#[derive(Debug, Clone)]
pub struct Hit {
    pub time: Timestamp,
    pub line: u64,
    /// Index into the run's sources (the log files, then the `--hits` files' sources).
    pub file: u32,
    /// Where it was found: 0 in the logs scanned here, `k` in the `k`-th `--hits` file.
    pub origin: u32,
    pub status: Option<u16>,
    /// Which of the six texts are present (bit `i` for text `i`).
    present: u8,
    /// The number of rules (u32 LE), the six texts' end offsets (u32 LE, from the start of the
    /// texts), the rule indices (u32 LE, ascending), then the texts: client address, method,
    /// path, target, referer, user agent.
    data: Box<[u8]>,
}

impl Hit {
    /// A hit of `rules` (indices into the active rules, ascending) with its six texts (each as
    /// written, or absent).
    pub fn new<S: AsRef<str>>(
        time: Timestamp,
        file: u32,
        line: u64,
        status: Option<u16>,
        origin: u32,
        texts: [Option<S>; 6],
        rules: &[u32],
    ) -> Hit {
        let len: usize = texts.iter().flatten().map(|s| s.as_ref().len()).sum();
        let mut data = Vec::with_capacity(HEAD + 4 * rules.len() + len);
        data.extend_from_slice(&len32(rules.len()).to_le_bytes());
        let (mut end, mut present) = (0usize, 0u8);
        for (i, t) in texts.iter().enumerate() {
            if let Some(t) = t {
                end += t.as_ref().len();
                present |= 1 << i;
            }
            data.extend_from_slice(&len32(end).to_le_bytes());
        }
        for r in rules {
            data.extend_from_slice(&r.to_le_bytes());
        }
        for t in texts.iter().flatten() {
            data.extend_from_slice(t.as_ref().as_bytes());
        }
        Hit {
            time,
            line,
            file,
            origin,
            status,
            present,
            data: data.into_boxed_slice(),
        }
    }

    fn word(&self, i: usize) -> u32 {
        let b = &self.data[4 * i..4 * i + 4];
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The indices of the rules it matched, ascending.
    pub fn rules(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.word(0) as usize).map(|k| self.word(7 + k))
    }

    /// Adds a rule (a `--hits` file's row for a request already there).
    pub fn add_rule(&mut self, rule: u32) {
        let mut rules: Vec<u32> = self.rules().collect();
        if let Err(p) = rules.binary_search(&rule) {
            rules.insert(p, rule);
            let texts: [Option<&str>; 6] = std::array::from_fn(|i| self.text(i));
            *self = Hit::new(
                self.time,
                self.file,
                self.line,
                self.status,
                self.origin,
                texts,
                &rules,
            );
        }
    }

    fn text(&self, i: usize) -> Option<&str> {
        if self.present & (1 << i) == 0 {
            return None;
        }
        let base = HEAD + 4 * self.word(0) as usize;
        let start = if i == 0 { 0 } else { self.word(i) as usize };
        let end = self.word(i + 1) as usize;
        // Built from `&str`s, so always UTF-8.
        std::str::from_utf8(self.data.get(base + start..base + end)?).ok()
    }

    pub fn ip(&self) -> Option<&str> {
        self.text(0)
    }
    pub fn method(&self) -> Option<&str> {
        self.text(1)
    }
    pub fn path(&self) -> Option<&str> {
        self.text(2)
    }
    pub fn target(&self) -> Option<&str> {
        self.text(3)
    }
    pub fn referer(&self) -> Option<&str> {
        self.text(4)
    }
    pub fn user_agent(&self) -> Option<&str> {
        self.text(5)
    }
}

/// The bytes before a hit's rule indices: their number and the six end offsets.
const HEAD: usize = 4 * 7;

/// A length as kept in a hit (texts come from one log line, far below 4 GiB).
fn len32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A checkout submission inside the window, with what could tie it to an order: the user
/// (`%u`, `$remote_user`) and the session (`%{NAME}C`, `$cookie_NAME`). Masked like hits.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub time: Timestamp,
    pub file: usize,
    pub line: u64,
    pub ip: Option<String>,
    pub user: Option<String>,
    pub session: Option<String>,
    pub target: Option<String>,
    pub status: Option<u16>,
    pub user_agent: Option<String>,
}

/// A malformed line kept as a sample.
#[derive(Debug, Clone)]
pub struct Reject {
    pub line: u64,
    pub reason: String,
    /// The line as written (card numbers masked, then cut to [`REJECT_TEXT`] bytes, or
    /// [`OVERLONG_SAMPLE`] for a line longer than [`MAX_LINE`]).
    pub text: String,
}

/// How much of a malformed line its sample shows, in bytes.
pub const REJECT_TEXT: usize = 2_000;

/// Card numbers found in the lines of a file, by the column they would be written in (the
/// W3C names of the events file; `raw` the whole line, malformed lines included, of a line
/// longer than [`MAX_LINE`] the first [`OVERLONG_KEPT`] bytes). Each one is masked wherever
/// its line or field is written.
pub type CardCounts = BTreeMap<&'static str, u64>;

/// Requests of one local day.
#[derive(Debug, Clone, Default)]
pub struct DayStats {
    pub requests: u64,
    pub checkouts_in: u64,
    pub checkouts_out: u64,
    pub evidence: u64,
    pub rule_hits: BTreeMap<u32, u64>,
}

impl DayStats {
    /// Adds another tally of the same day.
    fn absorb(&mut self, other: DayStats) {
        self.requests += other.requests;
        self.checkouts_in += other.checkouts_in;
        self.checkouts_out += other.checkouts_out;
        self.evidence += other.evidence;
        for (r, n) in other.rule_hits {
            *self.rule_hits.entry(r).or_default() += n;
        }
    }
}

/// Everything one file gave.
#[derive(Debug, Default)]
pub struct FileResult {
    pub format: String,
    pub gzip: bool,
    /// Bytes read after decompression.
    pub bytes: u64,
    pub lines: u64,
    pub parsed: u64,
    pub malformed: u64,
    pub malformed_reasons: BTreeMap<String, u64>,
    pub rejects: Vec<Reject>,
    pub hits: Vec<Hit>,
    /// Checkout submissions inside the window (for `checkouts.csv` and `affected --logs`).
    pub checkouts: Vec<Checkout>,
    pub days: BTreeMap<Date, DayStats>,
    pub first: Option<Timestamp>,
    pub last: Option<Timestamp>,
    /// A read error that cut the file short (e.g. a truncated gzip); lines before it count.
    pub read_error: Option<String>,
    /// Card numbers in the file's lines, by column.
    pub cards: CardCounts,
}

#[derive(Default)]
struct ChunkOut {
    idx: usize,
    lines: u64,
    parsed: u64,
    malformed: u64,
    reasons: BTreeMap<String, u64>,
    rejects: Vec<Reject>,
    hits: Vec<Hit>,
    checkouts: Vec<Checkout>,
    days: BTreeMap<Date, DayStats>,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    events: Option<super::parquet::EventRows>,
    cards: CardCounts,
}

/// Scans all files, in parallel; results in input order.
pub fn scan_all(inputs: &[Input], opts: &ScanOptions<'_>) -> Vec<Result<FileResult, String>> {
    inputs
        .par_iter()
        .enumerate()
        .map(|(i, input)| scan_file(i, input, opts))
        .collect()
}

/// Scans one file. `Err` only when the file cannot be opened or holds no line to sniff.
pub fn scan_file(
    file_idx: usize,
    input: &Input,
    opts: &ScanOptions<'_>,
) -> Result<FileResult, String> {
    let on_read = opts.progress.clone().map(|pb| {
        let f: Box<dyn Fn(u64) + Send> = Box::new(move |n| pb.inc(n));
        f
    });
    let (reader, gzip) = open::open(&input.path, on_read).map_err(|e| e.to_string())?;
    // With events, a chunk is a row group: bigger than a scan alone needs.
    let chunk_size = match opts.events {
        Some(_) => super::parquet::EVENTS_CHUNK,
        None => open::CHUNK,
    };
    // Chunk buffers go back to the reader once scanned: a fresh buffer costs the kernel a
    // zeroed page for every 4 KiB of it, as much as reading the bytes into it.
    let (spare_tx, spare_rx) = mpsc::channel::<Vec<u8>>();
    let mut chunker = Chunker::new(reader, chunk_size).with_spares(spare_rx);
    let first = match chunker.next_chunk() {
        Ok(c) => c,
        Err(e) => {
            return Ok(FileResult {
                format: "unknown".into(),
                gzip,
                read_error: Some(e.to_string()),
                ..FileResult::default()
            })
        }
    };
    let format: LineFormat =
        match opts.format {
            Some(f) => f.clone(),
            None => {
                let sample: &[u8] = match &first {
                    Some(Chunk::Lines(b)) => b,
                    _ => &[],
                };
                match LineFormat::sniff(sample) {
                    Some(f) => f,
                    None if sample.is_empty() => LineFormat::named("combined").expect("preset"),
                    None => return Err(
                        "no known log format fits its first lines; pass --format or --log-format"
                            .into(),
                    ),
                }
            }
        };
    let mut result = FileResult {
        format: format.name.clone(),
        gzip,
        ..FileResult::default()
    };
    // Events need each chunk's first line number before the chunks are put back in order: the
    // reader counts the lines it hands out (a newline count, only then).
    let count_lines = opts.events.is_some();
    let mut next_line = match &first {
        Some(c) if count_lines => c.lines(),
        _ => 0,
    };
    // A gzip'd file is inflated by the reader thread, which shares the two cores with the
    // scanning threads: with a few chunks of slack it falls behind whenever the scheduler
    // runs the scanners, and they then wait for it. Twelve chunks (12 MB) smooth that out
    // (the gzip'd benchmark log: 2.77 -> 2.47 s, median of five); a plain file is read
    // faster than it is scanned and needs no more than four.
    let depth = if gzip { 12 } else { 4 };
    let (tx, rx) = mpsc::sync_channel::<std::io::Result<(u64, Chunk)>>(depth);
    let reader = std::thread::spawn(move || {
        loop {
            match chunker.next_chunk() {
                Ok(Some(c)) => {
                    let first_line = next_line;
                    if count_lines {
                        next_line += c.lines();
                    }
                    if tx.send(Ok((first_line, c))).is_err() {
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            }
        }
        chunker.bytes
    });
    let read_error = std::sync::Mutex::new(None::<String>);
    let chunks = first.into_iter().map(|c| Ok((0, c))).chain(rx);
    let mut outs: Vec<ChunkOut> = chunks
        .enumerate()
        .par_bridge()
        .map_init(
            || Scratch {
                rules: opts.matcher.scratch(),
                runs: Default::default(),
                stretches: Vec::new(),
            },
            |scratch, (idx, c)| {
                let (mut out, first_line) = match c {
                    Ok((first_line, c)) => {
                        let out = scan_chunk(idx, &c, &format, file_idx, opts, scratch);
                        if let Chunk::Lines(buf) = c {
                            // The reader may be done: then the buffer is simply dropped.
                            let _ = spare_tx.send(buf);
                        }
                        (out, first_line)
                    }
                    Err(e) => {
                        *read_error.lock().expect("lock") = Some(e.to_string());
                        let out = ChunkOut {
                            idx,
                            ..ChunkOut::default()
                        };
                        (out, 0)
                    }
                };
                if let Some(tx) = &opts.events {
                    // Every chunk is sent, rows or not: the writer checks the line numbers.
                    tx.send(file_idx, idx, first_line, out.lines, out.events.take());
                }
                out
            },
        )
        .collect();
    result.bytes = reader.join().unwrap_or(0);
    result.read_error = read_error.into_inner().expect("lock");
    outs.sort_by_key(|o| o.idx);
    let mut offset = 0u64;
    // Sized once: growing by doubling would hold up to twice the hits while it copies.
    result
        .hits
        .reserve_exact(outs.iter().map(|o| o.hits.len()).sum());
    for o in outs {
        for mut h in o.hits {
            h.line += offset;
            result.hits.push(h);
        }
        for mut c in o.checkouts {
            c.line += offset;
            result.checkouts.push(c);
        }
        for mut r in o.rejects {
            if result.rejects.len() < opts.reject_samples {
                r.line += offset;
                result.rejects.push(r);
            }
        }
        offset += o.lines;
        result.lines += o.lines;
        result.parsed += o.parsed;
        result.malformed += o.malformed;
        for (k, v) in o.reasons {
            *result.malformed_reasons.entry(k).or_default() += v;
        }
        for (d, s) in o.days {
            result.days.entry(d).or_default().absorb(s);
        }
        for (k, v) in o.cards {
            *result.cards.entry(k).or_default() += v;
        }
        result.first = min_opt(result.first, o.first);
        result.last = max_opt(result.last, o.last);
    }
    Ok(result)
}

fn min_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn max_opt(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// The local day of an instant, cached: logs are mostly in time order, so one lookup in the
/// zone database per day instead of one per line.
struct DayCache<'a> {
    window: &'a Window,
    from: Timestamp,
    to: Timestamp,
    date: Date,
}

impl<'a> DayCache<'a> {
    fn new(window: &'a Window) -> Self {
        DayCache {
            window,
            from: Timestamp::MAX,
            to: Timestamp::MIN,
            date: Date::default(),
        }
    }

    fn day(&mut self, t: Timestamp) -> Date {
        if self.from <= t && t < self.to {
            return self.date;
        }
        let date = self.window.local_date(t);
        let tz = self.window.tz.clone().unwrap_or(jiff::tz::TimeZone::UTC);
        let midnight = |d: Date| {
            tz.to_ambiguous_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .compatible()
                .ok()
        };
        let start = midnight(date);
        let end = date.tomorrow().ok().and_then(midnight);
        if let (Some(s), Some(e)) = (start, end) {
            self.from = s;
            self.to = e;
            self.date = date;
        }
        date
    }
}

/// What a scanning thread reuses from chunk to chunk.
struct Scratch {
    rules: crate::rules::matcher::Scratch,
    runs: crate::cards::runs::RunScratch,
    /// Where the chunk's card-like stretches are (see [`crate::cards::runs`]).
    stretches: Vec<usize>,
}

fn scan_chunk(
    idx: usize,
    chunk: &Chunk,
    format: &LineFormat,
    file_idx: usize,
    opts: &ScanOptions<'_>,
    scratch: &mut Scratch,
) -> ChunkOut {
    let mut out = ChunkOut {
        idx,
        ..ChunkOut::default()
    };
    let data = match chunk {
        Chunk::Overlong { sample, len } => {
            out.lines = 1;
            reject(
                &mut out,
                opts,
                1,
                format!("line longer than {} bytes ({len} bytes)", MAX_LINE),
                sample,
                OVERLONG_SAMPLE,
            );
            return out;
        }
        Chunk::Lines(d) => d.as_slice(),
    };
    let mut days = DayCache::new(opts.window);
    // The tally of the day of the line before: logs run in time order, so a chunk's lines are
    // mostly of one day, counted here and added to `out.days` when the day changes.
    let mut today: Option<(Date, DayStats)> = None;
    let mut matched: Vec<u32> = Vec::new();
    // Which lines may hold a card number, for the whole chunk at once: the next stretch that
    // may be one, and its index.
    crate::cards::runs::card_stretches(data, &mut scratch.runs, &mut scratch.stretches);
    let mut next_stretch = 0usize;
    let mut start = 0usize;
    let mut rel = 0u64;
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..])
            .map(|i| start + i)
            .unwrap_or(data.len());
        let mut line = &data[start..end];
        let line_start = start;
        start = end + 1;
        rel += 1;
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        if line.len() > MAX_LINE {
            reject(
                &mut out,
                opts,
                rel,
                format!("line longer than {} bytes ({} bytes)", MAX_LINE, line.len()),
                &line[..OVERLONG_KEPT],
                OVERLONG_SAMPLE,
            );
            continue;
        }
        let rec = match format.parse(line) {
            Ok(r) => r,
            Err(e) => {
                reject(&mut out, opts, rel, e.0, line, REJECT_TEXT);
                continue;
            }
        };
        out.parsed += 1;
        // Stretches end at the `\n`, so one that starts before this line is behind it.
        while scratch
            .stretches
            .get(next_stretch)
            .is_some_and(|&p| p < line_start)
        {
            next_stretch += 1;
        }
        if scratch
            .stretches
            .get(next_stretch)
            .is_some_and(|&p| p < end)
        {
            count_cards(&mut out.cards, &rec, line);
        }
        let t = rec.time.expect("parsers set the time");
        if opts.events.is_some() {
            out.events
                .get_or_insert_with(|| super::parquet::EventRows::with_capacity(data.len()))
                .push(&rec, t, rel, line);
        }
        out.first = min_opt(out.first, Some(t));
        out.last = max_opt(out.last, Some(t));
        let day = days.day(t);
        if today.as_ref().is_none_or(|(d, _)| *d != day) {
            if let Some((d, s)) = today.replace((day, DayStats::default())) {
                out.days.entry(d).or_default().absorb(s);
            }
        }
        let stats = &mut today.as_mut().expect("set just above").1;
        stats.requests += 1;
        if let Some(set) = opts.checkout {
            if rec.method.as_deref() == Some(b"POST")
                && rec.target.as_deref().is_some_and(|t| set.is_match(t))
            {
                if opts.window.contains(t) {
                    stats.checkouts_in += 1;
                    out.checkouts.push(Checkout {
                        time: t,
                        file: file_idx,
                        line: rel,
                        ip: text(rec.ip.as_deref()),
                        user: text(rec.user.as_deref()).filter(|u| u != "-" && !u.is_empty()),
                        session: text(rec.session.as_deref()).filter(|u| u != "-" && !u.is_empty()),
                        target: text(rec.target.as_deref()),
                        status: status(&rec),
                        user_agent: text(rec.user_agent.as_deref()),
                    });
                } else {
                    stats.checkouts_out += 1;
                }
            }
        }
        matched.clear();
        opts.matcher
            .matches(line, &rec, &mut scratch.rules, &mut matched);
        if !matched.is_empty() {
            stats.evidence += 1;
            for &r in &matched {
                *stats.rule_hits.entry(r).or_default() += 1;
            }
            out.hits.push(hit(&rec, t, file_idx as u32, rel, &matched));
        }
    }
    if let Some((d, s)) = today {
        out.days.entry(d).or_default().absorb(s);
    }
    out.lines = rel;
    out
}

/// Counts the card numbers of a parsed line, per column, as [`EventRows`] writes them (the
/// target once, as `cs-uri`: the stem and `cs-uri-query` are parts or copies of it).
///
/// [`EventRows`]: super::parquet::EventRows
fn count_cards(cards: &mut CardCounts, rec: &Record<'_>, line: &[u8]) {
    let fields: [(&'static str, &crate::access_log::Value<'_>); 11] = [
        ("c-ip", &rec.ip),
        ("cs-username", &rec.user),
        ("cs-method", &rec.method),
        ("cs-uri", &rec.target),
        ("cs-version", &rec.protocol),
        ("sc-bytes", &rec.bytes),
        ("cs-referer", &rec.referer),
        ("cs-user-agent", &rec.user_agent),
        ("cs-host", &rec.host),
        ("cs-cookie", &rec.cookie),
        ("session", &rec.session),
    ];
    for (name, v) in fields {
        if let Some(b) = v.as_deref() {
            let n = written::count(b, Form::Value);
            if n > 0 {
                *cards.entry(name).or_default() += n as u64;
            }
        }
    }
    let n = written::count(line, Form::Line);
    if n > 0 {
        *cards.entry("raw").or_default() += n as u64;
    }
}

/// Counts a malformed line and keeps it as a sample: masked whole (only the first
/// [`OVERLONG_KEPT`] bytes of an overlong one are at hand, more than its sample shows), then
/// cut to `show` bytes.
fn reject(
    out: &mut ChunkOut,
    opts: &ScanOptions<'_>,
    rel: u64,
    reason: String,
    line: &[u8],
    show: usize,
) {
    out.malformed += 1;
    let key = match reason.find(" at column") {
        Some(i) => reason[..i].to_string(),
        None => reason.clone(),
    };
    let key = if key.starts_with("line longer than") {
        format!("line longer than {MAX_LINE} bytes")
    } else if key.starts_with("cannot read time") {
        "cannot read time".to_string()
    } else if key.starts_with("not a JSON object") {
        "not a JSON object".to_string()
    } else if key.starts_with("status ") {
        "status is not a number".to_string()
    } else {
        key
    };
    *out.reasons.entry(key).or_default() += 1;
    let (text, n) = written::excerpt(line, Form::Line, show);
    if n > 0 {
        *out.cards.entry("raw").or_default() += n as u64;
    }
    if out.rejects.len() < opts.reject_samples {
        out.rejects.push(Reject {
            line: rel,
            // Reasons quote the line already masked (see `access_log::format`); masked again,
            // as the whole of what is written.
            reason: crate::cards::detect::mask(&reason).0.into_owned(),
            text,
        });
    }
}

/// A field value as written.
fn text(v: Option<&[u8]>) -> Option<String> {
    v.map(|b| written::written(b, Form::Value).0.into_owned())
}

fn hit(rec: &Record<'_>, t: Timestamp, file: u32, line: u64, rules: &[u32]) -> Hit {
    fn w(v: Option<&[u8]>) -> Option<std::borrow::Cow<'_, str>> {
        v.map(|b| written::written(b, Form::Value).0)
    }
    let texts = [
        w(rec.ip.as_deref()),
        w(rec.method.as_deref()),
        w(rec.path()),
        w(rec.target.as_deref()),
        w(rec.referer.as_deref()),
        w(rec.user_agent.as_deref()),
    ];
    Hit::new(t, file, line, status(rec), 0, texts, rules)
}

fn status(rec: &Record<'_>) -> Option<u16> {
    rec.status
        .as_deref()
        .and_then(|s| std::str::from_utf8(s).ok()?.parse().ok())
}
