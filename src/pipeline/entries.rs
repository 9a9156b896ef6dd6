//! What the manifest records of a run besides its outputs: the config as read (and the
//! command line's overrides), the input files the stages read, and the headline counts.

use crate::config::Config;
use crate::error::Result;
use crate::manifest;
use crate::report::data::lookup;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The headline counts copied into the manifest (summary.json keys).
const COUNTS: &[&str] = &[
    "customers_affected",
    "customers_without_contact",
    "cards_affected",
    "orders_in_window",
    "rows_read",
    "in_window",
    "out_of_window",
    "not_card",
    "rejected",
    "payments.rows_read",
    "orders_without_payment",
    "evidence.totals.lines_read",
    "evidence.totals.evidence_requests",
    "evidence.totals.evidence_requests_in_window",
];

pub(super) fn config_entry(
    path: &Path,
    cfg: &Config,
    given: &BTreeMap<String, String>,
) -> Result<manifest::ConfigEntry> {
    let text = cfg.raw.clone().unwrap_or_default();
    let overrides = given.clone();
    Ok(manifest::ConfigEntry {
        path: path.to_string_lossy().replace('\\', "/"),
        size: text.len() as u64,
        sha256: crate::digest::sri_of(text.as_bytes()),
        overrides,
        text,
    })
}

/// The files the stages read, as summary.json names them (relative to the config's folder).
pub(super) fn input_files(
    cfg: &Config,
    summary: &Map<String, Value>,
) -> Vec<(PathBuf, String, &'static str)> {
    let mut out = Vec::new();
    for (key, field, role) in [
        ("files", "path", "orders"),
        ("payments.files", "path", "payments"),
        ("evidence.files", "file", "logs"),
    ] {
        for f in lookup(summary, key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(shown) = f.get(field).and_then(Value::as_str) {
                out.push((cfg.base_dir.join(shown), shown.to_string(), role));
            }
        }
    }
    out
}

fn csv_rows(path: &Path) -> Option<u64> {
    let mut r = csv::Reader::from_path(path).ok()?;
    Some(r.records().count() as u64)
}

pub(super) fn counts(summary: &Map<String, Value>, out: &Path) -> Map<String, Value> {
    let mut m = Map::new();
    for k in COUNTS {
        if let Some(v) = lookup(summary, k) {
            m.insert(k.to_string(), v.clone());
        }
    }
    if let Some(n) = csv_rows(&out.join("notices").join("index.csv")) {
        m.insert("notices_rendered".into(), n.into());
    }
    if let Some(n) = csv_rows(&out.join("no_email.csv")) {
        m.insert("customers_without_email".into(), n.into());
    }
    m
}
