//! The writers of `affected`: affected.csv and affected.jsonl (one customer at a time, built
//! as it is written), orders.csv, payments.csv / payments_unmatched.csv and
//! checkouts_without_order.csv. Every cell and string goes through the card detector
//! ([`crate::output`]).

use super::join::CheckoutJoin;
use crate::customers::{Contact, Customer, Groups};
use crate::error::Result;
use crate::orders::{EntryKind, Ingest};
use crate::output::{self, CsvOut, CsvRows};
use crate::payments::Attached;
use crate::payments::{self, Payments};
use crate::window::Window;
use foldhash::HashSet;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
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
    pub(super) cards: u64,
    /// The shared cards counted so far (see [`Stats::tally`]).
    shared_seen: HashSet<String>,
    /// Brand → distinct cards.
    pub(super) brand_cards: BTreeMap<String, u64>,
    pub(super) cards_invalid: u64,
    pub(super) cards_masked_only: u64,
}

/// Customers built and formatted per block, on every core; blocks are written in order. Each
/// writer holds four blocks per core at once (see [`overlapped`]), each with its customers'
/// records and formatted bytes: 256 rather than 512 keeps the writing's peak at 1,000,000 rows
/// at 90 MB instead of 93-99 MB, at the same speed.
const BLOCK: usize = 256;

/// One block of customers, formatted.
#[derive(Default)]
struct Block {
    csv: CsvRows,
    jsonl: Vec<u8>,
    /// The block's customers, for the summary's figures (tallied in id order).
    customers: Vec<Customer>,
}

/// Builds each customer in id order and writes it to affected.csv and affected.jsonl: blocks
/// of [`BLOCK`] customers are built and formatted on every core, a few blocks at a time, and
/// written in order, so customer records never pile up in memory and the bytes are the same
/// whatever the number of cores.
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
    let fill = |b: &mut Block, first: usize| -> Result<()> {
        b.csv.clear();
        b.jsonl.clear();
        b.customers.clear();
        let block = first..(first + BLOCK).min(groups.len());
        // The block's orders are spread over the whole list: read each once first, so that
        // their cache misses overlap (1,000,000 rows: writing 0.67 -> 0.61 s).
        for ci in block.clone() {
            for &i in groups.members(ci) {
                ingest.orders[i as usize].warm();
            }
        }
        for ci in block {
            let c = groups.customer(ci, ingest, attached, window, default_locale);
            b.csv.row([
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
            ]);
            output::json_line_to_vec(&mut b.jsonl, &jsonl_path, &c)?;
            b.customers.push(c);
        }
        Ok(())
    };
    let starts: Vec<usize> = (0..groups.len()).step_by(BLOCK).collect();
    overlapped(
        &starts,
        |b: &mut Block, &first| fill(b, first),
        |blocks: &[Block]| {
            for b in blocks {
                csv.write_rows(&b.csv)?;
                jsonl
                    .write_all(&b.jsonl)
                    .map_err(|e| crate::error::Error::io(&jsonl_path, e))?;
                for c in &b.customers {
                    stats.tally(c);
                }
            }
            Ok(())
        },
    )?;
    csv.commit()?;
    jsonl.commit()?;
    Ok(stats)
}

impl Stats {
    /// Adds one customer (in id order: the first customer to show a card names its brand).
    fn tally(&mut self, c: &Customer) {
        let stats = self;
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
            // A customer lists each card once, so a card no other customer used is new here:
            // only shared ones are remembered (a set of every card took 90 bytes per card,
            // 280 MB at 3,000,000 cards).
            let new = !k.shared || {
                let id = match &k.fingerprint {
                    Some(f) => format!("fp:{f}"),
                    None => format!("{}:{}:{}", c.customer_id, k.brand, k.masked),
                };
                stats.shared_seen.insert(id)
            };
            if new {
                stats.cards += 1;
                *stats.brand_cards.entry(k.brand.clone()).or_default() += 1;
                match k.check.as_str() {
                    "invalid" => stats.cards_invalid += 1,
                    "masked" => stats.cards_masked_only += 1,
                    _ => {}
                }
            }
        }
    }
}

