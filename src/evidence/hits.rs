//! `evidence --hits FILE...`: hits found elsewhere (a SIEM, DuckDB, Spark over the emitted
//! events) read back as CSV or JSON lines, so that the window check, the timeline, the summary
//! and the report treat them exactly as hits found in local logs.
//!
//! Columns are found by the names the common engines export (W3C names as in the events file,
//! ECS names as Elastic writes them, Splunk's CIM names, plain names), case-insensitively; any
//! of them can be named in `[logs.hits]`. A row names one rule by id or title, which must be an
//! active rule. Rows of the same request (one per rule, as a SQL `UNION` gives them) become one
//! hit: the same `source_file` and `line` when the file has them, else the same time, address,
//! method, target, status, referer and user agent. Every text is masked for card-like runs.

use super::scan::Hit;
use crate::access_log::written::{self, Form};
use crate::cards::mask_card_runs;
use crate::error::{Error, Result};
use crate::rules::Rule;
use crate::timestamp::{self, TimeFormat};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `[logs.hits]`: the column that holds each value, when the defaults do not find it.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HitsConfig {
    pub time: Option<String>,
    pub ip: Option<String>,
    pub method: Option<String>,
    pub target: Option<String>,
    pub path: Option<String>,
    pub status: Option<String>,
    pub referer: Option<String>,
    pub user_agent: Option<String>,
    pub rule: Option<String>,
    pub source_file: Option<String>,
    pub line: Option<String>,
}

/// The values of a hit, in this order.
const KEYS: [&str; 11] = [
    "time",
    "ip",
    "method",
    "target",
    "path",
    "status",
    "referer",
    "user_agent",
    "rule",
    "source_file",
    "line",
];

/// Default column names per value, tried in order (case-insensitive).
const DEFAULTS: [&[&str]; 11] = [
    &[
        "time",
        "timestamp",
        "@timestamp",
        "_time",
        "datetime",
        "date_time",
        "event_time",
        "eventtime",
    ],
    &[
        "c-ip",
        "ip",
        "client_ip",
        "clientip",
        "src_ip",
        "src",
        "source.ip",
        "client.ip",
        "remote_addr",
    ],
    &[
        "cs-method",
        "method",
        "http_method",
        "http.request.method",
        "request_method",
    ],
    &[
        "cs-uri-query",
        "cs-uri",
        "target",
        "uri",
        "url",
        "request_uri",
        "url.original",
        "c-uri",
    ],
    &["cs-uri-stem", "path", "uri_path", "url.path", "c-uri-stem"],
    &[
        "sc-status",
        "status",
        "status_code",
        "http_status",
        "http.response.status_code",
    ],
    &[
        "cs-referer",
        "referer",
        "referrer",
        "http_referer",
        "http_referrer",
        "http.request.referrer",
    ],
    &[
        "cs-user-agent",
        "user_agent",
        "useragent",
        "http_user_agent",
        "user_agent.original",
        "c-useragent",
    ],
    &[
        "rule_id",
        "rule",
        "rule.id",
        "sigma_id",
        "rule_title",
        "rule.name",
        "rule_name",
        "title",
    ],
    &["source_file", "log.file.path", "source"],
    &["line", "line_number", "log.offset"],
];

/// A hits file: its path and the name shown.
#[derive(Debug, Clone)]
pub struct HitsFile {
    pub path: PathBuf,
    pub display: String,
}

/// What one hits file gave: `rows` read, of which `rejected` (listed in rejected_lines.csv)
/// and the rest merged into `hits` requests (rows of one request, one per rule, are one hit).
#[derive(Debug, Clone, serde::Serialize)]
pub struct HitsFileStats {
    pub file: String,
    pub rows: u64,
    pub rejected: u64,
    pub hits: u64,
    /// Card numbers masked in the file's values, by value name (`target`, `referer`, …; `row`
    /// for a row that could not be read into values at all).
    pub card_numbers_masked: BTreeMap<&'static str, u64>,
    /// The rejected rows: line, reason, the row as read (masked, cut).
    #[serde(skip)]
    pub rejects: Vec<super::scan::Reject>,
}

