//! `skimtrace affected` over the bundled case, fixtures/vector-park (issue 2).
//!
//! The expectations come from `fixtures/vector-park/expected.json`, which the case's generator
//! computes from what it planted (its own implementation of the rules), never from the tool's
//! output. People are matched by their order ids, e-mails and login ids: customer ids depend on
//! the key.

use crate::util::{
    copy_case, luhn_runs, read_csv, read_csv_maps, read_json, read_jsonl, root, skimtrace,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The files of the case that use CRLF line ends (see `crlf_sources_name_the_physical_line`).
const CRLF_FILES: &[&str] = &["orders/shop-cards.csv"];

struct Run {
    _dir: tempfile::TempDir,
    case: PathBuf,
    out: PathBuf,
    expected: Value,
}

impl Run {
    fn summary(&self) -> Value {
        read_json(&self.out.join("summary.json"))
    }
    fn people(&self) -> Vec<Value> {
        read_jsonl(&self.out.join("affected.jsonl"))
    }
    fn orders(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut m = BTreeMap::new();
        for r in read_csv_maps(&self.out.join("orders.csv")) {
            let id = r["order_id"].clone();
            assert!(m.insert(id.clone(), r).is_none(), "order {id} listed twice");
        }
        m
    }
    fn edge(&self, name: &str) -> String {
        self.expected["edge_cases"][name]
            .as_str()
            .unwrap_or_else(|| panic!("expected.json has no edge case {name}"))
            .to_string()
    }
    /// The affected person whose order ids include `order_id`.
    fn person_with(&self, order_id: &str) -> Value {
        let found: Vec<Value> = self
            .people()
            .into_iter()
            .filter(|p| strings(&p["order_ids"]).contains(&order_id.to_string()))
            .collect();
        assert_eq!(found.len(), 1, "people with order {order_id}: {found:?}");
        found.into_iter().next().unwrap()
    }
}

/// Runs `affected` on a fresh copy of the bundled case the way the README does: from the folder
/// above the case, `--config vector-park/incident.toml`.
fn run_vector_park() -> Run {
    let dir = copy_case("vector-park");
    let case = dir.path().join("vector-park");
    let out = dir.path().join("out");
    skimtrace()
        .current_dir(dir.path())
        .args(["affected", "--config", "vector-park/incident.toml", "--out"])
        .arg(&out)
        .assert()
        .success();
    let expected = read_json(&root().join("fixtures/vector-park/expected.json"));
    Run {
        _dir: dir,
        case,
        out,
        expected,
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

/// What identifies a person across runs and keys: their order ids and their gateway charges
/// (a person added by a declined attempt has no order id).
fn person_key(p: &Value) -> (Vec<String>, Vec<String>) {
    (
        sorted(strings(&p["order_ids"])),
        sorted(strings(&p["charge_ids"])),
    )
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

#[test]
fn affected_set_is_exactly_the_oracles() {
    let run = run_vector_park();
    let got: BTreeMap<(Vec<String>, Vec<String>), Value> = run
        .people()
        .into_iter()
        .map(|p| (person_key(&p), p))
        .collect();
    let want: BTreeMap<(Vec<String>, Vec<String>), Value> = run.expected["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (person_key(p), p.clone()))
        .collect();
    let missing: Vec<_> = want.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing people (by order ids): {missing:?}\nunexpected people: {extra:?}"
    );
    for (k, w) in &want {
        let g = &got[k];
        for field in ["emails", "login_ids", "reasons"] {
            assert_eq!(
                sorted(strings(&g[field])),
                strings(&w[field]),
                "{field} of {k:?}"
            );
        }
        for field in [
            "name",
            "email",
            "contact",
            "first_order_at",
            "last_order_at",
        ] {
            assert_eq!(g[field], w[field], "{field} of {k:?}");
        }
        assert_eq!(card_displays(g), strings(&w["cards"]), "cards of {k:?}");
        assert_eq!(g["order_count"], k.0.len(), "order_count of {k:?}");
    }
    // affected.csv says the same as affected.jsonl, row for row, sorted by customer id.
    let csv = read_csv_maps(&run.out.join("affected.csv"));
    let jsonl = run.people();
    assert_eq!(csv.len(), jsonl.len());
    let ids: Vec<&String> = csv.iter().map(|r| &r["customer_id"]).collect();
    let mut sorted_ids = ids.clone();
    sorted_ids.sort();
    assert_eq!(ids, sorted_ids, "affected.csv is sorted by customer_id");
    for (r, p) in csv.iter().zip(&jsonl) {
        assert_eq!(r["customer_id"], p["customer_id"].as_str().unwrap());
        assert_eq!(r["order_ids"], strings(&p["order_ids"]).join("; "));
        assert_eq!(r["emails"], strings(&p["emails"]).join("; "));
        assert_eq!(r["contact"], p["contact"].as_str().unwrap());
    }
}

#[test]
fn counts_per_file_and_in_total_reconcile() {
    let run = run_vector_park();
    let s = run.summary();
    let e = &run.expected;
    let classes = ["in_window", "out_of_window", "not_card", "rejected"];
    for key in [
        "rows_read",
        "in_window",
        "out_of_window",
        "not_card",
        "rejected",
        "orders_in_window",
        "orders_out_of_window",
        "orders_not_card",
        "record_disagreements",
        "customers_affected",
        "customers_without_contact",
        "customers_login_only",
        // cards_affected: see payments::cards_affected_counts_a_card_listed_once_once.
        "cards_shared",
        "cards_invalid",
        "cards_masked_only",
        "first_affected_at",
        "last_affected_at",
    ] {
        assert_eq!(s[key], e["totals"][key], "summary.json {key}");
    }
    let total: u64 = classes.iter().map(|c| s[c].as_u64().unwrap()).sum();
    assert_eq!(
        s["rows_read"].as_u64().unwrap(),
        total,
        "rows_read = sum of the classes"
    );
    assert_eq!(s["reconciled"], true);
    assert_eq!(s["timezone"], "Asia/Tokyo");
    assert_eq!(s["window"]["start"], e["window"]["start"]);
    assert_eq!(s["window"]["end_exclusive"], e["window"]["end_exclusive"]);

    let files = s["files"].as_array().unwrap();
    let want = e["files"].as_object().unwrap();
    assert_eq!(files.len(), want.len());
    for f in files {
        let path = f["path"].as_str().unwrap();
        let w = &want[path];
        for key in [
            "rows_read",
            "in_window",
            "out_of_window",
            "not_card",
            "rejected",
            "orders_in_window",
            "orders_out_of_window",
            "orders_not_card",
            "encoding",
            "preset",
            "sha256",
            "card_numbers_in_text",
        ] {
            assert_eq!(f[key], w[key], "{path}: {key}");
        }
        let total: u64 = classes.iter().map(|c| f[c].as_u64().unwrap()).sum();
        assert_eq!(f["rows_read"].as_u64().unwrap(), total, "{path} reconciles");
    }
    // orders.csv holds each in-window order once; rejected.csv holds every rejected record.
    assert_eq!(
        run.orders().len() as u64,
        s["orders_in_window"].as_u64().unwrap()
    );
    // ... and the payment exports' rejected rows after them.
    let rejected = read_csv_maps(&run.out.join("rejected.csv"));
    assert_eq!(
        rejected.len() as u64,
        s["rejected"].as_u64().unwrap() + s["payments"]["rejected"].as_u64().unwrap()
    );
}

#[test]
fn encodings_are_detected_and_reported() {
    let run = run_vector_park();
    let s = run.summary();
    let by_path: BTreeMap<&str, &Value> = s["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f))
        .collect();
    let ec = by_path["orders/ec-cube4.csv"];
    assert_eq!(ec["encoding"], "Shift_JIS");
    assert_eq!(ec["encoding_detected"], true);
    assert_eq!(ec["preset"], "ec-cube4");
    let sc = by_path["orders/shop-cards.csv"];
    assert_eq!(sc["encoding"], "UTF-8 (BOM)");
    assert_eq!(sc["encoding_detected"], true);
    assert_eq!(by_path["orders/shopify.csv"]["preset"], "shopify");
    // The CP932 names came through intact, 0x5C second bytes (ソ, 表, 能) and all.
    let p = run.person_with(&run.edge("ec_sjis_name"));
    assert_eq!(p["name"], "髙橋 表ソ能");
    // The first header of a BOM file is found (Order ID), so the ids are the file's own.
    assert!(run.orders().contains_key(&run.edge("sc_start_utc")));
}

#[test]
fn orders_csv_matches_the_oracle() {
    let run = run_vector_park();
    let got = run.orders();
    let want = run.expected["orders_in_window"].as_object().unwrap();
    assert_eq!(
        got.keys().collect::<BTreeSet<_>>(),
        want.keys().collect::<BTreeSet<_>>()
    );
    let customers: BTreeSet<String> = run
        .people()
        .iter()
        .map(|p| p["customer_id"].as_str().unwrap().to_string())
        .collect();
    for (id, w) in want {
        let g = &got[id];
        for key in [
            "ordered_at",
            "status",
            "amount",
            "currency",
            "card_brand",
            "card_masked",
            "card_check",
            "card_source",
        ] {
            assert_eq!(g[key], w[key].as_str().unwrap(), "order {id}: {key}");
        }
        assert!(
            customers.contains(&g["customer_id"]),
            "order {id}: customer"
        );
        let source = w["source"].as_str().unwrap();
        if !CRLF_FILES.iter().any(|f| source.starts_with(f)) {
            assert_eq!(g["source"], source, "order {id}: source");
        }
    }
    for id in strings(&run.expected["orders_out_of_window"]) {
        assert!(!got.contains_key(&id), "out-of-window order {id} listed");
    }
}

/// `cd case && skimtrace affected -c incident.toml` reads the case like any other folder does.
#[test]
fn running_inside_the_case_folder_reads_each_file_once() {
    let run = run_vector_park();
    let out = run.case.join("out-inside");
    skimtrace()
        .current_dir(&run.case)
        .args(["affected", "--config", "incident.toml", "--out"])
        .arg(&out)
        .assert()
        .success();
    let s = read_json(&out.join("summary.json"));
    assert_eq!(s["rows_read"], run.expected["totals"]["rows_read"]);
    assert_eq!(s["rejected"], run.expected["totals"]["rejected"]);
    assert_eq!(
        s["files"].as_array().unwrap().len(),
        run.expected["files"].as_object().unwrap().len()
    );
}

/// Every source in orders.csv and rejected.csv names the physical line of its record.
#[test]
fn crlf_sources_name_the_physical_line() {
    let run = run_vector_park();
    let got = run.orders();
    for (id, w) in run.expected["orders_in_window"].as_object().unwrap() {
        assert_eq!(
            got[id]["source"],
            w["source"].as_str().unwrap(),
            "order {id}"
        );
    }
    let rejected: Vec<String> = read_csv_maps(&run.out.join("rejected.csv"))
        .into_iter()
        .map(|r| r["source"].clone())
        .collect();
    // The orders' rejected records, then the payment exports'.
    let want: Vec<String> = run.expected["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .chain(run.expected["payments"]["rejected"].as_array().unwrap())
        .map(|r| r["source"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(rejected, want);
}

#[test]
fn window_edges_local_and_utc() {
    let run = run_vector_park();
    let orders = run.orders();
    for (edge, at) in [
        ("ec_start_local", "2020-04-27T00:00:00+09:00"),
        ("ec_last_second_local", "2021-12-22T23:59:59+09:00"),
        ("sc_start_utc", "2020-04-27T00:00:00+09:00"),
        ("sc_last_second_utc", "2021-12-22T23:59:59+09:00"),
        ("sp_start_written_utc", "2020-04-27T00:00:00+09:00"),
        ("sc_last_nanosecond", "2021-12-22T23:59:59.999999999+09:00"),
    ] {
        let id = run.edge(edge);
        let o = orders
            .get(&id)
            .unwrap_or_else(|| panic!("{edge} ({id}) is inside the window"));
        assert_eq!(o["ordered_at"], at, "{edge} ({id})");
    }
    for edge in [
        "ec_before_start_local",
        "ec_after_end_local",
        "sc_before_start_utc",
        "sc_after_end_utc",
        "sc_just_before_start_fraction",
    ] {
        let id = run.edge(edge);
        assert!(
            !orders.contains_key(&id),
            "{edge} ({id}) is outside the window"
        );
        for p in run.people() {
            assert!(!strings(&p["order_ids"]).contains(&id), "{edge} ({id})");
        }
    }
}

#[test]
fn one_person_whatever_the_spelling_of_the_address() {
    let run = run_vector_park();
    let ids = [
        run.edge("ec_taro"),
        run.edge("ec_taro_work_address"),
        run.edge("sc_taro_spaces"),
        run.edge("sp_taro_fullwidth"),
    ];
    let p = run.person_with(&ids[0]);
    assert_eq!(
        sorted(strings(&p["order_ids"])),
        sorted(ids.to_vec()),
        "Taro@Example.COM, ' taro@example.com ', ｔａｒｏ@example.com and the same member id"
    );
    assert_eq!(
        sorted(strings(&p["emails"])),
        ["taro.work@example.jp", "taro@example.com"]
    );
    // The most recent in-window order (the Shopify one) gives the notification address.
    assert_eq!(p["email"], "taro@example.com");
    // An order outside the window neither joins nor adds its address.
    assert!(!strings(&p["order_ids"]).contains(&run.edge("ec_taro_out_of_window")));
}

#[test]
fn a_shared_card_is_flagged_on_both_people_and_does_not_merge_them() {
    let run = run_vector_park();
    let a = run.person_with(&run.edge("sc_shared_card_a"));
    let b = run.person_with(&run.edge("sc_shared_card_b"));
    assert_ne!(a["customer_id"], b["customer_id"]);
    for p in [&a, &b] {
        assert_eq!(card_displays(p), ["MASTERCARD ****4444 (shared)"]);
        assert_eq!(p["cards"][0]["shared"], true);
        assert_eq!(p["order_count"], 1);
    }
    assert_eq!(a["cards"][0]["fingerprint"], b["cards"][0]["fingerprint"]);
    let orders = run.orders();
    assert_eq!(
        orders[&run.edge("sc_shared_card_a")]["card_fingerprint"],
        orders[&run.edge("sc_shared_card_b")]["card_fingerprint"]
    );
}

#[test]
fn declined_and_cancelled_attempts_count_bank_transfers_do_not() {
    let run = run_vector_park();
    let orders = run.orders();
    let declined = &orders[&run.edge("sc_declined")];
    assert_eq!(declined["status"], "declined");
    assert_eq!(declined["card_brand"], "AMEX");
    assert!(orders.contains_key(&run.edge("ec_cancelled_card")));
    assert!(orders.contains_key(&run.edge("sp_voided_card")));
    assert!(orders.contains_key(&run.edge("ec_no_order_no")));
    assert_eq!(
        run.edge("ec_no_order_no"),
        "1012",
        "注文番号 empty: 注文ID is the id"
    );
    assert!(orders.contains_key(&run.edge("sc_no_method_but_card")));
    for edge in [
        "ec_bank_transfer_in_window",
        "ec_cod_in_window",
        "sc_bank_transfer_in_window",
        "sp_manual_in_window",
    ] {
        let id = run.edge(edge);
        assert!(
            !orders.contains_key(&id),
            "{edge} ({id}) is not a card order"
        );
    }
}

#[test]
fn masked_only_and_luhn_invalid_cards() {
    let run = run_vector_park();
    let orders = run.orders();
    for (edge, masked, brand) in [
        ("sc_masked_bin_last4", "411111******1111", "VISA"),
        ("sc_masked_stars_no_brand", "************4444", "UNKNOWN"),
        ("sc_masked_x_amex", "************0005", "AMEX"),
    ] {
        let o = &orders[&run.edge(edge)];
        assert_eq!(o["card_check"], "masked", "{edge}");
        assert_eq!(o["card_masked"], masked, "{edge}");
        assert_eq!(o["card_brand"], brand, "{edge}");
        assert_eq!(
            o["card_fingerprint"], "",
            "{edge}: no fingerprint without a number"
        );
    }
    assert_eq!(
        card_displays(&run.person_with(&run.edge("sc_masked_stars_no_brand"))),
        ["CARD ****4444"]
    );
    let bad = &orders[&run.edge("sc_luhn_invalid")];
    assert_eq!(bad["card_check"], "invalid");
    assert_eq!(bad["card_masked"], "411111******1112");
    let p = run.person_with(&run.edge("sc_luhn_invalid"));
    assert_eq!(p["cards"][0]["check"], "invalid");
    assert_eq!(card_displays(&p), ["VISA ****1112"]);
    assert_eq!(
        orders[&run.edge("sc_19_digits")]["card_masked"],
        "620550*********0004"
    );
}

#[test]
fn rejected_records_name_file_line_and_reason() {
    let run = run_vector_park();
    // The order exports' rejected records (the payment exports' are checked in payments.rs).
    let rejected: Vec<_> = read_csv_maps(&run.out.join("rejected.csv"))
        .into_iter()
        .filter(|r| r["source"].starts_with("orders/"))
        .collect();
    let want = run.expected["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), want.len());
    for (g, w) in rejected.iter().zip(want) {
        let source = w["source"].as_str().unwrap();
        let (file, _) = source.rsplit_once(':').unwrap();
        assert!(g["source"].starts_with(&format!("{file}:")), "{g:?}");
        if !CRLF_FILES.contains(&file) {
            assert_eq!(g["source"], source);
        }
        match w["reason"].as_str().unwrap() {
            "order time" => assert!(g["reason"].contains("order time"), "{g:?}"),
            "field count" => assert!(
                g["reason"].contains("expected 16 fields, found 17"),
                "{g:?}"
            ),
            other => panic!("unknown reason {other}"),
        }
    }
    let ec_bad: Vec<_> = rejected
        .iter()
        .filter(|r| r["record"].contains(&run.edge("ec_bad_date")))
        .collect();
    assert!(!ec_bad.is_empty());
    for r in ec_bad {
        assert!(r["reason"].contains("2021-02-30 12:00:00"), "{r:?}");
    }
    let sc_bad = rejected
        .iter()
        .find(|r| r["record"].starts_with(&run.edge("sc_bad_date")))
        .expect("the bad date of the card module is rejected");
    assert!(sc_bad["reason"].contains("2021-13-01"), "{sc_bad:?}");
    // The card cell is masked, the security code removed, free text masked.
    assert!(sc_bad["record"].contains("510510******5100"), "{sc_bad:?}");
    assert!(
        sc_bad["record"].contains("[security code removed]"),
        "{sc_bad:?}"
    );
    assert!(
        sc_bad["record"].contains("4012-88**-****-1881"),
        "{sc_bad:?}"
    );
    let wrong = rejected
        .iter()
        .find(|r| r["record"].starts_with(&run.edge("sc_wrong_field_count")))
        .expect("the record with a wrong field count is rejected");
    assert!(wrong["record"].contains("305693******0004"), "{wrong:?}");
}

#[test]
fn a_formula_name_is_neutralised_in_csv_and_intact_in_jsonl() {
    let run = run_vector_park();
    let name = r#"=HYPERLINK("https://example.com/","CLICK")"#;
    let p = run.person_with(&run.edge("sc_formula_name"));
    assert_eq!(p["name"], name);
    let csv = read_csv_maps(&run.out.join("affected.csv"));
    let row = csv
        .iter()
        .find(|r| r["customer_id"] == p["customer_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(row["name"], format!("'{name}"));
    // No cell of any CSV output starts with a formula character.
    for f in ["affected.csv", "orders.csv", "rejected.csv"] {
        for rec in read_csv(&run.out.join(f)) {
            for cell in rec {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{f}: {cell:?}"
                );
            }
        }
    }
}

#[test]
fn card_numbers_in_free_text_are_counted_and_masked() {
    let run = run_vector_park();
    let s = run.summary();
    for f in s["files"].as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        assert_eq!(
            f["card_numbers_in_text"], run.expected["files"][path]["card_numbers_in_text"],
            "{path}"
        );
    }
    let warnings: Vec<String> = strings(&s["warnings"]);
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("orders/shop-cards.csv") && w.contains("card number(s) found")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("security codes") && w.contains("CVV")),
        "{warnings:?}"
    );
    let sc = s["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "orders/shop-cards.csv")
        .unwrap();
    assert_eq!(strings(&sc["security_code_columns"]), ["CVV (column 8)"]);
}

/// Every output file, scanned for full card numbers and for the input's security codes.
fn assert_no_card_data(out: &Path, security_codes: &[String]) {
    for entry in std::fs::read_dir(out).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let pans = luhn_runs(&text);
        assert!(
            pans.is_empty(),
            "{}: {} Luhn-valid card number(s)",
            path.display(),
            pans.len()
        );
        let tokens: BTreeSet<&str> = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|t| !t.is_empty())
            .collect();
        for code in security_codes {
            assert!(
                !tokens.contains(code.as_str()),
                "{}: holds the security code {code}",
                path.display()
            );
        }
    }
}

#[test]
fn no_output_holds_a_full_card_number_or_a_security_code() {
    let run = run_vector_park();
    let codes = strings(&run.expected["security_codes"]);
    assert!(codes.len() > 10);
    // The scan itself finds what it must.
    assert_eq!(
        luhn_runs("x 4111 1111 1111 1111 12/25"),
        ["4111111111111111"]
    );
    assert!(luhn_runs("4111 1111 1111 1112").is_empty());
    assert_no_card_data(&run.out, &codes);
    // And the inputs did hold them (the check is not vacuous).
    let input = std::fs::read_to_string(run.case.join("orders/shop-cards.csv")).unwrap();
    assert!(!luhn_runs(&input).is_empty());
    assert!(input.contains(&format!(",{},", codes[0])));
}

/// A card number written with its expiry after it (`4111 1111 1111 1111 12/25`, as people type
/// it into a memo) is masked in rejected.csv like any other.
#[test]
fn a_card_number_followed_by_its_expiry_is_masked_in_rejected_csv() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("memo.csv"),
        "Order ID,Ordered At,Email,Payment Method,Notes\n\
         M-1,not a date,memo@example.jp,Credit Card,card 4111 1111 1111 1111 12/25\n",
    )
    .unwrap();
    skimtrace()
        .current_dir(dir.path())
        .args([
            "affected",
            "-q",
            "--orders",
            "memo.csv",
            "--window",
            "2020-04-27..2021-12-22",
        ])
        .args(["--tz", "Asia/Tokyo", "--out", "out"])
        .assert()
        .success();
    let rejected = read_csv_maps(&dir.path().join("out/rejected.csv"));
    assert_eq!(rejected.len(), 1);
    assert_no_card_data(&dir.path().join("out"), &[]);
}

#[test]
fn two_runs_with_the_same_key_are_byte_identical() {
    let a = run_vector_park();
    let b = run_vector_park();
    for f in [
        "affected.csv",
        "affected.jsonl",
        "orders.csv",
        "rejected.csv",
        "summary.json",
        "payments.csv",
        "payments_unmatched.csv",
    ] {
        let (x, y) = (
            std::fs::read(a.out.join(f)).unwrap(),
            std::fs::read(b.out.join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs between two runs");
    }
}

#[test]
fn login_ids_link_people_and_contact_says_how_to_reach_them() {
    let run = run_vector_park();
    let p = run.person_with(&run.edge("sc_login_link_with_email"));
    assert_eq!(
        sorted(strings(&p["order_ids"])),
        sorted(vec![
            run.edge("sc_login_link_with_email"),
            run.edge("sc_login_link_login_only")
        ])
    );
    assert_eq!(strings(&p["emails"]), ["k.ito.demo@example.jp"]);
    assert_eq!(strings(&p["login_ids"]), ["vp-kito"]);
    assert_eq!(p["contact"], "email");
    let login_only = run.person_with(&run.edge("sc_login_only_person"));
    assert_eq!(login_only["contact"], "login");
    assert_eq!(login_only["email"], Value::Null);
    let nobody = run.person_with(&run.edge("sc_no_contact"));
    assert_eq!(nobody["contact"], "none");
    assert_eq!(strings(&nobody["emails"]), Vec::<String>::new());
    assert_eq!(run.summary()["customers_without_contact"], 1);
}

#[test]
fn naive_times_without_a_zone_are_a_usage_error_naming_file_line_and_tz() {
    let run = run_vector_park();
    let line = run.expected["files"]["orders/ec-cube4.csv"]["first_card_line"]
        .as_u64()
        .unwrap();
    let out = skimtrace()
        .current_dir(&run.case)
        .args([
            "affected",
            "--orders",
            "orders/ec-cube4.csv",
            "--window",
            "2020-04-27T00:00:00+09:00..2021-12-23T00:00:00+09:00",
            "--out",
        ])
        .arg(run.case.join("naive-out"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("orders/ec-cube4.csv:{line}")),
        "{err}"
    );
    assert!(err.contains("--tz"), "{err}");
}

#[test]
fn an_unknown_layout_is_a_usage_error_listing_the_headers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("odd.csv"),
        "Kunde,Zeitpunkt,Betrag\nA,2021-01-01,1\n",
    )
    .unwrap();
    let out = skimtrace()
        .current_dir(dir.path())
        .args([
            "affected",
            "--orders",
            "odd.csv",
            "--window",
            "2020-04-27..2021-12-22",
            "--tz",
            "Asia/Tokyo",
            "--out",
            "out",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for h in ["\"Kunde\"", "\"Zeitpunkt\"", "\"Betrag\"", "odd.csv"] {
        assert!(err.contains(h), "{h} in {err}");
    }
}

#[test]
fn a_non_empty_output_folder_needs_force() {
    let run = run_vector_park();
    let again = |force: bool| {
        let mut c = skimtrace();
        c.current_dir(run.case.parent().unwrap())
            .args(["affected", "--config", "vector-park/incident.toml", "--out"])
            .arg(&run.out);
        if force {
            c.arg("--force");
        }
        c.output().unwrap()
    };
    let out = again(false);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(again(true).status.code(), Some(0));
}

/// The committed case is what its generator writes (the oracle and the data cannot drift apart).
#[test]
fn the_generator_reproduces_the_committed_case() {
    let Ok(status) = std::process::Command::new("python3")
        .arg("--version")
        .output()
    else {
        return crate::util::missing("python3 is not installed (the generator check)");
    };
    assert!(status.status.success());
    let dir = tempfile::tempdir().unwrap();
    let case = root().join("fixtures/vector-park");
    let out = std::process::Command::new("python3")
        .arg(case.join("generate.py"))
        .arg("--out")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "orders/ec-cube4.csv",
        "orders/shop-cards.csv",
        "orders/shopify.csv",
        "payments/stripe.csv",
        "payments/stripe-legacy.csv",
        "payments/gmo-pg.csv",
        "expected.json",
    ] {
        let (a, b) = (
            std::fs::read(case.join(f)).unwrap(),
            std::fs::read(dir.path().join(f)).unwrap(),
        );
        assert!(
            a == b,
            "{f}: the committed file is not what generate.py writes"
        );
    }
    assert_eq!(
        std::fs::read(root().join("fixtures/test-pans.txt")).unwrap(),
        std::fs::read(dir.path().join("test-pans.txt")).unwrap()
    );
}
