//! What the web access logs say about the compromise: the matching requests in time order, a
//! per-day timeline, and the **window check** — the earliest and latest indicator against the
//! declared window, and the days inside the window the logs do not cover.
//!
//! - [`scan`] reads and matches the files (parallel, streaming);
//! - [`hits`] reads hits found elsewhere (`--hits`) back in;
//! - [`check`] compares the hits with the window and finds log gaps;
//! - [`parquet`] writes every parsed request as Parquet (`--emit-events`);
//! - [`run()`] is the stage: the case and [`Options`] in, the outputs written, an [`Output`];
//! - [`mod@write`] writes `evidence.jsonl`, `evidence.csv`, `timeline.csv`, `rejected_lines.csv`
//!   and the `evidence` and `window_check` keys of `summary.json`.

pub mod check;
pub mod hits;
pub mod parquet;
mod run;
pub mod scan;
#[cfg(test)]
mod tests;
pub mod write;

pub use run::{checkouts_in_window, run, Options, Output};
pub use scan::{FileResult, Hit, Input, ScanOptions};

/// What stops the `evidence` stage itself (the crate's [`crate::Error`] wraps it). Reading a
/// log line never stops it: a bad line is counted and sampled in rejected_lines.csv.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No log file to read.
    #[error("no access logs: pass --logs PATH (a file, a glob or a folder) or set [logs] paths in the config")]
    NoLogs,
    /// Every rule was turned off.
    #[error("no rules are active: drop --no-builtin or add --rules / --ioc-* lists")]
    NoRules,
    /// `[logs] indicator_min_level` is not a Sigma level.
    #[error("[logs] indicator_min_level {level:?}: use one of {}", check::LEVELS.join(", "))]
    IndicatorLevel { level: String },
    /// A checkout path that is not a regular expression.
    #[error("checkout_paths: {message}")]
    CheckoutPaths { message: String },
    /// A file whose lines do not add up (read = parsed + malformed): never expected.
    #[error("internal check failed: {file}: {lines} lines read but {parsed} parsed and {malformed} malformed")]
    Unreconciled {
        file: String,
        lines: u64,
        parsed: u64,
        malformed: u64,
    },
}

impl Error {
    /// Exit code: what the user fixes in the command or config is 2; a broken invariant 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Unreconciled { .. } => 1,
            _ => 2,
        }
    }
}

/// Default checkout-submission paths (regexes over the request target of POST requests): the
/// order-confirmation steps of EC-CUBE 4 and 2, Magento 1 and 2, and WooCommerce.
pub const DEFAULT_CHECKOUT_PATHS: &[&str] = &[
    r"^/shopping/(confirm|checkout|complete)",
    r"^/shopping/(load_payment_module|payment)\.php",
    r"/checkout/onepage/saveOrder",
    r"/V1/(guest-)?carts/[^/]+/payment-information",
    r"[?&]wc-ajax=checkout",
    r"^/checkout/?(\?|$)",
];

/// `[logs]` in incident.toml. Command-line options replace the matching keys.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsConfig {
    /// Log files, globs or folders, relative to the config's folder.
    #[serde(default)]
    pub paths: Vec<String>,
    /// `auto` (default), `combined`, `common`, `nginx`, `vhost_combined`, `json`.
    pub format: Option<String>,
    /// A custom Apache `LogFormat` or nginx `log_format` string (wins over `format`).
    pub log_format: Option<String>,
    /// Sigma rule files or folders, added to the built-in pack.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Whether the built-in skimmer pack is active (default true).
    pub builtin_rules: Option<bool>,
    /// IOC list files: client IPs/CIDRs, domains, file paths.
    pub ioc_ips: Option<String>,
    pub ioc_domains: Option<String>,
    pub ioc_paths: Option<String>,
    /// Regexes over the request target of POSTs that submit a checkout (default:
    /// [`DEFAULT_CHECKOUT_PATHS`]).
    pub checkout_paths: Option<Vec<String>>,
    /// The lowest rule level that counts as an indicator in the window check (default
    /// `high`; IOC lists always count).
    pub indicator_min_level: Option<String>,
    /// Malformed lines kept as samples per file (default 100).
    pub reject_samples: Option<usize>,
    /// `[logs.hits]`: the columns of `--hits` files, when the default names do not fit.
    pub hits: Option<hits::HitsConfig>,
}
