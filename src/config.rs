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
    /// `[logs]`: read by `evidence`. `None` when the file has no `[logs]` (`run` then skips
    /// the evidence stage).
    #[serde(default)]
    pub logs: Option<crate::evidence::LogsConfig>,
    /// `[payments]`: payment-gateway exports joined to the orders.
    #[serde(default)]
    pub payments: Option<crate::payments::PaymentsConfig>,
    /// `[notify]`: sender and mail settings for `notify`. `None` when absent (`run` then
    /// skips the notices).
    #[serde(default)]
    pub notify: Option<crate::notify::settings::NotifyConfig>,
    /// `[contact]`: the inquiry desk named in notices and reports.
    #[serde(default)]
    pub contact: Option<crate::notify::settings::ContactConfig>,
    /// `[report]`: jurisdictions and thresholds for the report.
    #[serde(default)]
    pub report: Option<crate::report::ReportConfig>,
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
    /// The compromise window, `2020-04-27..2021-12-22` (inclusive local dates), or the same as
    /// a table `{ start = "2020-04-27", end = "2021-12-22" }`: both are kept as `START..END`, the
    /// form `--window` takes, so the rest of the tool reads one form only.
    #[serde(default, deserialize_with = "window_setting")]
    pub window: Option<String>,
    /// Exposed data items: `card_holder`, `card_number`, `expiry`, `security_code`, `login_id`,
    /// `password`, `email`, `address`, `phone`, `name`.
    #[serde(default)]
    pub exposed: Vec<String>,
    /// When the shop learned of the compromise (a date). The regulators' deadlines run from it.
    pub discovered: Option<String>,
    /// When the preliminary report (速報) went to the PPC (a date), once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_preliminary: Option<String>,
    /// When the final report (確報) went to the PPC (a date), once it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_final: Option<String>,
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
    ///
    /// Every section is parsed and checked here, before any input is opened, and one error
    /// lists every problem in the file (each with its line where the parser knows it), so a
    /// typo in `[notify]` is found before `evidence` and `affected` have run, and a user fixes
    /// the file in one go.
    pub fn from_text(raw: String, path: &Path) -> Result<Config> {
        let fail = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        // A syntax error stops here: nothing after it can be read reliably.
        let table: toml::Table =
            toml::from_str(&raw).map_err(|e| fail(describe_toml_error(&raw, &e)))?;
        let mut problems: Vec<String> = Vec::new();
        let mut cfg = Config::default();
        for name in table.keys() {
            let read = match name.as_str() {
                "incident" => pick(&raw, name, &mut cfg.incident),
                "fingerprint" => pick(&raw, name, &mut cfg.fingerprint),
                "orders" => pick(&raw, name, &mut cfg.orders),
                "output" => pick(&raw, name, &mut cfg.output),
                "logs" => pick_some(&raw, name, &mut cfg.logs),
                "payments" => pick_some(&raw, name, &mut cfg.payments),
                "notify" => pick_some(&raw, name, &mut cfg.notify),
                "contact" => pick_some(&raw, name, &mut cfg.contact),
                "report" => pick_some(&raw, name, &mut cfg.report),
                other => Err(format!(
                    "line {}: unknown section [{other}], expected one of [{}]",
                    header_line(&raw, other),
                    SECTIONS.join("], [")
                )),
            };
            if let Err(p) = read {
                problems.push(p);
            }
        }
        problems.extend(cfg.check());
        if !problems.is_empty() {
            let message = if problems.len() == 1 {
                problems.remove(0)
            } else {
                format!(
                    "{} problems:\n{}",
                    problems.len(),
                    problems
                        .iter()
                        .map(|p| format!("  - {p}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            };
            return Err(fail(message));
        }
        cfg.base_dir = path
            .parent()
            .map(Path::to_path_buf)
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        cfg.path = Some(path.to_path_buf());
        cfg.raw = Some(raw);
        Ok(cfg)
    }

    /// The checks of values the parser cannot make: the zone, the window, the report's
    /// language and the payments join's pattern. Each problem is one line of the error.
    fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(id) = &self.incident.id {
            // The id names the case folder (`out/<id>`), file names and Message-IDs, all
            // written as they are.
            if crate::cards::detect::holds_card(id.as_bytes()) {
                problems.push(format!(
                    "[incident] id = {:?}: holds a card number, and the id names the case folder, its files and every Message-ID; use a case name, e.g. id = \"shop-2021-12\"",
                    crate::cards::detect::mask(id).0
                ));
            }
        }
        let zone = self.incident.timezone.as_deref();
        if let Some(tz) = zone {
            if crate::window::zone(tz).is_err() {
                problems.push(format!(
                    "[incident] timezone = {tz:?}: not an IANA time zone, e.g. timezone = \"Asia/Tokyo\""
                ));
            }
        }
        if let Some(w) = &self.incident.window {
            let valid_zone = zone.filter(|tz| crate::window::zone(tz).is_ok());
            if let Err(e) = crate::window::Window::parse(w, valid_zone) {
                // A window of dates needs the zone; its absence is said where the window is
                // used (the command line may give --tz).
                if !matches!(e, crate::window::WindowError::NeedsZone(_)) {
                    problems.push(format!("[incident] window: {e}"));
                }
            }
        }
        if let Some(l) = self.report.as_ref().and_then(|r| r.language.as_deref()) {
            if crate::report::lang::Lang::parse(l).is_none() {
                problems.push(format!(
                    "[report] language = {l:?}: expected \"ja\" or \"en\", e.g. language = \"ja\""
                ));
            }
        }
        if let Some(p) = &self.payments {
            if let Err(m) = crate::payments::JoinRules::new(&p.join) {
                problems.push(m);
            }
        }
        problems
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

    /// `[logs]`, or its defaults when the file has none.
    pub fn logs(&self) -> crate::evidence::LogsConfig {
        self.logs.clone().unwrap_or_default()
    }

    /// `[payments]`, or its defaults when the file has none.
    pub fn payments(&self) -> crate::payments::PaymentsConfig {
        self.payments.clone().unwrap_or_default()
    }

    /// `[notify]`, or its defaults when the file has none.
    pub fn notify(&self) -> crate::notify::settings::NotifyConfig {
        self.notify.clone().unwrap_or_default()
    }

    /// `[contact]`, or its defaults when the file has none.
    pub fn contact(&self) -> crate::notify::settings::ContactConfig {
        self.contact.clone().unwrap_or_default()
    }

    /// `[report]`, or its defaults when the file has none.
    pub fn report(&self) -> crate::report::ReportConfig {
        self.report.clone().unwrap_or_default()
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

/// The top-level sections of incident.toml.
const SECTIONS: &[&str] = &[
    "incident",
    "fingerprint",
    "orders",
    "payments",
    "logs",
    "notify",
    "contact",
    "report",
    "output",
];

/// Reads section `name` of `raw` into `slot`, or says what is wrong with it (with its line).
fn pick<T: serde::de::DeserializeOwned>(
    raw: &str,
    name: &str,
    slot: &mut T,
) -> std::result::Result<(), String> {
    let mut found = None;
    pick_some(raw, name, &mut found)?;
    if let Some(v) = found {
        *slot = v;
    }
    Ok(())
}

/// [`pick`] for a section whose absence means something (`None`).
fn pick_some<T: serde::de::DeserializeOwned>(
    raw: &str,
    name: &str,
    slot: &mut Option<T>,
) -> std::result::Result<(), String> {
    match section_from_text::<T>(raw, name) {
        Ok(v) => {
            *slot = v;
            Ok(())
        }
        Err(e) if e.span().is_some() => Err(format!("[{name}] {}", describe_toml_error(raw, &e))),
        Err(e) => Err(describe_section_error(name, e.message())),
    }
}

/// The line of the header `[name]` (or `[[name…` / `name =`), for a section the tool does not
/// know.
fn header_line(raw: &str, name: &str) -> usize {
    raw.lines()
        .position(|l| {
            let t = l.trim_start().trim_start_matches('[').trim_start();
            t.starts_with(name) && t[name.len()..].trim_start().starts_with([']', '.', '='])
        })
        .map_or(1, |i| i + 1)
}

fn describe_toml_error(raw: &str, e: &toml::de::Error) -> String {
    let msg = e.message();
    match e.span() {
        Some(span) => {
            let line = raw[..span.start.min(raw.len())].matches('\n').count() + 1;
            let hint = if msg.starts_with("invalid type") || msg.starts_with("invalid value") {
                key_at(raw, span.start)
                    .and_then(|k| expected_form(&k, msg).map(|f| format!(" ({k}: {f})")))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            format!("line {line}: {msg}{hint}")
        }
        None => msg.to_string(),
    }
}

/// Reads the top-level table `name` of a TOML text as `T`, keeping the text's spans, so an error
/// has a line (the other tables are skipped unread).
fn section_from_text<T: serde::de::DeserializeOwned>(
    raw: &str,
    name: &str,
) -> std::result::Result<Option<T>, toml::de::Error> {
    use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
    struct Pick<'a, T>(&'a str, std::marker::PhantomData<T>);
    impl<'de, T: serde::de::DeserializeOwned> Visitor<'de> for Pick<'_, T> {
        type Value = Option<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a TOML document")
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut m: A,
        ) -> std::result::Result<Option<T>, A::Error> {
            let mut found = None;
            while let Some(k) = m.next_key::<String>()? {
                if k == self.0 {
                    found = Some(m.next_value::<T>()?);
                } else {
                    m.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found)
        }
    }
    impl<'de, T: serde::de::DeserializeOwned> DeserializeSeed<'de> for Pick<'_, T> {
        type Value = Option<T>;
        fn deserialize<D: serde::Deserializer<'de>>(
            self,
            d: D,
        ) -> std::result::Result<Option<T>, D::Error> {
            d.deserialize_map(self)
        }
    }
    let de = toml::de::Deserializer::parse(raw)?;
    Pick::<T>(name, std::marker::PhantomData).deserialize(de)
}

/// A type error in a section read after parsing (`[report]`, `[notify]`, …), which has no line:
/// names the key when serde does, and the form it expects.
fn describe_section_error(section: &str, msg: &str) -> String {
    // serde words a wrong type as "invalid type: X, expected Y"; toml adds the key path when it
    // knows it ("… for key `report.thresholds`"), and otherwise nothing names the key.
    let key = msg
        .split('`')
        .nth(1)
        .map(|k| k.rsplit('.').next().unwrap_or(k).to_string());
    let hint = match &key {
        Some(k) if msg.starts_with("invalid type") || msg.starts_with("invalid value") => {
            expected_form(k, msg)
                .map(|f| format!(" ({k}: {f})"))
                .unwrap_or_default()
        }
        _ => String::new(),
    };
    format!("[{section}]: {msg}{hint}")
}

/// The window as written in incident.toml: the flag's string, or a table with `start` and `end`
/// (decisions: both mean the same). Anything else says what to write, with both examples.
fn window_setting<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<String>, D::Error> {
    // A bound may be a quoted date or an unquoted TOML date / datetime: both read as text.
    fn bound(v: Option<&toml::Value>) -> Option<String> {
        match v? {
            toml::Value::String(s) => Some(s.clone()),
            toml::Value::Datetime(d) => Some(d.to_string()),
            _ => None,
        }
    }
    let bad = || serde::de::Error::custom(WINDOW_FORMS);
    match toml::Value::deserialize(d).map_err(|_| bad())? {
        toml::Value::String(s) => Ok(Some(s)),
        toml::Value::Table(t) if t.len() == 2 => {
            match (bound(t.get("start")), bound(t.get("end"))) {
                (Some(a), Some(b)) => Ok(Some(format!("{a}..{b}"))),
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

const WINDOW_FORMS: &str = "incident.window: expected the compromise window as a string START..END, e.g. window = \"2020-04-27..2021-12-22\", or as a table with start and end, e.g. window = { start = \"2020-04-27\", end = \"2021-12-22\" }";

/// What a config key expects, with an example, for the type errors serde words in its own terms
/// ("invalid type: map, expected a string"): keys whose form is not obvious are named here, the
/// rest get the form of the type serde expected.
fn expected_form(key: &str, serde_message: &str) -> Option<String> {
    let known: &[(&str, &str)] = &[
        ("window", "the window as \"2020-04-27..2021-12-22\" or { start = \"2020-04-27\", end = \"2021-12-22\" }"),
        ("discovered", "a date in quotes, e.g. discovered = \"2021-12-07\""),
        ("reported_preliminary", "a date in quotes, e.g. reported_preliminary = \"2021-12-10\""),
        ("reported_final", "a date in quotes, e.g. reported_final = \"2022-01-31\""),
        ("exposed", "a list of items, e.g. exposed = [\"card_number\", \"expiry\", \"security_code\"]"),
        ("paths", "a list of paths, e.g. paths = [\"orders/*.csv\"]"),
        ("thresholds", "a list of tables, e.g. thresholds = [{ jurisdiction = \"US-CA\", country = \"US\", region = \"CA\", min = 501, deadline_days = 30 }]"),
        ("min", "a whole number, e.g. min = 501"),
        ("deadline_days", "a whole number of days, e.g. deadline_days = 30"),
        ("from", "\"discovered\" or a date in quotes, e.g. from = \"2021-12-07\""),
        ("language", "\"ja\" or \"en\", e.g. language = \"ja\""),
        ("columns", "a table of field = \"header\", e.g. columns = { email = \"Mail\" }"),
        ("regions", "a list of spellings, e.g. regions = [\"岡山県\", \"JP-33\"]"),
    ];
    if let Some((_, form)) = known.iter().find(|(k, _)| *k == key) {
        return Some(format!("expected {form}"));
    }
    let m = serde_message;
    let generic = if m.contains("expected a string") || m.contains("expected a borrowed string") {
        format!("a string in quotes, e.g. {key} = \"…\"")
    } else if m.contains("expected a sequence") {
        format!("a list, e.g. {key} = [\"…\", \"…\"]")
    } else if m.contains("expected a boolean") {
        format!("true or false, e.g. {key} = true")
    } else if m.contains("expected u") || m.contains("expected i") || m.contains("integer") {
        format!("a whole number, e.g. {key} = 30")
    } else if m.contains("expected a map") || m.contains("expected struct") {
        format!("a table, e.g. [{key}] on a line of its own, or {key} = {{ … }}")
    } else {
        return None;
    };
    Some(format!("expected {generic}"))
}

/// The key a TOML error points at: the `key =` on the error's line (`None` for a table header).
fn key_at(raw: &str, start: usize) -> Option<String> {
    let line_start = raw[..start.min(raw.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = raw[line_start..].lines().next().unwrap_or("");
    let (k, _) = line.split_once('=')?;
    let k = k.trim().trim_matches('"');
    // Inside an inline table the error may point at an inner key: take the key before `=`
    // closest to the error.
    let upto = &raw[line_start..start.min(raw.len())];
    let inner = upto
        .rsplit(['{', ','])
        .next()
        .and_then(|s| s.split_once('='))
        .map(|(k, _)| k.trim().trim_matches('"').to_string());
    Some(
        inner
            .filter(|s| !s.is_empty() && !s.contains(' '))
            .unwrap_or_else(|| k.rsplit('.').next().unwrap_or(k).to_string()),
    )
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

    fn load_text(text: &str) -> Result<Config> {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("incident.toml");
        std::fs::write(&p, text).unwrap();
        Config::load(&p)
    }

    #[test]
    fn window_as_a_table_means_the_same_as_the_string() {
        let t =
            load_text("[incident]\nwindow = { start = \"2020-04-27\", end = \"2021-12-22\" }\n")
                .unwrap();
        assert_eq!(t.incident.window.as_deref(), Some("2020-04-27..2021-12-22"));
        // Unquoted TOML dates and datetimes with an offset read the same way.
        let t = load_text(
            "[incident]\nwindow = { start = 2020-04-27, end = 2021-12-22T12:00:00+09:00 }\n",
        )
        .unwrap();
        assert_eq!(
            t.incident.window.as_deref(),
            Some("2020-04-27..2021-12-22T12:00:00+09:00")
        );
        let s = load_text("[incident]\nwindow = \"2020-04-27..2021-12-22\"\n").unwrap();
        assert_eq!(s.incident.window.as_deref(), Some("2020-04-27..2021-12-22"));
    }

    #[test]
    fn a_window_of_another_shape_names_both_forms() {
        for bad in [
            "window = { start = \"2020-04-27\" }",
            "window = { start = \"2020-04-27\", until = \"2021-12-22\" }",
            "window = [\"2020-04-27\", \"2021-12-22\"]",
            "window = 2020",
            "window = { start = 1, end = 2 }",
        ] {
            let e = load_text(&format!("[incident]\nname = \"x\"\n{bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("line 3"), "{bad}: {e}");
            assert!(
                e.contains("window = \"2020-04-27..2021-12-22\"")
                    && e.contains("window = { start = \"2020-04-27\", end = \"2021-12-22\" }"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn type_errors_name_the_expected_form_with_an_example() {
        for (bad, want) in [
            (
                "[incident]\ndiscovered = 2021-12-07\n",
                "discovered = \"2021-12-07\"",
            ),
            (
                "[incident]\nexposed = \"card_number\"\n",
                "exposed = [\"card_number\"",
            ),
            (
                "[orders]\npaths = \"orders/a.csv\"\n",
                "paths = [\"orders/*.csv\"]",
            ),
            ("[incident]\nname = 5\n", "name = \"…\""),
        ] {
            let e = load_text(bad).unwrap_err().to_string();
            assert!(e.contains(want), "{bad}: {e}");
            assert!(e.contains("line 2"), "{bad}: {e}");
        }
    }

    #[test]
    fn section_type_errors_name_the_expected_form_at_load() {
        let e = load_text(
            "[report]\nthresholds = [{ jurisdiction = \"X\", country = \"US\", min = \"501\" }]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("min = 501"), "{e}");
        assert!(e.contains("line 2"), "{e}");
    }

    /// A typo in `[notify]` is found at load, before any stage runs, and every problem of the
    /// file is in the one error, each with its line.
    #[test]
    fn one_error_lists_every_problem_with_its_line() {
        let e = load_text(
            "[incident]\ntimezone = \"Asia/Tokio\"\nwindow = \"2021-12-22..2020-04-27\"\n\n[notify]\nfrom = \"a@example.jp\"\nreisue_free = true\n\n[report]\nlanguage = \"fr\"\n\n[payments]\njoin = { order_ref_regex = \"(\" }\n\n[payment]\npaths = []\n",
        )
        .unwrap_err()
        .to_string();
        for want in [
            "5 problems",
            "Asia/Tokio",
            "[notify] line 7",
            "reisue_free",
            "language = \"fr\"",
            "order_ref_regex",
            "line 15: unknown section [payment]",
        ] {
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn a_backwards_window_is_a_load_error() {
        let e = load_text(
            "[incident]\ntimezone = \"Asia/Tokyo\"\nwindow = \"2021-12-22..2020-04-27\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("[incident] window"), "{e}");
        assert!(e.contains("empty"), "{e}");
        // A window of dates without a zone is said where the window is used (--tz may come).
        load_text("[incident]\nwindow = \"2020-04-27..2021-12-22\"\n").unwrap();
    }

    /// An id holding a card number would name the case folder `out/4111…` on disk: a load
    /// error, which shows the id masked.
    #[test]
    fn an_incident_id_holding_a_card_number_is_a_load_error() {
        let pan = ["4111", "1111", "1111", "1111"].join("-");
        let e = load_text(&format!("[incident]\nid = \"case-{pan}\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[incident] id") && e.contains("case-4111-11**-****-1111"),
            "{e}"
        );
        assert!(!e.contains(&pan), "{e}");
        load_text("[incident]\nid = \"case-2021-12-22\"\n").unwrap();
    }
}
