//! The writers of `affected`: affected.csv and affected.jsonl (one customer at a time, built
//! as it is written), orders.csv, payments.csv / payments_unmatched.csv and
//! checkouts_without_order.csv. Every cell and string goes through the card detector
//! ([`crate::output`]).

use super::join::CheckoutJoin;
use crate::customers::{Contact, Groups};
use crate::error::Result;
use crate::orders::{CardInfo, EntryKind, Ingest};
use crate::output::{self, CsvOut};
use crate::payments::Attached;
use crate::payments::{self, Payments};
use crate::window::Window;
use foldhash::HashSet;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

pub const AFFECTED_CSV_HEADER: [&str; 14] = [
    "customer_id",
    "name",
    "email",
    "emails",
    "login_ids",
    "locale",
    "region",
    "country",
    "cards",
    "order_ids",
    "order_count",
    "first_order_at",
    "last_order_at",
    "contact",
];

pub(super) fn join(v: &[String]) -> String {
    v.join("; ")
}

/// Figures gathered while the customers are written, for the summary.
#[derive(Default)]
pub(super) struct Stats {
    pub(super) customers: usize,
    pub(super) without_contact: usize,
    pub(super) login_only: usize,
    pub(super) by_country: BTreeMap<String, u64>,
    pub(super) by_region: BTreeMap<String, u64>,
    /// Brand → customers with a card of that brand.
    pub(super) brand_customers: BTreeMap<String, u64>,
    /// Distinct cards, as customers list them: by keyed fingerprint across people; a card
    /// without one (masked only) can only be told apart within one person.
    pub(super) cards: HashSet<String>,
    /// Brand → distinct cards.
    pub(super) brand_cards: BTreeMap<String, u64>,
    pub(super) cards_invalid: u64,
    pub(super) cards_masked_only: u64,
}

