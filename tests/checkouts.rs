//! `affected --logs`: checkout submissions in the access logs that no order matches join the
//! affected set (issue 3, item 5).

use crate::util::{read_csv, skimtrace};
use std::fs;

const LOG_FORMAT: &str =
    r#"%a %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D %{PHPSESSID}C"#;

fn case(dir: &std::path::Path) {
    fs::write(
        dir.join("orders.csv"),
        "Order ID,Order Date,Email,Login ID,Session ID,Payment Method,Card Number,Status,Total\n\
         1001,2020-05-10 10:02:30,taro@example.com,taro,sess-a1,credit_card,4111111111111111,paid,3000\n\
         1002,2020-05-11 09:00:00,jiro@example.com,jiro,sess-j9,credit_card,5555555555554444,paid,5000\n",
    )
    .unwrap();
    fs::write(
        dir.join("access.log"),
        "192.0.2.50 - taro [10/May/2020:10:02:00 +0900] \"POST /shopping/confirm HTTP/1.1\" 302 0 \"-\" \"Mozilla/5.0\" 90211 sess-a1\n\
         192.0.2.51 - hanako [10/May/2020:11:00:00 +0900] \"POST /shopping/confirm HTTP/1.1\" 302 0 \"-\" \"Mozilla/5.0\" 80211 sess-h2\n\
         192.0.2.52 - - [10/May/2020:12:00:00 +0900] \"POST /shopping/confirm HTTP/1.1\" 302 0 \"-\" \"Mozilla/5.0\" 70211 sess-x3\n\
         192.0.2.53 - - [10/May/2020:13:00:00 +0900] \"POST /shopping/confirm HTTP/1.1\" 302 0 \"-\" \"Mozilla/5.0\" 70211 sess-j9\n\
         192.0.2.54 - - [10/May/2020:14:00:00 +0900] \"POST /shopping/confirm HTTP/1.1\" 302 0 \"-\" \"Mozilla/5.0\" 70211 -\n\
         192.0.2.55 - ghost [10/Mar/2020:14:00:00 +0900] \"POST /shopping/confirm HTTP/1.1\" 302 0 \"-\" \"Mozilla/5.0\" 70211 sess-old\n",
    )
    .unwrap();
    fs::write(
        dir.join("incident.toml"),
        format!(
            "[incident]\nid = \"co\"\ntimezone = \"Asia/Tokyo\"\nwindow = \"2020-04-27..2021-12-22\"\n\
             [orders]\npaths = [\"orders.csv\"]\n\
             [logs]\npaths = [\"access.log\"]\nlog_format = '{LOG_FORMAT}'\n"
        ),
    )
    .unwrap();
}

#[test]
fn checkouts_without_an_order_join_the_affected_set() {
    let d = tempfile::tempdir().unwrap();
    case(d.path());
    let out = d.path().join("out");
    skimtrace()
        .current_dir(d.path())
        .args([
            "affected",
            "--config",
            "incident.toml",
            "--with-logs",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let rows = read_csv(&out.join("checkouts_without_order.csv"));
    // hanako (login, no order) and the session sess-x3 (no order); taro and sess-j9 have
    // orders; the line without user or session cannot be tied; the March one is outside.
    let got: Vec<(String, String, String)> = rows[1..]
        .iter()
        .map(|r| (r[3].clone(), r[4].clone(), r[6].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "hanako".into(),
                "sess-h2".into(),
                "no order with this login id".into()
            ),
            (
                "".into(),
                "sess-x3".into(),
                "no order with this session".into()
            ),
        ]
    );
    assert_eq!(rows[1][1], "access.log:2");
    let affected = read_csv(&out.join("affected.csv"));
    assert_eq!(
        affected.len(),
        1 + 2 + 2,
        "two order customers and two checkout ones"
    );
    let hanako: Vec<&Vec<String>> = affected.iter().filter(|r| r[4] == "hanako").collect();
    assert_eq!(hanako.len(), 1);
    assert_eq!(hanako[0][13], "login");
    let summary: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("summary.json")).unwrap()).unwrap();
    let c = &summary["checkouts"];
    assert_eq!(c["in_window"], 5);
    assert_eq!(c["tied_to_order"], 2);
    assert_eq!(c["without_order"], 2);
    assert_eq!(c["untied"], 1);
    let jsonl = fs::read_to_string(out.join("affected.jsonl")).unwrap();
    assert_eq!(jsonl.matches("checkout_without_order").count(), 2);
}

#[test]
fn without_logs_nothing_is_added() {
    let d = tempfile::tempdir().unwrap();
    case(d.path());
    let out = d.path().join("out");
    skimtrace()
        .current_dir(d.path())
        .args(["affected", "--config", "incident.toml", "--out"])
        .arg(&out)
        .assert()
        .success();
    assert!(!out.join("checkouts_without_order.csv").exists());
    assert_eq!(read_csv(&out.join("affected.csv")).len(), 3);
}
