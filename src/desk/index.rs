//! The desk's index: every affected person of the case folder with the keys a caller can give,
//! built once at start by streaming the folder's files.
//!
//! Why an in-memory index and not a scan per search: a desk answers while the caller waits, and
//! `affected.jsonl` of a large case is hundreds of megabytes. The index holds one compact
//! record per person plus one map per key kind, so memory grows with the number of people (not
//! with the size of the exports) and a lookup is a few hash probes.
//!
//! Everything read from the case folder goes through [`crate::cards::detect::mask`] on the way
//! in, so no page can show a card number a file happened to hold.
//!
//! What is joined to a person, and how:
//! - orders in the window (`orders.csv`), by customer id;
//! - notices (`notices*/index.csv` rendered, `sent*.jsonl` journal events) of every campaign in
//!   the case folder and in the extra notice folders given, by customer id or, since a person
//!   gets a new id when a new e-mail sorts first, by the normalised recipient address;
//! - `no_email*.csv` (postal follow-up), by customer id;
//! - the rows of `diff.jsonl` of the diff folders given, by old or new customer id, or address.
//!
//! Notices and changes that match nobody on the current list (a person warned in a preliminary
//! wave and dropped from the final list) are kept by address, so the desk can tell such a
//! caller what they received.

use crate::cards::detect;
use crate::error::{Error, Result};
use crate::notify::journal::{self, Status};
use crate::notify::Layout;
use crate::text::{nfkc_lower, normalize_email};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// The kind of key an operator searches by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    Email,
    Phone,
    Order,
    Charge,
    NameLast4,
}

impl KeyKind {
    pub const ALL: [KeyKind; 5] = [
        KeyKind::Email,
        KeyKind::Phone,
        KeyKind::Order,
        KeyKind::Charge,
        KeyKind::NameLast4,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Email => "email",
            KeyKind::Phone => "phone",
            KeyKind::Order => "order",
            KeyKind::Charge => "charge",
            KeyKind::NameLast4 => "name_last4",
        }
    }

    pub fn parse(s: &str) -> Option<KeyKind> {
        KeyKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A search key after normalisation: what is looked up, and what is hashed into the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub kind: KeyKind,
    /// The normalised key (for a name search: the normalised name).
    pub value: String,
    /// The last 4 digits, for a name search.
    pub last4: String,
}

impl Key {
    /// Normalises what the operator typed. The error is a sentence to show them.
    pub fn new(kind: KeyKind, raw: &str, last4: &str) -> std::result::Result<Key, String> {
        // A caller may read out a whole card number; the desk never takes one, so it is never
        // hashed, logged or echoed.
        if detect::holds_card(raw.as_bytes()) || detect::holds_card(last4.as_bytes()) {
            return Err("that looks like a full card number: never type one here; ask for the last 4 digits and the name on the order".into());
        }
        let value = match kind {
            KeyKind::Email => normalize_email(raw).ok_or("type the caller's e-mail address")?,
            KeyKind::Phone => phone_key(raw).ok_or(
                "a phone number needs at least 9 digits (with or without the country code, hyphens and spaces are fine)",
            )?,
            KeyKind::Order | KeyKind::Charge => {
                let v = raw.trim();
                if v.is_empty() {
                    return Err(format!(
                        "type the {} as the caller reads it",
                        if kind == KeyKind::Order { "order number" } else { "charge id" }
                    ));
                }
                nfkc_lower(v)
            }
            KeyKind::NameLast4 => {
                let n = name_key(raw);
                if n.is_empty() {
                    return Err("type the name on the order and the last 4 digits of the card".into());
                }
                n
            }
        };
        let last4 = if kind == KeyKind::NameLast4 {
            let d: String = nfkc_lower(last4.trim());
            if d.len() != 4 || !d.bytes().all(|b| b.is_ascii_digit()) {
                return Err("the last 4 digits of the card: exactly 4 digits".into());
            }
            d
        } else {
            String::new()
        };
        Ok(Key { kind, value, last4 })
    }

    /// The bytes the journal's keyed hash is computed over.
    pub fn hash_input(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.value.len() + 16);
        v.extend_from_slice(self.kind.as_str().as_bytes());
        v.push(0);
        v.extend_from_slice(self.value.as_bytes());
        if !self.last4.is_empty() {
            v.push(0);
            v.extend_from_slice(self.last4.as_bytes());
        }
        v
    }
}