/// Fills one block per job on every core, a few at a time, and hands them to `write` in
/// order; `write` runs while the next blocks are filled, so formatting never waits for the
/// disk nor the disk for formatting. The blocks' buffers are reused: fresh ones would cost the
/// kernel a zeroed page per 4 KiB.
fn overlapped<J, B, F, W>(jobs: &[J], fill: F, mut write: W) -> Result<()>
where
    J: Sync,
    B: Default + Send + Sync,
    F: Fn(&mut B, &J) -> Result<()> + Sync,
    W: FnMut(&[B]) -> Result<()> + Send,
{
    let at_once = 2 * rayon::current_num_threads().max(1);
    let fill_all = |blocks: &mut [B], jobs: &[J]| -> Result<()> {
        blocks
            .par_iter_mut()
            .zip(jobs)
            .map(|(b, j)| fill(b, j))
            .collect::<Vec<Result<()>>>()
            .into_iter()
            .collect()
    };
    let windows: Vec<&[J]> = jobs.chunks(at_once).collect();
    let new = || -> Vec<B> { (0..at_once).map(|_| B::default()).collect() };
    let (mut ready, mut next) = (new(), new());
    if let Some(first) = windows.first() {
        fill_all(&mut ready, first)?;
    }
    for (w, jobs) in windows.iter().enumerate() {
        let (filled, written) = match windows.get(w + 1) {
            Some(following) => rayon::join(
                || fill_all(&mut next, following),
                || write(&ready[..jobs.len()]),
            ),
            None => (Ok(()), write(&ready[..jobs.len()])),
        };
        written?;
        filled?;
        std::mem::swap(&mut ready, &mut next);
    }
    Ok(())
}

/// The rows of `idx`, formatted by `fill` in blocks of [`BLOCK`] on every core, written to
/// `csv` in order ([`overlapped`]).
fn rows_in_blocks<T: Sync>(
    csv: &mut CsvOut,
    idx: &[T],
    fill: impl Fn(&mut CsvRows, &[T]) + Sync,
) -> Result<()> {
    let chunks: Vec<&[T]> = idx.chunks(BLOCK).collect();
    overlapped(
        &chunks,
        |rows: &mut CsvRows, idx| {
            fill(rows, idx);
            Ok(())
        },
        |blocks: &[CsvRows]| blocks.iter().try_for_each(|rows| csv.write_rows(rows)),
    )
}

pub(super) fn write_orders(
    out: &Path,
    ingest: &Ingest,
    attached: &Attached,
    groups: &Groups,
    window: &Window,
) -> Result<()> {
    // By time, then order id, file, line and index (what a stable sort by the first four
    // gives); the time is copied beside each index so that most comparisons stay out of the
    // records (see `customers::group`), as its seconds and nanoseconds (16 bytes a row with
    // the index, not the 24 of a `Timestamp` and a `usize`), in a list sized once: collected
    // through the filter, it grew by doubling to 12.6 MB at 300,000 orders.
    let orders = &ingest.orders;
    let mut keyed: Vec<(i64, i32, u32)> = Vec::with_capacity(orders.len());
    keyed.extend(
        (0..orders.len())
            .filter(|&i| orders[i].kind == EntryKind::Order)
            .map(|i| {
                let at = orders[i].at();
                (at.as_second(), at.subsec_nanosecond(), i as u32)
            }),
    );
    keyed.sort_unstable_by(|a, b| {
        (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| {
            let (x, y) = (&orders[a.2 as usize], &orders[b.2 as usize]);
            (x.order_id(), x.file, x.line, a.2).cmp(&(y.order_id(), y.file, y.line, b.2))
        })
    });
    let idx: Vec<u32> = keyed.iter().map(|k| k.2).collect();
    drop(keyed);
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
    // Blocks of rows formatted on every core, written in order; their buffers are reused.
    let fill = |rows: &mut CsvRows, idx: &[u32]| {
        rows.clear();
        // The cells of a row, kept from row to row: 300,000 rows would otherwise make
        // 3,600,000 strings of a few bytes each.
        let mut cells: [String; 12] = Default::default();
        // In time order, the orders are spread over the whole list, and so are their
        // customers' ids: see `write_affected`.
        for &i in idx {
            ingest.orders[i as usize].warm();
            groups.warm_id(groups.order_customer[i as usize] as usize);
        }
        for &i in idx {
            order_row(i as usize, ingest, attached, groups, window, &mut cells);
            rows.row(cells.iter());
        }
    };
    rows_in_blocks(&mut csv, &idx, fill)?;
    csv.commit()
}

