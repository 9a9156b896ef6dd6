//! Rendering every customer in memory and checking the result, before anything is written or
//! sent (`--check`, and the first step of every batch).
//!
//! A batch refuses to start on any problem: a template error (a missing variable included), an
//! empty subject, a subject that is not one line, a card-like digit run anywhere in a rendered
//! message, or a line longer than RFC 5322 allows. Customers without a usable address are not
//! a problem: they are listed for postal follow-up (`no_email.csv`).

use super::input::Recipient;
use super::message::{self, Built, Sender};
use super::render::{Case, Templates};
use lettre::Address;
use std::collections::BTreeMap;

/// A message ready to write or send.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub customer_id: String,
    pub locale: String,
    /// The subject as sent (with the configured prefix).
    pub subject: String,
    /// The customer's own address (also for review copies).
    pub customer_to: Address,
    pub built: Built,
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
    pub messages: Vec<Prepared>,
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

/// Options that change what is prepared.
pub struct PlanOptions<'a> {
    pub notify: &'a super::settings::NotifyConfig,
    pub review_to: Option<&'a Address>,
    pub fallback_locale: &'a str,
}

/// Renders and checks every customer.
pub fn prepare(
    recipients: &[Recipient],
    templates: &Templates,
    case: &Case,
    sender: &Sender,
    opts: &PlanOptions,
) -> Plan {
    let mut plan = Plan::default();
    for r in recipients {
        let to = match message::address_problem(r.email.as_deref()) {
            Ok(a) => a,
            Err(reason) => {
                plan.no_email.push(NoEmail {
                    customer_id: r.customer_id.clone(),
                    name: super::render::clean_name(&r.name),
                    contact: r.contact.clone(),
                    reason: reason.to_string(),
                });
                continue;
            }
        };
        let problem = |what: String| Problem {
            customer_id: r.customer_id.clone(),
            what,
        };
        let Some(locale) = templates.pick_locale(&case.campaign, &r.locale, opts.fallback_locale)
        else {
            plan.problems.push(problem(format!(
                "no template set for campaign {:?}",
                case.campaign
            )));
            continue;
        };
        let ctx = case.context(r, &locale);
        let notice = match templates.render(&case.campaign, &locale, &ctx) {
            Ok(n) => n,
            Err(e) => {
                plan.problems.push(problem(e.to_string()));
                continue;
            }
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
        let built = match message::build(
            sender,
            &r.customer_id,
            &r.name,
            &to,
            &notice,
            opts.notify.subject_prefix(&locale),
            opts.review_to,
        ) {
            Ok(b) => b,
            Err(e) => {
                found.push(format!("the message cannot be built: {e}"));
                plan.problems.extend(found.into_iter().map(&problem));
                continue;
            }
        };
        found.extend(scan_bytes(&built.bytes));
        if !found.is_empty() {
            plan.problems.extend(found.into_iter().map(problem));
            continue;
        }
        plan.messages.push(Prepared {
            customer_id: r.customer_id.clone(),
            subject: super::render::clean_name(&format!(
                "{}{}",
                opts.notify.subject_prefix(&locale),
                notice.subject
            )),
            locale,
            customer_to: to,
            built,
        });
    }
    plan
}

/// Checks the finished bytes: line lengths (RFC 5322 §2.1.1: at most 998 octets) and card-like
/// runs that an encoding might have produced.
pub fn scan_bytes(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    if bytes.split(|&b| b == b'\n').any(|l| l.len() > 999) {
        out.push("a line longer than 998 octets".to_string());
    }
    if !crate::cards::find_card_runs(&String::from_utf8_lossy(bytes)).is_empty() {
        out.push("a card-like digit run in the encoded message".to_string());
    }
    out
}
