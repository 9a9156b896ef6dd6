//! Rendering and checking every customer before anything is written or sent (`--check`, and
//! the first step of every batch). Customers are rendered on every core ([`super::par`]); a
//! [`Plan`] keeps each message without its bytes (they are rendered again when written or
//! sent), so memory does not grow with the rendered messages.
//!
//! A batch refuses to start on any problem: a template error (a missing variable included), an
//! empty subject, a subject that is not one line, a card-like digit run anywhere in a rendered
//! message, or a line longer than RFC 5322 allows. Customers without a usable address are not
//! a problem: they are listed for postal follow-up (`no_email.csv`).

use super::input::Recipient;
use super::message::{self, Built, Sender};
use super::render::{pick_from, Case, LocaleFixed, Templates};
use lettre::Address;
use std::collections::{BTreeMap, HashMap};

/// A message rendered and checked, ready to write or send.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub customer_id: String,
    pub locale: String,
    /// The subject as sent (with the configured prefix).
    pub subject: String,
    pub built: Built,
}

/// A message that passed the check, without its bytes: what a batch selects, indexes and
/// sends. The bytes are rendered again when the message is written or sent (rendering is
/// deterministic), so no step holds every message in memory at once.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The customer's position in `affected.jsonl` (after `--only`).
    pub index: usize,
    pub customer_id: String,
    pub locale: String,
    pub subject: String,
    pub message_id: String,
    /// The envelope recipient (the review inbox for a review copy).
    pub to: Address,
}

impl Prepared {
    /// The message without its bytes.
    pub fn planned(&self, index: usize) -> Planned {
        Planned {
            index,
            customer_id: self.customer_id.clone(),
            locale: self.locale.clone(),
            subject: self.subject.clone(),
            message_id: self.built.message_id.clone(),
            to: self.built.to.clone(),
        }
    }
}

/// A customer who gets no e-mail, and why.
#[derive(Debug, Clone)]
pub struct NoEmail {
    pub customer_id: String,
    pub name: String,
    pub contact: String,
    pub reason: String,
}

/// Something that stops the batch.
#[derive(Debug, Clone)]
pub struct Problem {
    pub customer_id: String,
    pub what: String,
}

/// Everything `notify` would do, computed in memory.
#[derive(Debug, Default)]
pub struct Plan {
    pub messages: Vec<Planned>,
    pub no_email: Vec<NoEmail>,
    pub problems: Vec<Problem>,
}

impl Plan {
    /// The problems, grouped by what went wrong, each with a count and the first customers, so
    /// one template typo does not print ten thousand lines.
    pub fn problem_report(&self) -> Vec<String> {
        let mut by_what: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for p in &self.problems {
            by_what
                .entry(p.what.as_str())
                .or_default()
                .push(&p.customer_id);
        }
        by_what
            .into_iter()
            .map(|(what, ids)| {
                let shown: Vec<&str> = ids.iter().take(3).copied().collect();
                let more = if ids.len() > 3 {
                    format!(" and {} more", ids.len() - 3)
                } else {
                    String::new()
                };
                format!(
                    "{what} ({} customer{}: {}{more})",
                    ids.len(),
                    if ids.len() == 1 { "" } else { "s" },
                    shown.join(", ")
                )
            })
            .collect()
    }
}

impl Plan {
    /// Adds what happened to the customer at `index`, keeping the message without its bytes.
    pub fn add(&mut self, index: usize, item: Item) {
        match item {
            Item::Message(p) => self.messages.push(p.planned(index)),
            Item::NoEmail(n) => self.no_email.push(n),
            Item::Problems(p) => self.problems.extend(p),
        }
    }
}

/// Options that change what is prepared.
pub struct PlanOptions<'a> {
    pub notify: &'a super::settings::NotifyConfig,
    pub review_to: Option<&'a Address>,
    pub fallback_locale: &'a str,
}

/// What preparing one customer gives.
#[derive(Debug)]
pub enum Item {
    Message(Prepared),
    NoEmail(NoEmail),
    /// The customer's message has problems: the batch must not start.
    Problems(Vec<Problem>),
}

/// Renders and checks one customer at a time; shared by the threads of a run (the templates
/// are compiled once, the locale list and the per-locale dates and window formatted once).
pub struct Preparer<'a> {
    templates: &'a Templates,
    case: &'a Case,
    sender: &'a Sender,
    opts: PlanOptions<'a>,
    locales: Vec<String>,
    fixed: HashMap<String, LocaleFixed>,
}

