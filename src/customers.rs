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
//! the key.

use crate::cards::FingerprintKey;
use crate::orders::{CardInfo, OrderRecord};
use crate::window::Window;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A card as listed for a customer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
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
}

/// How a customer can be reached.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Contact {
    Email,
    /// No e-mail in the export, but a login id: the shop can look the address up.
    Login,
    /// Neither: postal follow-up.
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

/// One affected person (the record of `affected.jsonl`).
#[derive(Debug, Clone, Serialize)]
pub struct Customer {
    pub customer_id: String,
    pub name: String,
    /// The notification address: the e-mail of the most recent in-window order that has one.
    pub email: Option<String>,
    pub emails: Vec<String>,
    pub login_ids: Vec<String>,
    pub locale: String,
    pub region: String,
    pub country: String,
    pub cards: Vec<CustomerCard>,
    pub order_ids: Vec<String>,
    pub order_count: usize,
    pub first_order_at: String,
    pub last_order_at: String,
    pub contact: Contact,
    /// Why the person is affected (`card_order_in_window`).
    pub reasons: Vec<String>,
}

/// The customers, sorted by id, and for each order (by index) its customer's index.
pub struct Linked {
    pub customers: Vec<Customer>,
    pub order_customer: Vec<usize>,
    /// Card identity → number of customers that used it.
    pub card_people: HashMap<String, usize>,
}

struct UnionFind(Vec<usize>);

impl UnionFind {
    fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]];
            x = self.0[x];
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // Keep the smaller root: results do not depend on the order of unions.
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi] = lo;
        }
    }
}

/// Links the in-window orders into customers.
pub fn link(
    orders: &[OrderRecord],
    key: &FingerprintKey,
    window: &Window,
    default_locale: &str,
) -> Linked {
    let mut uf = UnionFind((0..orders.len()).collect());
    let mut by_email: HashMap<&str, usize> = HashMap::new();
    let mut by_login: HashMap<&str, usize> = HashMap::new();
    for (i, o) in orders.iter().enumerate() {
        if let Some(e) = &o.email {
            match by_email.get(e.as_str()) {
                Some(&j) => uf.union(i, j),
                None => {
                    by_email.insert(e, i);
                }
            }
        }
        if let Some(l) = &o.login {
            match by_login.get(l.as_str()) {
                Some(&j) => uf.union(i, j),
                None => {
                    by_login.insert(l, i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..orders.len() {
        let r = uf.find(i);
        groups.entry(r).or_default().push(i);
    }

    // Which people used each card (by fingerprint, else brand + mask within one person only).
    let mut card_people: HashMap<String, BTreeSet<usize>> = HashMap::new();
    for (gi, members) in groups.values().enumerate() {
        for &i in members {
            if let Some(c) = &orders[i].card {
                if c.fingerprint.is_some() {
                    card_people.entry(c.identity()).or_default().insert(gi);
                }
            }
        }
    }

    let mut customers: Vec<(Customer, Vec<usize>)> = Vec::with_capacity(groups.len());
    for members in groups.values() {
        let mut members = members.clone();
        // Oldest first; ties by order id, then by source.
        members.sort_by(|&a, &b| {
            let (x, y) = (&orders[a], &orders[b]);
            (x.at, &x.order_id, x.file, x.line).cmp(&(y.at, &y.order_id, y.file, y.line))
        });
        let newest_first = || members.iter().rev().map(|&i| &orders[i]);
        let emails: BTreeSet<String> = members
            .iter()
            .filter_map(|&i| orders[i].email.clone())
            .collect();
        let logins: BTreeSet<String> = members
            .iter()
            .filter_map(|&i| orders[i].login.clone())
            .collect();
        let identity = if let Some(e) = emails.iter().next() {
            format!("email:{e}")
        } else if let Some(l) = logins.iter().next() {
            format!("login:{l}")
        } else {
            format!("order:{}", orders[members[0]].order_id)
        };
        let mut cid = key.fingerprint("customer", identity.as_bytes());
        cid.truncate(14);
        let email = newest_first().find_map(|o| o.email.clone());
        let pick = |f: &dyn Fn(&OrderRecord) -> &String| -> String {
            newest_first()
                .map(f)
                .find(|s| !s.is_empty())
                .cloned()
                .unwrap_or_default()
        };
        let mut seen_cards: BTreeMap<String, CustomerCard> = BTreeMap::new();
        for &i in &members {
            if let Some(c) = &orders[i].card {
                let shared = card_people.get(&c.identity()).is_some_and(|s| s.len() > 1);
                seen_cards
                    .entry(c.identity())
                    .or_insert_with(|| customer_card(c, shared));
            }
        }
        let mut cards: Vec<CustomerCard> = seen_cards.into_values().collect();
        cards.sort_by(|a, b| {
            (&a.display, &a.masked, &a.fingerprint).cmp(&(&b.display, &b.masked, &b.fingerprint))
        });
        let mut order_ids: Vec<String> = Vec::new();
        for &i in &members {
            if !order_ids.contains(&orders[i].order_id) {
                order_ids.push(orders[i].order_id.clone());
            }
        }
        let contact = if email.is_some() {
            Contact::Email
        } else if !logins.is_empty() {
            Contact::Login
        } else {
            Contact::None
        };
        let mut locale = pick(&|o| &o.locale);
        if locale.is_empty() {
            let country = pick(&|o| &o.country);
            locale = if default_locale.is_empty() {
                if country.eq_ignore_ascii_case("JP") || country == "日本" {
                    "ja".into()
                } else {
                    "en".into()
                }
            } else {
                default_locale.to_string()
            };
        }
        let c = Customer {
            customer_id: format!("c-{cid}"),
            name: pick(&|o| &o.name),
            email,
            emails: emails.into_iter().collect(),
            login_ids: logins.into_iter().collect(),
            locale,
            region: pick(&|o| &o.region),
            country: pick(&|o| &o.country),
            cards,
            order_count: order_ids.len(),
            order_ids,
            first_order_at: window.format(orders[members[0]].at),
            last_order_at: window.format(orders[*members.last().expect("a group has members")].at),
            contact,
            reasons: vec!["card_order_in_window".to_string()],
        };
        customers.push((c, members));
    }
    customers.sort_by(|a, b| a.0.customer_id.cmp(&b.0.customer_id));
    let mut order_customer = vec![0; orders.len()];
    for (ci, (_, members)) in customers.iter().enumerate() {
        for &i in members {
            order_customer[i] = ci;
        }
    }
    Linked {
        customers: customers.into_iter().map(|(c, _)| c).collect(),
        order_customer,
        card_people: card_people.into_iter().map(|(k, v)| (k, v.len())).collect(),
    }
}

fn customer_card(c: &CardInfo, shared: bool) -> CustomerCard {
    let mut display = c.display();
    if shared {
        display.push_str(" (shared)");
    }
    CustomerCard {
        brand: c.brand.label().to_string(),
        last4: c.last4.clone(),
        masked: c.masked.clone(),
        fingerprint: c.fingerprint.clone(),
        shared,
        check: c.check.as_str().to_string(),
        display,
    }
}
