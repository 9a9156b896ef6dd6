//! `notify --status`: per campaign, the size of its list, how many were accepted and how many
//! are still to be reached, then how many messages were rendered and where the sent ones stand,
//! read from the case folder's affected list, journals and `index.csv` files (never written to).
//!
//! A campaign's list is the folder's current affected list (`affected.jsonl`): every campaign
//! is sent to it (narrowed by `--only` at most), and a customer who is on it without an accepted
//! message of the campaign is still to be reached, by mail or, when on `no_email.csv`, by post.
//! A sending run renders in memory, so `rendered` alone (an `index.csv` count) says nothing
//! about a campaign that was sent.

use super::journal::{self, Status};
use super::Error;
use super::Layout;

type Result<T, E = Error> = std::result::Result<T, E>;
use std::collections::BTreeSet;
use std::path::Path;

/// The customer ids of the folder's `affected.jsonl`, when it exists.
fn affected_ids(dir: &Path) -> Result<Option<BTreeSet<String>>> {
    let path = dir.join("affected.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let mut ids = BTreeSet::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let v: serde_json::Value = serde_json::from_str(line).map_err(|e| Error::Record {
            path: path.clone(),
            line: i + 1,
            message: format!(
                "not a JSON record ({e}); re-create it with `skimtrace affected --force`"
            ),
        })?;
        if let Some(id) = v.get("customer_id").and_then(|x| x.as_str()) {
            ids.insert(id.to_string());
        }
    }
    Ok(Some(ids))
}

/// The `customer_id` column of a campaign's `index.csv`.
fn index_ids(index: &Path) -> Result<BTreeSet<String>> {
    let bad = |e: csv::Error| Error::Input {
        path: index.to_path_buf(),
        message: e.to_string(),
    };
    let mut r = csv::Reader::from_path(index).map_err(bad)?;
    let col = r
        .headers()
        .map_err(bad)?
        .iter()
        .position(|h| h == "customer_id");
    let mut ids = BTreeSet::new();
    for rec in r.records() {
        let rec = rec.map_err(bad)?;
        if let Some(v) = col.and_then(|c| rec.get(c)) {
            ids.insert(v.to_string());
        }
    }
    Ok(ids)
}

/// One campaign's numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CampaignStatus {
    pub campaign: String,
    /// Customers on the folder's affected list (`affected.jsonl`); when there is none, the
    /// campaign's own customers (rendered or journalled).
    pub list: usize,
    /// Customers of the list whose message the server accepted (review copies left out).
    pub accepted_of_list: usize,
    /// Customers of the list not yet reached: `list` − `accepted_of_list`.
    pub to_reach: usize,
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
        return Err(Error::Usage(format!(
            "{}: not a folder; pass the case folder that notify wrote to with --out, or --affected FILE",
            dir.display()
        )));
    }
    let affected = affected_ids(dir)?;
    let mut out = Vec::new();
    for campaign in Layout::discover(dir).map_err(|e| Error::io(dir, e))? {
        let layout = Layout::new(dir, &campaign);
        let mut st = CampaignStatus {
            campaign,
            ..Default::default()
        };
        let mut members = BTreeSet::new();
        let index = layout.notices().join("index.csv");
        if index.is_file() {
            let mut r = csv::Reader::from_path(&index).map_err(|e| Error::Input {
                path: index.clone(),
                message: e.to_string(),
            })?;
            st.rendered = r.records().count();
            members = index_ids(&index)?;
        }
        // The last event of each customer's message decides whether it was accepted.
        let mut last = std::collections::BTreeMap::new();
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
            if !ev.review {
                members.insert(ev.customer_id.clone());
                last.insert(ev.customer_id.clone(), ev.phase.status());
            }
        }
        let list = affected.clone().unwrap_or(members);
        st.list = list.len();
        st.accepted_of_list = list
            .iter()
            .filter(|id| matches!(last.get(*id), Some(Status::Accepted)))
            .count();
        st.to_reach = st.list - st.accepted_of_list;
        out.push(st);
    }
    Ok(out)
}

/// The table `notify --status` prints.
pub fn table(rows: &[CampaignStatus]) -> String {
    let mut s = format!(
        "{:<14} {:>6} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>9} {:>7}\n",
        "campaign",
        "list",
        "accepted",
        "to_reach",
        "rendered",
        "deferred",
        "failed",
        "unknown",
        "not_sent",
        "review"
    );
    for r in rows {
        s.push_str(&format!(
            "{:<14} {:>6} {:>9} {:>9} {:>9} {:>9} {:>7} {:>8} {:>9} {:>7}\n",
            r.campaign,
            r.list,
            r.accepted,
            r.to_reach,
            r.rendered,
            r.deferred,
            r.failed,
            r.unknown,
            r.not_sent,
            r.review
        ));
    }
    s.push_str("list: customers on the folder's affected.jsonl; to_reach: those of them without an accepted message of the campaign (no_email.csv lists the ones to reach by post)\n");
    s
}
