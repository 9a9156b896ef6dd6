//! Which messages a sending run sends: the safety-critical core of "exactly once".
//!
//! Exactly once holds per Message-ID and per normalised recipient address, per campaign, across
//! runs (the journal) and within a run. See [`select`].

use super::check::Planned;
use super::journal::{Journal, Status};

/// What the user allows beyond the default (see `notify --help`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SelectOptions {
    /// Send again the messages whose last attempt failed permanently.
    pub retry_failed: bool,
    /// Send again the messages whose delivery is unknown (the connection broke after DATA).
    pub resend_unknown: bool,
    /// Send at most this many messages this run.
    pub limit: Option<usize>,
    /// Review copies to one inbox (`--to-override`): not held to one message per address.
    pub review: bool,
}

/// The messages to send this run, what was skipped and why, and the Message-IDs left out
/// because their address already has this campaign's message.
///
/// Exactly once holds per Message-ID (the customer id is in it) and per normalised recipient
/// address: lists from different runs can give one person two customer ids (a new e-mail that
/// sorts first changes the id), and the address must still get one message per campaign. So a
/// message is left out when another message of the campaign to the same address was accepted
/// (or may have been: unknown, unless `--resend-unknown`), or is already picked in this run.
/// Review copies all go to one inbox and are not held to this.
pub fn select(
    messages: &[Planned],
    journal: &Journal,
    args: &SelectOptions,
) -> (
    Vec<Planned>,
    Vec<(&'static str, usize)>,
    std::collections::HashSet<String>,
) {
    use std::collections::{HashMap, HashSet};
    let review = args.review;
    let norm = |a: &str| crate::text::normalize_email(a).unwrap_or_default();
    // Address → the strongest standing of any message of the campaign sent to it.
    let mut by_address: HashMap<String, Status> = HashMap::new();
    if !review {
        for ev in journal.last_events() {
            if ev.review {
                continue;
            }
            let st = ev.phase.status();
            let e = by_address.entry(norm(&ev.recipient)).or_insert(st);
            if st == Status::Accepted || (st == Status::Unknown && *e != Status::Accepted) {
                *e = st;
            }
        }
    }
    let (mut accepted, mut failed, mut unknown, mut same_address) = (0, 0, 0, 0);
    let mut covered = HashSet::new();
    let mut picked: HashSet<String> = HashSet::new();
    let mut todo = Vec::new();
    for m in messages {
        match journal.status(&m.message_id) {
            Status::Accepted => accepted += 1,
            Status::Failed if !args.retry_failed => failed += 1,
            Status::Unknown if !args.resend_unknown => unknown += 1,
            _ => {
                if !review {
                    let addr = norm(m.to.as_ref());
                    let held = match by_address.get(&addr) {
                        Some(Status::Accepted) => true,
                        Some(Status::Unknown) => !args.resend_unknown,
                        _ => false,
                    };
                    if held || !picked.insert(addr) {
                        same_address += 1;
                        covered.insert(m.message_id.clone());
                        continue;
                    }
                }
                todo.push(m.clone())
            }
        }
    }
    if let Some(limit) = args.limit {
        todo.truncate(limit);
    }
    (
        todo,
        vec![
            ("already accepted: skipped", accepted),
            (
                "failed permanently before: skipped (--retry-failed to try again)",
                failed,
            ),
            (
                "with unknown delivery: skipped (--resend-unknown to send again)",
                unknown,
            ),
            (
                "left out: their address already has this campaign's message (under another customer id)",
                same_address,
            ),
        ],
        covered,
    )
}

#[cfg(test)]
mod tests {
    use super::super::journal::{Event, Phase};
    use super::*;

    fn planned(i: usize, id: &str, to: &str) -> Planned {
        Planned {
            index: i,
            customer_id: id.into(),
            locale: "ja".into(),
            subject: "s".into(),
            message_id: format!("<notice.{id}@example.jp>"),
            to: to.parse().unwrap(),
        }
    }

    fn journal(events: &[(&str, &str, Phase)]) -> (tempfile::TempDir, Journal) {
        let d = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&d.path().join("sent.jsonl")).unwrap();
        for (id, to, phase) in events {
            j.append(Event {
                time: "2022-08-18T09:00:00+09:00".into(),
                campaign: "notice".into(),
                customer_id: id.to_string(),
                message_id: format!("<notice.{id}@example.jp>"),
                recipient: to.to_string(),
                review: false,
                phase: *phase,
                reply: String::new(),
                attempt: 1,
            })
            .unwrap();
        }
        (d, j)
    }

    fn ids(todo: &[Planned]) -> Vec<&str> {
        todo.iter().map(|p| p.customer_id.as_str()).collect()
    }

    #[test]
    fn one_address_gets_one_message_whatever_its_spelling() {
        let (_d, j) = journal(&[]);
        let msgs = [
            planned(0, "c-a", "Taro@Example.JP"),
            planned(1, "c-b", "taro@example.jp"),
            planned(2, "c-c", "hanako@example.jp"),
        ];
        let (todo, skipped, covered) = select(&msgs, &j, &SelectOptions::default());
        assert_eq!(ids(&todo), ["c-a", "c-c"]);
        assert!(covered.contains("<notice.c-b@example.jp>"));
        assert_eq!(skipped[3].1, 1, "{skipped:?}");
    }

    #[test]
    fn a_resumed_run_skips_what_was_accepted_under_any_customer_id() {
        // c-a was accepted in an earlier run; c-x is the same person under a new id (a new
        // e-mail sorted first), c-b died after DATA (unknown).
        let (_d, j) = journal(&[
            ("c-a", "taro@example.jp", Phase::Accepted),
            ("c-b", "jiro@example.jp", Phase::Data),
        ]);
        let msgs = [
            planned(0, "c-a", "taro@example.jp"),
            planned(1, "c-x", "TARO@example.jp"),
            planned(2, "c-b", "jiro@example.jp"),
            planned(3, "c-c", "hanako@example.jp"),
        ];
        let (todo, _, _) = select(&msgs, &j, &SelectOptions::default());
        assert_eq!(ids(&todo), ["c-c"]);
        let again = SelectOptions {
            resend_unknown: true,
            ..SelectOptions::default()
        };
        let (todo, _, _) = select(&msgs, &j, &again);
        assert_eq!(ids(&todo), ["c-b", "c-c"]);
    }

    #[test]
    fn failed_messages_wait_for_retry_failed_and_limit_cuts_the_batch() {
        let (_d, j) = journal(&[("c-a", "taro@example.jp", Phase::Failed)]);
        let msgs = [
            planned(0, "c-a", "taro@example.jp"),
            planned(1, "c-b", "jiro@example.jp"),
            planned(2, "c-c", "hanako@example.jp"),
        ];
        let (todo, _, _) = select(&msgs, &j, &SelectOptions::default());
        assert_eq!(ids(&todo), ["c-b", "c-c"]);
        let retry = SelectOptions {
            retry_failed: true,
            limit: Some(2),
            ..SelectOptions::default()
        };
        let (todo, _, _) = select(&msgs, &j, &retry);
        assert_eq!(ids(&todo), ["c-a", "c-b"]);
    }

    #[test]
    fn review_copies_are_not_held_to_one_per_address() {
        let (_d, j) = journal(&[("c-a", "review@example.jp", Phase::Accepted)]);
        let msgs = [
            planned(0, "c-b", "review@example.jp"),
            planned(1, "c-c", "review@example.jp"),
        ];
        let review = SelectOptions {
            review: true,
            ..SelectOptions::default()
        };
        let (todo, _, _) = select(&msgs, &j, &review);
        assert_eq!(ids(&todo), ["c-b", "c-c"]);
    }
}
