//! `skimtrace notify`: the flags into [`notify::Options`], the [`notify::run`] stage; `--status`
//! prints what the journals say.

use super::common::{self, print_out, Ui};
use crate::cli::NotifyArgs;
use crate::error::{Error, Result};
use crate::notify::{self, Options};
use std::path::{Path, PathBuf};

pub fn run(args: &NotifyArgs, ui: &Ui) -> Result<u8> {
    let out = out_dir(args)?;
    if args.status {
        let rows = crate::notify::status::read(&out)?;
        if rows.is_empty() {
            print_out(format!(
                "no campaign has rendered or sent anything in {}\n",
                out.display()
            ));
        } else {
            print_out(crate::notify::status::table(&rows));
        }
        return Ok(0);
    }
    let mut case_args = args.case.clone();
    case_args.out = Some(out);
    let case = common::open_case(&case_args, None)?;
    notify::run(&case, &options(args), ui)
}

/// The stage's options from the command line.
pub fn options(args: &NotifyArgs) -> Options {
    Options {
        affected: args.affected.clone().expect("clap requires --affected"),
        campaign: args.campaign.clone(),
        date: args.date.clone(),
        templates: args.templates.clone(),
        check: args.check,
        send: args.send.clone(),
        tls: args.tls.clone(),
        ca_file: args.ca_file.clone(),
        rate: args.rate,
        limit: args.limit,
        only: args.only.clone(),
        to_override: args.to_override.clone(),
        resend_unknown: args.resend_unknown,
        retry_failed: args.retry_failed,
        connections: args.connections,
        force: args.case.force,
    }
}

/// The case folder: `--out`, else the folder of `--affected`.
fn out_dir(args: &NotifyArgs) -> Result<PathBuf> {
    if let Some(o) = &args.case.out {
        return Ok(o.clone());
    }
    match &args.affected {
        Some(a) => Ok(a
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)),
        None => Err(Error::usage(
            "--status needs the case folder: pass --out DIR (or --affected FILE)",
        )),
    }
}
