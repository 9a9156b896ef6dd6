//! `summary.json`: the counts and facts of a run, machine-readable and stable (sorted keys, no
//! wall-clock times), so CI can diff two runs.
//!
//! [`Summary`] is the file's one declaration: `affected` fills its top-level keys, `evidence`
//! its `evidence` and `window_check` sections, the report its `deadlines`; `run`, the report and
//! the desk read it back as a struct. Several commands write into one case folder, each owning
//! some keys: [`merge_write_typed`] replaces only the keys a stage set (a `None` is a key the stage
//! does not own) and keeps the others, so running `evidence` after `affected` (or the other way
//! round) gives one summary with both. The file goes through a JSON map, so its keys come out
//! sorted whatever the field order here.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

pub const FILE: &str = "summary.json";

/// The whole of summary.json. Sections whose shape belongs to their stage (`files`,
/// `payments`, `evidence`, `window_check`, …) are kept as JSON here and built by that stage.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    // --- written by `affected` ---
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident: Option<Incident>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<Value>,
    /// The shop's zone; `null` when the window was given with offsets only.
    #[serde(skip_serializing_if = "Option::is_none", with = "present")]
    pub timezone: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_read: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_window: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_window: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_card: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected: Option<u64>,
    /// Every row read is in window, out of window, not card or rejected (checked before
    /// anything is written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconciled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_card_excluded_status: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders_in_window: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders_out_of_window: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders_not_card: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_disagreements: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id_collisions: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id_collisions_total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customers_affected: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customers_without_contact: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customers_login_only: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cards_affected: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cards_shared: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cards_invalid: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cards_masked_only: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_details_available: Option<bool>,
    /// The first and last in-window card order (`null` when there is none).
    #[serde(skip_serializing_if = "Option::is_none", with = "present")]
    pub first_affected_at: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none", with = "present")]
    pub last_affected_at: Option<Option<String>>,
    /// Brand → distinct cards and customers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_brand: Option<BTreeMap<String, BrandCount>>,
    /// Country → customers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_country: Option<BTreeMap<String, u64>>,
    /// `COUNTRY/region` → customers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_region: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_methods: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint_key: Option<KeyInfo>,
    /// Per order file: its path, encoding, layout, counts and warnings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<Value>>,
    /// Every warning of the run's `affected` part, as printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
    /// `affected` with payment exports: per file counts and the joins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payments: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orders_without_payment: Option<u64>,
    /// `affected --logs`: checkout submissions tied to orders.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkouts: Option<Value>,
    // --- written by `evidence` ---
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_check: Option<Value>,
    // --- written by the report ---
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadlines: Option<Value>,
    /// Keys of another version of the tool, kept as they are.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `incident` as the summary records it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Incident {
    pub name: Option<String>,
    pub id: String,
    pub company: Option<String>,
    pub exposed: Vec<String>,
}

/// Distinct cards and customers of one brand.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct BrandCount {
    pub cards: u64,
    pub customers: u64,
}

/// Which fingerprint key a run used: where it came from and its public id (never the key).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KeyInfo {
    pub source: String,
    pub id: String,
}

/// A key that is written even when its value is `null` (`Some(None)`), and left out when the
/// stage does not own it (`None`).
mod present {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer, T: Serialize>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }
}

impl Summary {
    /// The summary as the JSON object it is written as (keys sorted).
    pub fn to_map(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }
}

/// Replaces the keys `section` sets in the summary in `dir` (creating it when absent) and
/// writes it atomically. Keys another version wrote are kept.
fn merge_write(dir: &Path, section: Map<String, Value>) -> Result<()> {
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

/// Writes the keys `summary` sets into the summary in `dir` and keeps the others: the one way
/// a stage writes summary.json.
pub fn merge_write_typed(dir: &Path, summary: &Summary) -> Result<()> {
    merge_write(dir, summary.to_map())
}

/// Reads the summary in `dir` as JSON, when there is one.
pub fn read(dir: &Path) -> Option<Map<String, Value>> {
    let bytes = std::fs::read(dir.join(FILE)).ok()?;
    match serde_json::from_slice::<Value>(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// Reads the summary in `dir` as the struct: the default when there is none yet, an error
/// naming the file when it does not parse as a summary.
pub fn load(dir: &Path) -> Result<Summary> {
    let path = dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Input {
            path,
            message: format!("not a summary ({e}); re-create it with `skimtrace affected`"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Summary::default()),
        Err(e) => Err(Error::io(&path, e)),
    }
}
