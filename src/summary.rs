//! `summary.json`: the counts and facts of a run, machine-readable and stable (sorted keys, no
//! wall-clock times), so CI can diff two runs.
//!
//! Several commands write into one case folder (`affected`, `evidence`, …). Each owns some
//! top-level keys; [`merge_write`] replaces only those and keeps the others, so running
//! `evidence` after `affected` (or the other way round) gives one summary with both.

use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::path::Path;

pub const FILE: &str = "summary.json";

/// Replaces `keys` of the summary in `dir` (creating it when absent) and writes it atomically.
pub fn merge_write(dir: &Path, section: Map<String, Value>) -> Result<()> {
    let path = dir.join(FILE);
    let mut current: Map<String, Value> = match std::fs::read(&path) {
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
        Err(e) => return Err(Error::io(&path, e)),
    };
    for (k, v) in section {
        current.insert(k, v);
    }
    // serde_json's Map is a BTreeMap without the preserve_order feature: keys come out sorted.
    crate::output::write_json(&path, &Value::Object(current))
}

/// Reads the summary in `dir`, when there is one.
pub fn read(dir: &Path) -> Option<Map<String, Value>> {
    let bytes = std::fs::read(dir.join(FILE)).ok()?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}
