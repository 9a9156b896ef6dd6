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
    Run(RunArgs),
    Init(InitArgs),
    Report(ReportArgs),
    Verify(VerifyArgs),
    Affected(AffectedArgs),
    Evidence(EvidenceArgs),
    Rules(RulesArgs),
    Notify(NotifyArgs),
    Templates(TemplatesArgs),
    Diff(DiffArgs),
    Desk(DeskArgs),
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
    /// Access logs (files, globs or folders; --with-logs reads [logs] paths): checkout
    /// submissions inside the window that no order matches (by login id or session) are added
    /// to the affected set and listed in checkouts_without_order.csv.
    #[arg(long, num_args = 1.., value_name = "PATH", help_heading = "Input")]
    pub logs: Vec<String>,
    /// Read the access logs of [logs] paths for checkout submissions (like --logs).
    #[arg(long, help_heading = "Input")]
    pub with_logs: bool,
    /// The payments export layout: auto (detects Stripe), stripe, generic.
    #[arg(long, value_name = "NAME", help_heading = "Input")]
    pub payments_preset: Option<String>,
    /// A file holding the fingerprint key (SKIMTRACE_FINGERPRINT_KEY wins when set). Never pass
    /// the key itself on the command line.
    #[arg(long, value_name = "FILE", help_heading = "Case")]
    pub key_file: Option<PathBuf>,
}

/// Finds the compromise in the web access logs and checks the declared window against it.
///
/// Reads access logs (plain or gzip'd, rotated sets oldest first, many files in parallel) in
/// Apache common/combined, nginx combined, JSON lines or a custom Apache LogFormat / nginx
/// log_format; runs the built-in skimmer rules, your Sigma webserver rules and IOC lists over
/// every request; writes evidence.jsonl, evidence.csv, timeline.csv, rejected_lines.csv,
/// checkouts.csv and the evidence and window_check keys of summary.json. Warns on stderr when
/// an indicator predates the window start or outlives its end, and when the logs miss days
/// inside the window.
#[derive(Debug, Args, Clone, Default)]
#[command(after_help = "Examples:
  skimtrace evidence --config fixtures/vector-park/incident.toml --out out/vp --force
  skimtrace evidence --logs 'logs/access.log*' --window 2020-04-27..2021-12-22 --tz Asia/Tokyo --out out/x
  skimtrace evidence --logs logs/ --log-format '%h %l %u %t \"%r\" %>s %b %D' --rules my-rules/ --ioc-ips ips.txt --window 2020-04-27..2021-12-22 --tz Asia/Tokyo")]
pub struct EvidenceArgs {
    #[command(flatten)]
    pub case: CaseArgs,
    /// Log files, globs or folders (replace [logs] paths of the config). Plain or gzip.
    #[arg(long, num_args = 1.., value_name = "PATH", help_heading = "Input")]
    pub logs: Vec<String>,
    /// The log format: auto (default: decided per file), combined, common, nginx,
    /// vhost_combined, json.
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "log_format",
        help_heading = "Input"
    )]
    pub format: Option<String>,
    /// A custom format: an Apache LogFormat string (%h %l %u %t "%r" …) or an nginx
    /// log_format string ($remote_addr - $remote_user [$time_local] …).
    #[arg(long, value_name = "STRING", help_heading = "Input")]
    pub log_format: Option<String>,
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Regex over the request target of a POST that submits a checkout (repeatable; replaces
    /// [logs] checkout_paths and the defaults).
    #[arg(long, value_name = "REGEX", help_heading = "Rules")]
    pub checkout_path: Vec<String>,
    /// Also write every parsed request (not only the hits) to this Parquet file, with the W3C
    /// column names the Sigma rules use, for DuckDB, Spark and other engines (see the README,
    /// "At scale"). Card-like digit runs are masked in every column.
    #[arg(long, value_name = "FILE.parquet", help_heading = "Output")]
    pub emit_events: Option<PathBuf>,
    /// Hits found elsewhere (a SIEM, DuckDB or Spark over --emit-events), as CSV or JSON
    /// lines with time, ip, method, target, status, referer, user agent and rule id or title:
    /// checked, counted and written with the local ones (columns in [logs.hits]). Without
    /// --logs or [logs] paths, only these are read.
    #[arg(long, num_args = 1.., value_name = "FILE", help_heading = "Input")]
    pub hits: Vec<PathBuf>,
}