/// A rejected row's text as kept: card numbers masked, then cut to this many bytes.
const REJECT_TEXT: usize = super::scan::REJECT_TEXT;

/// Reads every hits file and merges its hits into `hits` (the local ones, whose `origin` is 0):
/// hits file `k` gets origin `k + 1`. `sources` are the source names hits point into; names
/// the hits files give are added. Returns per-file counts.
pub fn import(
    files: &[HitsFile],
    cfg: &HitsConfig,
    rules: &[Rule],
    zone: Option<&TimeZone>,
    sources: &mut Vec<String>,
    hits: &mut Vec<Hit>,
) -> Result<Vec<HitsFileStats>> {
    // The index of the hits already there is only needed to merge rows into them: without
    // hits files it would cost ~90 bytes per hit for nothing.
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let mut index: BTreeMap<Key, usize> = BTreeMap::new();
    for (i, h) in hits.iter().enumerate() {
        index.insert(Key::Line(h.file as usize, h.line), i);
    }
    let mut stats = Vec::new();
    for (k, f) in files.iter().enumerate() {
        let before = hits.len();
        let mut rejects = Vec::new();
        let mut cards = BTreeMap::new();
        let rows = read_file(
            f,
            cfg,
            rules,
            zone,
            (k + 1) as u32,
            sources,
            &mut index,
            hits,
            &mut rejects,
            &mut cards,
        )?;
        stats.push(HitsFileStats {
            file: f.display.clone(),
            rows,
            rejected: rejects.len() as u64,
            hits: (hits.len() - before) as u64,
            card_numbers_masked: cards,
            rejects,
        });
    }
    Ok(stats)
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Line(usize, u64),
    Content(u32, Vec<Option<String>>, Timestamp),
}

/// One row's values, by [`KEYS`] position, or why it could not be read; and its text.
type Row = std::result::Result<[Option<String>; 11], String>;

/// A row as kept in rejected_lines.csv: masked whole, then cut (see
/// [`crate::access_log::written::excerpt`]).
fn reject_text(s: &str) -> String {
    written::excerpt(s.as_bytes(), Form::Line, REJECT_TEXT).0
}

