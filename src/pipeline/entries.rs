//! What the manifest records of a run besides its outputs and inputs: the config as read (and
//! the command line's overrides) and the headline counts.

use crate::config::Config;
use crate::error::Result;
use crate::manifest;
use crate::summary::Summary;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

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

fn csv_rows(path: &Path) -> Option<u64> {
    let mut r = csv::Reader::from_path(path).ok()?;
    Some(r.records().count() as u64)
}

/// The headline counts copied into the manifest (named as in summary.json).
pub(super) fn counts(summary: &Summary, out: &Path) -> Map<String, Value> {
    let mut m = Map::new();
    let s = summary;
    let evidence = |k: &str| {
        s.evidence
            .as_ref()
            .and_then(|e| e.pointer(&format!("/totals/{k}")))
            .cloned()
    };
    let top = [
        ("customers_affected", s.customers_affected.map(Value::from)),
        (
            "customers_without_contact",
            s.customers_without_contact.map(Value::from),
        ),
        ("cards_affected", s.cards_affected.map(Value::from)),
        ("orders_in_window", s.orders_in_window.map(Value::from)),
        ("rows_read", s.rows_read.map(Value::from)),
        ("in_window", s.in_window.map(Value::from)),
        ("out_of_window", s.out_of_window.map(Value::from)),
        ("not_card", s.not_card.map(Value::from)),
        ("rejected", s.rejected.map(Value::from)),
        (
            "payments.rows_read",
            s.payments
                .as_ref()
                .and_then(|p| p.get("rows_read"))
                .cloned(),
        ),
        (
            "orders_without_payment",
            s.orders_without_payment.map(Value::from),
        ),
        ("evidence.totals.lines_read", evidence("lines_read")),
        (
            "evidence.totals.evidence_requests",
            evidence("evidence_requests"),
        ),
        (
            "evidence.totals.evidence_requests_in_window",
            evidence("evidence_requests_in_window"),
        ),
    ];
    for (k, v) in top {
        if let Some(v) = v {
            m.insert(k.to_string(), v);
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
