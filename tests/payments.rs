//! `skimtrace affected` with payment-gateway exports (issue 8), over the bundled case.
//!
//! The expectations come from `fixtures/vector-park/expected.json` (`payments`, `people`,
//! `orders_in_window`), which the case's generator computes from what it planted, with its own
//! implementation of the join; never from the tool's output. The named cases
//! (`payments.cases`) give the charge and order ids of each situation.

use crate::util::{
    copy_case, digits_in_script, luhn_runs, read_csv_maps, read_json, read_jsonl, root, skimtrace,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

struct Run {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    case: PathBuf,
    out: PathBuf,
    expected: Value,
}

type Row = BTreeMap<String, String>;

impl Run {
    fn summary(&self) -> Value {
        read_json(&self.out.join("summary.json"))
    }
    fn people(&self) -> Vec<Value> {
        read_jsonl(&self.out.join("affected.jsonl"))
    }
    fn orders(&self) -> BTreeMap<String, Row> {
        read_csv_maps(&self.out.join("orders.csv"))
            .into_iter()
            .map(|r| (r["order_id"].clone(), r))
            .collect()
    }
    fn payments(&self) -> Vec<Row> {
        read_csv_maps(&self.out.join("payments.csv"))
    }
    /// The payments.csv row of a charge (exactly one).
    fn payment(&self, charge: &str) -> Row {
        let rows: Vec<Row> = self
            .payments()
            .into_iter()
            .filter(|r| r["charge_id"] == charge)
            .collect();
        assert_eq!(rows.len(), 1, "payments.csv rows of {charge}: {rows:?}");
        rows.into_iter().next().unwrap()
    }
    fn case(&self, name: &str) -> &Value {
        let v = &self.expected["payments"]["cases"][name];
        assert!(v.is_object(), "expected.json has no payments case {name}");
        v
    }
    fn id(&self, name: &str, field: &str) -> String {
        self.case(name)[field].as_str().unwrap().to_string()
    }
    fn edge(&self, name: &str) -> String {
        self.expected["edge_cases"][name]
            .as_str()
            .unwrap()
            .to_string()
    }
    /// The affected person whose `field` (order_ids or charge_ids) holds `id`.
    fn person_with(&self, field: &str, id: &str) -> Value {
        let found: Vec<Value> = self
            .people()
            .into_iter()
            .filter(|p| strings(&p[field]).iter().any(|x| x == id))
            .collect();
        assert_eq!(found.len(), 1, "people with {field} {id}: {found:?}");
        found.into_iter().next().unwrap()
    }
    /// The oracle's person whose `field` holds `id`.
    fn expected_person(&self, field: &str, id: &str) -> Value {
        let found: Vec<&Value> = self.expected["people"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| strings(&p[field]).iter().any(|x| x == id))
            .collect();
        assert_eq!(found.len(), 1, "expected people with {field} {id}");
        found[0].clone()
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn card_displays(p: &Value) -> Vec<String> {
    sorted(
        p["cards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["display"].as_str().unwrap().to_string())
            .collect(),
    )
}

fn run_in(dir: tempfile::TempDir, extra: &[&str]) -> Run {
    let case = dir.path().join("vector-park");
    let out = dir.path().join("out");
    skimtrace()
        .current_dir(dir.path())
        .args(["affected", "-q", "--config", "vector-park/incident.toml"])
        .args(extra)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    Run {
        dir: dir.path().to_path_buf(),
        _dir: dir,
        case,
        out,
        expected: read_json(&root().join("fixtures/vector-park/expected.json")),
    }
}

/// The bundled case as its incident.toml describes it (three payment exports).
fn run_vector_park() -> Run {
    run_in(copy_case("vector-park"), &[])
}

const CLASSES: [&str; 5] = [
    "matched",
    "unmatched_in_window",
    "out_of_window",
    "not_card",
    "rejected",
];

#[test]
fn each_payments_file_reconciles_exactly_as_the_oracle_says() {
    let run = run_vector_park();
    let s = run.summary();
    let p = &s["payments"];
    let want = run.expected["payments"]["files"].as_object().unwrap();
    let files = p["files"].as_array().unwrap();
    assert_eq!(
        files
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .collect::<Vec<_>>(),
        [
            "payments/stripe.csv",
            "payments/stripe-legacy.csv",
            "payments/gmo-pg.csv"
        ]
    );
    for f in files {
        let path = f["path"].as_str().unwrap();
        let w = &want[path];
        for key in CLASSES.iter().copied().chain([
            "rows_read",
            "ambiguous",
            "encoding",
            "preset",
            "sha256",
        ]) {
            assert_eq!(f[key], w[key], "{path}: {key}");
        }
        let sum: u64 = CLASSES.iter().map(|c| f[*c].as_u64().unwrap()).sum();
        assert_eq!(f["rows_read"].as_u64().unwrap(), sum, "{path} reconciles");
    }
    let t = &run.expected["payments"]["totals"];
    for key in CLASSES.iter().copied().chain(["rows_read", "ambiguous"]) {
        assert_eq!(p[key], t[key], "payments.{key}");
    }
    assert_eq!(p["reconciled"], true);
    assert_eq!(
        s["orders_without_payment"],
        run.expected["payments"]["orders_without_payment"]
    );
    // The custom gateway's CP932 bytes were detected and its Japanese headers mapped.
    let gmo = &files[2];
    assert_eq!(gmo["encoding_detected"], true);
    assert_eq!(gmo["columns"]["last4"], "カード番号");
    assert_eq!(gmo["columns"]["order_ref"], "オーダーID");
    // Both Stripe layouts were recognised by their own time column.
    assert_eq!(files[0]["columns"]["created_at"], "Created date (UTC)");
    assert_eq!(files[1]["columns"]["created_at"], "Created (UTC)");
}

#[test]
fn payments_csv_is_exactly_the_oracles() {
    let run = run_vector_park();
    let got = run.payments();
    let want = run.expected["payments"]["payments_csv"].as_array().unwrap();
    assert_eq!(
        got.iter()
            .map(|r| r["charge_id"].as_str())
            .collect::<Vec<_>>(),
        want.iter()
            .map(|r| r["charge_id"].as_str().unwrap())
            .collect::<Vec<_>>(),
        "payments.csv rows, in order"
    );
    // Customer ids depend on the key: each row names the person who holds the charge.
    let holder: BTreeMap<String, String> = run
        .people()
        .iter()
        .flat_map(|p| {
            let id = p["customer_id"].as_str().unwrap().to_string();
            strings(&p["charge_ids"])
                .into_iter()
                .map(move |c| (c, id.clone()))
        })
        .collect();
    for (g, w) in got.iter().zip(want) {
        let charge = &g["charge_id"];
        for (k, v) in w.as_object().unwrap() {
            assert_eq!(g[k], v.as_str().unwrap(), "payments.csv {charge}: {k}");
        }
        assert_eq!(
            Some(&g["customer_id"]),
            holder.get(charge),
            "payments.csv {charge}: customer_id"
        );
    }
}

#[test]
fn payments_unmatched_csv_is_exactly_the_oracles() {
    let run = run_vector_park();
    let got = read_csv_maps(&run.out.join("payments_unmatched.csv"));
    let want = run.expected["payments"]["payments_unmatched_csv"]
        .as_array()
        .unwrap();
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, w) in got.iter().zip(want) {
        let charge = w["charge_id"].as_str().unwrap();
        for k in [
            "charge_id",
            "created_at",
            "amount",
            "currency",
            "reason",
            "source",
        ] {
            assert_eq!(g[k], w[k].as_str().unwrap(), "{charge}: {k}");
        }
        let cands: Vec<String> = if g["candidates"].is_empty() {
            Vec::new()
        } else {
            g["candidates"].split("; ").map(str::to_string).collect()
        };
        assert_eq!(sorted(cands), strings(&w["candidates"]), "{charge}");
    }
}

#[test]
fn joins_by_reference_in_every_spelling() {
    let run = run_vector_park();
    let orders = run.orders();
    for case in [
        "ref_client_reference_id",
        "ref_description",
        "ref_normalised",
        "legacy_description",
        "legacy_normalised",
        "gmo_same_card_as_export",
        "matched_charge_before_window",
    ] {
        let (charge, order) = (run.id(case, "charge"), run.id(case, "order"));
        let row = run.payment(&charge);
        assert_eq!(row["order_id"], order, "{case}");
        assert_eq!(row["match"], "order_ref", "{case}");
        assert_eq!(row["reason"], "order_in_window", "{case}");
        assert!(
            orders[&order]["card_source"].ends_with("gateway"),
            "{case}: {:?}",
            orders[&order]
        );
        let p = run.person_with("order_ids", &order);
        assert!(strings(&p["charge_ids"]).contains(&charge), "{case}");
    }
    // Leading zeros dropped on the charge's side: "1xxx" found "00001xxx".
    let r = run.case("ref_normalised");
    assert_eq!(
        r["reference"].as_str().unwrap(),
        r["order"].as_str().unwrap().trim_start_matches('0')
    );
}

#[test]
fn joins_by_email_amount_and_time_when_enabled() {
    let run = run_vector_park();
    let (charge, order) = (
        run.id("email_amount_time", "charge"),
        run.id("email_amount_time", "order"),
    );
    let row = run.payment(&charge);
    assert_eq!(row["order_id"], order);
    assert_eq!(row["match"], "email_amount_time");
    assert_eq!(run.orders()[&order]["card_source"], "gateway");
    // The same person's declined attempt (another amount, so no order fits) joins them by e-mail.
    let declined = run.id("declined_joins_person_by_email", "charge");
    let d = run.payment(&declined);
    assert_eq!((d["order_id"].as_str(), d["match"].as_str()), ("", ""));
    assert_eq!(d["reason"], "payment_without_order");
    let p = run.person_with("order_ids", &order);
    assert_eq!(
        sorted(strings(&p["charge_ids"])),
        sorted(vec![charge, declined])
    );
    assert_eq!(
        strings(&p["reasons"]),
        ["card_order_in_window", "payment_without_order"]
    );
    assert_eq!(
        card_displays(&p),
        strings(&run.expected_person("order_ids", &order)["cards"])
    );
    assert_eq!(card_displays(&p).len(), 2);
}

#[test]
fn an_ambiguous_charge_joins_no_order_and_is_listed_with_its_candidates() {
    let run = run_vector_park();
    let charge = run.id("ambiguous", "charge");
    let cands = strings(&run.case("ambiguous")["candidates"]);
    assert_eq!(cands.len(), 2);
    let un = read_csv_maps(&run.out.join("payments_unmatched.csv"));
    let row = un
        .iter()
        .find(|r| r["charge_id"] == charge)
        .expect("listed");
    assert_eq!(row["reason"], "ambiguous");
    assert_eq!(
        sorted(row["candidates"].split("; ").map(str::to_string).collect()),
        cands
    );
    let orders = run.orders();
    for c in &cands {
        assert_eq!(orders[c]["card_source"], "", "candidate {c} got no card");
    }
    let p = run.payment(&charge);
    assert_eq!((p["order_id"].as_str(), p["match"].as_str()), ("", ""));
    // Inside the window: the card was typed all the same, so the person has it.
    let person = run.person_with("charge_ids", &charge);
    assert_eq!(sorted(strings(&person["order_ids"])), cands);
    assert_eq!(
        card_displays(&person),
        strings(&run.expected_person("charge_ids", &charge)["cards"])
    );
}

#[test]
fn a_declined_attempt_without_an_order_is_a_new_affected_person() {
    let run = run_vector_park();
    let c = run.case("declined_without_order");
    let charge = c["charge"].as_str().unwrap();
    assert!(charge.starts_with("pi_"), "identified by its PaymentIntent");
    let p = run.person_with("charge_ids", charge);
    assert_eq!(strings(&p["order_ids"]), Vec::<String>::new());
    assert_eq!(p["order_count"], 0);
    assert_eq!(strings(&p["reasons"]), ["payment_without_order"]);
    assert_eq!(p["email"], c["email"]);
    assert_eq!(p["name"], c["name"]);
    assert_eq!(p["contact"], "email");
    let w = run.expected_person("charge_ids", charge);
    assert_eq!(card_displays(&p), strings(&w["cards"]));
    assert_eq!(p["first_order_at"], w["first_order_at"]);
    assert_eq!(p["cards"][0]["check"], "gateway");
    // Every person the charges added, exactly.
    let added: BTreeSet<Vec<String>> = run.expected["payments"]["people_added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| sorted(strings(&p["charge_ids"])))
        .collect();
    let got: BTreeSet<Vec<String>> = run
        .people()
        .iter()
        .filter(|p| !strings(&p["reasons"]).contains(&"card_order_in_window".to_string()))
        .map(|p| sorted(strings(&p["charge_ids"])))
        .collect();
    assert_eq!(got, added);
    assert!(added.contains(&vec![charge.to_string()]));
}

#[test]
fn an_order_paid_after_a_decline_lists_both_cards() {
    let run = run_vector_park();
    let order = run.id("declined_then_paid", "order");
    let charges = strings(&run.case("declined_then_paid")["charges"]);
    let o = &run.orders()[&order];
    assert_eq!(o["card_source"], "gateway; gateway");
    assert_eq!(o["card_brand"], "MASTERCARD; JCB");
    assert_eq!(o["card_check"], "gateway; gateway");
    assert_eq!(
        o["card_masked"],
        run.expected["orders_in_window"][&order]["card_masked"]
            .as_str()
            .unwrap()
    );
    for c in &charges {
        let r = run.payment(c);
        assert_eq!(
            (r["order_id"].as_str(), r["match"].as_str()),
            (order.as_str(), "order_ref")
        );
    }
    assert_eq!(run.payment(&charges[0])["status"], "Failed");
    assert_eq!(run.payment(&charges[1])["status"], "Paid");
    let p = run.person_with("order_ids", &order);
    assert_eq!(sorted(strings(&p["charge_ids"])), sorted(charges));
    assert_eq!(
        card_displays(&p),
        strings(&run.expected_person("order_ids", &order)["cards"])
    );
    assert_eq!(card_displays(&p).len(), 2);
}

#[test]
fn a_last4_with_a_leading_zero_stays_four_digits() {
    let run = run_vector_park();
    let c = run.case("leading_zero_last4");
    let (charge, order) = (c["charge"].as_str().unwrap(), c["order"].as_str().unwrap());
    assert_eq!(run.payment(charge)["card_last4"], "0398");
    assert!(run.orders()[order]["card_masked"].ends_with("************0398"));
    let p = run.person_with("order_ids", order);
    let card = p["cards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["display"] == c["display"])
        .unwrap_or_else(|| panic!("{} in {p}", c["display"]));
    assert_eq!(card["last4"], "0398");
    assert_eq!(card["expiry"], c["expiry"]);
}

#[test]
fn charges_at_the_window_edges_written_in_utc() {
    let run = run_vector_park();
    let listed: BTreeSet<String> = run
        .payments()
        .into_iter()
        .map(|r| r["charge_id"].clone())
        .collect();
    for (name, inside, local) in [
        ("edge_before_start", false, ""),
        ("edge_start", true, "2020-04-27T00:00:00+09:00"),
        ("edge_last_second", true, "2021-12-22T23:59:59+09:00"),
        ("edge_after_end", false, ""),
    ] {
        let c = run.case(name);
        assert_eq!(c["in_window"], inside, "{name}: the oracle agrees");
        let charge = c["charge"].as_str().unwrap();
        assert_eq!(listed.contains(charge), inside, "{name} ({charge})");
        let holders = run
            .people()
            .into_iter()
            .filter(|p| strings(&p["charge_ids"]).iter().any(|x| x == charge))
            .count();
        assert_eq!(holders, usize::from(inside), "{name} ({charge})");
        if inside {
            let r = run.payment(charge);
            assert_eq!(r["created_at"], local, "{name}");
            assert_eq!(r["reason"], "payment_without_order", "{name}");
        }
    }
}

#[test]
fn a_charge_in_the_window_for_an_order_outside_it() {
    let run = run_vector_park();
    let (charge, order) = (
        run.id("charge_in_window_order_outside", "charge"),
        run.id("charge_in_window_order_outside", "order"),
    );
    assert!(strings(&run.expected["orders_out_of_window"]).contains(&order));
    assert!(!run.orders().contains_key(&order), "not an in-window order");
    let r = run.payment(&charge);
    assert_eq!(r["order_id"], order);
    assert_eq!(r["match"], "order_ref");
    assert_eq!(r["reason"], "payment_in_window");
    let p = run.person_with("order_ids", &order);
    let w = run.expected_person("order_ids", &order);
    assert_eq!(strings(&p["reasons"]), ["payment_in_window"]);
    for f in ["name", "email", "first_order_at", "last_order_at"] {
        assert_eq!(p[f], w[f], "{f}");
    }
    assert_eq!(p["first_order_at"], r["created_at"].as_str());
    assert_eq!(card_displays(&p), strings(&w["cards"]));
}

#[test]
fn out_of_window_not_card_and_rejected_rows() {
    let run = run_vector_park();
    let listed: BTreeSet<String> = run
        .payments()
        .into_iter()
        .map(|r| r["charge_id"].clone())
        .collect();
    let rows: BTreeMap<String, Value> = run.expected["payments"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["charge_id"].as_str().unwrap().to_string(), r.clone()))
        .collect();
    for (case, class) in [
        ("out_of_window", "out_of_window"),
        ("not_card", "not_card"),
        ("rejected_bad_time", "rejected"),
    ] {
        let charge = run.id(case, "charge");
        assert_eq!(rows[&charge]["class"], class, "{case}: the oracle agrees");
        assert!(!listed.contains(&charge), "{case}: not in payments.csv");
        for p in run.people() {
            assert!(!strings(&p["charge_ids"]).contains(&charge), "{case}");
        }
    }
    // The rejected row: file:line and reason, the fingerprint removed from the record.
    let want = run.expected["payments"]["rejected"].as_array().unwrap();
    let got: Vec<Row> = read_csv_maps(&run.out.join("rejected.csv"))
        .into_iter()
        .filter(|r| r["source"].starts_with("payments/"))
        .collect();
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g["source"], w["source"].as_str().unwrap());
        assert!(g["reason"].contains("charge time"), "{g:?}");
    }
    let bad = got
        .iter()
        .find(|r| r["record"].starts_with(&run.id("rejected_bad_time", "charge")))
        .expect("the bad time is rejected");
    assert!(
        bad["reason"].contains(&run.id("rejected_bad_time", "time")),
        "{bad:?}"
    );
    assert!(bad["record"].contains("[fingerprint removed]"), "{bad:?}");
    assert!(!bad["record"].contains(&run.id("rejected_bad_time", "fingerprint")));
}

#[test]
fn an_in_window_card_order_without_a_payment_row() {
    let run = run_vector_park();
    let orders = run.orders();
    let paid: BTreeSet<String> = run
        .payments()
        .into_iter()
        .map(|r| r["order_id"].clone())
        .collect();
    // ec_taro's order has no charge: no gateway card, and it counts in orders_without_payment.
    let taro = run.edge("ec_taro");
    assert!(!paid.contains(&taro));
    assert_eq!(orders[&taro]["card_source"], "");
    assert_eq!(orders[&taro]["card_check"], "none");
    // In orders.csv, the orders without a gateway card are those no charge joined.
    let without = orders
        .values()
        .filter(|o| !o["card_source"].contains("gateway"))
        .count();
    assert_eq!(
        without as u64,
        run.expected["payments"]["orders_without_payment"]
            .as_u64()
            .unwrap()
    );
    assert_eq!(
        run.summary()["orders_without_payment"],
        run.expected["payments"]["orders_without_payment"]
    );
}

#[test]
fn a_gateway_fingerprint_marks_a_card_shared_by_two_people() {
    let run = run_vector_park();
    let c = run.case("shared_gateway_card");
    let orders = strings(&c["orders"]);
    let a = run.person_with("order_ids", &orders[0]);
    let b = run.person_with("order_ids", &orders[1]);
    assert_ne!(a["customer_id"], b["customer_id"]);
    let display = c["display"].as_str().unwrap().to_string();
    for p in [&a, &b] {
        assert!(card_displays(p).contains(&display), "{display} in {p}");
    }
    let fp = |p: &Value| {
        p["cards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["display"] == display.as_str())
            .unwrap()["fingerprint"]
            .clone()
    };
    assert_eq!(fp(&a), fp(&b));
    assert_eq!(
        run.summary()["cards_shared"],
        run.expected["totals"]["cards_shared"]
    );
}

#[test]
fn a_gateway_card_that_is_the_persons_export_card_is_listed_once() {
    let run = run_vector_park();
    let c = run.case("gmo_same_card_as_export");
    let order = c["order"].as_str().unwrap();
    let o = &run.orders()[order];
    assert_eq!(o["card_source"], "order; gateway");
    assert_eq!(o["card_check"], "masked; gateway");
    let p = run.person_with("order_ids", order);
    let display = c["display"].as_str().unwrap().to_string();
    assert_eq!(
        card_displays(&p).iter().filter(|d| **d == display).count(),
        1,
        "{p}"
    );
    assert_eq!(
        card_displays(&p),
        strings(&run.expected_person("order_ids", order)["cards"])
    );
}

/// The summary counts a card the way affected.jsonl lists it: a gateway card with the brand and
/// last 4 of the same person's export card is one card.
#[test]
fn cards_affected_counts_a_card_listed_once_once() {
    let run = run_vector_park();
    let s = run.summary();
    assert_eq!(
        s["cards_affected"],
        run.expected["totals"]["cards_affected"]
    );
    let listed: usize = run
        .people()
        .iter()
        .map(|p| {
            p["cards"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|k| k["shared"] == false)
                .count()
        })
        .sum();
    assert!(s["cards_affected"].as_u64().unwrap() as usize >= listed);
}

#[test]
fn customers_and_counts_include_the_people_charges_add() {
    let run = run_vector_park();
    let s = run.summary();
    for key in [
        "customers_affected",
        "customers_without_contact",
        "customers_login_only",
        "cards_shared",
        "first_affected_at",
        "last_affected_at",
    ] {
        assert_eq!(s[key], run.expected["totals"][key], "summary.json {key}");
    }
    // Every person with a charge: charge ids, reasons and cards as the oracle says.
    for w in run.expected["payments"]["people_with_charges"]
        .as_array()
        .unwrap()
    {
        let first = &strings(&w["charge_ids"])[0];
        let g = run.person_with("charge_ids", first);
        for f in ["charge_ids", "order_ids", "reasons", "emails"] {
            assert_eq!(sorted(strings(&g[f])), strings(&w[f]), "{f} of {first}");
        }
        assert_eq!(card_displays(&g), strings(&w["cards"]), "cards of {first}");
        assert_eq!(g["name"], w["name"], "name of {first}");
    }
}

/// `--payments FILE --payments-preset stripe` replaces the config's payment files.
#[test]
fn payments_on_the_command_line_with_the_stripe_preset() {
    let run = run_in(
        copy_case("vector-park"),
        &[
            "--payments",
            "vector-park/payments/stripe.csv",
            "--payments-preset",
            "stripe",
        ],
    );
    let p = run.summary()["payments"].clone();
    let files = p["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["path"], "vector-park/payments/stripe.csv");
    assert_eq!(files[0]["preset"], "stripe");
    // stripe.csv's rows are joined to the orders alone: its counts are the oracle's.
    let w = &run.expected["payments"]["files"]["payments/stripe.csv"];
    for key in CLASSES.iter().copied().chain(["rows_read", "ambiguous"]) {
        assert_eq!(files[0][key], w[key], "{key}");
    }
    let charges: BTreeSet<String> = run
        .payments()
        .into_iter()
        .map(|r| r["charge_id"].clone())
        .collect();
    let want: BTreeSet<String> = run.expected["payments"]["payments_csv"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["source"]
                .as_str()
                .unwrap()
                .starts_with("payments/stripe.csv:")
        })
        .map(|r| r["charge_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(charges, want);
    // The forced preset reads a file that auto-detection also takes for Stripe's; on the
    // custom gateway's export it is a layout error naming what is missing.
    let out = skimtrace()
        .current_dir(&run.dir)
        .args(["affected", "-q", "--config", "vector-park/incident.toml"])
        .args(["--payments", "vector-park/payments/gmo-pg.csv"])
        .args(["--payments-preset", "stripe", "--out", "out-gmo"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gmo-pg.csv") && err.contains("created_at"),
        "{err}"
    );
}

/// Two gateway exports that overlap (the same rows downloaded twice, or two date ranges that
/// share a day): each charge is joined, listed and makes its person once; the repeats are
/// counted (`repeated_charges`) and warned about. Before, every declined attempt of the copy
/// was a second entry, and one without an e-mail a second person.
#[test]
fn an_export_that_overlaps_another_adds_no_charge_twice() {
    let one = run_in(
        copy_case("vector-park"),
        &["--payments", "vector-park/payments/stripe.csv"],
    );
    let dir = copy_case("vector-park");
    let pay = dir.path().join("vector-park/payments");
    std::fs::copy(pay.join("stripe.csv"), pay.join("stripe-again.csv")).unwrap();
    let two = run_in(
        dir,
        &[
            "--payments",
            "vector-park/payments/stripe.csv",
            "vector-park/payments/stripe-again.csv",
        ],
    );
    let (s1, s2) = (one.summary(), two.summary());
    assert_eq!(s2["customers_affected"], s1["customers_affected"]);
    assert_eq!(two.people(), one.people());
    assert_eq!(two.payments().len(), one.payments().len());
    let f1 = &s1["payments"]["files"][0];
    let f2 = &s2["payments"]["files"][1];
    for key in CLASSES.iter().copied().chain(["rows_read"]) {
        assert_eq!(f2[key], f1[key], "{key}");
    }
    // Every charge the first export kept (payments.csv) comes again in the copy; the copy's
    // other rows (outside the window) are only counted, as before.
    let kept = one.payments().len() as u64;
    assert!(kept > 0);
    assert_eq!(f2["repeated_charges"], kept, "{f2}");
    assert_eq!(f2["charge_id_collisions"], 0);
    let warned = strings(&f2["warnings"]).join(" ");
    assert!(
        warned.contains("repeats charge") && warned.contains("vector-park/payments/stripe.csv:"),
        "{warned}"
    );
}

fn with_config_edit(from: &str, to: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = copy_case("vector-park");
    let cfg = dir.path().join("vector-park/incident.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains(from), "{from}");
    std::fs::write(&cfg, text.replacen(from, to, 1)).unwrap();
    let p = dir.path().to_path_buf();
    (dir, p)
}

#[test]
fn a_bad_order_ref_regex_is_a_config_error() {
    let (_dir, path) = with_config_edit(
        "email_amount_time = true",
        "email_amount_time = true\norder_ref_regex = \"Order #(\\\\d+\"",
    );
    let out = skimtrace()
        .current_dir(&path)
        .args(["affected", "-q", "--config", "vector-park/incident.toml"])
        .args(["--out", "out"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("order_ref_regex"), "{err}");
    assert!(err.contains("incident.toml"), "{err}");
    assert!(!path.join("out/affected.csv").exists());
}

#[test]
fn an_unknown_payments_layout_is_an_error_listing_the_headers() {
    let dir = copy_case("vector-park");
    std::fs::write(
        dir.path().join("odd-gateway.csv"),
        "Kunde,Zeitpunkt,Betrag\nA,2021-01-01,1\n",
    )
    .unwrap();
    let out = skimtrace()
        .current_dir(dir.path())
        .args(["affected", "-q", "--config", "vector-park/incident.toml"])
        .args(["--payments", "odd-gateway.csv", "--out", "out"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for h in [
        "\"Kunde\"",
        "\"Zeitpunkt\"",
        "\"Betrag\"",
        "odd-gateway.csv",
    ] {
        assert!(err.contains(h), "{h} in {err}");
    }
}

/// No output holds a full card number, or a gateway fingerprint as the export wrote it.
#[test]
fn no_output_holds_a_card_number_or_a_raw_gateway_fingerprint() {
    let run = run_vector_park();
    let fps = strings(&run.expected["payments"]["fingerprints"]);
    assert!(fps.len() > 10);
    let mut inputs = String::new();
    for f in [
        "payments/stripe.csv",
        "payments/stripe-legacy.csv",
        "payments/gmo-pg.csv",
    ] {
        inputs.push_str(&String::from_utf8_lossy(
            &std::fs::read(run.case.join(f)).unwrap(),
        ));
    }
    // The check is not vacuous: the inputs hold every fingerprint.
    for fp in &fps {
        assert!(inputs.contains(fp.as_str()), "{fp}");
    }
    let mut scanned = 0;
    for entry in std::fs::read_dir(&run.out).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            luhn_runs(&text).is_empty(),
            "{}: a card number",
            path.display()
        );
        for fp in &fps {
            assert!(
                !text.contains(fp.as_str()),
                "{}: holds {fp}",
                path.display()
            );
        }
        scanned += 1;
    }
    assert!(scanned >= 7, "payments.csv and payments_unmatched.csv too");
    assert!(Path::new(&run.out.join("payments_unmatched.csv")).exists());
}

/// A gateway export that writes its card columns in full-width digits (`４２４２`, a month
/// `１２`), or a whole card number where the last 4 go: the last 4 and the expiry are read as
/// ASCII digits, and the whole number is counted as masked, never written.
#[test]
fn a_gateway_export_in_full_width_digits_gives_its_last4_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let header = "id,Created (UTC),Amount,Currency,Status,Customer Email,Card Last4,Card Brand,Card Exp Month,Card Exp Year,Description";
    let full_width = |s: &str| digits_in_script(s, 0xFF10);
    // 3530111333300000: a published JCB test number (fixtures/test-pans.txt).
    let rows = [
        format!(
            "ch_a,2021-06-01 01:00,1000,jpy,Paid,a@example.jp,{},Visa,{},{},Order #A-1",
            full_width("4242"),
            full_width("12"),
            full_width("2027")
        ),
        format!(
            "ch_b,2021-06-02 01:00,1000,jpy,Failed,b@example.jp,{},JCB,{},{},Order #B-1",
            full_width("3530111333300000"),
            full_width("7"),
            full_width("28")
        ),
    ];
    std::fs::write(
        dir.path().join("stripe.csv"),
        format!("{header}\n{}\n", rows.join("\n")),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("orders.csv"),
        "Order ID,Ordered At,Email,Payment Method,Amount\nA-1,2021-06-01T10:00:00+09:00,a@example.jp,Credit Card,1000\n",
    )
    .unwrap();
    let out = skimtrace()
        .current_dir(dir.path())
        .args(["affected", "-q", "--orders", "orders.csv"])
        .args(["--payments", "stripe.csv", "--payments-preset", "stripe"])
        .args(["--tz", "Asia/Tokyo", "--window", "2020-04-27..2021-12-22"])
        .args(["--out", "out"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last4: BTreeSet<(String, String)> = read_csv_maps(&dir.path().join("out/payments.csv"))
        .into_iter()
        .chain(read_csv_maps(
            &dir.path().join("out/payments_unmatched.csv"),
        ))
        .filter_map(|r| Some((r.get("charge_id")?.clone(), r.get("card_last4")?.clone())))
        .collect();
    assert!(last4.contains(&("ch_a".into(), "4242".into())), "{last4:?}");
    assert!(last4.contains(&("ch_b".into(), "0000".into())), "{last4:?}");
    let people = read_jsonl(&dir.path().join("out/affected.jsonl"));
    let cards: Vec<&Value> = people
        .iter()
        .flat_map(|p| p["cards"].as_array().unwrap())
        .collect();
    assert!(
        cards
            .iter()
            .any(|k| k["last4"] == "4242" && k["expiry"] == "12/2027"),
        "{cards:?}"
    );
    let summary = read_json(&dir.path().join("out/summary.json"));
    assert_eq!(
        summary["payments"]["files"][0]["card_numbers_by_column"]["Card Last4"],
        1
    );
    let text = summary.to_string();
    assert!(!text.contains("3530111333300000"), "{text}");
}

/// A row with the id, time and card of an earlier charge but an e-mail (or an order reference)
/// the first lacked is not dropped as a repeat: the person keeps the address their notice goes
/// to, and the order its join, whichever file is read first.
#[test]
fn a_repeat_that_brings_an_email_or_an_order_is_kept() {
    let head =
        "id,Created date (UTC),Amount,Currency,Status,Card Brand,Card Last4,Card Fingerprint";
    let d = one_order_and_two_exports(
        &format!("{head}\nch_B,2021-06-02 01:00:00,2000,jpy,Failed,Visa,1881,fpY\nch_A,2021-06-01 01:00:00,1000,jpy,Paid,Visa,4242,fpX\n"),
        &format!("{head},Customer Email,Description\nch_B,2021-06-02 01:00:00,2000,jpy,Failed,Visa,1881,fpY,victim@example.com,attempt\nch_A,2021-06-01 01:00:00,1000,jpy,Paid,Visa,4242,fpX,a@example.com,Order 1001\n"),
    );
    let people = crate::util::read_csv_maps(&d.path().join("out/affected.csv"));
    let with = |email: &str| people.iter().find(|p| p["email"] == email).cloned();
    assert!(with("victim@example.com").is_some(), "{people:?}");
    let a = with("a@example.com").expect("the order's person");
    assert!(a["cards"].contains("****4242"), "{a:?}");
    let s = read_json(&d.path().join("out/summary.json"));
    assert_eq!(s["payments"]["files"][1]["repeated_charges"], 0, "{s}");
    assert_eq!(s["payments"]["files"][1]["charge_id_collisions"], 2, "{s}");
}

/// A declined charge in two exports of one month, one with the card fingerprint column and one
/// without, and neither with an e-mail: the rows differ, so both are kept (and warned about as
/// one id for two rows), but they are one charge and so one person: one row in affected.csv,
/// not two rows under one customer id.
#[test]
fn one_charge_kept_twice_is_one_person() {
    let head = "id,Created date (UTC),Amount,Currency,Status,Card Brand,Card Last4";
    let d = one_order_and_two_exports(
        &format!(
            "{head},Card Fingerprint\nch_B,2021-06-02 01:00:00,2000,jpy,Failed,Visa,1881,fpY\n"
        ),
        &format!("{head}\nch_B,2021-06-02 01:00:00,2000,jpy,Failed,Visa,1881\n"),
    );
    let people = crate::util::read_csv_maps(&d.path().join("out/affected.csv"));
    let mut ids: Vec<&str> = people.iter().map(|p| p["customer_id"].as_str()).collect();
    ids.sort();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "one customer id on two rows: {people:?}");
    assert_eq!(
        n, 2,
        "the order's person and the declined charge's: {people:?}"
    );
    let declined = people.iter().find(|p| p["email"].is_empty()).unwrap();
    assert_eq!(
        declined["cards"], "VISA ****1881",
        "the one card once: {declined:?}"
    );
    let s = read_json(&d.path().join("out/summary.json"));
    assert_eq!(s["payments"]["files"][1]["charge_id_collisions"], 1, "{s}");
}

/// A folder with one in-window card order (1001, a@example.com, 1,000 JPY) in `po.csv` and the
/// payment exports `a.csv` and `b.csv`, after `affected` has read them into `out` (exit 0).
fn one_order_and_two_exports(a: &str, b: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let w = |name: &str, body: &str| std::fs::write(d.path().join(name), body).unwrap();
    w(
        "po.csv",
        "order_id,ordered_at,email,card_number,payment_method,amount,currency\n\
         1001,2021-06-01 10:00:00,a@example.com,,credit_card,1000,JPY\n",
    );
    w("a.csv", a);
    w("b.csv", b);
    let o = crate::util::affected_in(
        d.path(),
        &["-q", "--orders", "po.csv", "--payments", "a.csv", "b.csv"],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    d
}

/// An export of several of the reader's blocks (2,048 rows each), whose rows are prepared on
/// every core a block ahead of the one being classified: every row is counted once, the rows
/// rejected are listed in file order, a repeat at the end of the file of a charge at its start
/// is known as one, and a charge whose order lies outside the window fetches it.
#[test]
fn a_long_export_is_read_row_after_row_across_blocks() {
    let d = long_export("gift");
    let s = read_json(&d.path().join("out/summary.json"));
    let f = &s["payments"]["files"][0];
    assert_eq!(f["encoding"], "UTF-8", "{f}");
    check_long_export(&d, f);
}

/// The same export with one Shift_JIS description near its end: read as UTF-8 up to that row
/// (two blocks and more), then again from its header as Shift_JIS. Nothing of the first reading is left: each
/// row is counted once and each charge listed once.
#[test]
fn a_long_export_found_to_be_shift_jis_late_is_read_once() {
    let d = long_export("ギフト");
    let s = read_json(&d.path().join("out/summary.json"));
    let f = &s["payments"]["files"][0];
    assert_eq!(f["encoding"], "Shift_JIS", "{f}");
    check_long_export(&d, f);
}

/// Data rows of [`long_export`]'s payments file.
const LONG_ROWS: usize = 6_004;

/// 3,000 in-window card orders (1 to 3000, u1 to u3000) and an order outside the window (9001)
/// in `po.csv`, and `pay.csv`: a Stripe export of 6,000 charges of those orders (two each, by
/// `Order N` in the description), two rows short of a field (data rows 1,500 and 4,700), a
/// charge in the window for order 9001, one outside the window, one without card data, and a
/// repeat of the first charge as the last row. The description of data row 5,990 says
/// `Order 2990 ({word})` in Shift_JIS bytes (an ASCII word keeps the file ASCII).
fn long_export(word: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let mut po = String::from("order_id,ordered_at,email,payment_method,amount,currency\n");
    for i in 1..=3000 {
        po.push_str(&format!(
            "{i},2021-06-01 {:02}:{:02}:00,u{i}@example.com,credit_card,1000,JPY\n",
            i / 60 % 24,
            i % 60
        ));
    }
    po.push_str("9001,2019-01-05 10:00:00,late@example.com,credit_card,1000,JPY\n");
    std::fs::write(d.path().join("po.csv"), po).unwrap();

    let head = "id,Created date (UTC),Amount,Currency,Status,Card Brand,Card Last4,Card Fingerprint,Customer Email,Description\n";
    let mut pay: Vec<u8> = head.as_bytes().to_vec();
    let row = |k: usize| {
        let o = (k - 1) % 3000 + 1;
        format!(
            "ch_{k},2021-06-02 {:02}:{:02}:{:02},1000,jpy,Paid,Visa,{:04},fp{k},u{o}@example.com,",
            k / 3600,
            k / 60 % 60,
            k % 60,
            k % 10_000
        )
    };
    let mut data = 0;
    for k in 1..=6000 {
        data += 1;
        let mut line = row(k).into_bytes();
        if data == 1500 || data == 4700 {
            // One field short.
            line.pop();
        } else if data == 5990 {
            let text = format!("Order {} ({word})", (k - 1) % 3000 + 1);
            let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&text);
            line.extend_from_slice(&sjis);
        } else {
            line.extend_from_slice(format!("Order {}", (k - 1) % 3000 + 1).as_bytes());
        }
        line.push(b'\n');
        pay.extend_from_slice(&line);
    }
    for tail in [
        "ch_late,2021-06-03 00:00:00,1000,jpy,Paid,Visa,9001,fpL,late@example.com,Order 9001",
        "ch_old,2019-01-05 01:00:00,500,jpy,Paid,Visa,1234,fpO,old@example.com,Order 77777",
        "ch_bank,2021-06-03 00:00:00,500,jpy,Paid,,,,bank@example.com,Order 1",
    ] {
        pay.extend_from_slice(tail.as_bytes());
        pay.push(b'\n');
    }
    pay.extend_from_slice(row(1).as_bytes());
    pay.extend_from_slice(b"Order 1\n");
    std::fs::write(d.path().join("pay.csv"), pay).unwrap();
    affected_on_po_and_pay(d.path());
    d
}

fn check_long_export(d: &tempfile::TempDir, f: &Value) {
    assert_eq!(f["rows_read"], LONG_ROWS, "{f}");
    // 6,000 charges less the two short rows, the repeat, and the charge of order 9001.
    assert_eq!(f["matched"], 6000 - 2 + 1 + 1, "{f}");
    assert_eq!(f["rejected"], 2, "{f}");
    assert_eq!(f["out_of_window"], 1, "{f}");
    assert_eq!(f["not_card"], 1, "{f}");
    assert_eq!(f["unmatched_in_window"], 0, "{f}");
    assert_eq!(f["repeated_charges"], 1, "{f}");
    let rejected = crate::util::read_csv_maps(&d.path().join("out/rejected.csv"));
    let sources: Vec<&str> = rejected.iter().map(|r| r["source"].as_str()).collect();
    assert_eq!(sources, ["pay.csv:1501", "pay.csv:4701"], "{rejected:?}");
    let payments = crate::util::read_csv_maps(&d.path().join("out/payments.csv"));
    assert_eq!(payments.len(), 6000 - 2 + 1, "one row per charge kept");
    let ids: BTreeSet<&str> = payments.iter().map(|r| r["charge_id"].as_str()).collect();
    assert_eq!(ids.len(), payments.len(), "a charge listed twice");
    let late = payments
        .iter()
        .find(|r| r["charge_id"] == "ch_late")
        .unwrap();
    assert_eq!(late["order_id"], "9001", "{late:?}");
    assert_eq!(late["reason"], "payment_in_window", "{late:?}");
    let people = read_jsonl(&d.path().join("out/affected.jsonl"));
    assert_eq!(
        people.len(),
        3001,
        "the 3,000 orders' people and order 9001's"
    );
}

/// `affected` on `po.csv` and `pay.csv` in `dir`, into `dir/out`; it must succeed.
fn affected_on_po_and_pay(dir: &Path) {
    let o = crate::util::affected_in(dir, &["-q", "--orders", "po.csv", "--payments", "pay.csv"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A charge row of another width than the header's (a comma too many in its description, a
/// field too few) is rejected without the gateway's card fingerprint, wherever the shift put
/// it; the rest of the record stays as written.
#[test]
fn a_shifted_charge_row_is_rejected_without_its_fingerprint() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("po.csv"),
        "order_id,ordered_at,email,payment_method,amount,currency\n\
         1,2021-06-01 10:00:00,u1@example.com,credit_card,1000,JPY\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("pay.csv"),
        "id,Created date (UTC),Amount,Currency,Status,Card Brand,Card Last4,Description,Card Fingerprint,Customer Email\n\
         ch_1,2021-06-02 01:00:00,1000,jpy,Paid,Visa,4242,Order 1,Fp7Hq2Lx9Wc3Zk1D,u1@example.com\n\
         ch_2,2021-06-02 02:00:00,1000,jpy,Paid,Visa,4242,Order 1, gift,Fp8Jr3My0Xd4Al2E,u1@example.com\n\
         ch_3,2021-06-02 03:00:00,1000,jpy,Paid,Visa,4242,Fp9Ks4Nz1Ye5Bm3F,u1@example.com\n",
    )
    .unwrap();
    affected_on_po_and_pay(d.path());
    let rejected = std::fs::read_to_string(d.path().join("out/rejected.csv")).unwrap();
    for fp in ["Fp8Jr3My0Xd4Al2E", "Fp9Ks4Nz1Ye5Bm3F"] {
        assert!(!rejected.contains(fp), "{rejected}");
    }
    assert_eq!(
        rejected.matches("[fingerprint removed]").count(),
        2,
        "{rejected}"
    );
    // What is not a fingerprint stays: the charge ids, the amounts, the e-mail, the text.
    for kept in ["ch_2", "ch_3", "Order 1", " gift", "u1@example.com", "Paid"] {
        assert!(rejected.contains(kept), "{kept}: {rejected}");
    }
}