/// A phone number's key: its last 9 digits (NFKC first, so full-width digits count). Why the
/// last 9: a caller gives `090-1234-5678`, `09012345678` or `+81 90-1234-5678`, and exports
/// write them either way; the trunk `0` and the country code sit in front, the subscriber's
/// digits at the end, and 9 digits are what the shortest Japanese numbers have after the trunk
/// `0`. Fewer than 9 digits is not a phone number to search by.
pub fn phone_key(raw: &str) -> Option<String> {
    let digits: String = nfkc_lower(raw)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    if digits.len() < 9 {
        return None;
    }
    Some(digits[digits.len() - 9..].to_string())
}

/// A name for comparison: NFKC, lower case, without spaces and punctuation, so `能見 花子`,
/// `能見　花子` and `能見花子` are one name, and `Taro YAMADA` / `taro yamada` too.
pub fn name_key(raw: &str) -> String {
    nfkc_lower(raw)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// The same name with its words sorted, so `Yamada Taro` matches `Taro Yamada`.
fn name_key_sorted(raw: &str) -> String {
    let l = nfkc_lower(raw);
    let mut words: Vec<String> = l
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    words.sort();
    words.concat()
}

fn clean(s: &str) -> String {
    crate::text::scrub_controls(&detect::mask(s).0)
}

/// A card as the desk shows it: brand and last 4, never more.
#[derive(Debug, Clone, Serialize)]
pub struct Card {
    pub brand: String,
    pub last4: String,
    pub shared: bool,
}

/// An order in the window.
#[derive(Debug, Clone, Serialize)]
pub struct Order {
    pub order_id: String,
    pub ordered_at: String,
    pub amount: String,
    pub currency: String,
    /// `VISA ****1111`, several joined by `; `, or empty.
    pub card: String,
}

/// One campaign's message to a person, and where it stands.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub campaign: String,
    /// `accepted`, `deferred`, `failed`, `unknown`, `not yet sent` or `rendered, not sent`.
    pub status: String,
    /// The time of the last journal event (accepted at, deferred at …), or empty.
    pub time: String,
    pub recipient: String,
    /// The server's reply for a deferred or failed message.
    pub reply: String,
    #[serde(skip)]
    message_id: String,
}

/// A change `diff` recorded for a person.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// `added`, `removed`, `changed`, `unchanged`.
    pub kind: String,
    pub fields: Vec<String>,
    /// Per changed field, old → new, as text.
    pub details: Vec<String>,
    /// The diff folder it came from.
    pub source: String,
}

/// One person on the affected list, as the desk shows them.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub customer_id: String,
    pub name: String,
    pub email: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub locale: String,
    pub contact: String,
    pub cards: Vec<Card>,
    pub order_ids: Vec<String>,
    pub orders: Vec<Order>,
    pub charge_ids: Vec<String>,
    pub first_order_at: String,
    pub last_order_at: String,
    pub reasons: Vec<String>,
    /// Campaigns whose `no_email*.csv` lists the person, with the reason (postal follow-up).
    pub no_email: Vec<String>,
    pub notices: Vec<Notice>,
    pub changes: Vec<Change>,
}

/// What a search found.
#[derive(Debug, Default, Serialize)]
pub struct Found<'a> {
    pub people: Vec<&'a Person>,
    /// Notices sent to the address searched that belong to nobody on the list.
    pub other_notices: Vec<&'a Notice>,
    /// Changes recorded for the address searched that belong to nobody on the list.
    pub other_changes: Vec<&'a Change>,
}

/// The case as the desk knows it.
#[derive(Debug, Default)]
pub struct Index {
    pub people: Vec<Person>,
    by_id: HashMap<String, u32>,
    by_email: HashMap<String, Vec<u32>>,
    by_phone: HashMap<String, Vec<u32>>,
    by_order: HashMap<String, Vec<u32>>,
    by_charge: HashMap<String, Vec<u32>>,
    by_last4: HashMap<String, Vec<u32>>,
    /// Normalised name keys per person (plain and words sorted).
    names: Vec<(String, String)>,
    orphan_notices: HashMap<String, Vec<Notice>>,
    orphan_changes: HashMap<String, Vec<Change>>,
    /// The campaigns found.
    pub campaigns: Vec<String>,
}

/// A line of `affected.jsonl`: the one record, read tolerantly (fields added after a case was
/// written, such as `phones`, `charge_ids`, `reasons`, default to empty).
use crate::customers::Customer as AffectedLine;

