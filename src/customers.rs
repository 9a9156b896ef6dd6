//! One affected customer per person.
//!
//! In-window card orders are linked when they share a normalised e-mail or a login/customer id
//! (union-find, so A–B by e-mail and B–C by login make one person). Cards never link people:
//! two people who used one card stay two customers, and the card is marked as shared. An order
//! with neither e-mail nor login id is a customer of its own, listed with `contact = "none"`
//! for postal follow-up.
//!
//! The customer id is a keyed hash of the person's smallest identity (e-mail, else login id,
//! else order id), so it is the same for the same data and key, and reveals nothing without
//! the key. Two people of one identity (two orders under one id that disagree, neither with an
//! e-mail or a login id) are told apart: the second takes a keyed id of the first's and its
//! rank.

use crate::cards::FingerprintKey;
use crate::orders::{CardIdentity, CardRef, EntryKind, Facets, Ingest, OrderRecord, Sym};
use crate::payments::Attached;
use crate::window::Window;
use foldhash::HashMap;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::hash::BuildHasher as _;

/// A card as listed for a customer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct CustomerCard {
    pub brand: String,
    pub last4: String,
    /// The case's mask (at most BIN + last 4); for internal use, not for the customer.
    pub masked: String,
    /// Keyed fingerprint (HMAC-SHA256) of the full number, when the export had it.
    pub fingerprint: Option<String>,
    /// Whether another affected person used the same card.
    pub shared: bool,
    /// `valid`, `invalid` (failed Luhn: kept, the customer typed it), `masked`, `none`.
    pub check: String,
    /// `VISA ****1111`, or `VISA ****1111 (shared)`.
    pub display: String,
    /// `MM/YYYY`, where the payment gateway's export gives it.
    pub expiry: Option<String>,
}

/// How a customer can be reached.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Contact {
    Email,
    /// No e-mail in the export, but a login id: the shop can look the address up.
    Login,
    /// Neither: postal follow-up.
    #[default]
    None,
}

impl Contact {
    pub fn as_str(self) -> &'static str {
        match self {
            Contact::Email => "email",
            Contact::Login => "login",
            Contact::None => "none",
        }
    }
}

/// One affected person: the record of `affected.jsonl`, declared once. `affected` writes it;
/// `notify`, `diff` and the desk read it back. Reading is tolerant: a field missing (a record
/// written before the field existed, or made by another tool) takes its default, and unknown
/// fields are ignored, so later versions can add fields without breaking earlier folders.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Customer {
    pub customer_id: String,
    pub name: String,
    /// The notification address: the e-mail of the most recent in-window order that has one.
    pub email: Option<String>,
    pub emails: Vec<String>,
    pub login_ids: Vec<String>,
    /// The phone numbers of the person's orders, as written (the contact desk searches by
    /// them). Left out of the record when there are none, so cases whose exports carry no
    /// phone column keep their bytes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<String>,
    pub locale: String,
    pub region: String,
    pub country: String,
    pub cards: Vec<CustomerCard>,
    pub order_ids: Vec<String>,
    pub order_count: usize,
    pub first_order_at: String,
    pub last_order_at: String,
    pub contact: Contact,
    /// Gateway charges of the person inside the window or joined to their orders.
    pub charge_ids: Vec<String>,
    /// Why the person is affected: `card_order_in_window`, `payment_without_order` (a charge
    /// in the window that matches no order, e.g. a declined attempt), `payment_in_window` (a
    /// charge in the window for an order outside it).
    pub reasons: Vec<String>,
}

/// The people: in-window orders grouped by person, customers sorted by id. Customers are built
/// one at a time from it ([`Groups::customer`]), so a run never holds every customer record in
/// memory at once: only ids and index arrays.
pub struct Groups {
    /// Customer ids, sorted: `c-` and 14 characters of base32, kept as their 16 bytes (an
    /// allocation each was 40 bytes a person, 60 MB at 1,500,000 people); see [`Groups::id`].
    ids: Vec<[u8; 16]>,
    /// Order indices, grouped by customer (in id order), oldest order first within a customer.
    perm: Vec<u32>,
    /// `perm[bounds[c]..bounds[c + 1]]` are customer `c`'s orders.
    bounds: Vec<u32>,
    /// For each order (by index), its customer's index.
    pub order_customer: Vec<u32>,
    /// Fingerprinted cards that more than one customer used → how many did. Only those: a
    /// map of every card (one per order, mostly) took 25 MB at 300,000 orders.
    pub shared_cards: HashMap<CardIdentity, u32>,
}

