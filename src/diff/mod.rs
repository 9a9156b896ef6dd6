//! Comparing two `affected` runs: who is new, who dropped out, whose cards or contact changed.
//!
//! A run is read from its `affected.jsonl` (and, beside it, `summary.json` for the window and
//! the fingerprint key id, and `manifest.json` where one exists). People are matched across the
//! two runs the way `affected` links orders into people: by normalised e-mail or login id, and,
//! for people with neither, by a shared order id. Matching is union-find over the people of
//! both runs, so two people of the old run that the new run links into one (a late export held
//! the order that carries both their e-mail and their login id) end up in one group, reported
//! as `changed` with the link named; a person the new run splits in two likewise.
//!
//! Why not by `customer_id`: the id is a keyed hash of a person's smallest identity, so a new
//! e-mail that sorts first changes the id of a person who is otherwise the same.
//!
//! What counts as a change: the cards (by keyed fingerprint; a card without one by brand and
//! mask, so a replacement card with the same brand and last 4 is a change), the notification
//! address `email` and the set `emails` (normalised: a case-only difference is no change),
//! `order_ids` and `contact`. Two runs made with different fingerprint keys cannot be compared
//! (their fingerprints and ids differ for the same card and person): [`check_keys`] refuses.

mod run;
pub use run::{run, Options};

use crate::text::{nfkc_lower, normalize_email};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// What can go wrong while reading or comparing runs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path that does not exist.
    #[error("{path}: not found; pass a case folder written by `skimtrace affected` or its affected.jsonl")]
    NotFound { path: PathBuf },
    /// A folder that holds no `affected.jsonl`.
    #[error("{path}: no affected.jsonl in this folder; run `skimtrace affected --out {path}` first, or pass the affected.jsonl file itself")]
    NoAffected { path: PathBuf },
    /// A line of `affected.jsonl` that is not a customer record.
    #[error("{path}:{line}: {message}; re-create the file with `skimtrace affected`")]
    Affected {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A `summary.json` that does not parse.
    #[error("{path}: not a summary written by `skimtrace affected` ({message})")]
    Summary { path: PathBuf, message: String },
    /// The runs used different fingerprint keys: cards and ids cannot be compared.
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the two runs used different fingerprint keys (OLD: key {old}, NEW: key {new}), so their cards and customer ids cannot be compared; run `skimtrace affected` again on one of them with the other's key (--key-file or SKIMTRACE_FINGERPRINT_KEY); no diff was written")]
    DifferentKeys { old: String, new: String },
}

impl Error {
    /// Exit code: a wrong path or runs that cannot be compared are the user's to fix (2); a
    /// file that cannot be read as what it should be fails the run (1).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NotFound { .. } | Error::NoAffected { .. } | Error::DifferentKeys { .. } => 2,
            Error::Affected { .. } | Error::Summary { .. } | Error::Io { .. } => 1,
        }
    }

    /// An I/O failure on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// One person of a run: the one record of `affected.jsonl`.
pub use crate::customers::Customer as Person;
/// A card of a person.
pub use crate::customers::CustomerCard as PersonCard;

/// A card's identity in a diff: the keyed fingerprint, else brand + mask.
fn card_identity(c: &PersonCard) -> String {
    match &c.fingerprint {
        Some(f) => format!("fp:{f}"),
        None => format!("mask:{}|{}", c.brand, c.masked),
    }
}

/// `VISA ****1111`: what the diff shows of a card (brand + last 4, never more).
fn card_shown(c: &PersonCard) -> String {
    let last4: String = if c.last4.len() == 4 && c.last4.bytes().all(|b| b.is_ascii_digit()) {
        c.last4.clone()
    } else {
        "????".into()
    };
    format!("{} ****{last4}", c.brand)
}