/// A line of `diff.jsonl`.
#[derive(Deserialize)]
struct DiffLine {
    kind: String,
    #[serde(default)]
    fields: Vec<String>,
    #[serde(default)]
    old_customer_ids: Vec<String>,
    #[serde(default)]
    new_customer_ids: Vec<String>,
    #[serde(default)]
    email: String,
    #[serde(default)]
    details: serde_json::Map<String, serde_json::Value>,
}

fn input_error(path: &Path, line: usize, what: impl std::fmt::Display) -> Error {
    Error::Record {
        path: path.to_path_buf(),
        line: line as u64,
        message: what.to_string(),
    }
}

fn push(map: &mut HashMap<String, Vec<u32>>, key: String, i: u32) {
    let v = map.entry(key).or_default();
    if v.last() != Some(&i) {
        v.push(i);
    }
}

/// A person ready to go into the index: the record as shown and its lookup keys.
struct Prepared {
    person: Person,
    raw_id: String,
    emails: Vec<String>,
    phones: Vec<String>,
    orders: Vec<String>,
    charges: Vec<String>,
    names: (String, String),
}

fn prepare(a: AffectedLine) -> Prepared {
    let mut emails: Vec<String> = Vec::new();
    for e in a.email.iter().chain(&a.emails) {
        if let Some(n) = normalize_email(e) {
            if !emails.contains(&n) {
                emails.push(n);
            }
        }
    }
    let cards: Vec<Card> = a
        .cards
        .iter()
        .filter(|c| c.last4.len() == 4)
        .map(|c| Card {
            brand: clean(&c.brand),
            last4: clean(&c.last4),
            shared: c.shared,
        })
        .collect();
    let contact = a.contact.as_str().to_string();
    Prepared {
        emails,
        phones: a.phones.iter().filter_map(|p| phone_key(p)).collect(),
        orders: a.order_ids.iter().map(|o| nfkc_lower(o.trim())).collect(),
        charges: a.charge_ids.iter().map(|c| nfkc_lower(c.trim())).collect(),
        names: (name_key(&a.name), name_key_sorted(&a.name)),
        person: Person {
            customer_id: clean(&a.customer_id),
            name: clean(&a.name),
            email: clean(a.email.as_deref().unwrap_or_default()),
            emails: a.emails.iter().map(|e| clean(e)).collect(),
            phones: a.phones.iter().map(|p| clean(p)).collect(),
            locale: clean(&a.locale),
            contact,
            cards,
            order_ids: a.order_ids.iter().map(|o| clean(o)).collect(),
            orders: Vec::new(),
            charge_ids: a.charge_ids.iter().map(|c| clean(c)).collect(),
            first_order_at: clean(&a.first_order_at),
            last_order_at: clean(&a.last_order_at),
            reasons: a.reasons.iter().map(|r| clean(r)).collect(),
            no_email: Vec::new(),
            notices: Vec::new(),
            changes: Vec::new(),
        },
        raw_id: a.customer_id,
    }
}

impl Index {
    /// Builds the index from the case folder `dir`, the folders where notify kept other
    /// campaigns' journals (`notice_dirs`) and `diff` output folders (`diff_dirs`).
    pub fn build(dir: &Path, notice_dirs: &[PathBuf], diff_dirs: &[PathBuf]) -> Result<Index> {
        let mut ix = Index::default();
        ix.read_affected(&dir.join("affected.jsonl"))?;
        let orders = dir.join("orders.csv");
        if orders.is_file() {
            ix.read_orders(&orders)?;
        }
        let mut folders = vec![dir.to_path_buf()];
        for d in notice_dirs {
            let canon = |p: &Path| p.canonicalize().ok();
            if !folders
                .iter()
                .any(|f| canon(f).is_some() && canon(f) == canon(d))
            {
                folders.push(d.clone());
            }
        }
        let mut campaigns = std::collections::BTreeSet::new();
        for f in &folders {
            let found = Layout::discover(f).map_err(|e| Error::io(f, e))?;
            for c in found {
                ix.read_campaign(&Layout::new(f, &c))?;
                campaigns.insert(c);
            }
            // A campaign's no_email list may exist without a notices folder.
            for entry in std::fs::read_dir(f).map_err(|e| Error::io(f, e))? {
                let name = entry
                    .map_err(|e| Error::io(f, e))?
                    .file_name()
                    .to_string_lossy()
                    .into_owned();
                let campaign = match name.as_str() {
                    "no_email.csv" => Some(crate::notify::DEFAULT_CAMPAIGN.to_string()),
                    n => n
                        .strip_prefix("no_email-")
                        .and_then(|r| r.strip_suffix(".csv"))
                        .map(str::to_string),
                };
                if let Some(c) = campaign {
                    ix.read_no_email(&f.join(&name), &c)?;
                }
            }
        }
        ix.campaigns = campaigns.into_iter().collect();
        for d in diff_dirs {
            let p = if d.is_file() {
                d.clone()
            } else {
                d.join("diff.jsonl")
            };
            ix.read_diff(&p, &d.display().to_string())?;
        }
        Ok(ix)
    }