struct UnionFind(Vec<u32>);

impl UnionFind {
    fn find(&mut self, mut x: u32) -> u32 {
        while self.0[x as usize] != x {
            let p = self.0[x as usize];
            self.0[x as usize] = self.0[p as usize];
            x = p;
        }
        x
    }
    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // Keep the smaller root: results do not depend on the order of unions.
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi as usize] = lo;
        }
    }
}

/// Pairs of orders whose `get` texts are equal, enough to join every such order to the first
/// of its text: (that first order, the other). Orders without the text take no part.
fn same_text_pairs(
    orders: &[OrderRecord],
    get: fn(&OrderRecord) -> Option<&str>,
    hash: impl Fn(&str) -> u64 + Sync,
) -> Vec<(u32, u32)> {
    // The hash's high 32 bits above the order's index: sorted, the orders of one hash are
    // together, in index order.
    let mut keyed: Vec<u64> = orders
        .par_iter()
        .enumerate()
        .filter_map(|(i, o)| Some((hash(get(o)?) >> 32) << 32 | i as u64))
        .collect();
    keyed.par_sort_unstable();
    let text = |k: u64| get(&orders[(k as u32) as usize]).unwrap_or_default();
    keyed
        .par_chunk_by(|a, b| a >> 32 == b >> 32)
        .filter(|run| run.len() > 1)
        .flat_map_iter(|run| {
            // The first order of each text in the run: one, but for a hash two texts share.
            let mut firsts: Vec<u64> = Vec::new();
            let mut pairs = Vec::new();
            for &k in run {
                match firsts.iter().find(|&&f| text(f) == text(k)) {
                    Some(&f) => pairs.push((f as u32, k as u32)),
                    None => firsts.push(k),
                }
            }
            pairs
        })
        .collect()
}