/// Builds each customer in id order and writes it to affected.csv and affected.jsonl at once,
/// so customer records never pile up in memory.
pub(super) fn write_affected(
    out: &Path,
    ingest: &Ingest,
    attached: &Attached,
    groups: &Groups,
    window: &Window,
    default_locale: &str,
) -> Result<Stats> {
    let mut csv = CsvOut::create(&out.join("affected.csv"), &AFFECTED_CSV_HEADER)?;
    let jsonl_path = out.join("affected.jsonl");
    let mut jsonl = output::AtomicFile::create(&jsonl_path)?;
    let mut stats = Stats::default();
    for ci in 0..groups.len() {
        let c = groups.customer(ci, ingest, attached, window, default_locale);
        csv.row([
            c.customer_id.as_str(),
            c.name.as_str(),
            c.email.as_deref().unwrap_or_default(),
            &join(&c.emails),
            &join(&c.login_ids),
            &c.locale,
            &c.region,
            &c.country,
            &c.cards
                .iter()
                .map(|k| k.display.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            &join(&c.order_ids),
            &c.order_count.to_string(),
            &c.first_order_at,
            &c.last_order_at,
            c.contact.as_str(),
        ])?;
        output::json_line(&mut jsonl, &jsonl_path, &c)?;
        stats.customers += 1;
        match c.contact {
            Contact::None => stats.without_contact += 1,
            Contact::Login => stats.login_only += 1,
            Contact::Email => {}
        }
        let country = if c.country.is_empty() {
            "(unknown)".to_string()
        } else {
            c.country.clone()
        };
        let region = if c.region.is_empty() {
            "(unknown)"
        } else {
            &c.region
        };
        *stats
            .by_region
            .entry(format!("{country}/{region}"))
            .or_default() += 1;
        *stats.by_country.entry(country).or_default() += 1;
        let brands: BTreeSet<&str> = c
            .cards
            .iter()
            .filter(|k| k.check != "none" && k.check != "unreadable")
            .map(|k| k.brand.as_str())
            .collect();
        for b in brands {
            *stats.brand_customers.entry(b.to_string()).or_default() += 1;
        }
        for k in &c.cards {
            if k.check == "none" || k.check == "unreadable" {
                continue;
            }
            let id = match &k.fingerprint {
                Some(f) => format!("fp:{f}"),
                None => format!("{}:{}:{}", c.customer_id, k.brand, k.masked),
            };
            if stats.cards.insert(id) {
                *stats.brand_cards.entry(k.brand.clone()).or_default() += 1;
                match k.check.as_str() {
                    "invalid" => stats.cards_invalid += 1,
                    "masked" => stats.cards_masked_only += 1,
                    _ => {}
                }
            }
        }
    }
    csv.commit()?;
    jsonl.commit()?;
    Ok(stats)
}

pub(super) fn write_orders(
    out: &Path,
    ingest: &Ingest,
    attached: &Attached,
    groups: &Groups,
    window: &Window,
) -> Result<()> {
    let mut idx: Vec<usize> = (0..ingest.orders.len())
        .filter(|&i| ingest.orders[i].kind == EntryKind::Order)
        .collect();
    idx.sort_by(|&a, &b| {
        let (x, y) = (&ingest.orders[a], &ingest.orders[b]);
        (x.at, &x.order_id, x.file, x.line).cmp(&(y.at, &y.order_id, y.file, y.line))
    });
    let mut csv = CsvOut::create(
        &out.join("orders.csv"),
        &[
            "order_id",
            "customer_id",
            "ordered_at",
            "status",
            "amount",
            "currency",
            "card_brand",
            "card_masked",
            "card_fingerprint",
            "card_check",
            "card_source",
            "source",
        ],
    )?;
    for i in idx {
        let o = &ingest.orders[i];
        let customer_id = &groups.ids[groups.order_customer[i] as usize];
        // The order's own card, then the cards of its gateway charges (several when a declined
        // attempt was followed by another card): each column lists them in that order.
        let mut cards: Vec<(&CardInfo, &str)> = Vec::new();
        if let Some(k) = &o.card {
            cards.push((k, "order"));
        }
        for k in attached
            .gateway_cards
            .get(&(i as u32))
            .into_iter()
            .flatten()
        {
            cards.push((k, "gateway"));
        }
        let col = |f: &dyn Fn(&CardInfo, &str) -> String| -> String {
            let v: Vec<String> = cards.iter().map(|(k, src)| f(k, src)).collect();
            if v.iter().all(String::is_empty) {
                String::new()
            } else {
                v.join("; ")
            }
        };
        let brand = col(&|k, _| k.brand.label().to_string());
        let masked = col(&|k, _| k.masked.to_string());
        let fp = col(&|k, _| k.fingerprint_text().unwrap_or_default());
        let check = if cards.is_empty() {
            "none".to_string()
        } else {
            col(&|k, _| k.check.as_str().to_string())
        };
        let card_source = col(&|_, src| src.to_string());
        let s = &ingest.strings;
        csv.row([
            o.order_id.to_string(),
            customer_id.clone(),
            window.format(o.at),
            s.get(o.status).to_string(),
            o.amount.to_string(),
            s.get(o.currency).to_string(),
            brand,
            masked,
            fp,
            check,
            card_source,
            format!("{}:{}", ingest.files[o.file as usize].path, o.line),
        ])?;
    }
    csv.commit()
}

/// payments.csv (one row per charge in the window or joined to an order in it) and
/// payments_unmatched.csv (charges that concern the window but joined no order).
pub(super) fn write_payments(
    out: &Path,
    p: &Payments,
    groups: &Groups,
    window: &Window,
) -> Result<()> {
    let mut idx: Vec<usize> = (0..p.charges.len()).collect();
    idx.sort_by(|&a, &b| {
        let (x, y) = (&p.charges[a], &p.charges[b]);
        (x.at, &x.charge_id, x.file, x.line).cmp(&(y.at, &y.charge_id, y.file, y.line))
    });
    let mut csv = CsvOut::create(
        &out.join("payments.csv"),
        &[
            "charge_id",
            "order_id",
            "match",
            "customer_id",
            "card_brand",
            "card_last4",
            "status",
            "created_at",
            "reason",
            "source",
        ],
    )?;
    for i in idx {
        let c = &p.charges[i];
        let customer = c
            .entry
            .map(|e| groups.ids[groups.order_customer[e as usize] as usize].clone())
            .unwrap_or_default();
        csv.row([
            c.charge_id.to_string(),
            c.order_id.as_deref().unwrap_or_default().to_string(),
            c.matched.as_str().to_string(),
            customer,
            c.card.brand.label().to_string(),
            c.card.last4().to_string(),
            c.status.to_string(),
            window.format(c.at),
            c.reason.to_string(),
            format!("{}:{}", p.files[c.file as usize].path, c.line),
        ])?;
    }
    csv.commit()?;
    let mut un = CsvOut::create(
        &out.join("payments_unmatched.csv"),
        &[
            "charge_id",
            "created_at",
            "amount",
            "currency",
            "reason",
            "candidates",
            "source",
        ],
    )?;
    let mut rows: Vec<&payments::Unmatched> = p.unmatched.iter().collect();
    rows.sort_by(|a, b| {
        (a.created_at, &a.charge_id, &a.source).cmp(&(b.created_at, &b.charge_id, &b.source))
    });
    for u in rows {
        un.row([
            u.charge_id.clone(),
            window.format(u.created_at),
            u.amount.clone(),
            u.currency.clone(),
            u.reason.to_string(),
            u.candidates.join("; "),
            u.source.clone(),
        ])?;
    }
    un.commit()
}

/// checkouts_without_order.csv: the checkout submissions inside the window that no order
/// matches, in time order.
pub(super) fn write_checkouts(out: &Path, c: &CheckoutJoin, window: &Window) -> Result<()> {
    let mut csv = CsvOut::create(
        &out.join("checkouts_without_order.csv"),
        &[
            "time", "source", "ip", "user", "session", "target", "reason",
        ],
    )?;
    let mut rows: Vec<&(crate::evidence::scan::Checkout, &str)> = c.without.iter().collect();
    rows.sort_by_key(|r| (r.0.time, r.0.file, r.0.line));
    for (k, reason) in rows {
        csv.row([
            window.format(k.time),
            format!("{}:{}", c.sources[k.file], k.line),
            k.ip.clone().unwrap_or_default(),
            k.user.clone().unwrap_or_default(),
            k.session.clone().unwrap_or_default(),
            k.target.clone().unwrap_or_default(),
            reason.to_string(),
        ])?;
    }
    csv.commit()
}