#[allow(clippy::too_many_arguments)]
fn read_file(
    f: &HitsFile,
    cfg: &HitsConfig,
    rules: &[Rule],
    zone: Option<&TimeZone>,
    origin: u32,
    sources: &mut Vec<String>,
    index: &mut BTreeMap<Key, usize>,
    hits: &mut Vec<Hit>,
    rejects: &mut Vec<super::scan::Reject>,
    cards: &mut BTreeMap<&'static str, u64>,
) -> Result<u64> {
    let layout = |m: String| Error::Layout {
        path: f.path.clone(),
        message: m,
    };
    let text = std::fs::read(&f.path).map_err(|e| Error::io(&f.path, e))?;
    // Bytes that are not UTF-8 are kept as `\xHH`, as the logs write them; the file's own
    // backslashes are taken as written (a file of hits exported from the events file carries
    // their written form already).
    let text = written::escape(&text, Form::Line);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let names = wanted(cfg);
    let mut rows: Vec<(u64, Row, String)> = Vec::new();
    if text.trim_start().starts_with('{') {
        for (n, l) in text.lines().enumerate() {
            if l.trim().is_empty() {
                continue;
            }
            let row = match serde_json::from_str::<serde_json::Value>(l) {
                Ok(v) if v.is_object() => Ok(std::array::from_fn(|i| json_get(&v, &names[i]))),
                Ok(_) => Err("not a JSON object".to_string()),
                Err(e) => Err(format!("not a JSON object: {e}")),
            };
            rows.push((n as u64 + 1, row, l.to_string()));
        }
    } else {
        let mut rd = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(text.as_bytes());
        let header: Vec<String> = rd
            .headers()
            .map_err(|e| layout(format!("CSV header: {e}")))?
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let cols: [Option<usize>; 11] = std::array::from_fn(|i| {
            names[i]
                .iter()
                .find_map(|n| header.iter().position(|h| h == &n.to_ascii_lowercase()))
        });
        let mut record = csv::StringRecord::new();
        // Line numbers counted here from the byte offsets: the csv crate's own count is off
        // after CRLF line ends (rust-csv#395), the ones Windows exports have.
        let bytes = text.as_bytes();
        let (mut counted_to, mut line) = (0usize, 1u64);
        loop {
            // Where the next record starts: the reader's position, past the line ends (and
            // blank lines) it has not consumed yet.
            let mut at = (rd.position().byte() as usize).min(bytes.len());
            while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
                at += 1;
            }
            line += memchr::memchr_iter(b'\n', &bytes[counted_to.min(at)..at]).count() as u64;
            counted_to = counted_to.max(at);
            match rd.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => rows.push((
                    line,
                    Ok(std::array::from_fn(|i| {
                        cols[i].and_then(|c| record.get(c)).map(str::to_string)
                    })),
                    record.iter().collect::<Vec<_>>().join(","),
                )),
                // A broken row (a stray quote) is rejected; the reader goes on after it.
                Err(e) => rows.push((line, Err(format!("not a CSV row: {e}")), String::new())),
            }
        }
    }
    for i in [0, 8] {
        let key = KEYS[i];
        let read: Vec<&[Option<String>; 11]> = rows
            .iter()
            .filter_map(|(_, r, _)| r.as_ref().ok())
            .collect();
        if !read.is_empty() && read.iter().all(|r| r[i].is_none()) {
            return Err(layout(format!(
                "no {key} column (looked for {}); name it in [logs.hits] {key} = \"…\"",
                names[i].join(", ")
            )));
        }
    }
    let own = source_index(sources, &f.display);
    for (n, row, raw) in &rows {
        let reject = |reason: String| super::scan::Reject {
            line: *n,
            reason,
            text: reject_text(raw),
        };
        let row = match row {
            Ok(row) => row,
            Err(e) => {
                let n = written::count(raw.as_bytes(), Form::Line);
                if n > 0 {
                    *cards.entry("row").or_default() += n as u64;
                }
                rejects.push(reject(e.clone()));
                continue;
            }
        };
        match hit_of(row, rules, zone, cards) {
            Ok(h) => merge(h, own, *n, origin, sources, index, hits),
            Err(e) => rejects.push(reject(e)),
        }
    }
    Ok(rows.len() as u64)
}

/// A row's values, checked, before it is merged.
struct RowHit {
    time: Timestamp,
    rule: u32,
    values: [Option<String>; 11],
    status: Option<u16>,
    path: Option<String>,
}

/// Reads one row: every text trimmed and masked, `-`, empty and `null` as absent.
fn hit_of(
    row: &[Option<String>; 11],
    rules: &[Rule],
    zone: Option<&TimeZone>,
    cards: &mut BTreeMap<&'static str, u64>,
) -> std::result::Result<RowHit, String> {
    let values: [Option<String>; 11] = std::array::from_fn(|i| {
        row[i]
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "-" && !s.eq_ignore_ascii_case("null"))
            .map(|s| {
                let (m, n) = mask_card_runs(s);
                if n > 0 {
                    *cards.entry(KEYS[i]).or_default() += n as u64;
                }
                m
            })
    });
    let time = parse_time(values[0].as_deref().unwrap_or_default(), zone)?;
    let rule_name = values[8].as_deref().ok_or("no rule")?;
    let rule = rules
        .iter()
        .position(|r| r.id == rule_name)
        .or_else(|| {
            rules
                .iter()
                .position(|r| r.title.eq_ignore_ascii_case(rule_name))
        })
        .ok_or_else(|| {
            format!(
                "rule {rule_name:?} is not an active rule (add it with --rules, or drop --no-builtin)"
            )
        })? as u32;
    let status = match values[5].as_deref() {
        None => None,
        Some(s) => Some(
            s.parse::<f64>()
                .ok()
                .filter(|x| x.fract() == 0.0 && (0.0..=999.0).contains(x))
                .map(|x| x as u16)
                .ok_or_else(|| format!("status {s:?} is not a number"))?,
        ),
    };
    let path = values[4].clone().or_else(|| {
        values[3]
            .as_deref()
            .map(|t| t.split('?').next().unwrap_or(t).to_string())
    });
    Ok(RowHit {
        time,
        rule,
        values,
        status,
        path,
    })
}

