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
    /// A file holding the fingerprint key (SKIMTRACE_FINGERPRINT_KEY wins when set). Never pass
    /// the key itself on the command line.
    #[arg(long, value_name = "FILE", help_heading = "Case")]
    pub key_file: Option<PathBuf>,
}
