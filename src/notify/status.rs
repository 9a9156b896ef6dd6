//! `notify --status`: per campaign, how many messages were rendered and where the sent ones
//! stand, read from the case folder's journals and `index.csv` files (never written to).

use super::journal::{self, Status};
use super::Layout;
use crate::error::{Error, Result};
use std::path::Path;

/// One campaign's numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignStatus {
    pub campaign: String,
    /// Messages in the campaign's `index.csv` (written by a run without `--send`).
    pub rendered: usize,
    pub accepted: usize,
    pub deferred: usize,
    pub failed: usize,
    /// Reached `DATA` with no final reply: the customer may have it.
    pub unknown: usize,
    /// Started but never reached `DATA`: not delivered, sent on the next run.
    pub not_sent: usize,
    /// Review copies (`--to-override`) accepted; they never count as the customer's message.
    pub review: usize,
}

/// Every campaign found in `dir`, sorted by name.
pub fn read(dir: &Path) -> Result<Vec<CampaignStatus>> {
    if !dir.is_dir() {
        return Err(Error::usage(format!(
            "{}: not a folder; pass the case folder that notify wrote to with --out, or --affected FILE",
            dir.display()
        )));
    }
    let mut out = Vec::new();
    for campaign in Layout::discover(dir).map_err(|e| Error::io(dir, e))? {
        let layout = Layout::new(dir, &campaign);
        let mut st = CampaignStatus {
            campaign,
            ..Default::default()
        };
        let index = layout.notices().join("index.csv");
        if index.is_file() {
            let mut r = csv::Reader::from_path(&index).map_err(|e| Error::Input {
                path: index.clone(),
                message: e.to_string(),
            })?;
            st.rendered = r.records().count();
        }
        for ev in journal::read(&layout.journal())? {
            match (ev.review, ev.phase.status()) {
                (true, Status::Accepted) => st.review += 1,
                (true, _) => {}
                (false, Status::Accepted) => st.accepted += 1,
                (false, Status::Deferred) => st.deferred += 1,
                (false, Status::Failed) => st.failed += 1,
                (false, Status::Unknown) => st.unknown += 1,
                (false, Status::Pending) => st.not_sent += 1,
            }
        }
        out.push(st);
    }
    Ok(out)
}

/// The table `notify --status` prints.
pub fn table(rows: &[CampaignStatus]) -> String {
    let mut s = format!(
        "{:<14} {:>9} {:>9} {:>9} {:>7} {:>8} {:>9} {:>7}\n",
        "campaign", "rendered", "accepted", "deferred", "failed", "unknown", "not_sent", "review"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<14} {:>9} {:>9} {:>9} {:>7} {:>8} {:>9} {:>7}\n",
            r.campaign,
            r.rendered,
            r.accepted,
            r.deferred,
            r.failed,
            r.unknown,
            r.not_sent,
            r.review
        ));
    }
    s
}
