//! The affected keys of summary.json, built once every part is known, with the
//! reconciliation check (every row read is in window, out of window, not card or rejected),
//! and the lines the user reads at the end.

use super::write::Stats;
use crate::cards::FingerprintKey;
use crate::config::Config;
use crate::customers::Groups;
use crate::error::Result;
use crate::orders::{EntryKind, Ingest};
use crate::payments::{self, Payments};
use crate::progress::Progress;
use crate::summary::{BrandCount, Summary};
use crate::window::Window;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;

/// Builds the summary's keys (and the warnings to print) and checks the reconciliation.
pub(super) fn summary(
    cfg: &Config,
    window: &Window,
    key: &FingerprintKey,
    ingest: &Ingest,
    groups: &Groups,
    stats: &Stats,
) -> Result<(Summary, Vec<String>)> {
    let totals = ingest.totals();
    if !totals.reconciles() || ingest.files.iter().any(|f| !f.counts.reconciles()) {
        return Err(super::Error::Unreconciled {
            totals: format!("{totals:?}"),
        }
        .into());
    }
    let shared = groups.shared_cards.len();
    let by_brand: BTreeMap<String, BrandCount> = stats
        .brand_cards
        .iter()
        .map(|(b, n)| {
            let customers = stats.brand_customers.get(b).copied().unwrap_or(0);
            (
                b.clone(),
                BrandCount {
                    cards: *n,
                    customers,
                },
            )
        })
        .collect();
    let (cards, invalid, masked_only) = (stats.cards, stats.cards_invalid, stats.cards_masked_only);
    let first = ingest.orders.iter().map(|o| o.at()).min();
    let last = ingest.orders.iter().map(|o| o.at()).max();
    let orders = ingest.order_counts();
    let excluded: u64 = ingest
        .files
        .iter()
        .map(|f| f.not_card_excluded_status)
        .sum();

    let mut warnings: Vec<String> = Vec::new();
    for f in &ingest.files {
        for w in &f.warnings {
            warnings.push(format!("{}: {w}", f.path));
        }
    }
    if key.source == crate::cards::KeySource::Random {
        warnings.push("no fingerprint key was given (SKIMTRACE_FINGERPRINT_KEY or [fingerprint] key_file): a random key was used, so card fingerprints and customer ids differ from run to run".into());
    }
    let unrecognised: BTreeMap<&String, u64> = ingest
        .methods
        .iter()
        .filter(|(_, t)| t.class == "unrecognised")
        .map(|(m, t)| (m, t.rows))
        .collect();
    if !unrecognised.is_empty() {
        warnings.push(format!(
            "payment methods counted as not card because no rule names them: {}; add them to [orders] card_methods or not_card_methods",
            unrecognised.iter().map(|(m, n)| format!("{m:?} ({n} rows)")).collect::<Vec<_>>().join(", ")
        ));
    }
    if cards == 0 {
        warnings.push("card details were not available: no input carried card numbers or last 4 digits (add the payment gateway's export)".into());
    }
    const WARNED: usize = 5;
    for c in ingest.collisions.iter().take(WARNED) {
        warnings.push(format!(
            "order id {:?} is used by two different orders ({} differ): {} and {}; both were kept and classified on their own",
            c.order_id,
            c.differs.join(", "),
            c.first,
            c.other
        ));
    }
    if ingest.collisions_total > WARNED as u64 {
        warnings.push(format!(
            "{} more order id(s) are used by different orders in different files (summary.json order_id_collisions)",
            ingest.collisions_total - WARNED as u64
        ));
    }
    if ingest.disagreements > 0 {
        warnings.push(format!(
            "{} later record(s) of an order disagree with its first record on e-mail or time; the first record was used",
            ingest.disagreements
        ));
    }

    let v = |x: &dyn erased::Ser| x.value();
    let summary = Summary {
        tool: Some(format!("skimtrace {}", env!("CARGO_PKG_VERSION"))),
        incident: Some(crate::summary::Incident {
            name: cfg.incident.name.clone(),
            id: cfg.incident_id(),
            company: cfg.incident.company.clone(),
            exposed: cfg.incident.exposed.clone(),
        }),
        window: Some(v(&window.summary())),
        timezone: Some(window.tz_name.clone()),
        rows_read: Some(totals.rows_read),
        in_window: Some(totals.in_window),
        out_of_window: Some(totals.out_of_window),
        not_card: Some(totals.not_card),
        rejected: Some(totals.rejected),
        reconciled: Some(true),
        not_card_excluded_status: Some(excluded),
        orders_in_window: Some(orders.orders_in_window),
        orders_out_of_window: Some(orders.orders_out_of_window),
        orders_not_card: Some(orders.orders_not_card),
        record_disagreements: Some(ingest.disagreements),
        order_id_collisions: Some(v(&ingest.collisions)),
        order_id_collisions_total: Some(ingest.collisions_total),
        customers_affected: Some(stats.customers as u64),
        customers_without_contact: Some(stats.without_contact as u64),
        customers_login_only: Some(stats.login_only as u64),
        cards_affected: Some(cards),
        cards_shared: Some(shared as u64),
        cards_invalid: Some(invalid),
        cards_masked_only: Some(masked_only),
        card_details_available: Some(cards > 0),
        first_affected_at: Some(first.map(|t| window.format(t))),
        last_affected_at: Some(last.map(|t| window.format(t))),
        by_brand: Some(by_brand),
        by_country: Some(stats.by_country.clone()),
        by_region: Some(stats.by_region.clone()),
        payment_methods: Some(v(&ingest.methods)),
        fingerprint_key: Some(crate::summary::KeyInfo {
            source: v(&key.source).as_str().unwrap_or_default().to_string(),
            id: key.key_id(),
        }),
        files: Some(ingest.files.iter().map(|f| v(f)).collect()),
        warnings: Some(warnings.clone()),
        ..Summary::default()
    };
    Ok((summary, warnings))
}

