//! The command line: one `Args` struct per subcommand, shared options flattened in. Parsing only;
//! the commands themselves live in `commands/`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  a failure while running (an unreadable input, an unwritable output, a failed check)
  2  a usage or config error (bad flags, a config that does not parse, naive timestamps
     without a time zone, an export layout that cannot be mapped)";

/// Incident response after a payment-page skimmer: from order exports, gateway exports and web
/// logs to the deduplicated list of affected customers, the evidence, the notices and a report.
#[derive(Debug, Parser)]
#[command(name = "skimtrace", version, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// No progress bar and no summary on stderr (errors still print).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More logging on stderr (-v info, -vv debug). Card numbers are never logged.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Affected(AffectedArgs),
    Notify(NotifyArgs),
    Templates(TemplatesArgs),
}

/// Options shared by every command that reads the case's config.
#[derive(Debug, Args, Clone, Default)]
pub struct CaseArgs {
    /// The case's incident.toml (relative paths in it are relative to its folder).
    #[arg(long, short = 'c', value_name = "FILE", help_heading = "Case")]
    pub config: Option<PathBuf>,
    /// The compromise window: inclusive local dates START..END (2020-04-27..2021-12-22), or
    /// datetimes with offsets (start included, end excluded). Overrides incident.window.
    #[arg(long, value_name = "START..END", help_heading = "Case")]
    pub window: Option<String>,
    /// The shop's IANA time zone (Asia/Tokyo); naive timestamps are read in it. Overrides
    /// incident.timezone. There is no default: naive timestamps without a zone are an error.
    #[arg(long, value_name = "ZONE", help_heading = "Case")]
    pub tz: Option<String>,
    /// The output folder (default: [output] dir, else out/<incident id>).
    #[arg(long, short = 'o', value_name = "DIR", help_heading = "Output")]
    pub out: Option<PathBuf>,
    /// Write into an output folder that is not empty.
    #[arg(long, help_heading = "Output")]
    pub force: bool,
}

/// Finds every customer who typed a card into the skimmed checkout during the window, from the
/// shop's order exports: one row per person, every card masked.
///
/// Reads CSV exports (UTF-8, UTF-8 with BOM, Shift_JIS/CP932; LF or CRLF), finds the columns
/// by header name or a platform preset, classifies every row as in-window, out-of-window, not a
/// card payment, or rejected (with file, line and reason), links orders of one person by
/// normalised e-mail and login id, and writes affected.csv, affected.jsonl, orders.csv,
/// rejected.csv and summary.json.
#[derive(Debug, Args, Clone, Default)]
#[command(after_help = "Examples:
  skimtrace affected --config fixtures/vector-park/incident.toml --out out/vp
  skimtrace affected --orders orders.csv --window 2020-04-27..2021-12-22 --tz Asia/Tokyo --out out/x
  SKIMTRACE_FINGERPRINT_KEY=... skimtrace affected --orders 'exports/*.csv' --preset ec-cube4 --tz Asia/Tokyo --window 2020-04-27..2021-12-22")]
pub struct AffectedArgs {
    #[command(flatten)]
    pub case: CaseArgs,
    /// Order export files or globs (replace [orders] paths of the config).
    #[arg(long, num_args = 1.., value_name = "FILE", help_heading = "Input")]
    pub orders: Vec<String>,
    /// The export layout: auto, ec-cube4, ec-cube2, shopify, magento2, woocommerce, generic.
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub preset: Option<String>,
    /// The input encoding: auto (BOM, valid UTF-8, else Shift_JIS/CP932), utf-8, shift_jis.
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub encoding: Option<String>,
    /// Payment-gateway exports (Stripe's payments export, or any gateway mapped in
    /// [payments.columns]) joined to the orders (replace [payments] paths of the config).
    #[arg(long, num_args = 1.., value_name = "FILE", help_heading = "Input")]
    pub payments: Vec<String>,
    /// The payments export layout: auto (detects Stripe), stripe, generic.
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub payments_preset: Option<String>,
    /// A file holding the fingerprint key (SKIMTRACE_FINGERPRINT_KEY wins when set). Never pass
    /// the key itself on the command line.
    #[arg(long, value_name = "FILE", help_heading = "Case")]
    pub key_file: Option<PathBuf>,
}