/// One `affected` run.
#[derive(Debug)]
pub struct Run {
    /// The path as given (a folder or a file).
    pub given: PathBuf,
    /// The `affected.jsonl` read.
    pub affected: PathBuf,
    pub people: Vec<Person>,
    /// Each person's line as written, for `--affected-only`.
    pub lines: Vec<String>,
    /// `window` of summary.json.
    pub window: Option<Value>,
    /// `fingerprint_key` of summary.json (`{source, id}`).
    pub key: Option<Value>,
    /// Whether summary.json was found beside affected.jsonl.
    pub has_summary: bool,
    /// The digest of `manifest.json` beside affected.jsonl, where one exists.
    pub manifest: Option<String>,
}

impl Run {
    /// The fingerprint key id, when the summary names one.
    pub fn key_id(&self) -> Option<&str> {
        self.key.as_ref()?.get("id")?.as_str()
    }

    /// A short description for the summary: the window's spec, else its bounds.
    pub fn window_text(&self) -> String {
        let Some(w) = &self.window else {
            return "unknown".into();
        };
        if let Some(s) = w.get("spec").and_then(Value::as_str) {
            return s.to_string();
        }
        match (
            w.get("start").and_then(Value::as_str),
            w.get("end_exclusive").and_then(Value::as_str),
        ) {
            (Some(a), Some(b)) => format!("{a}..{b} (end excluded)"),
            _ => "unknown".into(),
        }
    }

    /// What diff.json says about the run.
    pub fn info(&self) -> Value {
        json!({
            "path": self.given.display().to_string(),
            "people": self.people.len(),
            "window": self.window,
            "fingerprint_key": self.key,
            "manifest_sha256": self.manifest,
        })
    }
}

/// Reads a run from a case folder (its `affected.jsonl`) or an `affected.jsonl` file.
pub fn load(path: &Path) -> Result<Run, Error> {
    if !path.exists() {
        return Err(Error::NotFound {
            path: path.to_path_buf(),
        });
    }
    let affected = if path.is_dir() {
        let f = path.join("affected.jsonl");
        if !f.is_file() {
            return Err(Error::NoAffected {
                path: path.to_path_buf(),
            });
        }
        f
    } else {
        path.to_path_buf()
    };
    let (people, lines) = read_people(&affected)?;
    let folder = affected
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let summary_path = folder.join("summary.json");
    let (mut window, mut key, mut has_summary) = (None, None, false);
    if summary_path.is_file() {
        let bytes = std::fs::read(&summary_path).map_err(|e| Error::io(&summary_path, e))?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| Error::Summary {
            path: summary_path.clone(),
            message: e.to_string(),
        })?;
        window = v.get("window").cloned();
        key = v.get("fingerprint_key").cloned();
        has_summary = true;
    }
    let manifest_path = folder.join("manifest.json");
    let manifest = if manifest_path.is_file() {
        let bytes = std::fs::read(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
        Some(crate::digest::sri_of(&bytes))
    } else {
        None
    };
    Ok(Run {
        given: path.to_path_buf(),
        affected,
        people,
        lines,
        window,
        key,
        has_summary,
        manifest,
    })
}

fn read_people(path: &Path) -> Result<(Vec<Person>, Vec<String>), Error> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let (mut people, mut lines) = (Vec::new(), Vec::new());
    let mut seen = BTreeSet::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| Error::Affected {
            path: path.to_path_buf(),
            line: i + 1,
            message,
        };
        // serde_json's message names the field, never the value.
        let p: Person =
            serde_json::from_str(&line).map_err(|e| bad(format!("not a customer record: {e}")))?;
        if p.customer_id.trim().is_empty() {
            return Err(bad("customer_id is empty".into()));
        }
        if !seen.insert(p.customer_id.clone()) {
            return Err(bad(format!("customer {} appears twice", p.customer_id)));
        }
        people.push(p);
        lines.push(line);
    }
    Ok((people, lines))
}

