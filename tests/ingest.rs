//! How order exports are read as a whole (issue 14): one order id in two files, the encoding of
//! a file decided on all of it, and a quote that never closes. Each test writes its exports,
//! runs the real binary and checks summary.json, orders.csv, affected.csv and rejected.csv.

use crate::util::{read_csv_maps, read_json, skimtrace};
use serde_json::Value;
use std::path::Path;

const HEADER: &str = "Order ID,Ordered At,Email,Name,Payment Method,Card Number";

/// `affected` over `files` (in `dir`) into `dir/out`; must exit 0. Returns the summary after
/// checking that the counts reconcile, per file and in total, and match rejected.csv.
fn affected(dir: &Path, files: &[&str]) -> Value {
    let out = dir.join("out");
    let _ = std::fs::remove_dir_all(&out);
    let o = skimtrace()
        .current_dir(dir)
        .args(["affected", "-q", "--orders"])
        .args(files)
        .args(["--window", "2020-04-27..2021-12-22", "--tz", "Asia/Tokyo"])
        .args(["--out", "out"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let s = read_json(&out.join("summary.json"));
    let sum = |v: &Value| {
        ["in_window", "out_of_window", "not_card", "rejected"]
            .iter()
            .map(|k| v[k].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(s["rows_read"].as_u64().unwrap(), sum(&s), "{s}");
    for f in s["files"].as_array().unwrap() {
        assert_eq!(f["rows_read"].as_u64().unwrap(), sum(f), "{f}");
    }
    let rejected = read_csv_maps(&out.join("rejected.csv"));
    assert_eq!(rejected.len() as u64, s["rejected"].as_u64().unwrap());
    s
}

fn file<'s>(s: &'s Value, path: &str) -> &'s Value {
    s["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} in {s}"))
}

fn warnings(s: &Value) -> Vec<String> {
    s["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

/// The case: bank transfers of 2019 in one export and in-window card orders of other
/// customers under the same ids in another. Before, the first file's records decided the
/// orders of the second ("not card"), and 2 of 3 customers vanished behind a vague count.
#[test]
fn one_order_id_in_two_files_is_one_order_only_when_the_records_agree() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("old.csv"),
        format!(
            "{HEADER}\n\
             1001,2019-05-01 10:00,old1@example.jp,Old One,Bank Transfer,\n\
             1002,2019-05-02 10:00,old2@example.jp,Old Two,Bank Transfer,\n\
             1004,2021-03-01 09:00,dup@example.jp,Re Export,Credit Card,4012888888881881\n"
        ),
    )
    .unwrap();
    // 1001 has two line-item records: both belong to this file's 1001. 1004 is the same order
    // as in old.csv (a re-export: same person, same instant, card): one order.
    std::fs::write(
        d.path().join("new.csv"),
        format!(
            "{HEADER}\n\
             1001,2021-01-05 10:00,a@example.jp,Aoki,Credit Card,4111111111111111\n\
             1001,2021-01-05 10:00,a@example.jp,Aoki,Credit Card,4111111111111111\n\
             1002,2021-01-06 10:00,b@example.jp,Baba,Credit Card,5555555555554444\n\
             1003,2021-01-07 10:00,c@example.jp,Chiba,Credit Card,378282246310005\n\
             1004,2021-03-01 09:00:00,DUP@example.jp,Re Export,Credit Card,4012888888881881\n"
        ),
    )
    .unwrap();
    for order in [["old.csv", "new.csv"], ["new.csv", "old.csv"]] {
        let s = affected(d.path(), &order);
        assert_eq!(s["customers_affected"], 4, "{order:?}: {s}");
        assert_eq!(s["orders_in_window"], 4, "{order:?}");
        let old = file(&s, "old.csv");
        assert_eq!(old["not_card"], 2, "{order:?}: {old}");
        assert_eq!(old["in_window"], 1, "{order:?}: {old}");
        let new = file(&s, "new.csv");
        assert_eq!(new["in_window"], 5, "{order:?}: {new}");
        // The collisions, with both file:lines, in reading order.
        let (first, later) = if order[0] == "old.csv" {
            ("old.csv", "new.csv")
        } else {
            ("new.csv", "old.csv")
        };
        let c = s["order_id_collisions"].as_array().unwrap();
        let got: Vec<(String, String, String)> = c
            .iter()
            .map(|c| {
                (
                    c["order_id"].as_str().unwrap().to_string(),
                    c["first"].as_str().unwrap().to_string(),
                    c["other"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let line = |f: &str, id: &str| {
            match (f, id) {
                ("old.csv", "1001") => "old.csv:2",
                ("old.csv", "1002") => "old.csv:3",
                ("new.csv", "1001") => "new.csv:2",
                ("new.csv", "1002") => "new.csv:4",
                _ => unreachable!(),
            }
            .to_string()
        };
        let want: Vec<(String, String, String)> = ["1001", "1002"]
            .iter()
            .map(|id| (id.to_string(), line(first, id), line(later, id)))
            .collect();
        assert_eq!(got, want, "{order:?}");
        assert_eq!(s["order_id_collisions_total"], 2);
        for (id, a, b) in &want {
            assert!(
                warnings(&s)
                    .iter()
                    .any(|w| w.contains(&format!("order id {id:?}"))
                        && w.contains(a.as_str())
                        && w.contains(b.as_str())),
                "{:?}",
                warnings(&s)
            );
        }
        // orders.csv: each in-window card order once, the re-exported one once, ids as written.
        let orders = read_csv_maps(&d.path().join("out/orders.csv"));
        let mut ids: Vec<&str> = orders.iter().map(|o| o["order_id"].as_str()).collect();
        ids.sort();
        assert_eq!(ids, ["1001", "1002", "1003", "1004"], "{order:?}");
        let o1001 = orders.iter().find(|o| o["order_id"] == "1001").unwrap();
        assert_eq!(o1001["source"], "new.csv:2");
        let people = read_csv_maps(&d.path().join("out/affected.csv"));
        let mut emails: Vec<&str> = people.iter().map(|p| p["email"].as_str()).collect();
        emails.sort();
        assert_eq!(
            emails,
            [
                "a@example.jp",
                "b@example.jp",
                "c@example.jp",
                "dup@example.jp"
            ]
        );
    }
}

/// A CP932 export whose first records are ASCII is read as UTF-8 until its first Japanese
/// record, then read again as Shift_JIS: what its first reading joined and collided with is
/// undone, so the collision is listed once and every order is kept.
#[test]
fn a_file_read_again_in_another_encoding_joins_and_collides_once() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("a.csv"),
        format!(
            "{HEADER}\n\
             1001,2021-01-05 10:00,a@example.jp,Aoki,Credit Card,4111111111111111\n\
             1002,2019-05-01 10:00,old@example.jp,Old,Bank Transfer,\n"
        ),
    )
    .unwrap();
    // Enough ASCII records that a batch of them is visited before the first Japanese one.
    let mut b = format!(
        "{HEADER}\n\
         1001,2021-01-05 10:00,a@example.jp,Aoki,Credit Card,4111111111111111\n\
         1002,2021-01-06 10:00,b@example.jp,Baba,Credit Card,5555555555554444\n"
    );
    for i in 0..3000 {
        b.push_str(&format!(
            "{},2019-01-01 10:00,f{i}@example.jp,F,Bank Transfer,\n",
            5000 + i
        ));
    }
    b.push_str("1003,2021-01-07 10:00,c@example.jp,千葉,クレジットカード,378282246310005\n");
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&b);
    std::fs::write(d.path().join("b.csv"), &sjis).unwrap();
    let s = affected(d.path(), &["a.csv", "b.csv"]);
    assert_eq!(file(&s, "b.csv")["encoding"], "Shift_JIS");
    assert_eq!(s["customers_affected"], 3, "{s}");
    assert_eq!(s["orders_in_window"], 3, "{s}");
    assert_eq!(file(&s, "b.csv")["orders_in_window"], 2, "{s}");
    assert_eq!(s["order_id_collisions_total"], 1, "{s}");
    assert_eq!(s["order_id_collisions"][0]["first"], "a.csv:3");
    assert_eq!(s["order_id_collisions"][0]["other"], "b.csv:3");
    assert_eq!(
        s["order_id_collisions"][0]["differs"],
        serde_json::json!(["customer", "payment_method", "time"])
    );
    assert_eq!(s["record_disagreements"], 0);
    let people = read_csv_maps(&d.path().join("out/affected.csv"));
    assert!(people.iter().any(|p| p["name"] == "千葉"), "{people:?}");
}

/// 1,000 orders in UTF-8, paid by `クレジットカード`; the last record's name is cut inside a
/// character. Before, the file was read again as CP932: every order "not card", 0 affected.
#[test]
fn a_truncated_character_in_a_utf8_export_is_one_warned_line_not_a_cp932_file() {
    let d = tempfile::tempdir().unwrap();
    let mut body = format!("{HEADER}\n").into_bytes();
    for i in 0..1000 {
        body.extend_from_slice(
            format!(
                "J{i:04},2021-01-{:02} 10:00,u{i}@example.jp,山田{i},クレジットカード,4111111111111111\n",
                1 + i % 28
            )
            .as_bytes(),
        );
    }
    // The last name ends inside 太 (three bytes in UTF-8).
    let at = body.len() - ",クレジットカード,4111111111111111\n".len();
    body.splice(at..at, "太".as_bytes()[..2].iter().copied());
    std::fs::write(d.path().join("o.csv"), &body).unwrap();
    let s = affected(d.path(), &["o.csv"]);
    let f = file(&s, "o.csv");
    assert_eq!(f["encoding"], "UTF-8", "{f}");
    assert_eq!(f["encoding_invalid_lines"], 1, "{f}");
    assert!(
        f["encoding_reason"]
            .as_str()
            .unwrap()
            .contains("999 lines with non-ASCII text are valid UTF-8, 1 not"),
        "{f}"
    );
    assert_eq!(s["in_window"], 1000, "{s}");
    assert_eq!(s["customers_affected"], 1000);
    let w: Vec<String> = warnings(&s)
        .into_iter()
        .filter(|w| w.contains("not valid UTF-8"))
        .collect();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("o.csv: 1 line(s)"), "{w:?}");
    assert!(w[0].contains("line 1001"), "{w:?}");

    // The same orders written by a CP932 shop (real Shift_JIS bytes): still recognised, and a
    // damaged line in it is named the same way.
    let text = String::from_utf8_lossy(&body).replace('\u{fffd}', "");
    let (mut sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(!unmappable);
    let sjis = sjis.to_mut();
    let at = sjis.len() / 2;
    let at = at + sjis[at..].iter().position(|&b| b == b'\n').unwrap() + 1;
    sjis.insert(at, 0xff);
    std::fs::write(d.path().join("sjis.csv"), &sjis).unwrap();
    let s = affected(d.path(), &["sjis.csv"]);
    let f = file(&s, "sjis.csv");
    assert_eq!(f["encoding"], "Shift_JIS", "{f}");
    assert_eq!(f["encoding_invalid_lines"], 1, "{f}");
    assert_eq!(s["in_window"], 1000, "{s}");
    let line = 1 + sjis[..at].iter().filter(|&&b| b == b'\n').count();
    assert!(
        warnings(&s)
            .iter()
            .any(|w| w.contains("not valid Shift_JIS") && w.contains(&format!("line {line}"))),
        "{:?}",
        warnings(&s)
    );
}

fn rows(n: usize, mut each: impl FnMut(usize) -> String) -> String {
    let mut body = format!("{HEADER}\n");
    for i in 0..n {
        body.push_str(&each(i));
    }
    body
}

fn order(i: usize, name: &str) -> String {
    format!(
        "Q{i:04},2021-02-{:02} 10:00,q{i}@example.jp,{name},Credit Card,4111111111111111\n",
        1 + i % 28
    )
}

/// One name that opens a quote and never closes it. Before: the rest of the file was one
/// rejected record (950 orders read); now the line alone is rejected and reading goes on.
#[test]
fn a_quote_that_never_closes_rejects_its_line_and_reading_goes_on() {
    let d = tempfile::tempdir().unwrap();
    let body = rows(1000, |i| {
        if i == 949 {
            order(i, "\"Sato")
        } else {
            order(i, &format!("Name {i}"))
        }
    });
    std::fs::write(d.path().join("o.csv"), body).unwrap();
    let s = affected(d.path(), &["o.csv"]);
    assert_eq!(s["rows_read"], 1000, "{s}");
    assert_eq!(s["in_window"], 999, "{s}");
    assert_eq!(s["rejected"], 1);
    assert_eq!(s["customers_affected"], 999);
    let r = read_csv_maps(&d.path().join("out/rejected.csv"));
    assert_eq!(r[0]["source"], "o.csv:951");
    assert!(r[0]["reason"].contains("never closes"), "{r:?}");
    assert!(r[0]["record"].starts_with("Q0949,"), "{r:?}");
    assert!(!r[0]["record"].contains("Q0950"), "{r:?}");
}

/// A quote opened in the last column and closed 200 lines further down makes a record of the
/// right width: only the bound (100 lines) tells it from an order. A quote closed by the next
/// quoted field a few lines down makes a record of the wrong width over several lines: its
/// first line is rejected and the lines it swallowed are read.
#[test]
fn a_runaway_quote_is_cut_at_the_bound_or_by_its_width() {
    let d = tempfile::tempdir().unwrap();
    let header = "Order ID,Ordered At,Email,Payment Method,Card Number,Name";
    let line = |i: usize, name: &str| {
        format!(
            "R{i:04},2021-03-{:02} 10:00,r{i}@example.jp,Credit Card,4111111111111111,{name}\n",
            1 + i % 28
        )
    };
    let mut body = format!("{header}\n");
    for i in 0..1000 {
        body.push_str(&match i {
            9 => line(i, "\"Sato"),
            209 => line(i, "Suzuki\""),
            500 => line(i, "\"Tanaka"),
            504 => line(i, "\"Ito, Jiro\""),
            _ => line(i, &format!("Name {i}")),
        });
    }
    std::fs::write(d.path().join("o.csv"), body).unwrap();
    let s = affected(d.path(), &["o.csv"]);
    assert_eq!(s["rows_read"], 1000, "{s}");
    assert_eq!(s["rejected"], 2, "{s}");
    assert_eq!(s["in_window"], 998, "{s}");
    let r = read_csv_maps(&d.path().join("out/rejected.csv"));
    let sources: Vec<&str> = r.iter().map(|r| r["source"].as_str()).collect();
    assert_eq!(sources, ["o.csv:11", "o.csv:502"]);
    assert!(r[0]["reason"].contains("100 lines"), "{r:?}");
    assert!(r[1]["reason"].contains("unterminated quote"), "{r:?}");
    let people = read_csv_maps(&d.path().join("out/affected.csv"));
    let names: Vec<&str> = people.iter().map(|p| p["name"].as_str()).collect();
    assert!(names.contains(&"Suzuki\""), "{names:?}");
    assert!(names.contains(&"Ito, Jiro"), "{names:?}");
}

/// Two stray quotes in the last column ten rows apart make one record of the right width over
/// eleven lines, inside every bound: the rows between them were read as one customer's name and
/// lost, with counts that still reconciled. Each row between them is a record by itself, so
/// the first line is rejected and every other row is read and counted.
#[test]
fn two_stray_quotes_ten_rows_apart_lose_no_row() {
    let d = tempfile::tempdir().unwrap();
    let s = stray_quotes(d.path(), 10);
    assert_eq!(s["rows_read"], 100, "{s}");
    assert_eq!(s["rejected"], 1, "{s}");
    assert_eq!(s["in_window"], 99, "{s}");
    let r = read_csv_maps(&d.path().join("out/rejected.csv"));
    assert_eq!(r[0]["source"], "o.csv:22");
    assert!(r[0]["reason"].contains("line 2 of them"), "{r:?}");
    let orders = read_csv_maps(&d.path().join("out/orders.csv"));
    let ids: Vec<&str> = orders.iter().map(|o| o["order_id"].as_str()).collect();
    assert!(ids.contains(&"S0021") && ids.contains(&"S0030"), "{ids:?}");
}

/// [`two_stray_quotes_ten_rows_apart_lose_no_row`]'s file with the closing quote `apart` rows
/// after the opening one.
fn stray_quotes(dir: &Path, apart: usize) -> Value {
    let header = "Order ID,Ordered At,Email,Payment Method,Card Number,Name";
    let mut body = format!("{header}\n");
    for i in 0..100 {
        let name = match i {
            20 => "\"Sato".to_string(),
            i if i == 20 + apart => "Suzuki\"".to_string(),
            _ => format!("Name {i}"),
        };
        body.push_str(&format!(
            "S{i:04},2021-03-{:02} 10:00,s{i}@example.jp,Credit Card,4111111111111111,{name}\n",
            1 + i % 28
        ));
    }
    std::fs::write(dir.join("o.csv"), body).unwrap();
    affected(dir, &["o.csv"])
}

/// Two stray quotes on adjacent lines merge two rows into one record of the right width, just
/// as an address over two lines in the last column, whose second line holds as many commas as
/// the file has columns less one, makes one: kept as one record, but no longer silently: the
/// file's warnings name the line. A row apart, the row between makes them rows: the first line
/// is rejected and every other row read.
#[test]
fn two_stray_quotes_on_adjacent_lines_are_warned_about() {
    let d = tempfile::tempdir().unwrap();
    let s = stray_quotes(d.path(), 1);
    assert_eq!(s["rows_read"], 99, "{s}");
    assert_eq!(s["rejected"], 0, "{s}");
    let warned = s["files"][0]["warnings"].to_string();
    assert!(
        warned.contains("line 22: a quoted field runs over two lines"),
        "{warned}"
    );
    assert!(s["warnings"].to_string().contains("line 22"), "{s}");
    let s = stray_quotes(d.path(), 2);
    assert_eq!(s["rows_read"], 100, "{s}");
    assert_eq!(s["rejected"], 1, "{s}");
    assert_eq!(s["in_window"], 99, "{s}");
    let r = read_csv_maps(&d.path().join("out/rejected.csv"));
    assert_eq!(r[0]["source"], "o.csv:22");
    assert!(
        !s["files"][0]["warnings"].to_string().contains("stray"),
        "{s}"
    );
}

/// Every order of a file with a payment-method column is in `payment_methods`, an empty cell
/// too (it was counted not card, or card by its card cell, and listed nowhere): the tally adds
/// up to the orders.
#[test]
fn empty_payment_method_cells_are_tallied() {
    let d = tempfile::tempdir().unwrap();
    let mut body = "Order ID,Ordered At,Email,Payment Method,Card Number,Name\n".to_string();
    for (i, (method, card)) in [
        ("Credit Card", "4111111111111111"),
        ("", "4111111111111111"),
        ("", ""),
        ("  ", ""),
        ("Bank Transfer", ""),
    ]
    .iter()
    .enumerate()
    {
        body.push_str(&format!(
            "E{i},2021-03-01 10:00,e{i}@example.jp,{method},{card},N\n"
        ));
    }
    std::fs::write(d.path().join("o.csv"), body).unwrap();
    let s = affected(d.path(), &["o.csv"]);
    assert_eq!(
        (&s["in_window"], &s["not_card"]),
        (&2.into(), &3.into()),
        "{s}"
    );
    let m = &s["payment_methods"];
    assert_eq!(m["(empty)"]["rows"], 2, "{m}");
    assert_eq!(m["(empty)"]["class"], "not_card", "{m}");
    assert_eq!(m["(empty, card number given)"]["rows"], 1, "{m}");
    assert_eq!(m["(empty, card number given)"]["class"], "card", "{m}");
    let rows: u64 = m
        .as_object()
        .unwrap()
        .values()
        .map(|t| t["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(rows, 5, "{m}");
}

/// A header whose quote never closes would swallow the file into one header of garbage names:
/// an error naming the file and line 1 instead.
#[test]
fn a_header_with_a_quote_that_never_closes_is_an_error_naming_its_line() {
    let d = tempfile::tempdir().unwrap();
    let body = rows(5, |i| order(i, "Name")).replacen("Ordered At", "\"Ordered At", 1);
    std::fs::write(d.path().join("o.csv"), body).unwrap();
    let o = skimtrace()
        .current_dir(d.path())
        .args(["affected", "-q", "--orders", "o.csv"])
        .args(["--window", "2020-04-27..2021-12-22", "--tz", "Asia/Tokyo"])
        .args(["--out", "out"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("o.csv:1: the header row cannot be read") && err.contains("never closes"),
        "{err}"
    );
}

/// An empty folder among the inputs (the wrong folder, an export not unpacked yet) is said on
/// stderr, not passed over; a pipe (`<(command)`) is refused with what to do, since every input
/// is read again for its digest.
#[test]
fn an_empty_input_folder_is_warned_about_and_a_pipe_refused() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("later")).unwrap();
    std::fs::write(
        d.path().join("o.csv"),
        "Order ID,Ordered At,Email,Payment Method,Card Number,Name\n\
         W1,2021-03-01 10:00,w@example.jp,Credit Card,4111111111111111,N\n",
    )
    .unwrap();
    let run = |inputs: &[&str]| {
        skimtrace()
            .current_dir(d.path())
            .args(["affected", "--orders"])
            .args(inputs)
            .args(["--window", "2020-04-27..2021-12-22", "--tz", "Asia/Tokyo"])
            .args(["--out", "out", "--force"])
            .env(
                "SKIMTRACE_FINGERPRINT_KEY",
                "test-key-0123456789abcdef0123456789",
            )
            .output()
            .unwrap()
    };
    let o = run(&["o.csv", "later"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("--orders: the folder") && err.contains("later holds no file to read"),
        "{err}"
    );
    let made = std::process::Command::new("mkfifo")
        .arg(d.path().join("pipe"))
        .status()
        .unwrap();
    assert!(made.success());
    let o = run(&["pipe"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("is not a regular file (a pipe"), "{err}");
}

/// What a folder given as an input holds but cannot be read (a link to an export moved away, a
/// pipe) is named in the warnings, on stderr and in summary.json, beside the files it does read;
/// so is a folder with nothing to read.
#[cfg(unix)]
#[test]
fn what_a_folder_holds_but_cannot_be_read_is_named() {
    let d = tempfile::tempdir().unwrap();
    let exports = d.path().join("exports");
    std::fs::create_dir(&exports).unwrap();
    std::fs::create_dir(d.path().join("empty")).unwrap();
    std::fs::write(
        exports.join("a.csv"),
        "Order ID,Ordered At,Email,Payment Method,Name\n\
         W1,2021-03-01 10:00,w@example.jp,Credit Card,N\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(d.path().join("moved-away.csv"), exports.join("b.csv")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(exports.join("c.csv"))
        .status()
        .unwrap();
    assert!(made.success());
    // The folder named, then a pattern over it.
    for orders in [["exports", "empty"], ["exports/*.csv", "empty"]] {
        let o = crate::util::affected_in(d.path(), &["--orders", orders[0], orders[1]]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{err}");
        let s = read_json(&d.path().join("out/summary.json"));
        assert_eq!(s["rows_read"], 1, "{s}");
        let warnings: Vec<&str> = s["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        for (name, kind) in [
            ("b.csv", "a link to nothing"),
            ("c.csv", "a pipe"),
            ("empty", "holds no file to read"),
        ] {
            let said = |w: &str| w.contains(name) && w.contains(kind);
            assert!(
                warnings.iter().any(|w| said(w)),
                "{orders:?} {name}: {warnings:?}"
            );
            assert!(err.lines().any(said), "{orders:?} {name}: {err}");
        }
    }
}

/// Two orders under one id, from two exports that disagree on them (another time), neither with
/// an e-mail or a login id: kept apart as two orders, they are two people for postal follow-up,
/// each under a customer id of its own (the id is made from the order id they share).
#[test]
fn two_orders_under_one_id_without_contact_are_two_customer_ids() {
    let d = tempfile::tempdir().unwrap();
    let head = "Order ID,Ordered At,Email,Payment Method,Name\n";
    std::fs::write(
        d.path().join("shop-a.csv"),
        format!("{head}1001,2021-03-01 10:00,,Credit Card,Sato\n"),
    )
    .unwrap();
    std::fs::write(
        d.path().join("shop-b.csv"),
        format!("{head}1001,2021-07-09 18:30,,Credit Card,Suzuki\n"),
    )
    .unwrap();
    let o = crate::util::affected_in(d.path(), &["-q", "--orders", "shop-a.csv", "shop-b.csv"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let people = read_csv_maps(&d.path().join("out/affected.csv"));
    let mut names: Vec<&str> = people.iter().map(|p| p["name"].as_str()).collect();
    names.sort();
    assert_eq!(names, ["Sato", "Suzuki"], "{people:?}");
    assert_ne!(
        people[0]["customer_id"], people[1]["customer_id"],
        "{people:?}"
    );
    let s = read_json(&d.path().join("out/summary.json"));
    assert_eq!(s["customers_affected"], 2, "{s}");
}