    /// Reads `affected.jsonl` in batches of lines: each batch is parsed, masked and keyed on
    /// every core, then inserted in file order (so the index is the same on any machine).
    fn read_affected(&mut self, path: &Path) -> Result<()> {
        use rayon::prelude::*;
        const BATCH: usize = 16_384;
        let f = crate::output::open_regular(path).map_err(|e| Error::Input {
            path: path.to_path_buf(),
            message: format!("{e}; pass the case folder that `skimtrace run` or `affected` wrote"),
        })?;
        let mut lines = std::io::BufReader::with_capacity(1 << 20, f)
            .lines()
            .enumerate();
        loop {
            let batch: Vec<(usize, String)> = lines
                .by_ref()
                .take(BATCH)
                .map(|(n, l)| l.map(|l| (n, l)))
                .collect::<std::io::Result<_>>()
                .map_err(|e| Error::io(path, e))?;
            if batch.is_empty() {
                return Ok(());
            }
            let prepared: Vec<Result<Option<Prepared>>> = batch
                .par_iter()
                .map(|(n, line)| {
                    if line.trim().is_empty() {
                        return Ok(None);
                    }
                    let a: AffectedLine = serde_json::from_str(line).map_err(|e| {
                        input_error(
                            path,
                            n + 1,
                            format!("not a customer record ({e}); re-create it with `skimtrace affected`"),
                        )
                    })?;
                    if a.customer_id.trim().is_empty() {
                        return Err(input_error(
                            path,
                            n + 1,
                            "not a customer record (customer_id is missing or empty); re-create it with `skimtrace affected`".to_string(),
                        ));
                    }
                    Ok(Some(prepare(a)))
                })
                .collect();
            for p in prepared {
                if let Some(p) = p? {
                    self.insert(p);
                }
            }
        }
    }

    fn insert(&mut self, p: Prepared) {
        let i = self.people.len() as u32;
        for e in p.emails {
            push(&mut self.by_email, e, i);
        }
        for k in p.phones {
            push(&mut self.by_phone, k, i);
        }
        for o in p.orders {
            push(&mut self.by_order, o, i);
        }
        for c in p.charges {
            push(&mut self.by_charge, c, i);
        }
        for c in &p.person.cards {
            push(&mut self.by_last4, c.last4.clone(), i);
        }
        self.names.push(p.names);
        self.by_id.insert(p.raw_id, i);
        self.people.push(p.person);
    }

    fn csv_reader(path: &Path) -> Result<csv::Reader<std::fs::File>> {
        let f = crate::output::open_regular(path).map_err(|e| Error::io(path, e))?;
        Ok(csv::ReaderBuilder::new().flexible(true).from_reader(f))
    }