/// Groups the in-window orders into people and gives each a keyed, stable id.
pub fn group(ingest: &Ingest, attached: &Attached, key: &FingerprintKey) -> Groups {
    let orders = &ingest.orders[..];
    let n = orders.len();
    let mut uf = UnionFind((0..n as u32).collect());
    // Orders that share an e-mail, or a login id, are one person. Each order's text is hashed
    // on every core, the (hash, order) pairs sorted, and the orders of a run of one hash
    // compared by their texts (a hash says nothing alone): a table probed order by order
    // missed the cache two or three times an order, one core only (at 3,000,000 orders, 1.3 to
    // 1.9 s). The smaller root is kept at each union, so the people do not depend on the
    // order the pairs come in.
    let hasher = foldhash::fast::FixedState::default();
    // Entries with neither, and no order, are one person when they are one charge: a charge
    // kept twice (from two exports of it with other columns) is one charge id on two entries.
    // (Two orders under one id are not linked: they are kept apart because they disagree, and
    // may be two people; see the ids below.)
    fn charge_of_no_contact(o: &OrderRecord) -> Option<&str> {
        Some(o.entry_ref()).filter(|r| {
            !r.is_empty() && o.order_id().is_empty() && o.email().is_none() && o.login().is_none()
        })
    }
    let links: [fn(&OrderRecord) -> Option<&str>; 3] =
        [OrderRecord::email, OrderRecord::login, charge_of_no_contact];
    for get in links {
        for (a, b) in same_text_pairs(orders, get, |t| hasher.hash_one(t)) {
            uf.union(a, b);
        }
    }
    let roots: Vec<u32> = (0..n as u32).map(|i| uf.find(i)).collect();
    drop(uf);

    // Each person's identity: the smallest e-mail, else the smallest login id, else the order
    // id of the oldest order. Kind first, so e-mails sort before logins before orders. Each
    // person is its root and the index of the order its identity comes from, 8 bytes rather
    // than the 40 of its kind, text and time.
    let identity_of = |i: u32| -> (u8, &str, jiff::Timestamp) {
        let o = &orders[i as usize];
        match (o.email(), o.login()) {
            (Some(e), _) => (0u8, e, jiff::Timestamp::MIN),
            (None, Some(l)) => (1, l, jiff::Timestamp::MIN),
            (None, None) if o.order_id().is_empty() => (3, o.entry_ref(), o.at()),
            (None, None) => (2, o.order_id(), o.at()),
        }
    };
    let better = |cand: u32, cur: u32| {
        let (cand, cur) = (identity_of(cand), identity_of(cur));
        match (cand.0, cur.0) {
            (2, 2) | (3, 3) => (cand.2, cand.1) < (cur.2, cur.1),
            _ => (cand.0, cand.1) < (cur.0, cur.1),
        }
    };
    // The (root, order) pairs sorted on every core, each root's run then reduced in order
    // (the earliest order wins a tie, as one pass over the orders gave): a pass over the
    // orders on one core reached into a random slot and a random order's texts for each
    // (0.65 s at 3,000,000 orders). The people come out by root.
    let mut by_root: Vec<u64> = roots
        .par_iter()
        .enumerate()
        .map(|(i, &root)| u64::from(root) << 32 | i as u64)
        .collect();
    by_root.par_sort_unstable();
    let identity: Vec<(u32, u32)> = by_root
        .par_chunk_by(|a, b| a >> 32 == b >> 32)
        .map(|run| {
            let best = run
                .iter()
                .map(|&k| k as u32)
                .reduce(|cur, cand| if better(cand, cur) { cand } else { cur })
                .expect("a run is never empty");
            ((run[0] >> 32) as u32, best)
        })
        .collect();
    drop(by_root);
    // Each id as its 16 bytes (`c-` and 14 characters of base32, the same length for every
    // person), so that sorting compares arrays in place rather than strings on the heap (at
    // 1,500,000 people, a cache miss per comparison).
    let mut people: Vec<([u8; 16], u32)> = identity
        .into_par_iter()
        .map(|(root, i)| {
            let (kind, value, _) = identity_of(i);
            let label = match kind {
                0 => "email",
                1 => "login",
                2 => "order",
                _ => "entry",
            };
            let fp = key.fingerprint("customer", format!("{label}:{value}").as_bytes());
            let mut id = [0u8; 16];
            id[..2].copy_from_slice(b"c-");
            // A keyed fingerprint is 52 characters of base32 (32 bytes).
            id[2..].copy_from_slice(&fp.as_bytes()[..14]);
            (id, root)
        })
        .collect();
    // Unstable sorts on every core give what a stable sort gives: no two elements of these
    // lists are equal (each holds a distinct root or order index), or equal ones are
    // identical.
    people.par_sort_unstable();
    // Two people with one identity (two orders under one id, from exports that disagree on
    // them, with no e-mail or login): the first in root order keeps the id, each other takes
    // a keyed id of it and its rank, so that every customer id names one person.
    if people.windows(2).any(|w| w[0].0 == w[1].0) {
        for run in people.chunk_by_mut(|a, b| a.0 == b.0) {
            let first = run[0].0;
            let shown = std::str::from_utf8(&first).unwrap_or_default().to_string();
            for (rank, p) in run.iter_mut().enumerate().skip(1) {
                let fp = key.fingerprint("customer", format!("{shown}#{rank}").as_bytes());
                p.0[2..].copy_from_slice(&fp.as_bytes()[..14]);
            }
        }
        people.sort_unstable();
    }
    // Roots are order indices: a dense list is smaller and faster than a map.
    let mut customer_of_root: Vec<u32> = vec![u32::MAX; n];
    for (ci, (_, root)) in people.iter().enumerate() {
        customer_of_root[*root as usize] = ci as u32;
    }
    let order_customer: Vec<u32> = roots
        .iter()
        .map(|&r| customer_of_root[r as usize])
        .collect();
    drop(customer_of_root);
    // By customer, then time (then order id, file, line, index: the order a stable sort by
    // the first five gives). The customer and the time's seconds are copied beside each index
    // first (16 bytes a row; with a whole `Timestamp`, 24): comparing through the orders would
    // reach into a random record twice per comparison, a cache miss each (at 3,000,000 orders
    // the sort took seconds); the rest (the nanoseconds first) is compared only between orders
    // of one customer in the same second.
    let mut keyed: Vec<(u32, u32, i64)> = (0..n)
        .map(|i| (order_customer[i], i as u32, orders[i].at().as_second()))
        .collect();
    keyed.par_sort_unstable_by(|a, b| {
        (a.0, a.2).cmp(&(b.0, b.2)).then_with(|| {
            let (x, y) = (&orders[a.1 as usize], &orders[b.1 as usize]);
            (x.at(), x.order_id(), x.file, x.line, a.1).cmp(&(
                y.at(),
                y.order_id(),
                y.file,
                y.line,
                b.1,
            ))
        })
    });
    // Into a list of its own (collected in place, the indices would keep the 16 bytes a row
    // of the sorted list).
    let perm: Vec<u32> = keyed.iter().map(|k| k.1).collect();
    drop(keyed);
    let mut bounds: Vec<u32> = Vec::with_capacity(people.len() + 1);
    bounds.push(0);
    for (pos, w) in perm.windows(2).enumerate() {
        if order_customer[w[0] as usize] != order_customer[w[1] as usize] {
            bounds.push(pos as u32 + 1);
        }
    }
    bounds.push(n as u32);
    if n == 0 {
        bounds = vec![0];
    }

    // The fingerprinted cards more than one person used: every (card, person) pair once,
    // sorted, so that a card's people are one run. First by the fingerprint's first 8 bytes
    // (an HMAC's bytes: as good as a hash), 16 bytes a pair instead of 36 (3,000,000 orders:
    // 48 MB instead of 108, in a list sized once rather than grown by doubling, the linking's
    // peak); then, for the few prefixes more than one person has, by the whole fingerprint,
    // so two cards that share a prefix are never taken for one.
    let prefix =
        |f: &[u8; 32]| u64::from_le_bytes([f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]]);
    /// Each fingerprint of each order, with the order's customer.
    fn pairs(
        ingest: &Ingest,
        attached: &Attached,
        order_customer: &[u32],
        mut take: impl FnMut(&[u8; 32], u32),
    ) {
        for (i, &customer) in order_customer.iter().enumerate() {
            for c in attached.cards(ingest, i as u32) {
                if let Some(f) = c.fingerprint {
                    take(f, customer);
                }
            }
        }
    }
    let mut uses: Vec<(u64, u32)> = Vec::with_capacity(n);
    pairs(ingest, attached, &order_customer, |f, customer| {
        uses.push((prefix(f), customer))
    });
    uses.par_sort_unstable();
    uses.dedup();
    let candidates: foldhash::HashSet<u64> = uses
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|run| run.len() > 1)
        .map(|run| run[0].0)
        .collect();
    drop(uses);
    let mut uses: Vec<([u8; 32], u32)> = Vec::new();
    if !candidates.is_empty() {
        pairs(ingest, attached, &order_customer, |f, customer| {
            if candidates.contains(&prefix(f)) {
                uses.push((*f, customer));
            }
        });
    }
    uses.par_sort_unstable();
    uses.dedup();
    let shared_cards = uses
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|run| run.len() > 1)
        .map(|run| (CardIdentity::Fingerprint(run[0].0), run.len() as u32))
        .collect();
    drop(uses);
    Groups {
        ids: people.into_iter().map(|(id, _)| id).collect(),
        perm,
        bounds,
        order_customer,
        shared_cards,
    }
}