/// JSON of the parts whose shape their own module declares (`files`, `payment_methods`, …).
mod erased {
    pub trait Ser {
        fn value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn value(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap_or_default()
        }
    }
}

pub(super) fn report_to_user(
    ui: &dyn Progress,
    out: &Path,
    ingest: &Ingest,
    stats: &Stats,
    warnings: &[String],
) {
    let t = ingest.totals();
    ui.say(&format!(
        "skimtrace: {} rows read: {} in window, {} out of window, {} not card, {} rejected",
        t.rows_read, t.in_window, t.out_of_window, t.not_card, t.rejected
    ));
    ui.say(&format!(
        "skimtrace: {} customers affected ({} without any contact), outputs in {}",
        stats.customers,
        stats.without_contact,
        out.display()
    ));
    for w in warnings {
        ui.warn(w);
    }
}

/// The payments part of the summary: per file counts (reconciled), totals, and the in-window
/// card orders that no charge joined (an export cut short, a second gateway…).
pub(super) fn payments_summary(
    summary: &mut Summary,
    warnings: &mut Vec<String>,
    p: &Payments,
    ingest: &Ingest,
) {
    let mut t = payments::PCounts::default();
    for f in &p.files {
        t.rows_read += f.counts.rows_read;
        t.matched += f.counts.matched;
        t.unmatched_in_window += f.counts.unmatched_in_window;
        t.out_of_window += f.counts.out_of_window;
        t.not_card += f.counts.not_card;
        t.rejected += f.counts.rejected;
        for w in &f.warnings {
            warnings.push(format!("{}: {w}", f.path));
        }
    }
    let in_window_orders = ingest
        .orders
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == EntryKind::Order);
    let without: u64 = in_window_orders
        .filter(|(i, _)| !p.orders_with_payment.contains(&(*i as u32)))
        .count() as u64;
    if without > 0 {
        warnings.push(format!(
            "{without} in-window card order(s) have no payment row (orders_without_payment): an export cut short, or a second gateway?"
        ));
    }
    let ambiguous: u64 = p.files.iter().map(|f| f.ambiguous).sum();
    if ambiguous > 0 {
        warnings.push(format!("{ambiguous} charge(s) fit more than one order and were joined to none (payments_unmatched.csv)"));
    }
    summary.payments = Some(json!({
            "files": p.files,
            "rows_read": t.rows_read,
            "matched": t.matched,
            "unmatched_in_window": t.unmatched_in_window,
            "out_of_window": t.out_of_window,
            "not_card": t.not_card,
            "rejected": t.rejected,
            "ambiguous": ambiguous,
            "reconciled": t.reconciles(),
            "charges_listed": p.charges.len(),
    }));
    summary.orders_without_payment = Some(without);
}
