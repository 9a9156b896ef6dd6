//! The evidence outputs. Everything is sorted and free of wall-clock times, so two runs over
//! the same logs give the same bytes; every text was masked for card-like runs when read.

use super::check::{Finding, Gap};
use super::scan::{FileResult, Hit, Input};
use crate::error::Result;
use crate::output::{self, CsvOut};
use crate::rules::Rule;
use crate::window::Window;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub const EVIDENCE_HEADER: [&str; 13] = [
    "time",
    "source",
    "ip",
    "method",
    "path",
    "target",
    "status",
    "referer",
    "user_agent",
    "rules",
    "in_window",
    "level",
    "origin",
];

/// `evidence.jsonl` and `evidence.csv`: one row per matching request, in time order (equal
/// times by file, then line). `rules` holds rule ids (the CSV joins them with spaces),
/// `level` the highest level among them; the JSONL also names the rules (`titles`). The two
/// files hold the same rows and are written side by side, one on each core: a scan of `/.env`
/// gives a million of them.
pub fn evidence(
    dir: &Path,
    hits: &[Hit],
    rules: &[Rule],
    sources: &[String],
    origins: &[String],
    window: &Window,
) -> Result<()> {
    let ctx = RowContext {
        rules,
        sources,
        origins,
        window,
    };
    let (csv, jsonl) = rayon::join(
        || evidence_csv(dir, hits, &ctx),
        || evidence_jsonl(dir, hits, &ctx),
    );
    csv?;
    jsonl
}

/// What a row of the evidence files needs besides its hit.
struct RowContext<'a> {
    rules: &'a [Rule],
    sources: &'a [String],
    origins: &'a [String],
    window: &'a Window,
}

/// The columns of one hit that both evidence files write.
struct Row<'a> {
    time: String,
    source: String,
    ids: Vec<&'a str>,
    level: &'a str,
    in_window: bool,
    origin: &'a str,
}

impl<'a> RowContext<'a> {
    fn row(&self, h: &Hit) -> Row<'a> {
        let rules = self.rules;
        Row {
            time: self.window.format(h.time),
            source: format!("{}:{}", self.sources[h.file as usize], h.line),
            ids: h.rules().map(|r| rules[r as usize].id.as_str()).collect(),
            level: h
                .rules()
                .map(|r| rules[r as usize].level.as_str())
                .max_by_key(|l| super::check::level_rank(l))
                .unwrap_or_default(),
            in_window: self.window.contains(h.time),
            origin: self
                .origins
                .get(h.origin as usize)
                .map(String::as_str)
                .unwrap_or("local"),
        }
    }
}

/// A referer or user agent as the evidence files write it: `-` and empty as absent.
fn nonnull(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.is_empty() && *s != "-")
}

fn evidence_csv(dir: &Path, hits: &[Hit], ctx: &RowContext<'_>) -> Result<()> {
    let mut csv = CsvOut::create(&dir.join("evidence.csv"), &EVIDENCE_HEADER)?;
    for h in hits {
        let r = ctx.row(h);
        csv.row([
            r.time,
            r.source,
            h.ip().unwrap_or_default().to_string(),
            h.method().unwrap_or_default().to_string(),
            h.path().unwrap_or_default().to_string(),
            h.target().unwrap_or_default().to_string(),
            h.status.map(|s| s.to_string()).unwrap_or_default(),
            nonnull(h.referer()).unwrap_or_default().to_string(),
            nonnull(h.user_agent()).unwrap_or_default().to_string(),
            r.ids.join(" "),
            r.in_window.to_string(),
            r.level.to_string(),
            r.origin.to_string(),
        ])?;
    }
    csv.commit()
}

fn evidence_jsonl(dir: &Path, hits: &[Hit], ctx: &RowContext<'_>) -> Result<()> {
    // Each row is written as it is built: a million hits (a `/.env` scan) must not become a
    // million JSON objects in memory.
    let jsonl_path = dir.join("evidence.jsonl");
    let mut jsonl = output::AtomicFile::create(&jsonl_path)?;
    for h in hits {
        let r = ctx.row(h);
        let titles: Vec<&str> = h
            .rules()
            .map(|k| ctx.rules[k as usize].title.as_str())
            .collect();
        let row = json!({
            "time": r.time,
            "source": r.source,
            "ip": h.ip(),
            "method": h.method(),
            "path": h.path(),
            "target": h.target(),
            "status": h.status,
            "referer": nonnull(h.referer()),
            "user_agent": nonnull(h.user_agent()),
            "rules": r.ids,
            "in_window": r.in_window,
            "level": r.level,
            "titles": titles,
            "origin": r.origin,
        });
        output::json_line(&mut jsonl, &jsonl_path, &row)?;
    }
    jsonl.commit()
}

