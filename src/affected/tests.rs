//! Unit tests of the stages `affected` chains: the orders ingest, the payments join and the
//! customers' grouping, each on a few records written here, through the stages' own functions.

use crate::cards::{FingerprintKey, KeySource};
use crate::config::InputSettings;
use crate::customers;
use crate::orders::{methods::MethodRules, Ingest, IngestOptions, InputFile, Rejected};
use crate::payments::{self, JoinConfig, JoinRules, Match};
use crate::window::Window;

const HEADER: &str = "Order ID,Ordered At,Email,Login ID,Card Holder,Card Number,Payment Method,Status,Amount,Currency";

struct Case {
    dir: tempfile::TempDir,
    window: Window,
    methods: MethodRules,
    key: FingerprintKey,
}

impl Case {
    fn new() -> Case {
        Case {
            dir: tempfile::tempdir().unwrap(),
            window: Window::parse("2021-01-01..2021-12-31", Some("Asia/Tokyo")).unwrap(),
            methods: MethodRules::new(&[], &[]).unwrap(),
            key: FingerprintKey::new(b"unit-test-key-0123456789".to_vec(), KeySource::Env),
        }
    }

    fn file(&self, name: &str, lines: &[&str]) -> InputFile {
        let path = self.dir.path().join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        InputFile {
            path,
            display: name.to_string(),
            settings: InputSettings::default(),
        }
    }

    fn opts(&self, margin: Option<jiff::SignedDuration>) -> IngestOptions<'_> {
        IngestOptions {
            window: &self.window,
            methods: &self.methods,
            exclude_statuses: Vec::new(),
            key: &self.key,
            margin,
            fetch: None,
            default_country: None,
            progress: None,
        }
    }

    fn ingest(&self, rows: &[&str]) -> (Ingest, Vec<Rejected>) {
        let mut lines = vec![HEADER];
        lines.extend_from_slice(rows);
        let input = self.file("orders.csv", &lines);
        let mut ingest = Ingest::new();
        let mut rejected = Vec::new();
        ingest
            .read_file(
                &input,
                &self.opts(Some(jiff::SignedDuration::from_mins(30))),
                &mut rejected,
            )
            .unwrap();
        ingest.finish_methods();
        (ingest, rejected)
    }
}

/// Every row ends in one class; a bad row is rejected with its line, never dropped.
#[test]
fn the_ingest_classifies_every_row_and_rejects_with_the_line() {
    let c = Case::new();
    let (ingest, rejected) = c.ingest(&[
        "1,2021-06-01 10:00:00,a@example.jp,M1,A,4111111111111111,credit_card,paid,100,JPY",
        "2,2020-06-01 10:00:00,b@example.jp,M2,B,4111111111111111,credit_card,paid,100,JPY",
        "3,2021-06-01 10:00:00,c@example.jp,M3,C,,銀行振込,paid,100,JPY",
        "4,not a time,d@example.jp,M4,D,4111111111111111,credit_card,paid,100,JPY",
        "5,2021-12-31 23:59:59,e@example.jp,M5,E,5555555555554444,credit_card,declined,100,JPY",
    ]);
    let t = ingest.totals();
    assert_eq!(
        (
            t.rows_read,
            t.in_window,
            t.out_of_window,
            t.not_card,
            t.rejected
        ),
        (5, 2, 1, 1, 1)
    );
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].source, "orders.csv:5", "{:?}", rejected[0]);
}

/// A charge joins its order by reference, else by e-mail + amount + time; one that fits two
/// orders joins none.
#[test]
fn the_payments_join_by_reference_by_email_amount_time_and_refuses_ambiguity() {
    let c = Case::new();
    let (mut ingest, _) = c.ingest(&[
        "1001,2021-06-01 10:00:00,a@example.jp,M1,A,,credit_card,paid,100,JPY",
        "1002,2021-06-02 10:00:00,b@example.jp,M2,B,,credit_card,paid,200,JPY",
        "1003,2021-06-03 10:00:00,x@example.jp,M3,C,,credit_card,paid,300,JPY",
        "1004,2021-06-03 10:05:00,x@example.jp,M3,C,,credit_card,paid,300,JPY",
    ]);
    let pay = c.file(
        "stripe.csv",
        &[
            crate::synth::PAYMENTS_HEADER,
            // by reference (UTC times: 10:00 JST is 01:00 UTC)
            "ch_1,2021-06-01 01:00:00,100,jpy,Paid,Visa,1111,fp1,a@example.jp,1001",
            // no reference: e-mail + amount + time within 30 minutes
            "ch_2,2021-06-02 01:10:00,200,jpy,Paid,Visa,4444,fp2,B@Example.JP,",
            // fits 1003 and 1004
            "ch_3,2021-06-03 01:02:00,300,jpy,Failed,Visa,0005,fp3,x@example.jp,",
        ],
    );
    let rules = JoinRules::new(&JoinConfig {
        order_ref_regex: None,
        email_amount_time: true,
        tolerance_minutes: 30,
    })
    .unwrap();
    let mut rejected: Vec<Rejected> = Vec::new();
    let p = payments::read(
        &[pay],
        &mut ingest,
        &c.window,
        &rules,
        &c.key,
        None,
        &mut rejected,
    )
    .unwrap();
    let by_id = |id: &str| p.charges.iter().find(|ch| &*ch.charge_id == id);
    assert_eq!(by_id("ch_1").map(|ch| ch.matched), Some(Match::OrderRef));
    assert_eq!(
        by_id("ch_2").map(|ch| ch.matched),
        Some(Match::EmailAmountTime)
    );
    let amb = p
        .unmatched
        .iter()
        .find(|u| u.charge_id == "ch_3")
        .expect("ch_3 unmatched");
    assert_eq!(amb.candidates.len(), 2, "{amb:?}");
    assert!(rejected.is_empty());
}

/// Orders of one person linked by login id make one customer; one card used by two people
/// leaves two customers, the card marked shared for both.
#[test]
fn customers_link_by_login_and_never_by_card() {
    let c = Case::new();
    let (ingest, _) = c.ingest(&[
        "1,2021-06-01 10:00:00,a@example.jp,M1,A,4111111111111111,credit_card,paid,100,JPY",
        "2,2021-06-02 10:00:00,a.other@example.jp,M1,A,4111111111111111,credit_card,paid,100,JPY",
        "3,2021-06-03 10:00:00,b@example.jp,M2,B,4111111111111111,credit_card,paid,100,JPY",
    ]);
    let none = payments::Attached::default();
    let groups = customers::group(&ingest, &none, &c.key);
    assert_eq!(groups.len(), 2);
    let people: Vec<_> = (0..groups.len())
        .map(|i| groups.customer(i, &ingest, &none, &c.window, "ja"))
        .collect();
    let a = people
        .iter()
        .find(|p| p.order_count == 2)
        .unwrap_or_else(|| panic!("{people:#?}"));
    // Login ids are compared (and listed) normalised: NFKC, lower case.
    assert_eq!(a.login_ids, ["m1"], "{a:#?}");
    assert_eq!(a.order_count, 2);
    assert!(people
        .iter()
        .all(|p| p.cards.len() == 1 && p.cards[0].shared));
    assert!(people.iter().all(|p| p.cards[0].last4 == "1111"));
}