/// The cells of orders.csv's row for order `i`.
fn order_row(
    i: usize,
    ingest: &Ingest,
    attached: &Attached,
    groups: &Groups,
    window: &Window,
    cells: &mut [String; 12],
) {
    let o = &ingest.orders[i];
    // The order's own card, then the cards of its gateway charges (several when a declined
    // attempt was followed by another card): each column lists them in that order.
    let gateway = attached.gateway_cards.get(&(i as u32));
    let cards = o.card().into_iter().map(|k| (k, "order")).chain(
        gateway
            .into_iter()
            .flatten()
            .map(|k| (k.as_ref(), "gateway")),
    );
    for c in cells.iter_mut() {
        c.clear();
    }
    // card_brand, card_masked, card_fingerprint, card_check, card_source.
    let [order_id, customer, ordered_at, status, amount, currency, card_columns @ .., source] =
        cells;
    let s = &ingest.strings;
    order_id.push_str(o.order_id());
    customer.push_str(groups.id(groups.order_customer[i] as usize));
    ordered_at.push_str(&window.format(o.at()));
    let f = s.facets(o.facets);
    status.push_str(s.get(f.status));
    amount.push_str(o.amount());
    currency.push_str(s.get(f.currency));
    // A column lists one value per card, "; " between them, or nothing when every value
    // is empty (an order without a fingerprinted card has no fingerprint column).
    let mut any = [false; 5];
    let mut n_cards = 0;
    for (n, (k, src)) in cards.enumerate() {
        n_cards += 1;
        let fp_text = k.fingerprint_text();
        let values = [
            k.brand.label(),
            k.masked,
            fp_text.as_deref().unwrap_or_default(),
            k.check.as_str(),
            src,
        ];
        for ((c, v), any) in card_columns.iter_mut().zip(values).zip(&mut any) {
            if n > 0 {
                c.push_str("; ");
            }
            c.push_str(v);
            *any |= !v.is_empty();
        }
    }
    for (c, any) in card_columns.iter_mut().zip(any) {
        if !any {
            c.clear();
        }
    }
    if n_cards == 0 {
        let check = &mut card_columns[3];
        check.push_str("none");
    }
    {
        use std::fmt::Write as _;
        let _ = write!(source, "{}:{}", ingest.files[o.file as usize].path, o.line);
    }
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
    // Blocks of rows formatted on every core, written in order, as orders.csv is.
    let fill = |rows: &mut CsvRows, idx: &[usize]| {
        rows.clear();
        let mut cells: [String; 10] = Default::default();
        for &i in idx {
            let c = &p.charges[i];
            cells.iter_mut().for_each(String::clear);
            cells[0].push_str(&c.charge_id);
            cells[1].push_str(c.order_id.as_deref().unwrap_or_default());
            cells[2].push_str(c.matched.as_str());
            if let Some(e) = c.entry {
                cells[3].push_str(groups.id(groups.order_customer[e as usize] as usize));
            }
            cells[4].push_str(c.card.brand.label());
            cells[5].push_str(c.card.last4());
            cells[6].push_str(&c.status);
            cells[7].push_str(&window.format(c.at));
            cells[8].push_str(c.reason);
            let _ = write!(cells[9], "{}:{}", p.files[c.file as usize].path, c.line);
            rows.row(cells.iter());
        }
    };
    rows_in_blocks(&mut csv, &idx, fill)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks reach `write` in job order, whatever thread filled them and however the last
    /// window is cut; an error of a block stops the writing with that error.
    #[test]
    fn blocks_are_written_in_order_and_errors_stop_it() {
        for jobs in [0usize, 1, 3, 4, 5, 17, 1000] {
            let ids: Vec<usize> = (0..jobs).collect();
            let mut seen = Vec::new();
            overlapped(
                &ids,
                |b: &mut Vec<usize>, &j| {
                    b.clear();
                    b.extend([j, j]);
                    Ok(())
                },
                |blocks: &[Vec<usize>]| {
                    for b in blocks {
                        assert_eq!(b[0], b[1]);
                        seen.push(b[0]);
                    }
                    Ok(())
                },
            )
            .unwrap();
            assert_eq!(seen, ids, "{jobs} jobs");
        }
        let ids: Vec<usize> = (0..100).collect();
        let mut written = 0;
        let r = overlapped(
            &ids,
            |_: &mut Vec<usize>, &j| {
                if j == 50 {
                    Err(crate::error::Error::usage("block 50"))
                } else {
                    Ok(())
                }
            },
            |blocks: &[Vec<usize>]| {
                written += blocks.len();
                Ok(())
            },
        );
        assert!(r.unwrap_err().to_string().contains("block 50"));
        assert!(
            written <= 50,
            "{written} blocks written past the failed one"
        );
    }
}