/// Renders one notice per affected customer from `affected.jsonl`, checks every one, and writes
/// them as .eml files or sends them over SMTP, exactly once.
///
/// Without `--send` it writes notices/<customer_id>.eml, notices/index.csv and no_email.csv
/// (customers to reach by post). With `--send` it sends, journalling every step in sent.jsonl
/// so that a re-run skips what was accepted, retries what was deferred, reports what is
/// unknown, and lists permanent failures in failed.csv. Every run first renders and checks
/// all notices (missing template variables, empty subjects, card-like digit runs, unsafe
/// headers) and refuses to start on any problem; `--check` stops after that.
///
/// Exit codes: 0 when every message with an address was written or accepted; 1 when any is
/// deferred, failed or unknown, or the check failed; 2 for usage and config errors.
#[derive(Debug, Args, Clone, Default)]
#[command(after_help = "Examples:
  skimtrace notify --affected out/vp/affected.jsonl --config incident.toml --check
  skimtrace notify --affected out/vp/affected.jsonl --config incident.toml
  skimtrace notify --affected out/vp/affected.jsonl --config incident.toml --send smtp://mail.example.com:587 --to-override review@example.com --limit 5
  SKIMTRACE_SMTP_USER=notice SKIMTRACE_SMTP_PASSWORD=... skimtrace notify --affected out/vp/affected.jsonl --config incident.toml --send smtps://mail.example.com --rate 5")]
pub struct NotifyArgs {
    #[command(flatten)]
    pub case: CaseArgs,
    /// The affected.jsonl written by `skimtrace affected`. The out folder defaults to its folder.
    #[arg(long, value_name = "FILE", help_heading = "Input")]
    pub affected: PathBuf,
    /// A template folder (as written by `skimtrace templates init`); default: the built-in
    /// ja and en templates.
    #[arg(long, value_name = "DIR", help_heading = "Input")]
    pub templates: Option<PathBuf>,
    /// Render and check every notice in memory; write and send nothing.
    #[arg(long, help_heading = "Mode", conflicts_with = "send")]
    pub check: bool,
    /// Send over SMTP: smtp://HOST[:PORT] (STARTTLS required) or smtps://HOST[:PORT]. Credentials
    /// come from SKIMTRACE_SMTP_USER and SKIMTRACE_SMTP_PASSWORD, never from the URL.
    #[arg(long, value_name = "URL", help_heading = "Sending")]
    pub send: Option<String>,
    /// `none` allows a clear-text connection (a local test server); a warning is printed.
    #[arg(long, value_name = "MODE", value_parser = ["required", "none"], help_heading = "Sending")]
    pub tls: Option<String>,
    /// A PEM file with a private CA to trust besides the system store.
    #[arg(long, value_name = "FILE", help_heading = "Sending")]
    pub ca_file: Option<PathBuf>,
    /// At most N messages per second, across all connections.
    #[arg(long, value_name = "N", help_heading = "Sending")]
    pub rate: Option<f64>,
    /// Send at most N messages not yet accepted in this run.
    #[arg(long, value_name = "N", help_heading = "Sending")]
    pub limit: Option<usize>,
    /// Only these customers (repeatable).
    #[arg(long, value_name = "CUSTOMER_ID", help_heading = "Sending")]
    pub only: Vec<String>,
    /// Send review copies to this address instead of the customers (the customer's address goes
    /// in X-Skimtrace-Original-To; review copies never count as the customer's notice).
    #[arg(long, value_name = "ADDRESS", help_heading = "Sending")]
    pub to_override: Option<String>,
    /// Send again messages whose delivery is unknown (the run died after DATA): the customer may
    /// get two copies.
    #[arg(long, help_heading = "Sending")]
    pub resend_unknown: bool,
    /// Try again messages the server refused permanently (5xx).
    #[arg(long, help_heading = "Sending")]
    pub retry_failed: bool,
    /// SMTP connections used in parallel (default 1).
    #[arg(long, value_name = "N", default_value_t = 1, help_heading = "Sending")]
    pub connections: usize,
}

/// Manages notice templates.
#[derive(Debug, Args, Clone)]
pub struct TemplatesArgs {
    #[command(subcommand)]
    pub action: TemplatesAction,
}

#[derive(Debug, Subcommand, Clone)]
pub enum TemplatesAction {
    /// Writes the built-in templates (notice/ja, notice/en: subject, text and HTML bodies) into
    /// DIR for counsel to edit; use them with `notify --templates DIR`.
    Init {
        /// The folder to write into (created when missing).
        dir: PathBuf,
        /// Overwrite template files that already exist.
        #[arg(long)]
        force: bool,
    },
}
