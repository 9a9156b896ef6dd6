//! `skimtrace verify OUT`: read the manifest → re-hash every file of the case folder → list what
//! changed, is missing or was added, and every symbolic link or special file (never followed or
//! read). Exit 0 when identical, 1 on any difference, 2 without a manifest. The notify records
//! the manifest does not list (send journals, lock files, `no_email*.csv`, other campaigns'
//! notices) are named on stderr as not covered, not counted as differences: they change after
//! the run by design.

use super::common::{print_out, Ui};
use crate::cli::VerifyArgs;
use crate::error::{Error, Result};
use crate::manifest;

pub fn run(args: &VerifyArgs, ui: &Ui) -> Result<u8> {
    let m = manifest::read(&args.out)?;
    let diffs = manifest::verify(&args.out, &m)?;
    let (_, own) = manifest::hash_regular(&args.out.join(manifest::FILE))?;
    let records = manifest::unlisted_records(&args.out, &m)?;
    for (change, path) in &diffs {
        print_out(format!("{}\t{path}\n", change.as_str()));
    }
    // The manifest cannot vouch for itself: its digest, recorded elsewhere, can.
    ui.say(format!(
        "skimtrace: manifest.json is {own} (generated {}, {})",
        m.timing.generated_at, m.tool
    ));
    if !records.is_empty() {
        ui.say(format!(
            "skimtrace: not covered by the manifest (written by notify after the run, checked by nothing here): {}",
            records.join(", ")
        ));
    }
    if diffs.is_empty() {
        ui.say(format!(
            "skimtrace: {}: all {} files match the manifest",
            args.out.display(),
            m.outputs.len()
        ));
        return Ok(0);
    }
    let count = |c: manifest::Change| diffs.iter().filter(|(x, _)| *x == c).count();
    Err(Error::CheckFailed(format!(
        "{}: {} changed, {} missing, {} extra file(s), {} link(s), {} special file(s) (listed on stdout); the case folder is not as the manifest records it",
        args.out.display(),
        count(manifest::Change::Changed),
        count(manifest::Change::Missing),
        count(manifest::Change::Extra),
        count(manifest::Change::Link),
        count(manifest::Change::Special)
    )))
}