impl<'a> Preparer<'a> {
    pub fn new(
        templates: &'a Templates,
        case: &'a Case,
        sender: &'a Sender,
        opts: PlanOptions<'a>,
    ) -> Preparer<'a> {
        let locales = templates.locales(&case.campaign);
        let fixed = locales.iter().map(|l| (l.clone(), case.fixed(l))).collect();
        Preparer {
            templates,
            case,
            sender,
            opts,
            locales,
            fixed,
        }
    }

    /// Renders, builds and checks the message for `r`.
    pub fn prepare(&self, r: &Recipient) -> Item {
        let to = match message::address_problem(r.email.as_deref()) {
            Ok(a) => a,
            Err(reason) => {
                return Item::NoEmail(NoEmail {
                    customer_id: r.customer_id.clone(),
                    name: super::render::clean_name(&r.name),
                    contact: r.contact.as_str().to_string(),
                    reason: reason.to_string(),
                })
            }
        };
        let problem = |what: String| Problem {
            customer_id: r.customer_id.clone(),
            what,
        };
        let case = self.case;
        let Some(locale) = pick_from(&self.locales, &r.locale, self.opts.fallback_locale) else {
            return Item::Problems(vec![problem(format!(
                "no template set for campaign {:?}",
                case.campaign
            ))]);
        };
        let ctx = case.context_with(r, locale, &self.fixed[locale]);
        let notice = match self.templates.render(&case.campaign, locale, &ctx) {
            Ok(n) => n,
            Err(e) => return Item::Problems(vec![problem(e.to_string())]),
        };
        let mut found = Vec::new();
        if notice.subject.is_empty() {
            found.push(format!("{locale}: empty subject"));
        }
        if notice.subject.contains(['\r', '\n']) {
            found.push(format!("{locale}: the subject is not one line"));
        } else if notice.subject.chars().any(crate::text::is_unsafe_char) {
            found.push(format!("{locale}: the subject holds control characters"));
        }
        for (part, text) in [
            ("subject", Some(&notice.subject)),
            ("text body", Some(&notice.text)),
            ("html body", notice.html.as_ref()),
        ] {
            if let Some(t) = text {
                if !crate::cards::find_card_runs(t).is_empty() {
                    // Never print the run itself: it may be a card number.
                    found.push(format!("{locale}: a card-like digit run in the {part}"));
                }
            }
        }
        let prefix = self.opts.notify.subject_prefix(locale);
        let built = match message::build(
            self.sender,
            &r.customer_id,
            &r.name,
            &to,
            &notice,
            prefix,
            self.opts.review_to,
        ) {
            Ok(b) => b,
            Err(e) => {
                found.push(format!("the message cannot be built: {e}"));
                return Item::Problems(found.into_iter().map(problem).collect());
            }
        };
        found.extend(scan_bytes(&built.bytes));
        if !found.is_empty() {
            return Item::Problems(found.into_iter().map(problem).collect());
        }
        Item::Message(Prepared {
            customer_id: r.customer_id.clone(),
            subject: super::render::clean_name(&format!("{prefix}{}", notice.subject)),
            locale: locale.to_string(),
            built,
        })
    }
}

/// Renders and checks every customer, on `threads` threads, keeping the messages without
/// their bytes.
pub fn prepare(recipients: &[Recipient], preparer: &Preparer, threads: usize) -> Plan {
    let mut plan = Plan::default();
    let _ = super::par::map_ordered(
        recipients,
        threads,
        |i, r| (i, preparer.prepare(r)),
        |(i, item)| {
            plan.add(i, item);
            Ok::<_, ()>(())
        },
    );
    plan
}

/// Checks the finished bytes: line lengths (RFC 5322 §2.1.1: at most 998 octets) and card-like
/// runs that an encoding might have produced.
pub fn scan_bytes(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if bytes.split(|&b| b == b'\n').any(|l| l.len() > 999) {
        out.push("a line longer than 998 octets".to_string());
    }
    // Messages are 7-bit (headers RFC 2047, bodies encoded): no copy in the usual case.
    let text = crate::text::lossy(bytes);
    if !crate::cards::find_card_runs(&text).is_empty() {
        out.push("a card-like digit run in the encoded message".to_string());
    }
    out
}