/// Which rules are active: the built-in pack, plus Sigma files or folders, plus IOC lists.
#[derive(Debug, Args, Clone, Default)]
pub struct RuleArgs {
    /// Sigma rule files or folders (recursive, .yml/.yaml), added to the built-in pack
    /// (repeatable; replaces [logs] rules).
    #[arg(long, value_name = "FILE|DIR", help_heading = "Rules")]
    pub rules: Vec<PathBuf>,
    /// Leave the built-in skimmer rules out.
    #[arg(long, help_heading = "Rules")]
    pub no_builtin: bool,
    /// IOC list of client IPs or CIDR blocks, one a line (# comments).
    #[arg(long, value_name = "FILE", help_heading = "Rules")]
    pub ioc_ips: Option<PathBuf>,
    /// IOC list of domains, matched in referers and request targets.
    #[arg(long, value_name = "FILE", help_heading = "Rules")]
    pub ioc_domains: Option<PathBuf>,
    /// IOC list of file paths, matched at the end of the requested path.
    #[arg(long, value_name = "FILE", help_heading = "Rules")]
    pub ioc_paths: Option<PathBuf>,
}

/// Lists or checks detection rules (Sigma, category webserver).
#[derive(Debug, Args, Clone)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub command: RulesCommand,
}

#[derive(Debug, Subcommand, Clone)]
pub enum RulesCommand {
    /// Prints the active rules (built-in pack, [logs] rules, --rules, IOC lists): id, level,
    /// title, source.
    List(RulesListArgs),
    /// Loads rule files or folders and reports what was accepted and what was skipped, and
    /// which rules need fields the log format does not carry.
    Check(RulesCheckArgs),
    /// Writes the active rules (built-in pack, [logs] rules, --rules) as Sigma YAML files, one
    /// per rule, unchanged, for `sigma convert` (pySigma) and the engine it targets.
    #[command(after_help = "Examples:
  skimtrace rules export sigma-out/
  skimtrace rules export sigma-out/ --config incident.toml --rules my-rules/
  sigma convert -t sqlite -p <pipeline.yml> sigma-out/")]
    Export(RulesExportArgs),
}

#[derive(Debug, Args, Clone)]
pub struct RulesExportArgs {
    /// The folder to write into (created if missing; files of the same name are replaced).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The case's incident.toml (its [logs] rules count).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub rules: RuleArgs,
}

#[derive(Debug, Args, Clone)]
pub struct RulesListArgs {
    /// The case's incident.toml (its [logs] rules and IOC lists count).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also print, per rule, what makes the scan evaluate it: the literals one of which must be
    /// in a field (the scan looks for them first, and skips the rule on a request without
    /// any), or "every request" when it can match without one.
    #[arg(long)]
    pub triggers: bool,
    #[command(flatten)]
    pub rules: RuleArgs,
}

#[derive(Debug, Args, Clone)]
pub struct RulesCheckArgs {
    /// Rule files or folders.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The case's incident.toml: its [logs] format / log_format is the one checked against.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The log format to check field coverage against (default combined).
    #[arg(long, value_name = "NAME", conflicts_with = "log_format")]
    pub format: Option<String>,
    /// A custom Apache LogFormat or nginx log_format string to check field coverage against.
    #[arg(long, value_name = "STRING")]
    pub log_format: Option<String>,
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
  skimtrace notify --affected out/vp-prelim/affected.jsonl --config incident.toml --campaign preliminary --date 2021-12-14 --out out/vp-mail --send smtps://mail.example.com
  skimtrace notify --status --out out/vp-mail
  SKIMTRACE_SMTP_USER=notice SKIMTRACE_SMTP_PASSWORD=... skimtrace notify --affected out/vp/affected.jsonl --config incident.toml --send smtps://mail.example.com --rate 5")]
pub struct NotifyArgs {
    #[command(flatten)]
    pub case: CaseArgs,
    /// The affected.jsonl written by `skimtrace affected` (or by `diff --affected-only`). The
    /// out folder defaults to its folder.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Input",
        required_unless_present = "status"
    )]
    pub affected: Option<PathBuf>,
    /// The campaign: picks the template set of that name (built in: preliminary, notice,
    /// correction) and keeps its own journal, Message-IDs and notices folder. Exactly once holds
    /// per campaign and per recipient address. `notice` writes notices/, sent.jsonl,
    /// failed.csv, no_email.csv; another campaign C writes notices-C/, sent-C.jsonl,
    /// failed-C.csv, no_email-C.csv.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "notice",
        help_heading = "Input"
    )]
    pub campaign: String,
    /// The letter's date and the Date header (YYYY-MM-DD); overrides [notify] date, e.g. for a
    /// preliminary warning sent before the formal notice.
    #[arg(long, value_name = "DATE", help_heading = "Input")]
    pub date: Option<String>,
    /// Print, per campaign, how many messages were rendered, accepted, deferred, failed,
    /// unknown and not yet sent, from the journals in --out (default: the folder of
    /// --affected); sends nothing.
    #[arg(long, help_heading = "Mode", conflicts_with_all = ["send", "check"])]
    pub status: bool,
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