/// Refuses runs made with different fingerprint keys. A run without a summary cannot be
/// checked: the caller warns.
pub fn check_keys(old: &Run, new: &Run) -> Result<(), Error> {
    match (old.key_id(), new.key_id()) {
        (Some(a), Some(b)) if a != b => Err(Error::DifferentKeys {
            old: describe_key(old),
            new: describe_key(new),
        }),
        _ => Ok(()),
    }
}

fn describe_key(r: &Run) -> String {
    let id = r.key_id().unwrap_or("?");
    match r
        .key
        .as_ref()
        .and_then(|k| k.get("source"))
        .and_then(Value::as_str)
    {
        Some(s) => format!("{id} from {s}"),
        None => id.to_string(),
    }
}

/// How a person differs between the runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Only in the new run.
    Added,
    /// Only in the old run.
    Removed,
    /// In both, with a difference (or linked differently).
    Changed,
    /// In both, the same.
    Unchanged,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Added, Kind::Removed, Kind::Changed, Kind::Unchanged];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Added => "added",
            Kind::Removed => "removed",
            Kind::Changed => "changed",
            Kind::Unchanged => "unchanged",
        }
    }

    /// Parses a kind name (`--affected-only`).
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// The fields a change can be in, in report order. `people` is a link that changed: two old
/// people are one in the new run, or one became two.
pub const FIELDS: [&str; 6] = ["cards", "email", "emails", "order_ids", "contact", "people"];

/// One row of the diff: one person (or one group of people the runs link differently).
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub kind: Kind,
    /// Which of [`FIELDS`] changed (empty unless `changed`).
    pub fields: Vec<&'static str>,
    pub old_customer_ids: Vec<String>,
    pub new_customer_ids: Vec<String>,
    /// For a merge or split: what links the people (`merged by email:a@example.jp`).
    pub link: String,
    /// The person's name and notification address, new run first (for the reviewer).
    pub name: String,
    pub email: String,
    /// Per changed field: old and new values (cards as brand + last 4).
    pub details: BTreeMap<&'static str, Value>,
}

/// The comparison of two runs.
#[derive(Debug, Default)]
pub struct Diff {
    pub rows: Vec<Row>,
}

impl Diff {
    /// Rows per kind.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m: BTreeMap<&'static str, usize> =
            Kind::ALL.iter().map(|k| (k.as_str(), 0)).collect();
        for r in &self.rows {
            *m.entry(r.kind.as_str()).or_default() += 1;
        }
        m
    }

    /// Changed rows per field.
    pub fn field_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut m: BTreeMap<&'static str, usize> = FIELDS.iter().map(|f| (*f, 0)).collect();
        for r in &self.rows {
            for f in &r.fields {
                *m.entry(f).or_default() += 1;
            }
        }
        m
    }
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
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            self.0[hi] = lo;
        }
    }
}

/// A person's identity keys: `email:…` (every address, normalised) and `login:…`.
fn identity_keys(p: &Person) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for e in p.emails.iter().chain(p.email.iter()) {
        if let Some(n) = normalize_email(e) {
            keys.insert(format!("email:{n}"));
        }
    }
    for l in &p.login_ids {
        let n = nfkc_lower(l.trim());
        if !n.is_empty() {
            keys.insert(format!("login:{n}"));
        }
    }
    keys
}