/// `timeline.csv`: one row per local day from the first to the last day with log lines or hits
/// (days without either included, with zeros, so gaps show), with requests, checkout
/// submissions inside and outside the window, matching requests, and hits per rule that
/// matched. Matching requests and rule hits are counted from `hits` (local and imported);
/// request and checkout totals come from the logs read here, and are left empty when no log
/// was read (a run on `--hits` alone does not know them).
pub fn timeline(
    dir: &Path,
    files: &[&FileResult],
    hits: &[Hit],
    rules: &[Rule],
    window: &Window,
) -> Result<()> {
    let requests_known = !files.is_empty();
    let mut days: BTreeMap<jiff::civil::Date, super::scan::DayStats> = BTreeMap::new();
    for f in files {
        for (d, s) in &f.days {
            let e = days.entry(*d).or_default();
            e.requests += s.requests;
            e.checkouts_in += s.checkouts_in;
            e.checkouts_out += s.checkouts_out;
        }
    }
    for h in hits {
        let e = days.entry(window.local_date(h.time)).or_default();
        e.evidence += 1;
        for r in h.rules() {
            *e.rule_hits.entry(r).or_default() += 1;
        }
    }
    let known = |n: u64| {
        if requests_known {
            n.to_string()
        } else {
            String::new()
        }
    };
    let matched: BTreeSet<u32> = days
        .values()
        .flat_map(|s| s.rule_hits.keys().copied())
        .collect();
    let mut header: Vec<String> = [
        "date",
        "in_window",
        "requests",
        "checkouts_in_window",
        "checkouts_outside_window",
        "evidence_requests",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    header.extend(matched.iter().map(|&r| rules[r as usize].id.clone()));
    let hdr: Vec<&str> = header.iter().map(String::as_str).collect();
    let mut csv = CsvOut::create(&dir.join("timeline.csv"), &hdr)?;
    if let (Some(&first), Some(&last)) = (days.keys().next(), days.keys().next_back()) {
        let (wf, wl) = (window.first_day(), window.last_day());
        let empty = super::scan::DayStats::default();
        // Every day between the first and the last, so that gaps show as zeros; but not for
        // a span of decades (a stray timestamp far off), where only days with lines are listed.
        let dense = first.until(last).map(|s| s.get_days()).unwrap_or(i32::MAX) <= 3660;
        let mut d = first;
        loop {
            let s = days.get(&d).unwrap_or(&empty);
            if !dense && !days.contains_key(&d) {
                match days.range(d..).next() {
                    Some((next, _)) => {
                        d = *next;
                        continue;
                    }
                    None => break,
                }
            }
            let mut row = vec![
                d.to_string(),
                (wf <= d && d <= wl).to_string(),
                known(s.requests),
                known(s.checkouts_in),
                known(s.checkouts_out),
                s.evidence.to_string(),
            ];
            row.extend(
                matched
                    .iter()
                    .map(|r| s.rule_hits.get(r).copied().unwrap_or(0).to_string()),
            );
            csv.row(row)?;
            if d >= last {
                break;
            }
            match d.tomorrow() {
                Ok(n) => d = n,
                Err(_) => break,
            }
        }
    }
    csv.commit()
}

/// `checkouts.csv`: the checkout submissions inside the window, in time order, with the user
/// and session values the log format carries: the input for finding people who typed a card
/// into the skimmed page but have no order (`affected --logs`).
pub fn checkouts(
    dir: &Path,
    files: &[&FileResult],
    sources: &[String],
    window: &Window,
) -> Result<()> {
    let mut all: Vec<&super::scan::Checkout> =
        files.iter().flat_map(|f| f.checkouts.iter()).collect();
    all.sort_by_key(|c| (c.time, c.file, c.line));
    let mut csv = CsvOut::create(
        &dir.join("checkouts.csv"),
        &[
            "time",
            "source",
            "ip",
            "user",
            "session",
            "target",
            "status",
            "user_agent",
        ],
    )?;
    for c in all {
        csv.row([
            window.format(c.time),
            format!("{}:{}", sources[c.file], c.line),
            c.ip.clone().unwrap_or_default(),
            c.user.clone().unwrap_or_default(),
            c.session.clone().unwrap_or_default(),
            c.target.clone().unwrap_or_default(),
            c.status.map(|s| s.to_string()).unwrap_or_default(),
            c.user_agent.clone().unwrap_or_default(),
        ])?;
    }
    csv.commit()
}

/// `rejected_lines.csv`: the sampled malformed lines (masked) with file:line and reason, then
/// every rejected row of the `--hits` files.
pub fn rejects(
    dir: &Path,
    files: &[(usize, &FileResult)],
    sources: &[String],
    imported: &[super::hits::HitsFileStats],
) -> Result<()> {
    let mut csv = CsvOut::create(
        &dir.join("rejected_lines.csv"),
        &["source", "reason", "line"],
    )?;
    for (i, f) in files {
        for r in &f.rejects {
            csv.row([
                format!("{}:{}", sources[*i], r.line),
                r.reason.clone(),
                r.text.clone(),
            ])?;
        }
    }
    for f in imported {
        for r in &f.rejects {
            csv.row([
                format!("{}:{}", f.file, r.line),
                r.reason.clone(),
                r.text.clone(),
            ])?;
        }
    }
    csv.commit()
}

/// What the summary needs beyond the scan.
pub struct SummaryInput<'a> {
    pub window: &'a Window,
    pub inputs: &'a [Input],
    pub results: &'a [std::result::Result<FileResult, String>],
    pub rules: &'a [Rule],
    pub builtin: usize,
    pub skipped: &'a [crate::rules::Skipped],
    pub hits: &'a [Hit],
    pub spans: &'a [Option<super::check::Span>],
    pub findings: &'a [Finding],
    pub gaps: &'a [Gap],
    pub min_level: &'a str,
    pub fields_missing: &'a [(String, Vec<String>)],
    pub checkout_paths: &'a [String],
    /// The names hits point into (`Hit::file`): the inputs, then names from `--hits` files.
    pub sources: &'a [String],
}

