//! What the report reads from a case folder: `summary.json` (every count), `orders.csv` (orders
//! per month), `evidence.jsonl` (hits per day), and the notices' `index.csv`, `no_email.csv` and
//! `sent.jsonl` when present. Nothing is recomputed from the inputs: the report's figures are the
//! case folder's figures.

use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The case folder's figures, read once.
#[derive(Debug, Default)]
pub struct CaseData {
    /// summary.json, as the struct that declares it.
    pub summary: crate::summary::Summary,
    /// The same as JSON: the report cites every figure by its summary.json path (printed next
    /// to the figure, so counsel can check it against the file), and reads it by that path.
    json: Map<String, Value>,
    /// Local month (`YYYY-MM`) → in-window card orders (orders.csv), when orders.csv exists.
    pub months: Option<BTreeMap<String, u64>>,
    /// Local day → (indicator hits, other matching requests), when evidence.jsonl exists.
    pub hit_days: Option<BTreeMap<String, (u64, u64)>>,
    pub notices: Option<Notices>,
    /// Each notification campaign found in the folder (`notice`, `preliminary`, …).
    pub campaigns: Vec<Campaign>,
}

/// What one notification campaign left in the folder, and how its list compares with the
/// current affected list.
#[derive(Debug, Default)]
pub struct Campaign {
    pub name: String,
    /// Customers with a rendered message (`index.csv`).
    pub rendered: u64,
    /// Customers by the last outcome the journal holds for their message (review copies left
    /// out): accepted, deferred, failed, unknown (sent without a final reply).
    pub accepted: u64,
    pub deferred: u64,
    pub failed: u64,
    pub unknown: u64,
    /// First and last journal event (RFC 3339), when the campaign was sent.
    pub first_sent: Option<String>,
    pub last_sent: Option<String>,
    /// Of the campaign's customers (rendered or journalled): still on the current list.
    pub still_affected: u64,
    /// Of the campaign's customers: no longer on the current list (a correction may be owed).
    pub no_longer_affected: u64,
    /// On the current list but never reached by this campaign.
    pub not_in_campaign: u64,
}

/// What `notify` left in the folder.
#[derive(Debug, Default)]
pub struct Notices {
    /// Rows of notices/index.csv (notices rendered), when it exists.
    pub rendered: Option<u64>,
    /// Rows of no_email.csv (customers to reach by post), when it exists.
    pub no_email: Option<u64>,
    /// Customers whose notice the server accepted (sent.jsonl, review copies left out), when
    /// the journal exists.
    pub accepted: Option<u64>,
}

impl CaseData {
    /// Reads the case folder. summary.json is required (it holds every count); the other files
    /// add charts and sections when present.
    pub fn load(dir: &Path) -> Result<CaseData> {
        if !dir.join(crate::summary::FILE).is_file() {
            return Err(Error::usage(format!(
                "{}: no readable summary.json; run `skimtrace run --config incident.toml --out {}` (or `skimtrace affected`) first",
                dir.join(crate::summary::FILE).display(),
                dir.display()
            )));
        }
        let summary = crate::summary::load(dir)?;
        let json = summary.to_map();
        let months = read_months(&dir.join("orders.csv"))?;
        let indicators = indicator_rules(&json);
        let hit_days = read_hit_days(&dir.join("evidence.jsonl"), &indicators)?;
        let notices = read_notices(dir)?;
        let campaigns = read_campaigns(dir)?;
        Ok(CaseData {
            summary,
            json,
            months,
            hit_days,
            notices,
            campaigns,
        })
    }

    /// The value at a dotted path of summary.json (`payments.rows_read`, `by_region.JP/東京都`):
    /// at each level the longest key that matches wins, so keys holding dots still resolve.
    pub fn get(&self, path: &str) -> Option<&Value> {
        lookup(&self.json, path)
    }

    /// A count at a dotted path, 0 when absent.
    pub fn count(&self, path: &str) -> u64 {
        self.get(path).and_then(Value::as_u64).unwrap_or(0)
    }

    /// Adds the deadlines table (written by the report itself) to what the report reads.
    pub fn set_deadlines(&mut self, table: Value) {
        self.json.insert("deadlines".into(), table.clone());
        self.summary.deadlines = Some(table);
    }

    /// A string at a dotted path.
    pub fn text(&self, path: &str) -> Option<&str> {
        self.get(path).and_then(Value::as_str)
    }
}