/// Merges a row into the hits: a row of a request already there (the same `source_file` and
/// `line`, or the same content in the same hits file) adds its rule to it. `own`: the hits
/// file's source index; `n`: the row's line in it.
fn merge(
    h: RowHit,
    own: usize,
    n: u64,
    origin: u32,
    sources: &mut Vec<String>,
    index: &mut BTreeMap<Key, usize>,
    hits: &mut Vec<Hit>,
) {
    let [_, ip, method, target, _, status_text, referer, user_agent, _, source, line] = h.values;
    let line_no = line.and_then(|l| l.parse::<u64>().ok());
    let (file, line, key) = match (source, line_no) {
        (Some(src), Some(l)) => {
            let fi = source_index(sources, &src);
            (fi, l, Key::Line(fi, l))
        }
        _ => {
            let content = vec![
                ip.clone(),
                method.clone(),
                target.clone(),
                status_text,
                referer.clone(),
                user_agent.clone(),
            ];
            (own, n, Key::Content(origin, content, h.time))
        }
    };
    match index.get(&key) {
        Some(&i) => {
            hits[i].add_rule(h.rule);
        }
        None => {
            index.insert(key, hits.len());
            let texts = [ip, method, h.path, target, referer, user_agent];
            let file = u32::try_from(file).unwrap_or(u32::MAX);
            hits.push(Hit::new(
                h.time,
                file,
                line,
                h.status,
                origin,
                texts,
                &[h.rule],
            ));
        }
    }
}

/// The column names tried per value: the configured one, else the defaults.
fn wanted(cfg: &HitsConfig) -> [Vec<&str>; 11] {
    let set = [
        &cfg.time,
        &cfg.ip,
        &cfg.method,
        &cfg.target,
        &cfg.path,
        &cfg.status,
        &cfg.referer,
        &cfg.user_agent,
        &cfg.rule,
        &cfg.source_file,
        &cfg.line,
    ];
    std::array::from_fn(|i| match set[i] {
        Some(c) => vec![c.as_str()],
        None => DEFAULTS[i].to_vec(),
    })
}

fn source_index(sources: &mut Vec<String>, name: &str) -> usize {
    match sources.iter().position(|s| s == name) {
        Some(i) => i,
        None => {
            sources.push(name.to_string());
            sources.len() - 1
        }
    }
}