/// Compares two `affected` runs: who is new, who dropped out, whose cards, e-mail, orders or
/// contact changed.
///
/// OLD and NEW are case folders (holding affected.jsonl and summary.json) or affected.jsonl
/// files. People are matched by normalised e-mail or login id, as `affected` links them (people
/// with neither by a shared order id), not by customer_id. Prints counts per kind on stdout;
/// with --out, writes diff.csv and diff.jsonl (one row per person: added, removed, changed with
/// the fields, or unchanged) and diff.json (counts, both windows, key ids, manifest digests).
/// `--affected-only added,changed` also writes an affected.jsonl of just those people, ready
/// for `notify` (removed people as in OLD, the others as in NEW).
///
/// Exit codes: 0 whether or not the runs differ; 1 when an input cannot be read; 2 for usage
/// errors, a folder without affected.jsonl, and runs made with different fingerprint keys
/// (nothing is written then).
#[derive(Debug, Args, Clone, Default)]
#[command(after_help = "Examples:
  skimtrace diff out/vp-prelim out/vp
  skimtrace diff out/vp-prelim out/vp --out out/vp-diff
  skimtrace diff out/vp-prelim out/vp --out out/vp-followup --affected-only added,changed")]
pub struct DiffArgs {
    /// The earlier run: a case folder or its affected.jsonl.
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The later run: a case folder or its affected.jsonl.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Write diff.csv, diff.jsonl, diff.json (and affected.jsonl with --affected-only) here.
    /// Without it only the summary is printed.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also write affected.jsonl holding only the people of these kinds (comma-separated:
    /// added, removed, changed, unchanged). Needs --out.
    #[arg(
        long,
        value_name = "KINDS",
        value_delimiter = ',',
        value_parser = ["added", "removed", "changed", "unchanged"],
        requires = "out"
    )]
    pub affected_only: Vec<String>,
}

/// The contact desk: a small web application over a case folder that answers "was I
/// affected?" by e-mail, phone, order number, charge id or name + last 4, and records every
/// search in desk.jsonl. Read-only: it writes nothing into the case folder but its journal.
#[derive(Debug, Args, Clone)]
#[command(after_help = "Examples:
  skimtrace desk out/vector-park-demo --add-operator sato      # prints sato's sign-in token once
  skimtrace desk out/vector-park-demo --config fixtures/vector-park/incident.toml
  skimtrace desk out/vp --notices out/vp-mail --diff out/vp-diff --listen 0.0.0.0:8640 --tls-cert cert.pem --tls-key key.pem")]
pub struct DeskArgs {
    /// The case folder (written by `run` or `affected`).
    #[arg(value_name = "OUT")]
    pub out: PathBuf,
    /// Address to listen on. Anything but loopback needs --tls-cert/--tls-key or
    /// --insecure-lan.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8640")]
    pub listen: String,
    /// The case's incident.toml: for the fingerprint key file ([fingerprint] key_file).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The fingerprint key file (SKIMTRACE_FINGERPRINT_KEY wins), to hash the search keys the
    /// journal records.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// The operators file (default: OUT.desk-operators.json beside the case folder).
    #[arg(long, value_name = "FILE")]
    pub operators: Option<PathBuf>,
    /// Create an operator (or give an existing one a new token), print the token, and exit.
    #[arg(long, value_name = "NAME", conflicts_with = "remove_operator")]
    pub add_operator: Option<String>,
    /// Remove an operator (signed out at their next request) and exit.
    #[arg(long, value_name = "NAME")]
    pub remove_operator: Option<String>,
    /// Another folder where `notify --out` kept journals of this case's campaigns (repeatable).
    #[arg(long = "notices", value_name = "DIR")]
    pub notices: Vec<PathBuf>,
    /// A `diff --out` folder whose changes to show per person (repeatable).
    #[arg(long = "diff", value_name = "DIR")]
    pub diff: Vec<PathBuf>,
    /// A templates folder holding desk/<locale>/answer.found.txt.j2 and
    /// answer.not_found.txt.j2 (as --write-templates writes them) to replace the built-in
    /// answer scripts.
    #[arg(long, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Write the built-in answer scripts into DIR/desk/<locale>/ for editing (then serve them
    /// with --templates DIR), and exit.
    #[arg(long, value_name = "DIR")]
    pub write_templates: Option<PathBuf>,
    /// Searches per operator per minute.
    #[arg(long, value_name = "N", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate: u32,
    /// The TLS certificate chain (PEM), to serve HTTPS.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The TLS private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve plain HTTP on a non-loopback address: tokens and personal data cross the network
    /// in clear. Only on a network you trust.
    #[arg(long)]
    pub insecure_lan: bool,
}

