//! Glue: one module per subcommand, each calling the pipeline stages in order. No parsing and
//! no business rules live here.

pub mod affected;
mod common;
pub mod desk;
pub mod diff;
pub mod evidence;
pub mod init;
pub mod notify;
pub mod report;
pub mod rules;
pub mod run;
pub mod templates;
pub mod verify;

use crate::cli::{Cli, Command};
use crate::error::Result;

/// Runs the parsed command line; returns the process exit code on success.
pub fn dispatch(cli: Cli) -> Result<u8> {
    let ui = common::Ui::new(cli.quiet);
    match cli.command {
        Command::Run(args) => run::run(&args, &ui),
        Command::Init(args) => init::run(&args, &ui).map(|_| 0),
        Command::Report(args) => report::run(&args, &ui).map(|_| 0),
        Command::Verify(args) => verify::run(&args, &ui),
        Command::Affected(args) => affected::run(&args, &ui).map(|_| 0),
        Command::Evidence(args) => evidence::run(&args, &ui).map(|o| o.exit_code),
        Command::Rules(args) => rules::run(&args, &ui),
        Command::Notify(args) => notify::run(&args, &ui),
        Command::Templates(args) => templates::run(&args, &ui).map(|_| 0),
        Command::Diff(args) => diff::run(&args, &ui).map(|_| 0),
        Command::Desk(args) => desk::run(&args, &ui),
    }
}

pub use common::Ui;