/// The `evidence` and `window_check` keys of `summary.json`.
/// The `evidence` and `window_check` sections of summary.json.
pub fn summary(s: &SummaryInput<'_>) -> crate::summary::Summary {
    let w = s.window;
    let mut files = Vec::new();
    let (mut lines, mut parsed, mut malformed) = (0u64, 0u64, 0u64);
    let (mut ck_in, mut ck_out, mut requests_in_window) = (0u64, 0u64, 0u64);
    let (mut ck_user, mut ck_session) = (0u64, 0u64);
    let mut cards = 0u64;
    for (input, r) in s.inputs.iter().zip(s.results) {
        match r {
            Ok(f) => {
                lines += f.lines;
                cards += f.cards.get("raw").copied().unwrap_or(0);
                ck_user += f.checkouts.iter().filter(|c| c.user.is_some()).count() as u64;
                ck_session += f.checkouts.iter().filter(|c| c.session.is_some()).count() as u64;
                parsed += f.parsed;
                malformed += f.malformed;
                for (d, st) in &f.days {
                    ck_in += st.checkouts_in;
                    ck_out += st.checkouts_out;
                    if w.first_day() <= *d && *d <= w.last_day() {
                        requests_in_window += st.requests;
                    }
                }
                files.push(json!({
                    "file": input.display,
                    "format": f.format,
                    "gzip": f.gzip,
                    "bytes": f.bytes,
                    "lines_read": f.lines,
                    "parsed": f.parsed,
                    "malformed": f.malformed,
                    "malformed_reasons": f.malformed_reasons,
                    "first_time": f.first.map(|t| w.format(t)),
                    "last_time": f.last.map(|t| w.format(t)),
                    "read_error": f.read_error,
                    // Card numbers in the file's lines, by column (`raw`: whole lines,
                    // malformed ones included); every one is masked wherever it is written.
                    "card_numbers_masked": f.cards,
                }));
            }
            Err(e) => files.push(json!({ "file": input.display, "error": e })),
        }
    }
    let mut ips: BTreeMap<&str, (u64, jiff::Timestamp, jiff::Timestamp)> = BTreeMap::new();
    for h in s.hits {
        if let Some(ip) = h.ip() {
            let e = ips.entry(ip).or_insert((0, h.time, h.time));
            e.0 += 1;
            e.1 = e.1.min(h.time);
            e.2 = e.2.max(h.time);
        }
    }
    let mut ip_list: Vec<_> = ips.iter().collect();
    ip_list.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    let ip_rows: Vec<Value> = ip_list
        .iter()
        .take(1000)
        .map(|(ip, (n, a, b))| json!({"ip": ip, "hits": n, "first": w.format(*a), "last": w.format(*b)}))
        .collect();
    let matched: Vec<Value> = s
        .rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let sp = s.spans[i]?;
            Some(json!({
                "id": r.id,
                "title": r.title,
                "level": r.level,
                "tags": r.tags,
                "hits": sp.hits,
                "first": w.format(sp.first.0),
                "last": w.format(sp.last.0),
                "indicator": super::check::is_indicator(r, s.min_level),
            }))
        })
        .collect();
    let in_window_hits = s.hits.iter().filter(|h| w.contains(h.time)).count();
    let evidence = json!({
        "window": w.summary(),
        "files": files,
        "totals": {
            "files": s.inputs.len(),
            "lines_read": lines,
            "parsed": parsed,
            "malformed": malformed,
            // Checked before anything is written: lines_read = parsed + malformed, per file.
            "reconciled": lines == parsed + malformed,
            "requests_in_window": requests_in_window,
            "evidence_requests": s.hits.len(),
            "evidence_requests_in_window": in_window_hits,
            "checkouts_in_window": ck_in,
            "checkouts_outside_window": ck_out,
            "checkouts_in_window_with_user": ck_user,
            "checkouts_in_window_with_session": ck_session,
            "card_numbers_masked": cards,
        },
        "rules": {
            "active": s.rules.len(),
            "builtin": s.builtin,
            "skipped": s.skipped,
            "matched": matched,
            "fields_missing_from_format": s.fields_missing.iter().map(|(id, f)| json!({"rule": id, "fields": f})).collect::<Vec<_>>(),
        },
        "checkout_paths": s.checkout_paths,
        "distinct_ips": ips.len(),
        "ips": ip_rows,
        "ips_listed": ip_rows.len(),
    });
    // Earliest and latest indicator over all indicator rules.
    let mut earliest: Option<(jiff::Timestamp, usize, u64, &Rule)> = None;
    let mut latest: Option<(jiff::Timestamp, usize, u64, &Rule)> = None;
    for (i, r) in s.rules.iter().enumerate() {
        let Some(sp) = s.spans[i] else { continue };
        if !super::check::is_indicator(r, s.min_level) {
            continue;
        }
        if earliest.is_none_or(|e| (sp.first.0, sp.first.1, sp.first.2) < (e.0, e.1, e.2)) {
            earliest = Some((sp.first.0, sp.first.1, sp.first.2, r));
        }
        if latest.is_none_or(|e| (sp.last.0, sp.last.1, sp.last.2) > (e.0, e.1, e.2)) {
            latest = Some((sp.last.0, sp.last.1, sp.last.2, r));
        }
    }
    let sources = s.sources;
    let ind = |x: Option<(jiff::Timestamp, usize, u64, &Rule)>| {
        x.map(|(t, f, l, r)| {
            json!({"time": w.format(t), "rule": r.id, "title": r.title, "source": format!("{}:{l}", sources[f]), "in_window": w.contains(t)})
        })
    };
    let status = if earliest.is_none() {
        "no_indicators"
    } else if s.findings.is_empty() {
        "indicators_inside_window"
    } else {
        "indicators_outside_window"
    };
    let mut warnings: Vec<String> = s.findings.iter().map(|f| f.message.clone()).collect();
    warnings.extend(s.gaps.iter().map(Gap::message));
    let window_check = json!({
        "window": w.summary(),
        "indicator_min_level": s.min_level,
        "status": status,
        "earliest_indicator": ind(earliest),
        "latest_indicator": ind(latest),
        "outside_window": s.findings,
        "log_gaps": s.gaps,
        "warnings": warnings,
    });
    crate::summary::Summary {
        evidence: Some(evidence),
        window_check: Some(window_check),
        ..Default::default()
    }
}