impl Groups {
    /// Customer `c`'s id (`c-` and 14 characters of base32).
    pub fn id(&self, c: usize) -> &str {
        // Built from ASCII only; an empty id rather than a panic should that ever break.
        std::str::from_utf8(&self.ids[c]).unwrap_or_default()
    }

    /// Reads customer `c`'s id, for a writer that warms a block's ids before formatting it
    /// (as [`OrderRecord::warm`] does for orders), without checking it as text.
    pub fn warm_id(&self, c: usize) -> u8 {
        std::hint::black_box(self.ids[c][0])
    }

    /// Number of customers.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Customer `c`'s orders (indices), oldest first.
    pub fn members(&self, c: usize) -> &[u32] {
        &self.perm[self.bounds[c] as usize..self.bounds[c + 1] as usize]
    }

    /// Builds customer `c`'s record.
    pub fn customer(
        &self,
        c: usize,
        ingest: &Ingest,
        attached: &Attached,
        window: &Window,
        default_locale: &str,
    ) -> Customer {
        let orders = &ingest.orders[..];
        let strings = &ingest.strings;
        let members = self.members(c);
        let order = |i: &u32| &orders[*i as usize];
        let newest_first = || members.iter().rev().map(order);
        // Each distinct text once, in byte order (a person has a handful: a sorted list
        // beats a tree of owned strings).
        let distinct = |f: fn(&OrderRecord) -> Option<&str>| -> Vec<String> {
            let mut v: Vec<&str> = members.iter().filter_map(|i| f(order(i))).collect();
            v.sort_unstable();
            v.dedup();
            v.into_iter().map(str::to_string).collect()
        };
        let emails = distinct(OrderRecord::email);
        let logins = distinct(OrderRecord::login);
        let phones = distinct(OrderRecord::phone);
        let email = newest_first().find_map(|o| o.email().map(str::to_string));
        let pick = |f: &dyn Fn(Facets) -> Sym| -> String {
            newest_first()
                .map(|o| strings.get(f(strings.facets(o.facets))))
                .find(|s| !s.is_empty())
                .unwrap_or_default()
                .to_string()
        };
        // Each card once (the first entry that shows it), in identity order.
        let mut seen_cards: Vec<(CardIdentity, CustomerCard)> = Vec::new();
        for &i in members {
            for k in attached.cards(ingest, i) {
                let id = k.identity();
                if !seen_cards.iter().any(|(seen, _)| *seen == id) {
                    let shared = self.shared_cards.contains_key(&id);
                    seen_cards.push((id, customer_card(k, shared)));
                }
            }
        }
        seen_cards.sort_by(|a, b| a.0.cmp(&b.0));
        let mut cards: Vec<CustomerCard> = seen_cards.into_iter().map(|(_, k)| k).collect();
        // A gateway card (brand + last 4 from the payment export) and the same person's card
        // from the order export are one card when brand and last 4 agree: list it once.
        if cards.iter().any(|k| k.check == "gateway") {
            let export_cards: Vec<(String, String)> = cards
                .iter()
                .filter(|k| k.check != "gateway" && !k.last4.is_empty())
                .map(|k| (k.brand.clone(), k.last4.clone()))
                .collect();
            let mut shared_by_gateway: Vec<(String, String)> = Vec::new();
            cards.retain(|k| {
                let dup = k.check == "gateway"
                    && export_cards.contains(&(k.brand.clone(), k.last4.clone()));
                if dup && k.shared {
                    shared_by_gateway.push((k.brand.clone(), k.last4.clone()));
                }
                !dup
            });
            for k in cards.iter_mut() {
                if !k.shared && shared_by_gateway.contains(&(k.brand.clone(), k.last4.clone())) {
                    k.shared = true;
                    k.display.push_str(" (shared)");
                }
            }
        }
        // A gateway card without a fingerprint beside the same person's gateway card with one,
        // of the same brand and last 4 (one charge in two exports, one without the fingerprint
        // column), is that card: listed once, with its fingerprint.
        let fingerprinted: Vec<(String, String)> = cards
            .iter()
            .filter(|k| k.check == "gateway" && k.fingerprint.is_some())
            .map(|k| (k.brand.clone(), k.last4.clone()))
            .collect();
        if !fingerprinted.is_empty() {
            cards.retain(|k| {
                k.check != "gateway"
                    || k.fingerprint.is_some()
                    || !fingerprinted.contains(&(k.brand.clone(), k.last4.clone()))
            });
        }
        cards.sort_by(|a, b| {
            (&a.display, &a.masked, &a.fingerprint).cmp(&(&b.display, &b.masked, &b.fingerprint))
        });
        let mut order_ids: Vec<String> = Vec::with_capacity(members.len());
        let mut charge_ids: Vec<String> = Vec::new();
        let mut reasons: Vec<&'static str> = Vec::new();
        for &i in members {
            let o = &orders[i as usize];
            let reason = match o.kind {
                EntryKind::Order => "card_order_in_window",
                EntryKind::Payment => "payment_without_order",
                EntryKind::PaymentForOrder => "payment_in_window",
                EntryKind::Checkout => "checkout_without_order",
            };
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
            if !o.order_id().is_empty() && !order_ids.iter().any(|x| *x == o.order_id()) {
                order_ids.push(o.order_id().to_string());
            }
            if let Some(ch) = attached.entry_charges.get(&i) {
                for c in ch {
                    if !charge_ids.iter().any(|x| *x == **c) {
                        charge_ids.push(c.to_string());
                    }
                }
            }
        }
        reasons.sort_unstable();
        let contact = if email.is_some() {
            Contact::Email
        } else if !logins.is_empty() {
            Contact::Login
        } else {
            Contact::None
        };
        let country = pick(&|f| f.country);
        let mut locale = pick(&|f| f.locale);
        if locale.is_empty() {
            locale = if !default_locale.is_empty() {
                default_locale.to_string()
            } else if country.eq_ignore_ascii_case("JP") || country == "日本" {
                "ja".into()
            } else {
                "en".into()
            };
        }
        let name = newest_first()
            .map(|o| o.name())
            .find(|s| !s.is_empty())
            .unwrap_or_default()
            .to_string();
        Customer {
            customer_id: self.id(c).to_string(),
            name,
            email,
            emails,
            login_ids: logins,
            phones,
            locale,
            region: pick(&|f| f.region),
            country,
            cards,
            order_count: order_ids.len(),
            order_ids,
            first_order_at: window.format(order(&members[0]).at()),
            last_order_at: window
                .format(order(members.last().expect("a customer has orders")).at()),
            contact,
            charge_ids,
            reasons: reasons.into_iter().map(str::to_string).collect(),
        }
    }
}

