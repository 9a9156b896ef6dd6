//! What every command needs: the case's config with command-line overrides, the window, the
//! fingerprint key, input paths expanded, and the terminal (progress bar, messages on stderr).

use crate::case::{Case, Overrides};
use crate::cli::CaseArgs;
use crate::error::Result;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;

impl crate::progress::Progress for Ui {
    fn say(&self, msg: &str) {
        Ui::say(self, msg)
    }
    fn warn(&self, msg: &str) {
        Ui::warn(self, msg)
    }
    fn tell(&self, msg: &str) {
        eprintln!("{}", crate::cards::detect::mask(msg).0);
    }
    fn bytes_bar(&self, total: u64, what: &str) -> Option<ProgressBar> {
        Ui::bytes_bar(self, total, what)
    }
}

/// Writes `text` to stdout with its card numbers masked, as every output: what a command lists
/// (rule titles and triggers, file names, statuses) comes from files a user did not write.
pub fn print_out(text: impl AsRef<str>) {
    print!("{}", crate::cards::detect::mask(text.as_ref()).0);
}

/// The terminal side of a run: messages and progress go to stderr, never stdout.
pub struct Ui {
    pub quiet: bool,
}

impl Ui {
    pub fn new(quiet: bool) -> Ui {
        Ui { quiet }
    }

    /// A line on stderr, unless `--quiet`. Card numbers masked, as in every output.
    pub fn say(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", crate::cards::detect::mask(msg.as_ref()).0);
        }
    }

    /// A warning on stderr (also under `--quiet`: warnings change what a user must do). Card
    /// numbers masked.
    pub fn warn(&self, msg: impl AsRef<str>) {
        eprintln!(
            "skimtrace: warning: {}",
            crate::cards::detect::mask(msg.as_ref()).0
        );
    }

    /// A byte-counting progress bar, shown only when stderr is a terminal and not `--quiet`.
    pub fn bytes_bar(&self, total: u64, what: &str) -> Option<ProgressBar> {
        if self.quiet || !std::io::stderr().is_terminal() {
            return None;
        }
        let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid progress template"),
        );
        pb.set_prefix(what.to_string());
        Some(pb)
    }
}

/// The case named by the command line's `--config`, `--window`, `--tz`, `--out` (and a
/// `--key-file` where the command has one).
pub fn open_case(args: &CaseArgs, key_file: Option<&Path>) -> Result<Case> {
    Case::open(&Overrides {
        config: args.config.clone(),
        window: args.window.clone(),
        tz: args.tz.clone(),
        out: args.out.clone(),
        key_file: key_file.map(Path::to_path_buf),
    })
}
