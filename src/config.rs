//! `incident.toml`: the case's settings, read once and validated before any input is opened.
//!
//! Relative paths in the file are relative to the folder that holds it, so a case folder can be
//! moved or checked out anywhere. Every setting can also come from the command line, which wins.
//! Unknown keys are an error (a typo must not silently drop a setting).

use crate::error::{Error, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub incident: IncidentConfig,
    #[serde(default)]
    pub fingerprint: FingerprintConfig,
    #[serde(default)]
    pub orders: OrdersConfig,
    #[serde(default)]
    pub output: OutputConfig,
    /// `[logs]`: read by `evidence`.
    #[serde(default)]
    pub logs: Option<toml::Table>,
    /// `[payments]`: payment-gateway exports joined to the orders.
    #[serde(default)]
    pub payments: Option<toml::Table>,
    /// `[notify]`: sender and mail settings for `notify`.
    #[serde(default)]
    pub notify: Option<toml::Table>,
    /// `[contact]`: the inquiry desk named in notices and reports.
    #[serde(default)]
    pub contact: Option<toml::Table>,
    /// `[report]`: jurisdictions and thresholds for the report.
    #[serde(default)]
    pub report: Option<toml::Table>,
    /// The folder relative paths are resolved against (the config file's folder, or the
    /// current folder when there is no config file).
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The config file, when there is one.
    #[serde(skip)]
    pub path: Option<PathBuf>,
    /// The config file's bytes, for the manifest.
    #[serde(skip)]
    pub raw: Option<String>,
}

/// `[incident]`: what happened, to whom, when.
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentConfig {
    /// A short human name of the case.
    pub name: Option<String>,
    /// A stable identifier (letters, digits, `-`), used in Message-IDs and file names.
    pub id: Option<String>,
    /// The company that runs the shop and sends the notices.
    pub company: Option<String>,
    /// The shop's name as customers know it.
    pub shop: Option<String>,
    /// The shop's IANA time zone (`Asia/Tokyo`); naive timestamps are read in it.
    pub timezone: Option<String>,
    /// The compromise window, `2020-04-27..2021-12-22` (inclusive local dates).
    pub window: Option<String>,
    /// Exposed data items: `card_holder`, `card_number`, `expiry`, `security_code`, `login_id`,
    /// `password`, `email`, `address`, `phone`, `name`.
    #[serde(default)]
    pub exposed: Vec<String>,
    /// When the shop learned of the compromise (a date).
    pub discovered: Option<String>,
    /// Locale of customers whose orders name none (`ja` or `en`).
    pub default_locale: Option<String>,
    /// Country of customers whose orders name none (ISO 3166-1 alpha-2).
    pub default_country: Option<String>,
}

/// `[fingerprint]`: where the HMAC key for card fingerprints comes from. The environment
/// variable `SKIMTRACE_FINGERPRINT_KEY` wins over `key_file`; with neither, a random key is made
/// for the run (and the summary says so: fingerprints then differ between runs).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FingerprintConfig {
    pub key_file: Option<PathBuf>,
}

/// `[orders]`: the shop's order exports. Settings here apply to every file; `[[orders.inputs]]`
/// entries give files with settings of their own.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersConfig {
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(flatten)]
    pub settings: InputSettings,
    #[serde(default)]
    pub inputs: Vec<OrderInputConfig>,
    /// Payment methods that are card payments, besides the built-in list (regexes allowed
    /// when written `/…/`).
    #[serde(default)]
    pub card_methods: Vec<String>,
    /// Payment methods that are not card payments, besides the built-in list.
    #[serde(default)]
    pub not_card_methods: Vec<String>,
    /// Statuses whose orders are left out (case-insensitive). Empty by default: declined,
    /// failed and cancelled attempts were typed into the skimmed form too.
    #[serde(default)]
    pub exclude_statuses: Vec<String>,
}

/// Settings that can differ per input file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSettings {
    /// `auto` (default), or a preset name (`ec-cube4`, `ec-cube2`, `shopify`, `magento2`,
    /// `woocommerce`, `generic`).
    pub preset: Option<String>,
    /// `auto` (default: BOM, then valid UTF-8, then Shift_JIS/CP932), `utf-8`, `shift_jis`, or
    /// any WHATWG encoding label.
    pub encoding: Option<String>,
    /// `auto` (default), `epoch_seconds`, `epoch_millis`, or a strftime format.
    pub timestamp_format: Option<String>,
    /// Field → header name, for layouts the synonyms and presets do not cover.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Login/customer id values that mean "guest" (never link two orders).
    #[serde(default)]
    pub guest_ids: Vec<String>,
    /// Currency of rows whose export has no currency column.
    pub currency: Option<String>,
    /// Country of rows whose export has no country column.
    pub country: Option<String>,
    /// The IANA zone this file's naive times are in, when it is not incident.timezone (Stripe
    /// writes UTC).
    pub timezone: Option<String>,
    /// Required fields the user knows the export lacks (`email`, `payment_method`,
    /// `order_id`, `ordered_at`): the run goes on without them instead of stopping.
    #[serde(default)]
    pub waive: Vec<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderInputConfig {
    pub paths: Vec<String>,
    #[serde(flatten)]
    pub settings: InputSettings,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// The output (case) folder; default `out/<incident id>` in the current folder.
    pub dir: Option<PathBuf>,
}