    fn read_orders(&mut self, path: &Path) -> Result<()> {
        let mut r = Self::csv_reader(path)?;
        let h = r.headers().map_err(|e| input_error(path, 1, e))?.clone();
        let col = |name: &str| h.iter().position(|c| c == name);
        let (Some(id), Some(cust), Some(at)) =
            (col("order_id"), col("customer_id"), col("ordered_at"))
        else {
            return Err(input_error(path, 1, "expected the columns order_id, customer_id, ordered_at; re-create it with `skimtrace affected`"));
        };
        let (amount, currency, brand, masked) = (
            col("amount"),
            col("currency"),
            col("card_brand"),
            col("card_masked"),
        );
        for rec in r.records() {
            let rec = rec.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                input_error(path, line as usize, e)
            })?;
            let get = |c: Option<usize>| c.and_then(|c| rec.get(c)).unwrap_or_default();
            let Some(&p) = self.by_id.get(get(Some(cust))) else {
                continue;
            };
            let brands: Vec<&str> = get(brand).split("; ").collect();
            let card = get(masked)
                .split("; ")
                .zip(brands.iter().chain(std::iter::repeat(&"")))
                .filter(|(m, _)| m.len() >= 4)
                .map(|(m, b)| {
                    let last4 = &m[m.len() - 4..];
                    format!("{b} ****{last4}").trim().to_string()
                })
                .collect::<Vec<_>>()
                .join("; ");
            self.people[p as usize].orders.push(Order {
                order_id: clean(get(Some(id))),
                ordered_at: clean(get(Some(at))),
                amount: clean(get(amount)),
                currency: clean(get(currency)),
                card: clean(&card),
            });
        }
        Ok(())
    }

    /// The people a notice belongs to: by customer id, else by its recipient address.
    fn owners(&self, customer_id: &str, recipient: &str) -> Vec<u32> {
        if let Some(&i) = self.by_id.get(customer_id) {
            return vec![i];
        }
        normalize_email(recipient)
            .and_then(|e| self.by_email.get(&e).cloned())
            .unwrap_or_default()
    }

    fn attach_notice(&mut self, customer_id: &str, n: Notice) {
        let owners = self.owners(customer_id, &n.recipient);
        if owners.is_empty() {
            if let Some(e) = normalize_email(&n.recipient) {
                let v = self.orphan_notices.entry(e).or_default();
                if let Some(old) = v
                    .iter_mut()
                    .find(|o| o.campaign == n.campaign && o.message_id == n.message_id)
                {
                    *old = n;
                } else {
                    v.push(n);
                }
            }
            return;
        }
        for o in owners {
            let list = &mut self.people[o as usize].notices;
            // The journal's status wins over "rendered" for the same message.
            if let Some(old) = list
                .iter_mut()
                .find(|x| x.campaign == n.campaign && x.message_id == n.message_id)
            {
                *old = n.clone();
            } else {
                list.push(n.clone());
            }
        }
    }

    fn read_campaign(&mut self, layout: &Layout) -> Result<()> {
        let index = layout.notices().join("index.csv");
        let incident_msgid = |cid: &str| format!("{}.{}", layout.campaign, cid);
        if index.is_file() {
            let mut r = Self::csv_reader(&index)?;
            let h = r.headers().map_err(|e| input_error(&index, 1, e))?.clone();
            let cid = h.iter().position(|c| c == "customer_id");
            let to = h.iter().position(|c| c == "to");
            for rec in r.records() {
                let rec = rec.map_err(|e| {
                    input_error(&index, e.position().map_or(0, |p| p.line()) as usize, e)
                })?;
                let c = cid.and_then(|i| rec.get(i)).unwrap_or_default();
                let n = Notice {
                    campaign: layout.campaign.clone(),
                    status: "rendered, not sent".into(),
                    time: String::new(),
                    recipient: clean(to.and_then(|i| rec.get(i)).unwrap_or_default()),
                    reply: String::new(),
                    message_id: incident_msgid(c),
                };
                self.attach_notice(c, n);
            }
        }
        for ev in journal::read(&layout.journal())? {
            if ev.review {
                continue;
            }
            let status = match ev.phase.status() {
                Status::Accepted => "accepted",
                Status::Deferred => "deferred",
                Status::Failed => "failed",
                Status::Unknown => "unknown",
                Status::Pending => "not yet sent",
            };
            let n = Notice {
                campaign: layout.campaign.clone(),
                status: status.into(),
                time: clean(&ev.time),
                recipient: clean(&ev.recipient),
                reply: clean(&ev.reply),
                message_id: incident_msgid(&ev.customer_id),
            };
            self.attach_notice(&ev.customer_id, n);
        }
        Ok(())
    }

    fn read_no_email(&mut self, path: &Path, campaign: &str) -> Result<()> {
        let mut r = Self::csv_reader(path)?;
        let h = r.headers().map_err(|e| input_error(path, 1, e))?.clone();
        let cid = h.iter().position(|c| c == "customer_id");
        let reason = h.iter().position(|c| c == "reason");
        for rec in r.records() {
            let rec = rec
                .map_err(|e| input_error(path, e.position().map_or(0, |p| p.line()) as usize, e))?;
            let c = cid.and_then(|i| rec.get(i)).unwrap_or_default();
            if let Some(&i) = self.by_id.get(c) {
                let why = reason.and_then(|i| rec.get(i)).unwrap_or_default();
                self.people[i as usize]
                    .no_email
                    .push(clean(&format!("{campaign}: {why}")));
            }
        }
        Ok(())
    }

    fn read_diff(&mut self, path: &Path, source: &str) -> Result<()> {
        let f = crate::output::open_regular(path).map_err(|e| Error::Input {
            path: path.to_path_buf(),
            message: format!("{e}; pass a folder that `skimtrace diff --out` wrote"),
        })?;
        for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
            let line = line.map_err(|e| Error::io(path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let d: DiffLine = serde_json::from_str(&line).map_err(|e| {
                input_error(
                    path,
                    n + 1,
                    format!("not a diff row ({e}); re-create it with `skimtrace diff`"),
                )
            })?;
            let details = d
                .details
                .iter()
                .map(|(k, v)| clean(&format!("{k}: {}", detail_text(v))))
                .collect();
            let change = Change {
                kind: clean(&d.kind),
                fields: d.fields.iter().map(|f| clean(f)).collect(),
                details,
                source: clean(source),
            };
            let mut owners: Vec<u32> = d
                .new_customer_ids
                .iter()
                .chain(&d.old_customer_ids)
                .filter_map(|c| self.by_id.get(c).copied())
                .collect();
            if owners.is_empty() {
                if let Some(e) = normalize_email(&d.email) {
                    owners = self.by_email.get(&e).cloned().unwrap_or_default();
                }
            }
            owners.sort_unstable();
            owners.dedup();
            if owners.is_empty() {
                if let Some(e) = normalize_email(&d.email) {
                    self.orphan_changes.entry(e).or_default().push(change);
                }
                continue;
            }
            for o in owners {
                self.people[o as usize].changes.push(change.clone());
            }
        }
        Ok(())
    }

    /// The people a key finds (at most `limit`), in list order.
    pub fn search(&self, key: &Key, limit: usize) -> Found<'_> {
        let empty = Vec::new();
        let ids: Vec<u32> = match key.kind {
            KeyKind::Email => self.by_email.get(&key.value).unwrap_or(&empty).clone(),
            KeyKind::Phone => self.by_phone.get(&key.value).unwrap_or(&empty).clone(),
            KeyKind::Order => self.by_order.get(&key.value).unwrap_or(&empty).clone(),
            KeyKind::Charge => self.by_charge.get(&key.value).unwrap_or(&empty).clone(),
            KeyKind::NameLast4 => {
                let sorted = name_key_sorted(&key.value);
                self.by_last4
                    .get(&key.last4)
                    .unwrap_or(&empty)
                    .iter()
                    .copied()
                    .filter(|&i| {
                        let (plain, words) = &self.names[i as usize];
                        !plain.is_empty() && (*plain == key.value || *words == sorted)
                    })
                    .collect()
            }
        };
        let mut found = Found {
            people: ids
                .iter()
                .take(limit)
                .map(|&i| &self.people[i as usize])
                .collect(),
            ..Found::default()
        };
        if key.kind == KeyKind::Email {
            if let Some(v) = self.orphan_notices.get(&key.value) {
                found.other_notices = v.iter().collect();
            }
            if let Some(v) = self.orphan_changes.get(&key.value) {
                found.other_changes = v.iter().collect();
            }
        }
        found
    }

    /// Number of people on the list.
    pub fn len(&self) -> usize {
        self.people.len()
    }

    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }
}