/// Resolves a dotted path in a JSON object (see [`CaseData::get`]); a number indexes an array
/// (`files.0.rows_read`).
pub fn lookup<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = map.get(path) {
        return Some(v);
    }
    let dots: Vec<usize> = path.match_indices('.').map(|(i, _)| i).collect();
    for &i in dots.iter().rev() {
        let rest = &path[i + 1..];
        match map.get(&path[..i]) {
            Some(Value::Object(m)) => {
                if let Some(v) = lookup(m, rest) {
                    return Some(v);
                }
            }
            Some(Value::Array(a)) => {
                let (idx, tail) = rest.split_once('.').unwrap_or((rest, ""));
                let item = idx.parse::<usize>().ok().and_then(|n| a.get(n));
                match (item, tail) {
                    (Some(v), "") => return Some(v),
                    (Some(Value::Object(m)), t) => {
                        if let Some(v) = lookup(m, t) {
                            return Some(v);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    None
}

fn open_csv(path: &Path) -> Result<Option<csv::Reader<std::fs::File>>> {
    match std::fs::File::open(path) {
        Ok(f) => Ok(Some(csv::ReaderBuilder::new().from_reader(f))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn bad_line(path: &Path, line: usize, message: String) -> Error {
    Error::Record {
        path: PathBuf::from(path),
        line: line as u64,
        message: format!("{message}; re-create the case folder with `skimtrace run --force`"),
    }
}

fn bad(path: &Path, message: String) -> Error {
    Error::Input {
        path: PathBuf::from(path),
        message: format!("{message}; re-create the case folder with `skimtrace run --force`"),
    }
}

/// In-window card orders per local month. `ordered_at` is RFC 3339 with the incident's offset,
/// so its first seven characters are the local month.
fn read_months(path: &Path) -> Result<Option<BTreeMap<String, u64>>> {
    let Some(mut r) = open_csv(path)? else {
        return Ok(None);
    };
    let headers = r.headers().map_err(|e| bad(path, e.to_string()))?.clone();
    let col = headers
        .iter()
        .position(|h| h == "ordered_at")
        .ok_or_else(|| bad(path, "no ordered_at column".into()))?;
    let mut months = BTreeMap::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad_line(path, i + 2, e.to_string()))?;
        let at = rec.get(col).unwrap_or_default();
        let month = at.get(..7).unwrap_or("(unknown)").to_string();
        *months.entry(month).or_insert(0) += 1;
    }
    Ok(Some(months))
}

/// Rules the window check counts as indicators (summary.json `evidence.rules.matched`).
fn indicator_rules(summary: &Map<String, Value>) -> BTreeSet<String> {
    lookup(summary, "evidence.rules.matched")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r.get("indicator").and_then(Value::as_bool) == Some(true))
        .filter_map(|r| r.get("id").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// Matching requests per local day, split into indicator hits and the rest.
fn read_hit_days(
    path: &Path,
    indicators: &BTreeSet<String>,
) -> Result<Option<BTreeMap<String, (u64, u64)>>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut days: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: Value =
            serde_json::from_str(line).map_err(|e| bad_line(path, i + 1, e.to_string()))?;
        let day = v
            .get("time")
            .and_then(Value::as_str)
            .and_then(|t| t.get(..10))
            .ok_or_else(|| bad_line(path, i + 1, "no time".into()))?
            .to_string();
        let indicator = v
            .get("rules")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|r| indicators.contains(r));
        let e = days.entry(day).or_default();
        if indicator {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    Ok(Some(days))
}

fn count_rows(path: &Path) -> Result<Option<u64>> {
    let Some(mut r) = open_csv(path)? else {
        return Ok(None);
    };
    let mut n = 0;
    for rec in r.records() {
        rec.map_err(|e| bad(path, e.to_string()))?;
        n += 1;
    }
    Ok(Some(n))
}

/// The customer ids of a CSV's `customer_id` column, when the file exists.
fn customer_ids(path: &Path) -> Result<Option<BTreeSet<String>>> {
    let Some(mut r) = open_csv(path)? else {
        return Ok(None);
    };
    let headers = r.headers().map_err(|e| bad(path, e.to_string()))?.clone();
    let Some(col) = headers.iter().position(|h| h == "customer_id") else {
        return Ok(Some(BTreeSet::new()));
    };
    let mut ids = BTreeSet::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| bad(path, e.to_string()))?;
        if let Some(v) = rec.get(col) {
            ids.insert(v.to_string());
        }
    }
    Ok(Some(ids))
}

/// The campaigns of the folder: `notice` keeps `notices/` and `sent.jsonl`; any other campaign
/// C has `notices-C/` and `sent-C.jsonl` (see `notify --campaign`).
fn read_campaigns(dir: &Path) -> Result<Vec<Campaign>> {
    use crate::notify::journal::{Event, Phase};
    let mut names: BTreeSet<String> = BTreeSet::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n == "notices" || n == "sent.jsonl" {
                names.insert("notice".into());
            } else if let Some(c) = n.strip_prefix("notices-") {
                names.insert(c.to_string());
            } else if let Some(c) = n
                .strip_prefix("sent-")
                .and_then(|c| c.strip_suffix(".jsonl"))
            {
                names.insert(c.to_string());
            }
        }
    }
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let current: BTreeSet<String> = match std::fs::read_to_string(dir.join("affected.jsonl")) {
        Ok(text) => text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter_map(|v| {
                v.get("customer_id")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect(),
        Err(_) => BTreeSet::new(),
    };
    let mut out = Vec::new();
    for name in names {
        let (folder, journal) = if name == "notice" {
            ("notices".to_string(), "sent.jsonl".to_string())
        } else {
            (format!("notices-{name}"), format!("sent-{name}.jsonl"))
        };
        let mut c = Campaign {
            name,
            ..Campaign::default()
        };
        let mut members = customer_ids(&dir.join(&folder).join("index.csv"))?.unwrap_or_default();
        c.rendered = members.len() as u64;
        let path = dir.join(&journal);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                // The last phase of each customer's message decides its outcome.
                let mut last: BTreeMap<String, Phase> = BTreeMap::new();
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    let Ok(ev) = serde_json::from_str::<Event>(line) else {
                        continue;
                    };
                    if ev.review {
                        continue;
                    }
                    if c.first_sent.as_deref().is_none_or(|t| ev.time.as_str() < t) {
                        c.first_sent = Some(ev.time.clone());
                    }
                    if c.last_sent.as_deref().is_none_or(|t| ev.time.as_str() > t) {
                        c.last_sent = Some(ev.time.clone());
                    }
                    members.insert(ev.customer_id.clone());
                    last.insert(ev.customer_id, ev.phase);
                }
                for phase in last.values() {
                    match phase {
                        Phase::Accepted => c.accepted += 1,
                        Phase::Deferred => c.deferred += 1,
                        Phase::Failed => c.failed += 1,
                        Phase::Data | Phase::Unknown => c.unknown += 1,
                        Phase::Started => {}
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
        c.still_affected = members.intersection(&current).count() as u64;
        c.no_longer_affected = members.difference(&current).count() as u64;
        c.not_in_campaign = current.difference(&members).count() as u64;
        out.push(c);
    }
    Ok(out)
}

fn read_notices(dir: &Path) -> Result<Option<Notices>> {
    let rendered = count_rows(&dir.join("notices").join("index.csv"))?;
    let no_email = count_rows(&dir.join("no_email.csv"))?;
    let journal = dir.join("sent.jsonl");
    let accepted = match std::fs::read_to_string(&journal) {
        Ok(text) => {
            let mut customers = BTreeSet::new();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                // A torn last line (a killed run) is the journal's own business: skip it here.
                let Ok(ev) = serde_json::from_str::<crate::notify::journal::Event>(line) else {
                    continue;
                };
                if !ev.review && ev.phase == crate::notify::journal::Phase::Accepted {
                    customers.insert(ev.customer_id);
                }
            }
            Some(customers.len() as u64)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(&journal, e)),
    };
    if rendered.is_none() && no_email.is_none() && accepted.is_none() {
        return Ok(None);
    }
    Ok(Some(Notices {
        rendered,
        no_email,
        accepted,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_find_keys_with_slashes_and_nesting() {
        let v: Value = serde_json::json!({
            "by_region": {"JP/東京都": 3, "US/CA": 1},
            "payments": {"rows_read": 31},
            "a.b": 7
        });
        let m = v.as_object().unwrap();
        assert_eq!(lookup(m, "by_region.JP/東京都"), Some(&Value::from(3)));
        assert_eq!(lookup(m, "payments.rows_read"), Some(&Value::from(31)));
        assert_eq!(lookup(m, "a.b"), Some(&Value::from(7)));
        assert_eq!(lookup(m, "payments.nope"), None);
        let v: Value = serde_json::json!({"files": [{"rows_read": 5}, {"rows_read": 6}]});
        assert_eq!(
            lookup(v.as_object().unwrap(), "files.1.rows_read"),
            Some(&Value::from(6))
        );
    }
}