impl InputSettings {
    /// These settings with `over`'s set values taking precedence.
    pub fn overlaid(&self, over: &InputSettings) -> InputSettings {
        let mut columns = self.columns.clone();
        columns.extend(over.columns.clone());
        let mut guest_ids = self.guest_ids.clone();
        guest_ids.extend(over.guest_ids.iter().cloned());
        InputSettings {
            preset: over.preset.clone().or_else(|| self.preset.clone()),
            encoding: over.encoding.clone().or_else(|| self.encoding.clone()),
            timestamp_format: over
                .timestamp_format
                .clone()
                .or_else(|| self.timestamp_format.clone()),
            columns,
            guest_ids,
            currency: over.currency.clone().or_else(|| self.currency.clone()),
            country: over.country.clone().or_else(|| self.country.clone()),
            timezone: over.timezone.clone().or_else(|| self.timezone.clone()),
            waive: self.waive.iter().chain(&over.waive).cloned().collect(),
        }
    }
}

impl Config {
    /// Reads and parses a config file. Errors name the file and, for syntax errors, the line.
    pub fn load(path: &Path) -> Result<Config> {
        let raw = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: format!("cannot read the config file: {e}"),
        })?;
        Config::from_text(raw, path)
    }

    /// Parses config text as if read from `path` (relative paths resolve against its folder).
    /// `report` uses it to read the config a manifest recorded.
    pub fn from_text(raw: String, path: &Path) -> Result<Config> {
        let mut cfg: Config = toml::from_str(&raw).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: describe_toml_error(&raw, &e),
        })?;
        cfg.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        cfg.path = Some(path.to_path_buf());
        cfg.raw = Some(raw);
        Ok(cfg)
    }

    /// The config used when no file is given: everything from the command line.
    pub fn empty() -> Config {
        Config {
            base_dir: PathBuf::from("."),
            ..Config::default()
        }
    }

    /// Resolves a path written in the config against the config's folder.
    pub fn resolve(&self, p: impl AsRef<Path>) -> PathBuf {
        let p = p.as_ref();
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The incident id used for file names and Message-IDs (`case` when none is set).
    pub fn incident_id(&self) -> String {
        self.incident
            .id
            .clone()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| "case".to_string())
    }

    /// Reads a typed optional section (`[logs]`, `[notify]`, …) held as a raw table.
    pub fn section<T: serde::de::DeserializeOwned + Default>(
        &self,
        table: &Option<toml::Table>,
        name: &str,
    ) -> Result<T> {
        match table {
            None => Ok(T::default()),
            Some(t) => t
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| self.error(format!("[{name}]: {}", e.message()))),
        }
    }

    /// A config error naming the config file (`incident.toml` when the settings came from the
    /// command line only).
    pub fn error(&self, message: impl Into<String>) -> Error {
        Error::Config {
            path: self
                .path
                .clone()
                .unwrap_or_else(|| PathBuf::from("incident.toml")),
            message: message.into(),
        }
    }
}

fn describe_toml_error(raw: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let line = raw[..span.start.min(raw.len())].matches('\n').count() + 1;
            format!("line {line}: {}", e.message())
        }
        None => e.message().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_errors_with_a_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("incident.toml");
        std::fs::write(&p, "[incident]\nname = \"x\"\ntimezon = \"Asia/Tokyo\"\n").unwrap();
        let e = Config::load(&p).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("timezon"), "{e}");
    }

    #[test]
    fn per_input_settings_overlay() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("incident.toml");
        std::fs::write(
            &p,
            r#"
[orders]
paths = ["a.csv"]
encoding = "utf-8"
[orders.columns]
email = "Mail"
[[orders.inputs]]
paths = ["b.csv"]
encoding = "shift_jis"
columns = { order_id = "No" }
"#,
        )
        .unwrap();
        let c = Config::load(&p).unwrap();
        let s = c.orders.settings.overlaid(&c.orders.inputs[0].settings);
        assert_eq!(s.encoding.as_deref(), Some("shift_jis"));
        assert_eq!(s.columns.get("email").map(String::as_str), Some("Mail"));
        assert_eq!(s.columns.get("order_id").map(String::as_str), Some("No"));
    }
}