/// A diff detail (`{"old": …, "new": …}`) as one line of text.
fn detail_text(v: &serde_json::Value) -> String {
    let show = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => "—".into(),
        Some(x) => x.to_string(),
    };
    match v {
        serde_json::Value::Object(o) if o.contains_key("old") || o.contains_key("new") => {
            format!("{} → {}", show(o.get("old")), show(o.get("new")))
        }
        other => show(Some(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_match_with_or_without_country_code_and_hyphens() {
        let k = phone_key("090-1234-5678").unwrap();
        assert_eq!(phone_key("+81 90 1234 5678").unwrap(), k);
        assert_eq!(phone_key("09012345678").unwrap(), k);
        assert_eq!(phone_key("０９０－１２３４－５６７８").unwrap(), k);
        assert_eq!(phone_key("1234-5678"), None);
    }

    #[test]
    fn names_match_across_spacing_width_and_word_order() {
        assert_eq!(name_key("能見 花子"), name_key("能見　花子"));
        assert_eq!(name_key("Taro YAMADA"), name_key("taro yamada"));
        assert_eq!(
            name_key_sorted("Yamada Taro"),
            name_key_sorted("taro yamada")
        );
    }

    #[test]
    fn a_full_card_number_is_never_taken_as_a_key() {
        let e = Key::new(KeyKind::Order, "4111 1111 1111 1111", "").unwrap_err();
        assert!(e.contains("full card number"), "{e}");
        assert!(!e.contains("4111"), "{e}");
        assert!(Key::new(KeyKind::NameLast4, "Taro", "4111111111111111").is_err());
    }
}