/// Compares two runs. Rows come out sorted by kind, then by customer id.
pub fn compare(old: &[Person], new: &[Person]) -> Diff {
    let n_old = old.len();
    let person = |i: usize| -> &Person {
        if i < n_old {
            &old[i]
        } else {
            &new[i - n_old]
        }
    };
    let total = n_old + new.len();
    let keys: Vec<BTreeSet<String>> = (0..total).map(|i| identity_keys(person(i))).collect();
    let mut uf = UnionFind((0..total).collect());
    let mut by_key: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, ks) in keys.iter().enumerate() {
        for k in ks {
            by_key.entry(k.as_str()).or_default().push(i);
        }
    }
    for nodes in by_key.values() {
        for w in nodes.windows(2) {
            uf.union(w[0], w[1]);
        }
    }
    // People with neither e-mail nor login id: matched by a shared order id.
    let mut by_order: HashMap<&str, Vec<usize>> = HashMap::new();
    for i in 0..total {
        for o in &person(i).order_ids {
            by_order.entry(o.as_str()).or_default().push(i);
        }
    }
    let mut order_links: Vec<(String, usize, usize)> = Vec::new();
    for (i, ks) in keys.iter().enumerate() {
        if !ks.is_empty() {
            continue;
        }
        for o in &person(i).order_ids {
            for &j in &by_order[o.as_str()] {
                if j != i {
                    uf.union(i, j);
                    order_links.push((format!("order:{o}"), i, j));
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for i in 0..total {
        let root = uf.find(i);
        let g = groups.entry(root).or_default();
        if i < n_old {
            g.0.push(i);
        } else {
            g.1.push(i - n_old);
        }
    }
    let mut rows = Vec::with_capacity(groups.len());
    for (olds, news) in groups.into_values() {
        match (olds.len(), news.len()) {
            (0, _) => rows.extend(news.iter().map(|&j| lone(Kind::Added, &new[j]))),
            (_, 0) => rows.extend(olds.iter().map(|&i| lone(Kind::Removed, &old[i]))),
            _ => {
                let o: Vec<&Person> = olds.iter().map(|&i| &old[i]).collect();
                let n: Vec<&Person> = news.iter().map(|&j| &new[j]).collect();
                let link = if o.len() > 1 || n.len() > 1 {
                    let shared = shared_keys(&olds, &news, n_old, &keys, &order_links);
                    let what = match (o.len() > 1, n.len() > 1) {
                        (true, false) => format!("merged: {} people of OLD are one", o.len()),
                        (false, true) => format!("split: one person of OLD is {}", n.len()),
                        _ => format!("regrouped: {} people of OLD are {}", o.len(), n.len()),
                    };
                    format!("{what}, linked by {}", shared.join(", "))
                } else {
                    String::new()
                };
                rows.push(matched(&o, &n, link));
            }
        }
    }
    rows.sort_by(|a, b| (a.kind, first_id(a)).cmp(&(b.kind, first_id(b))));
    Diff { rows }
}

fn first_id(r: &Row) -> &str {
    r.new_customer_ids
        .first()
        .or(r.old_customer_ids.first())
        .map_or("", String::as_str)
}

/// The keys that link the old side of a group to its new side (at most five named).
fn shared_keys(
    olds: &[usize],
    news: &[usize],
    n_old: usize,
    keys: &[BTreeSet<String>],
    order_links: &[(String, usize, usize)],
) -> Vec<String> {
    let old_keys: BTreeSet<&String> = olds.iter().flat_map(|&i| &keys[i]).collect();
    let mut shared: BTreeSet<String> = news
        .iter()
        .flat_map(|&j| &keys[j + n_old])
        .filter(|k| old_keys.contains(k))
        .cloned()
        .collect();
    for (k, a, b) in order_links {
        let in_old = |x: &usize| olds.contains(x);
        let in_new = |x: &usize| *x >= n_old && news.contains(&(x - n_old));
        if (in_old(a) && in_new(b)) || (in_old(b) && in_new(a)) {
            shared.insert(k.clone());
        }
    }
    let n = shared.len();
    let mut v: Vec<String> = shared.into_iter().take(5).collect();
    if n > 5 {
        v.push(format!("and {} more", n - 5));
    }
    v
}

fn lone(kind: Kind, p: &Person) -> Row {
    let ids = vec![p.customer_id.clone()];
    let (old_customer_ids, new_customer_ids) = match kind {
        Kind::Removed => (ids, Vec::new()),
        _ => (Vec::new(), ids),
    };
    Row {
        kind,
        fields: Vec::new(),
        old_customer_ids,
        new_customer_ids,
        link: String::new(),
        name: p.name.clone(),
        email: p.email.clone().unwrap_or_default(),
        details: BTreeMap::new(),
    }
}

/// The values a side of a group has, normalised for comparison.
struct Side {
    cards: BTreeMap<String, String>,
    email: BTreeSet<String>,
    emails: BTreeSet<String>,
    order_ids: BTreeSet<String>,
    contact: BTreeSet<String>,
}

impl Side {
    fn of(people: &[&Person]) -> Side {
        let mut s = Side {
            cards: BTreeMap::new(),
            email: BTreeSet::new(),
            emails: BTreeSet::new(),
            order_ids: BTreeSet::new(),
            contact: BTreeSet::new(),
        };
        for p in people {
            for c in &p.cards {
                s.cards.insert(card_identity(c), card_shown(c));
            }
            s.email.extend(p.email.as_deref().and_then(normalize_email));
            s.emails
                .extend(p.emails.iter().filter_map(|e| normalize_email(e)));
            s.order_ids.extend(p.order_ids.iter().cloned());
            s.contact.insert(p.contact.as_str().to_string());
        }
        s
    }
}

fn matched(old: &[&Person], new: &[&Person], link: String) -> Row {
    let (a, b) = (Side::of(old), Side::of(new));
    let mut fields = Vec::new();
    let mut details = BTreeMap::new();
    if a.cards.keys().ne(b.cards.keys()) {
        fields.push("cards");
        let gone: Vec<&String> = a
            .cards
            .iter()
            .filter(|(k, _)| !b.cards.contains_key(*k))
            .map(|(_, v)| v)
            .collect();
        let came: Vec<&String> = b
            .cards
            .iter()
            .filter(|(k, _)| !a.cards.contains_key(*k))
            .map(|(_, v)| v)
            .collect();
        details.insert("cards", json!({"removed": gone, "added": came}));
    }
    let mut set_field = |name: &'static str, x: &BTreeSet<String>, y: &BTreeSet<String>| {
        if x != y {
            fields.push(name);
            details.insert(name, json!({"old": x, "new": y}));
        }
    };
    set_field("email", &a.email, &b.email);
    set_field("emails", &a.emails, &b.emails);
    if a.order_ids != b.order_ids {
        fields.push("order_ids");
        let gone: Vec<&String> = a.order_ids.difference(&b.order_ids).collect();
        let came: Vec<&String> = b.order_ids.difference(&a.order_ids).collect();
        details.insert("order_ids", json!({"removed": gone, "added": came}));
    }
    if a.contact != b.contact {
        fields.push("contact");
        details.insert("contact", json!({"old": a.contact, "new": b.contact}));
    }
    if !link.is_empty() {
        fields.push("people");
    }
    let first = new.first().or(old.first()).expect("a group has people");
    let ids = |ps: &[&Person]| -> Vec<String> {
        let mut v: Vec<String> = ps.iter().map(|p| p.customer_id.clone()).collect();
        v.sort();
        v
    };
    Row {
        kind: if fields.is_empty() {
            Kind::Unchanged
        } else {
            Kind::Changed
        },
        fields,
        old_customer_ids: ids(old),
        new_customer_ids: ids(new),
        link,
        name: first.name.clone(),
        email: first.email.clone().unwrap_or_default(),
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customers::Contact;

    fn p(id: &str, email: Option<&str>, logins: &[&str], orders: &[&str]) -> Person {
        Person {
            customer_id: id.into(),
            name: String::new(),
            email: email.map(str::to_string),
            emails: email.into_iter().map(str::to_string).collect(),
            login_ids: logins.iter().map(|s| s.to_string()).collect(),
            cards: Vec::new(),
            order_ids: orders.iter().map(|s| s.to_string()).collect(),
            contact: if email.is_some() {
                Contact::Email
            } else {
                Contact::Login
            },
            ..Person::default()
        }
    }

    fn card(fp: Option<&str>, last4: &str) -> PersonCard {
        PersonCard {
            brand: "VISA".into(),
            last4: last4.into(),
            masked: format!("411111******{last4}"),
            fingerprint: fp.map(str::to_string),
            ..PersonCard::default()
        }
    }

    #[test]
    fn matches_by_identity_not_by_id_and_ignores_case() {
        let old = vec![p("c-1", Some("A@Example.jp"), &[], &["1"])];
        let new = vec![p("c-9", Some("a@example.jp"), &[], &["1"])];
        let d = compare(&old, &new);
        assert_eq!(d.rows.len(), 1);
        assert_eq!(d.rows[0].kind, Kind::Unchanged);
        assert_eq!(d.rows[0].old_customer_ids, ["c-1"]);
        assert_eq!(d.rows[0].new_customer_ids, ["c-9"]);
    }

    #[test]
    fn added_removed_and_order_only_people() {
        let old = vec![
            p("c-1", Some("a@x.jp"), &[], &["1"]),
            p("c-2", None, &[], &["7"]),
        ];
        let mut none = p("c-3", None, &[], &["7", "8"]);
        none.contact = Contact::None;
        let new = vec![p("c-4", Some("b@x.jp"), &[], &["2"]), none];
        let d = compare(&old, &new);
        let kinds: Vec<(Kind, Vec<&str>)> =
            d.rows.iter().map(|r| (r.kind, r.fields.clone())).collect();
        assert_eq!(
            kinds,
            vec![
                (Kind::Added, vec![]),
                (Kind::Removed, vec![]),
                (Kind::Changed, vec!["order_ids", "contact"]),
            ]
        );
    }

    #[test]
    fn a_replacement_card_with_the_same_last4_is_a_change() {
        let mut a = p("c-1", Some("a@x.jp"), &[], &["1"]);
        let mut b = a.clone();
        a.cards = vec![card(Some("f1"), "1111")];
        b.cards = vec![card(Some("f2"), "1111")];
        let d = compare(&[a.clone()], &[b]);
        assert_eq!(d.rows[0].fields, ["cards"]);
        let same = compare(&[a.clone()], &[a]);
        assert_eq!(same.rows[0].kind, Kind::Unchanged);
    }

    #[test]
    fn a_split_is_one_changed_row_and_masked_cards_compare_by_mask() {
        let mut old = p("c-1", Some("a@x.jp"), &["u7"], &["1", "2"]);
        old.emails.push("b@x.jp".into());
        old.cards = vec![card(None, "1111")];
        let mut n1 = p("c-1", Some("a@x.jp"), &[], &["1"]);
        n1.cards = vec![card(None, "1111")];
        let n2 = p("c-2", None, &["u7"], &["2"]);
        let d = compare(&[old], &[n1, n2]);
        assert_eq!(d.rows.len(), 1);
        let r = &d.rows[0];
        assert!(r.link.starts_with("split"), "{}", r.link);
        assert_eq!(r.new_customer_ids, ["c-1", "c-2"]);
        assert!(!r.fields.contains(&"cards"), "{:?}", r.fields);
        assert!(r.fields.contains(&"emails"), "{:?}", r.fields);
    }

    #[test]
    fn a_merge_names_the_link() {
        let old = vec![
            p("c-1", Some("a@x.jp"), &[], &["1"]),
            p("c-2", None, &["u7"], &["2"]),
        ];
        let mut merged = p("c-1", Some("a@x.jp"), &["u7"], &["1", "2", "3"]);
        merged.contact = Contact::Email;
        let d = compare(&old, &[merged]);
        assert_eq!(d.rows.len(), 1);
        let r = &d.rows[0];
        assert_eq!(r.kind, Kind::Changed);
        assert!(r.fields.contains(&"people"), "{:?}", r.fields);
        assert!(r.link.starts_with("merged"), "{}", r.link);
        assert!(r.link.contains("login:u7"), "{}", r.link);
        assert_eq!(r.old_customer_ids, ["c-1", "c-2"]);
    }
}