fn customer_card(c: CardRef, shared: bool) -> CustomerCard {
    let mut display = c.display();
    if shared {
        display.push_str(" (shared)");
    }
    CustomerCard {
        brand: c.brand.label().to_string(),
        last4: c.last4().to_string(),
        masked: c.masked.to_string(),
        fingerprint: c.fingerprint_text(),
        shared,
        check: c.check.as_str().to_string(),
        display,
        expiry: c.expiry.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cards::{Brand, KeySource};
    use crate::orders::{CardCheck, CardInfo, TextsOf};

    /// A card is shared when two people used it, never when two cards share the first bytes
    /// of their fingerprints (the first pass compares those only), nor when one person used
    /// it twice.
    #[test]
    fn cards_that_share_a_prefix_are_not_one_shared_card() {
        let fp = |head: u8, tail: u8| {
            let mut f = [head; 32];
            f[31] = tail;
            f
        };
        let (x, y, z, w) = (fp(1, 1), fp(1, 2), fp(2, 1), fp(2, 2));
        let mut ingest = Ingest::new();
        let facets = ingest.strings.intern_facets("paid", "JPY", "", "JP", "ja");
        for (n, (email, f)) in [("a", x), ("b", x), ("c", y), ("d", z), ("d", z), ("e", w)]
            .into_iter()
            .enumerate()
        {
            let email = format!("{email}@example.jp");
            let id = format!("#{n}");
            let card = CardInfo {
                brand: Brand::Visa,
                masked: "411111******1111".into(),
                fingerprint: Some(f),
                check: CardCheck::Valid,
                expiry: None,
            };
            ingest.orders.push(OrderRecord::new(
                EntryKind::Order,
                0,
                n as u64 + 2,
                jiff::Timestamp::UNIX_EPOCH,
                facets,
                &TextsOf {
                    order_id: &id,
                    email: Some(&email),
                    ..TextsOf::default()
                },
                Some(&card),
            ));
        }
        let key = FingerprintKey::new(b"unit-test-key-0123456789".to_vec(), KeySource::Env);
        let g = group(&ingest, &Attached::default(), &key);
        assert_eq!(g.len(), 5);
        let shared: Vec<(&CardIdentity, &u32)> = g.shared_cards.iter().collect();
        assert_eq!(shared, [(&CardIdentity::Fingerprint(x), &2)]);
    }

    /// The people are those of joining each order to the first one of its e-mail or login
    /// (the plain way), whatever the hash: a real one, one that gives every text the same
    /// value (every text in one run), one of a text's length. Fails when a shared hash joins
    /// two texts, or when a run's second text is left alone.
    #[test]
    fn orders_sharing_an_email_or_login_are_one_person_whatever_the_hash() {
        use proptest::prelude::*;
        let texts = proptest::collection::vec(
            (
                proptest::option::of(0usize..6),
                proptest::option::of(0u8..6),
            ),
            0..60,
        );
        let facets = Ingest::new()
            .strings
            .intern_facets("paid", "JPY", "", "JP", "ja");
        proptest!(ProptestConfig::with_cases(300), |(given in texts)| {
            let orders: Vec<OrderRecord> = given
                .iter()
                .enumerate()
                .map(|(n, (e, l))| {
                    let email = e.map(|e| format!("{}@example.jp", "x".repeat(e)));
                    let login = l.map(|l| format!("m{l}"));
                    OrderRecord::new(
                        EntryKind::Order,
                        0,
                        n as u64,
                        jiff::Timestamp::UNIX_EPOCH,
                        facets,
                        &TextsOf {
                            order_id: &n.to_string(),
                            email: email.as_deref(),
                            login: login.as_deref(),
                            ..TextsOf::default()
                        },
                        None,
                    )
                })
                .collect();
            let n = orders.len() as u32;
            // The plain way: each order joined to the first order of its text.
            let mut plain = UnionFind((0..n).collect());
            for get in [OrderRecord::email, OrderRecord::login] {
                let mut first: std::collections::HashMap<&str, u32> = Default::default();
                for (i, o) in orders.iter().enumerate() {
                    if let Some(t) = get(o) {
                        let f = *first.entry(t).or_insert(i as u32);
                        plain.union(f, i as u32);
                    }
                }
            }
            let hasher = foldhash::fast::FixedState::default();
            let real = |t: &str| hasher.hash_one(t);
            let one = |_: &str| 7u64 << 32;
            let by_length = |t: &str| (t.len() as u64) << 40;
            let hashes: [&(dyn Fn(&str) -> u64 + Sync); 3] = [&real, &one, &by_length];
            for hash in hashes {
                let mut uf = UnionFind((0..n).collect());
                for get in [OrderRecord::email, OrderRecord::login] {
                    for (a, b) in same_text_pairs(&orders, get, hash) {
                        uf.union(a, b);
                    }
                }
                for i in 0..n {
                    prop_assert_eq!(uf.find(i), plain.find(i));
                }
            }
        });
    }

    /// The one record reads back what `affected` writes, byte for byte, and reads a record of
    /// an older version (fields missing) or a newer one (unknown fields) too.
    #[test]
    fn the_record_round_trips_and_reads_older_and_newer_lines() {
        let c = Customer {
            customer_id: "c-1".into(),
            name: "山田 太郎".into(),
            email: Some("taro@example.jp".into()),
            emails: vec!["taro@example.jp".into()],
            login_ids: vec!["M1".into()],
            phones: vec!["090-0000-0000".into()],
            locale: "ja".into(),
            region: "東京都".into(),
            country: "JP".into(),
            cards: vec![CustomerCard {
                brand: "VISA".into(),
                last4: "1111".into(),
                masked: "411111******1111".into(),
                fingerprint: Some("fp".into()),
                shared: true,
                check: "valid".into(),
                display: "VISA ****1111 (shared)".into(),
                expiry: Some("12/2025".into()),
            }],
            order_ids: vec!["1001".into()],
            order_count: 1,
            first_order_at: "2021-01-01T00:00:00+09:00".into(),
            last_order_at: "2021-01-01T00:00:00+09:00".into(),
            contact: Contact::Email,
            charge_ids: vec!["ch_1".into()],
            reasons: vec!["card_order_in_window".into()],
        };
        let line = serde_json::to_string(&c).unwrap();
        let back: Customer = serde_json::from_str(&line).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), line);

        let old: Customer =
            serde_json::from_str(r#"{"customer_id":"c-2","contact":"login","future":1}"#).unwrap();
        assert_eq!(old.customer_id, "c-2");
        assert_eq!(old.contact, Contact::Login);
        assert!(old.cards.is_empty() && old.phones.is_empty());
        // Without phones the record keeps the bytes of cases made before phones existed.
        assert!(!serde_json::to_string(&old).unwrap().contains("phones"));
    }
}