/// Manages notice templates.
#[derive(Debug, Args, Clone)]
pub struct TemplatesArgs {
    #[command(subcommand)]
    pub action: TemplatesAction,
}

#[derive(Debug, Subcommand, Clone)]
pub enum TemplatesAction {
    /// Writes the built-in templates (preliminary, notice and correction, each in ja and en:
    /// subject, text body, and for notice an HTML body) into DIR for counsel to edit; use them
    /// with `notify --templates DIR`.
    Init {
        /// The folder to write into (created when missing).
        dir: PathBuf,
        /// Overwrite template files that already exist.
        #[arg(long)]
        force: bool,
    },
}

/// Runs the whole case into one case folder: evidence (when [logs] is configured), affected,
/// notify (render only: sending stays an explicit `notify --send`), report and manifest.
///
/// The output folder (--out, else [output] dir, else out/<incident id>) must be empty unless
/// --force; a re-run with --force keeps the previous manifest as manifest.prev.json. A stage
/// whose section is missing from the config is skipped, and the final summary says so. The
/// case's templates/ folder (beside incident.toml, as `skimtrace init` writes it) is used for
/// the notices when it exists. With SOURCE_DATE_EPOCH set, the manifest's time is pinned and
/// the same inputs and key give a byte-identical case folder.
#[derive(Debug, Args, Clone, Default)]
#[command(after_help = "Examples:
  skimtrace run --config fixtures/vector-park/incident.toml
  skimtrace run --config case/incident.toml --out case/out --force
  SOURCE_DATE_EPOCH=1660780800 skimtrace run --config case/incident.toml --out /tmp/a")]
pub struct RunArgs {
    #[command(flatten)]
    pub case: CaseArgs,
    /// A file holding the fingerprint key (SKIMTRACE_FINGERPRINT_KEY wins when set).
    #[arg(long, value_name = "FILE", help_heading = "Case")]
    pub key_file: Option<PathBuf>,
    /// Notice templates (default: templates/ beside incident.toml when it exists, else the
    /// built-in ones).
    #[arg(long, value_name = "DIR", help_heading = "Input")]
    pub templates: Option<PathBuf>,
}

/// Scaffolds a case folder: a commented incident.toml (every option, with the bundled demo
/// case's values as examples), templates/ (the built-in notice templates), rules/ (the built-in
/// Sigma rules) and inputs/ (orders/, payments/, logs/), then prints the next steps.
#[derive(Debug, Args, Clone)]
#[command(after_help = "Example:
  skimtrace init cases/2024-shop && $EDITOR cases/2024-shop/incident.toml")]
pub struct InitArgs {
    /// The folder to create (an existing one must be empty unless --force).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Write into a folder that is not empty (files skimtrace writes are overwritten).
    #[arg(long)]
    pub force: bool,
}

/// Writes report.html (one self-contained page, inline SVG charts, no scripts) and report.md
/// (the same figures, for pasting into the regulator's form) into a case folder, from its
/// summary.json and the files beside it.
#[derive(Debug, Args, Clone)]
#[command(after_help = "Examples:
  skimtrace report out/vector-park-demo
  skimtrace report out/case --config case/incident.toml
  skimtrace report out/vector-park-demo --lang en")]
pub struct ReportArgs {
    /// The case folder.
    #[arg(value_name = "OUT")]
    pub out: PathBuf,
    /// The case's incident.toml (thresholds, contact, discovered date); default: the config
    /// recorded in OUT/manifest.json.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The language of report.html and report.md: ja or en (default: [report] language, else
    /// [incident] default_locale, else en). ppc-report.md is Japanese either way.
    #[arg(long, value_name = "LANG", value_parser = ["ja", "en"])]
    pub lang: Option<String>,
}

/// Re-hashes every file of a case folder against its manifest.json and lists the files that
/// changed, are missing or were added.
///
/// Exit codes: 0 when the folder is exactly as the manifest lists it; 1 on any difference (each
/// printed on stdout as `changed|missing|extra<TAB>path`); 2 when there is no manifest.
#[derive(Debug, Args, Clone)]
#[command(after_help = "Example:
  skimtrace verify out/vector-park-demo")]
pub struct VerifyArgs {
    /// The case folder.
    #[arg(value_name = "OUT")]
    pub out: PathBuf,
}