/// A value of a JSON object by name: a key as is (case-insensitive), else a dotted path into
/// nested objects (`url.original`). Numbers are written as text.
fn json_get(v: &serde_json::Value, names: &[&str]) -> Option<String> {
    let obj = v.as_object()?;
    let scalar = |x: &serde_json::Value| match x {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    for n in names {
        // A name that holds an object (ECS `rule`, `source`) is not the value: the dotted
        // names below (`rule.name`, `source.ip`) look inside it.
        if let Some(s) = obj
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .and_then(|(_, x)| scalar(x))
        {
            return Some(s);
        }
        let mut cur = v;
        let mut ok = true;
        for part in n.split('.') {
            match cur.get(part) {
                Some(x) => cur = x,
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if ok && n.contains('.') {
            if let Some(s) = scalar(cur) {
                return Some(s);
            }
        }
    }
    None
}

/// RFC 3339, `YYYY-MM-DD HH:MM:SS[.f]±HH[:MM]` (SQL engines), epoch seconds or milliseconds
/// (by size), and naive times in the configured zone.
pub fn parse_time(s: &str, zone: Option<&TimeZone>) -> std::result::Result<Timestamp, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("no time".into());
    }
    if s.bytes().all(|c| c.is_ascii_digit() || c == b'.') && s.bytes().any(|c| c != b'.') {
        let x: f64 = s.parse().map_err(|_| format!("time {s:?}"))?;
        // Milliseconds from 10^11 on (1973 in milliseconds, year 5138 in seconds).
        let us = if x >= 1e11 { x * 1e3 } else { x * 1e6 };
        return Timestamp::from_microsecond(us.round() as i64).map_err(|e| e.to_string());
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    // `2021-12-22 14:59:59.5+09`, `… +09:00`, `… UTC`: a SQL engine's text form.
    let fixed = sql_offset(s);
    if let Some(f) = &fixed {
        if let Ok(t) = f.parse::<Timestamp>() {
            return Ok(t);
        }
    }
    timestamp::parse(s, &TimeFormat::Auto, zone).map_err(|e| e.to_string())
}

/// Rewrites `YYYY-MM-DD HH:MM:SS[.f][ ]±HH[:MM]` / `… UTC` into RFC 3339.
fn sql_offset(s: &str) -> Option<String> {
    let s = s
        .strip_suffix(" UTC")
        .map(|x| format!("{x}Z"))
        .unwrap_or(s.to_string());
    let b = s.as_bytes();
    if b.len() < 19 || b[10] != b' ' {
        return None;
    }
    let mut t = format!("{}T{}", &s[..10], &s[11..]);
    // The offset: the last `+` or `-` after the time.
    let at = t[19..].rfind(['+', '-']).map(|i| i + 19)?;
    let mut off = t[at + 1..].trim().to_string();
    let sign = &t[at..at + 1].to_string();
    if off.len() == 2 {
        off.push_str(":00");
    } else if off.len() == 4 && !off.contains(':') {
        off.insert(2, ':');
    }
    let head = t[..at].trim_end().to_string();
    t = format!("{head}{sign}{off}");
    Some(t)
}

/// Resolves `--hits` paths (files only; relative to the current folder).
pub fn files(paths: &[PathBuf]) -> Result<Vec<HitsFile>> {
    paths
        .iter()
        .map(|p| {
            if !Path::new(p).is_file() {
                return Err(Error::usage(format!("--hits {}: not a file", p.display())));
            }
            Ok(HitsFile {
                path: p.clone(),
                display: p.display().to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_engines_export_them() {
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        let want: Timestamp = "2021-12-22T14:59:59Z".parse().unwrap();
        for s in [
            "2021-12-22T23:59:59+09:00",
            "2021-12-22T14:59:59Z",
            "2021-12-22 23:59:59+09",
            "2021-12-22 23:59:59+09:00",
            "2021-12-22 23:59:59 +0900",
            "2021-12-22 14:59:59 UTC",
            "2021-12-22 14:59:59+00",
            "1640185199",
            "1640185199000",
            "2021-12-22 23:59:59",
        ] {
            assert_eq!(parse_time(s, Some(&tokyo)), Ok(want), "{s}");
        }
        let frac: Timestamp = "2021-12-22T14:59:59.25Z".parse().unwrap();
        assert_eq!(parse_time("2021-12-22 23:59:59.25+09", None), Ok(frac));
        assert_eq!(parse_time("1640185199250", None), Ok(frac));
        assert!(parse_time("2021-12-22 23:59:59", None).is_err());
        assert!(parse_time("yesterday", None).is_err());
    }

    #[test]
    fn nested_json_names() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"url":{"original":"/a?b"},"Status":404}"#).unwrap();
        assert_eq!(json_get(&v, &["url.original"]), Some("/a?b".into()));
        assert_eq!(json_get(&v, &["status"]), Some("404".into()));
        assert_eq!(json_get(&v, &["nope"]), None);
    }
}