#[cfg(test)]
mod stats_tests {
    use super::*;

    fn customer(id: &str, cards: serde_json::Value) -> Customer {
        serde_json::from_value(serde_json::json!({
            "customer_id": id, "name": "", "email": null, "emails": [], "login_ids": [],
            "locale": "ja", "region": "", "country": "JP", "cards": cards, "order_ids": [],
            "order_count": 1, "first_order_at": "", "last_order_at": "", "contact": "login",
            "charge_ids": [], "reasons": []
        }))
        .unwrap()
    }

    fn card(
        brand: &str,
        masked: &str,
        fp: Option<&str>,
        check: &str,
        shared: bool,
    ) -> serde_json::Value {
        serde_json::json!({
            "brand": brand, "last4": &masked[masked.len() - 4..], "masked": masked,
            "fingerprint": fp, "shared": shared, "check": check, "display": "", "expiry": null
        })
    }

    /// A shared card is counted once, at its first customer; a card no other customer used
    /// and a masked-only card (told apart within one person) are each counted where listed.
    #[test]
    fn distinct_cards_count_shared_ones_once() {
        let mut stats = Stats::default();
        let x = card("VISA", "411111******1111", Some("xxxx"), "valid", true);
        let masked = card("JCB", "353011******0000", None, "masked", false);
        stats.tally(&customer(
            "c-a",
            serde_json::json!([
                x,
                card("VISA", "400000******0002", Some("yyyy"), "invalid", false),
                masked
            ]),
        ));
        stats.tally(&customer("c-b", serde_json::json!([x, masked])));
        stats.tally(&customer(
            "c-c",
            serde_json::json!([
                x,
                card("AMEX", "378282*****0005", Some("zzzz"), "valid", false)
            ]),
        ));
        // X, Y, Z, and the masked card of c-a and of c-b.
        assert_eq!(stats.cards, 5);
        assert_eq!(stats.cards_invalid, 1);
        assert_eq!(stats.cards_masked_only, 2);
        assert_eq!(stats.brand_cards.get("VISA"), Some(&2));
        assert_eq!(stats.brand_cards.get("JCB"), Some(&2));
        assert_eq!(stats.brand_customers.get("VISA"), Some(&3));
        assert_eq!(stats.shared_seen.len(), 1);
    }
}
