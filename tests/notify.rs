//! `skimtrace notify`: rendering to .eml files, the check, and sending to a real SMTP server
//! (aiosmtpd on loopback, `tests/smtp/server.py`), including failures, a killed batch and
//! review copies. Received messages are read with a MIME parser (mail-parser), not by string
//! search alone.

use crate::util::{root, skimtrace};
use mail_parser::MessageParser;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One order row per customer: (email, name, card, locale).
const CUSTOMERS: &[(&str, &str, &str, &str)] = &[
    ("taro@example.jp", "山田 太郎", "4111111111111111", "ja"),
    ("alice@example.com", "Alice Smith", "3530111333300000", "en"),
    ("hanako@example.jp", "佐藤 花子", "5555555555554444", "ja"),
    ("", "住所 のみ", "4012888888881881", "ja"),
    (
        "evil@example.com",
        "<script>alert(1)</script> {{ 7*7 }}",
        "378282246310005",
        "en",
    ),
    ("bob@example.com", "Bob Jones", "6011111111111117", "en"),
];

/// Every full card number the test data holds: none may appear in any output.
const PANS: &[&str] = &[
    "4111111111111111",
    "3530111333300000",
    "5555555555554444",
    "4012888888881881",
    "378282246310005",
    "6011111111111117",
];

const INCIDENT: &str = r#"
[incident]
name = "Test shop skimmer"
id = "ts-2022"
company = "株式会社テスト"
shop = "テストショップ"
timezone = "Asia/Tokyo"
window = "2020-04-27..2021-12-22"
exposed = ["card_holder", "card_number", "expiry", "security_code", "login_id", "password"]
discovered = "2022-01-11"

[notify]
from = "株式会社テスト お客様窓口 <notice@test-shop.example>"
subject_prefix = { ja = "【重要】", en = "[Important] " }
date = "2022-08-18"
reissue_free = true
retry_delay_ms = 50

[contact]
name = "テストショップ お問い合わせ窓口"
phone = "0120-000-000"
hours = "10:00～18:00（土日祝を除く）"
email = "support@test-shop.example"
"#;

/// A case folder with an `affected.jsonl` made by the real `affected` command.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        Case::with(CUSTOMERS)
    }

    /// A case of these customers (at most 9: one order a month).
    fn with(customers: &[(&str, &str, &str, &str)]) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let mut csv = String::from(
            "Order ID,Order Date,Email,Name,Payment Method,Card Number,Status,Total,Country,Locale\n",
        );
        let quoted = |v: &str| format!("\"{}\"", v.replace('"', "\"\""));
        for (i, (email, name, card, locale)) in customers.iter().enumerate() {
            csv.push_str(&format!(
                "{},2021-0{}-01 10:00:00,{},{},クレジットカード,{card},paid,1000,JP,{locale}\n",
                1001 + i,
                i + 1,
                quoted(email),
                quoted(name),
            ));
        }
        std::fs::write(dir.path().join("orders.csv"), csv).unwrap();
        std::fs::write(dir.path().join("incident.toml"), INCIDENT).unwrap();
        skimtrace()
            .current_dir(dir.path())
            .args([
                "affected",
                "--config",
                "incident.toml",
                "--orders",
                "orders.csv",
            ])
            .args(["--out", "out", "--quiet"])
            .assert()
            .success();
        Case { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    /// `skimtrace notify` on this case with extra arguments.
    fn notify(&self, extra: &[&str]) -> assert_cmd::Command {
        let mut c = skimtrace();
        c.current_dir(self.dir.path())
            .args([
                "notify",
                "--affected",
                "out/affected.jsonl",
                "--config",
                "incident.toml",
            ])
            .args(extra)
            .env_remove("SKIMTRACE_SMTP_USER")
            .env_remove("SKIMTRACE_SMTP_PASSWORD");
        c
    }

    /// `skimtrace notify` that must fail (with `code` when given): its stderr.
    fn notify_fails(&self, extra: &[&str], code: Option<i32>) -> String {
        let a = self.notify(extra).assert().failure();
        let a = match code {
            Some(c) => a.code(c),
            None => a,
        };
        String::from_utf8_lossy(&a.get_output().stderr).into_owned()
    }

    fn journal(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.path("out/sent.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// The loopback SMTP server, stopped when dropped (also used by `waves`).
pub(crate) struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Server {
    pub(crate) fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new("python3")
            .arg(root().join("tests/smtp/server.py"))
            .arg("--dir")
            .arg(dir)
            .args(["--lifetime", "120"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "python3 runs (the SMTP tests need python3 with aiosmtpd: .ci/run installs it)",
            );
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the SMTP test server did not start (is aiosmtpd installed? python3 -m pip install aiosmtpd)")
        });
        Server {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Received messages: (envelope recipients, raw bytes), in arrival order.
    pub(crate) fn received(&self) -> Vec<(Vec<String>, Vec<u8>)> {
        received(&self.dir)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn received(dir: &Path) -> Vec<(Vec<String>, Vec<u8>)> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    names.retain(|p| p.extension().is_some_and(|x| x == "eml"));
    names.sort();
    names
        .into_iter()
        .map(|p| {
            let meta: serde_json::Value =
                serde_json::from_slice(&std::fs::read(p.with_extension("json")).unwrap()).unwrap();
            let rcpts = meta["rcpt_tos"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect();
            (rcpts, std::fs::read(&p).unwrap())
        })
        .collect()
}

/// Message-ID → how many times it was received.
fn count_by_message_id(msgs: &[(Vec<String>, Vec<u8>)]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (_, raw) in msgs {
        let parsed = MessageParser::default().parse(raw).unwrap();
        *m.entry(parsed.message_id().unwrap().to_string())
            .or_insert(0) += 1;
    }
    m
}

/// Fails when any full card number, or any card-like run, is in the message (raw or decoded).
fn assert_no_pan(raw: &[u8]) {
    let parsed = MessageParser::default().parse(raw).unwrap();
    let mut texts = vec![String::from_utf8_lossy(raw).into_owned()];
    texts.push(parsed.subject().unwrap_or_default().to_string());
    texts.extend(parsed.body_text(0).map(|c| c.into_owned()));
    texts.extend(parsed.body_html(0).map(|c| c.into_owned()));
    for t in &texts {
        for pan in PANS {
            assert!(!t.contains(pan), "a full card number in a message");
        }
        assert!(
            skimtrace::cards::find_card_runs(t).is_empty(),
            "a card-like digit run in a message"
        );
    }
}

fn addressed_customers() -> usize {
    CUSTOMERS.iter().filter(|c| !c.0.is_empty()).count()
}

#[test]
fn renders_one_deterministic_eml_per_customer_with_an_index() {
    let case = Case::new();
    case.notify(&[]).assert().success();
    let notices = case.path("out/notices");
    let index = crate::util::read_csv(&notices.join("index.csv"));
    assert_eq!(
        index[0],
        ["customer_id", "to", "locale", "subject", "sha256"]
    );
    assert_eq!(index.len() - 1, addressed_customers());
    let mut first = BTreeMap::new();
    for row in &index[1..] {
        let raw = std::fs::read(notices.join(format!("{}.eml", row[0]))).unwrap();
        assert_eq!(row[4], skimtrace::digest::sri_of(&raw));
        assert!(raw.split(|&b| b == b'\n').all(|l| l.len() <= 999));
        assert!(
            raw.is_ascii(),
            "7-bit clean: headers RFC 2047, bodies encoded"
        );
        assert_no_pan(&raw);
        let m = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(m.subject().unwrap(), row[3]);
        assert_eq!(m.to().unwrap().first().unwrap().address().unwrap(), row[1]);
        first.insert(row[0].clone(), raw);
    }
    let no_email = crate::util::read_csv(&case.path("out/no_email.csv"));
    assert_eq!(no_email.len(), 2);
    assert_eq!(no_email[1][1], "住所 のみ");
    assert_eq!(no_email[1][3], "no address");

    // Without --force the notices are not overwritten; with it the bytes are identical.
    case.notify(&[]).assert().failure().code(2);
    case.notify(&["--force"]).assert().success();
    for (id, raw) in first {
        assert_eq!(
            std::fs::read(notices.join(format!("{id}.eml"))).unwrap(),
            raw
        );
    }
}

#[test]
fn japanese_and_english_notices_read_right_after_mime_decoding() {
    let case = Case::new();
    case.notify(&[]).assert().success();
    let index = crate::util::read_csv(&case.path("out/notices/index.csv"));
    let raw_of = |to: &str| {
        let row = index.iter().find(|r| r[1] == to).unwrap();
        std::fs::read(case.path(&format!("out/notices/{}.eml", row[0]))).unwrap()
    };
    let raw = raw_of("taro@example.jp");
    let m = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        m.subject().unwrap(),
        "【重要】「テストショップ」におけるクレジットカード情報漏えいに関するお詫びとお知らせ"
    );
    let to = m.to().unwrap().first().unwrap();
    assert_eq!(to.name().unwrap(), "山田 太郎");
    assert_eq!(
        m.message_id().unwrap(),
        format!(
            "notice.{}.ts-2022@test-shop.example",
            index.iter().find(|r| r[1] == "taro@example.jp").unwrap()[0]
        )
    );
    let text = m.body_text(0).unwrap();
    for want in [
        "山田 太郎 様",
        "2020年4月27日～2021年12月22日",
        "Visa（下4桁 1111）",
        "クレジットカード番号",
        "セキュリティコード",
        "パスワードを変更してください",
        "再発行の手数料はかかりません",
        "0120-000-000",
        "2022年1月11日",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(m.body_html(0).unwrap().contains("<h2>1 概要</h2>"));

    let raw = raw_of("alice@example.com");
    let m = MessageParser::default().parse(&raw).unwrap();
    assert!(m
        .subject()
        .unwrap()
        .starts_with("[Important] Notice of Data Breach"));
    let text = m.body_text(0).unwrap();
    let mut at = 0;
    for heading in [
        "NOTICE OF DATA BREACH",
        "WHAT HAPPENED",
        "WHAT INFORMATION WAS INVOLVED",
        "WHAT WE ARE DOING",
        "WHAT YOU CAN DO",
        "FOR MORE INFORMATION",
    ] {
        let pos = text[at..]
            .find(heading)
            .unwrap_or_else(|| panic!("{heading} missing or out of order"));
        at += pos;
    }
    assert!(text.contains("April 27, 2020 to December 22, 2021"));
    assert!(text.contains("JCB card ending in 0000"));

    // A hostile name is text, escaped in HTML, and never evaluated.
    let raw = raw_of("evil@example.com");
    let m = MessageParser::default().parse(&raw).unwrap();
    let html = m.body_html(0).unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; {{ 7*7 }}"),
        "{html}"
    );
    assert!(!html.contains("<script>"));
    assert!(!m.body_text(0).unwrap().contains("49"));
}

#[test]
fn snapshots_pin_one_japanese_and_one_english_message() {
    let case = Case::new();
    case.notify(&[]).assert().success();
    let index = crate::util::read_csv(&case.path("out/notices/index.csv"));
    for (to, name) in [
        ("taro@example.jp", "notice_ja_eml"),
        ("alice@example.com", "notice_en_eml"),
    ] {
        let row = index.iter().find(|r| r[1] == to).unwrap();
        let raw =
            std::fs::read_to_string(case.path(&format!("out/notices/{}.eml", row[0]))).unwrap();
        assert_no_pan(raw.as_bytes());
        insta::assert_snapshot!(name, raw.replace("\r\n", "\n"));
        let decoded = MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap()
            .body_text(0)
            .unwrap()
            .into_owned();
        insta::assert_snapshot!(format!("{name}_text"), decoded.replace("\r\n", "\n"));
    }
}

#[test]
fn the_check_refuses_missing_variables_and_card_numbers() {
    let case = Case::new();
    let tpl = case.path("tpl");
    skimtrace()
        .args(["templates", "init"])
        .arg(&tpl)
        .assert()
        .success();
    // The written templates work as they are.
    case.notify(&["--templates", "tpl", "--check"])
        .assert()
        .success();
    let body = tpl.join("notice/en/body.txt.j2");
    let orig = std::fs::read_to_string(&body).unwrap();

    std::fs::write(&body, format!("{orig}\n{{{{ customer.nmae }}}}\n")).unwrap();
    let err = case.notify_fails(&["--templates", "tpl"], Some(1));
    assert!(err.contains("notice/en/body.txt.j2"), "{err}");
    assert!(err.contains("undefined"), "{err}");
    assert!(
        !case.path("out/notices").exists(),
        "nothing written after a failed check"
    );

    std::fs::write(&body, format!("{orig}\nTest card: 4111 1111 1111 1111\n")).unwrap();
    let err = case.notify_fails(&["--templates", "tpl", "--check"], Some(1));
    assert!(err.contains("card-like digit run"), "{err}");
    assert!(
        !err.contains("1111 1111"),
        "the run itself is never printed"
    );

    std::fs::write(tpl.join("notice/ja/subject.txt.j2"), "  ").unwrap();
    std::fs::write(&body, &orig).unwrap();
    let err = case.notify_fails(&["--templates", "tpl", "--check"], None);
    assert!(err.contains("empty subject"), "{err}");
}

#[test]
fn sends_each_notice_once_retries_451_and_lists_550_in_failed_csv() {
    let case = Case::new();
    let server = Server::start(
        &case.path("mail"),
        &[
            "--tempfail-once",
            "hanako@example.jp",
            "--reject",
            "bob@example.com",
        ],
    );
    let url = server.url();
    let out = case
        .notify(&["--send", &url, "--tls", "none"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1 failed permanently"), "{err}");
    assert!(err.contains("clear text"), "--tls none warns: {err}");
    let got = server.received();
    assert_eq!(got.len(), addressed_customers() - 1);
    assert!(count_by_message_id(&got).values().all(|&n| n == 1));
    let rcpts: Vec<&str> = got.iter().map(|(r, _)| r[0].as_str()).collect();
    assert!(
        rcpts.contains(&"hanako@example.jp"),
        "451 then 250 ends delivered"
    );
    assert!(!rcpts.contains(&"bob@example.com"));
    for (_, raw) in &got {
        assert_no_pan(raw);
    }
    let failed = crate::util::read_csv(&case.path("out/failed.csv"));
    assert_eq!(failed.len(), 2);
    assert_eq!(failed[1][1], "bob@example.com");
    assert!(failed[1][3].contains("550"));
    let j = case.journal();
    assert!(j
        .iter()
        .any(|e| e["recipient"] == "hanako@example.jp" && e["phase"] == "deferred"));

    // A re-run sends nothing again: accepted are skipped, the 550 stays failed.
    case.notify(&["--send", &url, "--tls", "none"])
        .assert()
        .code(1);
    assert_eq!(server.received().len(), addressed_customers() - 1);
}

#[test]
fn a_killed_batch_resumes_and_delivers_each_remaining_message_once() {
    let case = Case::new();
    let mail = case.path("mail");
    // The first server accepts 2 messages, then never answers MAIL: the batch hangs there.
    let first = Server::start(&mail, &["--hang-after", "2"]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_skimtrace"))
        .current_dir(case.dir.path())
        .env(
            "SKIMTRACE_FINGERPRINT_KEY",
            "integration-test-key-0123456789abcdef",
        )
        .args([
            "notify",
            "--affected",
            "out/affected.jsonl",
            "--config",
            "incident.toml",
        ])
        .args(["--send", &first.url(), "--tls", "none", "--quiet"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let j = case.journal();
        let accepted = j.iter().filter(|e| e["phase"] == "accepted").count();
        if accepted == 2 && j.last().is_some_and(|e| e["phase"] == "started") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the batch did not reach the hang"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(first);
    assert_eq!(received(&mail).len(), 2);

    let second = Server::start(&mail.join("second"), &[]);
    case.notify(&["--send", &second.url(), "--tls", "none"])
        .assert()
        .success();
    let mut all = received(&mail);
    all.extend(second.received());
    assert_eq!(
        all.len(),
        addressed_customers(),
        "total received == customers"
    );
    let counts = count_by_message_id(&all);
    assert_eq!(counts.len(), addressed_customers());
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
}

#[test]
fn a_broken_connection_reconnects_and_continues() {
    let case = Case::new();
    let server = Server::start(&case.path("mail"), &["--close-after", "1"]);
    case.notify(&["--send", &server.url(), "--tls", "none"])
        .assert()
        .success();
    let got = server.received();
    assert_eq!(got.len(), addressed_customers());
    assert!(count_by_message_id(&got).values().all(|&n| n == 1));
}

#[test]
fn starttls_is_required_unless_tls_none_and_credentials_never_go_in_clear() {
    let case = Case::new();
    let server = Server::start(&case.path("mail"), &[]);
    let err = case.notify_fails(&["--send", &server.url()], None);
    assert!(err.contains("STARTTLS"), "{err}");
    let out = case
        .notify(&["--send", &server.url(), "--tls", "none"])
        .env("SKIMTRACE_SMTP_USER", "u")
        .env("SKIMTRACE_SMTP_PASSWORD", "p")
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("clear text"));
    assert!(server.received().is_empty());
}

#[test]
fn review_copies_go_to_one_inbox_and_do_not_count_as_notices() {
    let case = Case::new();
    let server = Server::start(&case.path("mail"), &[]);
    let url = server.url();
    case.notify(&[
        "--send",
        &url,
        "--tls",
        "none",
        "--to-override",
        "review@example.org",
        "--limit",
        "2",
    ])
    .assert()
    .success();
    let got = server.received();
    assert_eq!(got.len(), 2);
    for (rcpts, raw) in &got {
        assert_eq!(rcpts, &["review@example.org"]);
        let m = MessageParser::default().parse(raw).unwrap();
        assert_eq!(
            m.to().unwrap().first().unwrap().address().unwrap(),
            "review@example.org"
        );
        let orig = m
            .header_raw("X-Skimtrace-Original-To")
            .unwrap()
            .trim()
            .to_string();
        assert!(CUSTOMERS.iter().any(|c| c.0 == orig), "{orig}");
        assert!(m.message_id().unwrap().starts_with("review."));
    }
    assert!(case.journal().iter().all(|e| e["review"] == true));
    // The real batch still sends every customer their notice.
    case.notify(&["--send", &url, "--tls", "none", "--only"])
        .arg(first_customer(&case))
        .assert()
        .success();
    case.notify(&["--send", &url, "--tls", "none"])
        .assert()
        .success();
    let notices: Vec<_> = server
        .received()
        .into_iter()
        .filter(|(r, _)| r[0] != "review@example.org")
        .collect();
    assert_eq!(notices.len(), addressed_customers());
    assert!(count_by_message_id(&notices).values().all(|&n| n == 1));
}

fn first_customer(case: &Case) -> String {
    let line = std::fs::read_to_string(case.path("out/affected.jsonl")).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    v["customer_id"].as_str().unwrap().to_string()
}

/// `n` customers in the shape `affected` writes, with ids that do not sort like their order.
fn synthetic_affected(path: &Path, n: usize) {
    let mut s = String::new();
    for i in 0..n {
        let (locale, name) = if i % 2 == 0 {
            ("ja", format!("山田 太郎{i}"))
        } else {
            ("en", format!("Customer {i}"))
        };
        let email = if i % 7 == 3 {
            String::new()
        } else {
            format!("user{i}@example.com")
        };
        let v = serde_json::json!({
            "customer_id": format!("c-{:05}", (i * 7919) % 100_000),
            "name": name, "email": email, "locale": locale,
            "cards": [{"brand": "VISA", "last4": "1111"}], "order_count": 1,
            "first_order_at": "2021-03-01T10:00:00+09:00",
            "last_order_at": "2021-03-01T10:00:00+09:00", "contact": "email",
        });
        s.push_str(&v.to_string());
        s.push('\n');
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, s).unwrap();
}

#[test]
fn rendering_on_several_threads_keeps_customer_order_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("incident.toml"), INCIDENT).unwrap();
    let n = 500;
    synthetic_affected(&dir.path().join("a/affected.jsonl"), n);
    synthetic_affected(&dir.path().join("b/affected.jsonl"), n);
    for (sub, threads) in [("a", "4"), ("b", "1")] {
        skimtrace()
            .current_dir(dir.path())
            .env("SKIMTRACE_THREADS", threads)
            .args(["notify", "--config", "incident.toml", "--affected"])
            .arg(format!("{sub}/affected.jsonl"))
            .assert()
            .success();
    }
    let a = crate::util::read_csv(&dir.path().join("a/notices/index.csv"));
    let b = crate::util::read_csv(&dir.path().join("b/notices/index.csv"));
    assert_eq!(a, b, "index.csv is the same on 4 threads and on 1");
    let input: Vec<String> = std::fs::read_to_string(dir.path().join("a/affected.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["email"] != "")
        .map(|v| v["customer_id"].as_str().unwrap().to_string())
        .collect();
    let ids: Vec<String> = a[1..].iter().map(|r| r[0].clone()).collect();
    assert_eq!(ids, input, "index.csv follows affected.jsonl");
    for row in &a[1..] {
        let name = format!("{}.eml", row[0]);
        let fa = std::fs::read(dir.path().join("a/notices").join(&name)).unwrap();
        let fb = std::fs::read(dir.path().join("b/notices").join(&name)).unwrap();
        assert_eq!(fa, fb, "{name} differs between 4 threads and 1");
        assert_eq!(row[4], skimtrace::digest::sri_of(&fa));
    }
    let files = std::fs::read_dir(dir.path().join("a/notices"))
        .unwrap()
        .count();
    assert_eq!(files, ids.len() + 1, "one .eml per notice plus index.csv");
    assert!(!dir.path().join("a/.notices.tmp").exists());
    let no_email = crate::util::read_csv(&dir.path().join("a/no_email.csv"));
    assert_eq!(no_email.len() - 1, n - ids.len());
}

/// A private CA and a certificate for 127.0.0.1 signed by it, made with `openssl`; `None`
/// (the test is skipped, with a message) when `openssl` is not installed.
fn private_ca(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    if Command::new("openssl").arg("version").output().is_err() {
        crate::util::missing("`openssl` (to make a test certificate)");
        return None;
    }
    std::fs::create_dir_all(dir).unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    let words = |s: String| s.split(' ').map(str::to_string).collect::<Vec<_>>();
    let mut ca_req = words(format!(
        "req -x509 {ec} -keyout ca.key -out ca.pem -days 2 -subj"
    ));
    ca_req.push("/CN=skimtrace test CA".into());
    run(&ca_req.iter().map(String::as_str).collect::<Vec<_>>());
    let srv_req = words(format!(
        "req {ec} -keyout key.pem -out srv.csr -subj /CN=127.0.0.1"
    ));
    run(&srv_req.iter().map(String::as_str).collect::<Vec<_>>());
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    Some((
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    ))
}

#[test]
fn starttls_with_a_private_ca_and_a_login() {
    let case = Case::new();
    let Some((ca, cert, key)) = private_ca(&case.path("tls")) else {
        return;
    };
    let server = Server::start(
        &case.path("mail"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--auth",
            "notice:s3cret pass",
        ],
    );
    let url = server.url();
    // The certificate is not trusted without --ca-file: nothing is sent.
    let out = case
        .notify(&["--send", &url])
        .env("SKIMTRACE_SMTP_USER", "notice")
        .env("SKIMTRACE_SMTP_PASSWORD", "s3cret pass")
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("certificate"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    // A wrong password is refused by the server (over TLS) and stops the batch.
    let out = case
        .notify(&["--send", &url, "--ca-file", ca.to_str().unwrap()])
        .env("SKIMTRACE_SMTP_USER", "notice")
        .env("SKIMTRACE_SMTP_PASSWORD", "wrong")
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("535"), "{err}");
    assert!(server.received().is_empty());
    // With the CA and the login every notice goes through STARTTLS, once.
    case.notify(&["--send", &url, "--ca-file", ca.to_str().unwrap()])
        .env("SKIMTRACE_SMTP_USER", "notice")
        .env("SKIMTRACE_SMTP_PASSWORD", "s3cret pass")
        .assert()
        .success();
    let got = server.received();
    assert_eq!(got.len(), addressed_customers());
    assert!(count_by_message_id(&got).values().all(|&n| n == 1));
    for (_, raw) in &got {
        assert_no_pan(raw);
    }
}

/// Customers whose address lettre's address check takes but its message builder refuses (an
/// IP-literal domain, a quoted local part with a space), among ordinary ones.
const UNUSABLE: &[(&str, &str, &str, &str)] = &[
    ("taro@example.jp", "山田 太郎", "4111111111111111", "ja"),
    ("h15@[127.0.0.1]", "IP Literal", "5555555555554444", "en"),
    ("alice@example.com", "Alice Smith", "3530111333300000", "en"),
    (
        "\"a b\"@example.com",
        "Quoted Local",
        "6011111111111117",
        "ja",
    ),
    ("hanako@example.jp", "佐藤 花子", "378282246310005", "ja"),
];

/// The no_email.csv rows of the two unusable customers: (name, reason).
fn unusable_rows(path: &Path) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> = crate::util::read_csv_maps(path)
        .into_iter()
        .map(|r| (r["name"].clone(), r["reason"].clone()))
        .collect();
    rows.sort();
    rows
}

fn unusable_expected() -> Vec<(String, String)> {
    vec![
        (
            "IP Literal".to_string(),
            "address has an IP-literal domain ([…])".to_string(),
        ),
        (
            "Quoted Local".to_string(),
            "address has a quoted local part (\"…\")".to_string(),
        ),
    ]
}

#[test]
fn an_address_the_builder_refuses_goes_to_no_email_and_the_batch_goes_on() {
    let case = Case::with(UNUSABLE);
    // Rendering: every other customer gets a notice; exit 0.
    case.notify(&[]).assert().success();
    let index = crate::util::read_csv(&case.path("out/notices/index.csv"));
    let mut to: Vec<&str> = index[1..].iter().map(|r| r[1].as_str()).collect();
    to.sort();
    assert_eq!(
        to,
        ["alice@example.com", "hanako@example.jp", "taro@example.jp"]
    );
    assert_eq!(
        unusable_rows(&case.path("out/no_email.csv")),
        unusable_expected()
    );

    // Sending: the same three, once each; exit 0 (every message with an address accepted).
    let server = Server::start(&case.path("mail"), &[]);
    case.notify(&["--send", &server.url(), "--tls", "none"])
        .assert()
        .success();
    let got = server.received();
    let mut rcpts: Vec<String> = got.iter().map(|(r, _)| r.join(",")).collect();
    rcpts.sort();
    assert_eq!(
        rcpts,
        ["alice@example.com", "hanako@example.jp", "taro@example.jp"]
    );
    assert_eq!(
        unusable_rows(&case.path("out/no_email.csv")),
        unusable_expected()
    );

    // `run` renders them too and writes its manifest.
    std::fs::write(
        case.path("run.toml"),
        format!("{INCIDENT}\n[orders]\npaths = [\"orders.csv\"]\n"),
    )
    .unwrap();
    let o = skimtrace()
        .current_dir(case.dir.path())
        .args(["run", "-q", "--config", "run.toml", "--out", "case"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(case.path("case/manifest.json").exists());
    assert_eq!(
        crate::util::read_csv(&case.path("case/notices/index.csv")).len() - 1,
        3
    );
    assert_eq!(
        unusable_rows(&case.path("case/no_email.csv")),
        unusable_expected()
    );
}

impl Case {
    /// `notify --send URL --tls none` started in the background (its stderr dropped).
    fn spawn_send(&self, url: &str) -> Child {
        Command::new(env!("CARGO_BIN_EXE_skimtrace"))
            .current_dir(self.dir.path())
            .env(
                "SKIMTRACE_FINGERPRINT_KEY",
                "integration-test-key-0123456789abcdef",
            )
            .env_remove("SKIMTRACE_SMTP_USER")
            .env_remove("SKIMTRACE_SMTP_PASSWORD")
            .args([
                "notify",
                "--affected",
                "out/affected.jsonl",
                "--config",
                "incident.toml",
            ])
            .args(["--send", url, "--tls", "none", "--quiet"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Waits until the journal satisfies `done` (the background batch got that far).
    fn wait_for_journal(&self, what: &str, done: impl Fn(&[serde_json::Value]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !done(&self.journal()) {
            assert!(Instant::now() < deadline, "the batch never got to: {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Envelope recipient → how many messages the server received for it.
fn count_by_recipient(msgs: &[(Vec<String>, Vec<u8>)]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (rcpts, _) in msgs {
        for r in rcpts {
            *m.entry(r.clone()).or_insert(0) += 1;
        }
    }
    m
}

#[test]
fn a_second_send_while_one_runs_exits_at_once_naming_the_holder() {
    let case = Case::new();
    // Each message takes a while, so the first batch is still sending when the second starts.
    let server = Server::start(&case.path("mail"), &["--delay-data", "0.4"]);
    let url = server.url();
    let mut first = case.spawn_send(&url);
    case.wait_for_journal("its first message", |j| {
        j.iter().any(|e| e["phase"] == "started")
    });

    let started = Instant::now();
    let err = case.notify_fails(&["--send", &url, "--tls", "none"], Some(1));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the second run waited instead of stopping"
    );
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert!(err.contains("`notify --send`"), "{err}");
    assert!(err.contains(".skimtrace.lock"), "{err}");
    // Rendering into the folder and `run` are kept out too.
    let err = case.notify_fails(&["--force"], Some(1));
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    std::fs::write(
        case.path("run.toml"),
        format!("{INCIDENT}\n[orders]\npaths = [\"orders.csv\"]\n"),
    )
    .unwrap();
    let o = skimtrace()
        .current_dir(case.dir.path())
        .args([
            "run", "-q", "--config", "run.toml", "--out", "out", "--force",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("pid {}", first.id())));

    assert!(first.wait().unwrap().success());
    let got = server.received();
    let counts = count_by_recipient(&got);
    assert_eq!(counts.len(), addressed_customers(), "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");
    assert!(
        !case.path("out/.skimtrace.lock").exists(),
        "a finished batch leaves no lock file"
    );
}

#[test]
fn a_lock_left_by_a_killed_batch_does_not_block_the_next() {
    let case = Case::new();
    let mail = case.path("mail");
    // The first batch sends 2 messages, then hangs on the server: it holds the folder.
    let hanging = Server::start(&mail, &["--hang-after", "2"]);
    let mut first = case.spawn_send(&hanging.url());
    case.wait_for_journal("the hang", |j| {
        j.iter().filter(|e| e["phase"] == "accepted").count() == 2
            && j.last().is_some_and(|e| e["phase"] == "started")
    });
    let pid = first.id();
    // While it lives, another batch is refused at once (it would otherwise hang too).
    let err = String::from_utf8_lossy(
        &case
            .notify(&["--send", &hanging.url(), "--tls", "none"])
            .timeout(Duration::from_secs(20))
            .assert()
            .code(1)
            .get_output()
            .stderr,
    )
    .into_owned();
    assert!(err.contains(&format!("pid {pid}")), "{err}");

    // Killed: its lock file stays, naming it, but no longer blocks.
    first.kill().unwrap();
    first.wait().unwrap();
    drop(hanging);
    let lock = std::fs::read_to_string(case.path("out/.skimtrace.lock")).unwrap();
    assert!(lock.contains(&format!("\"pid\":{pid}")), "{lock}");
    let second = Server::start(&mail.join("second"), &[]);
    case.notify(&["--send", &second.url(), "--tls", "none"])
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    let mut all = received(&mail);
    all.extend(second.received());
    let counts = count_by_recipient(&all);
    assert_eq!(counts.len(), addressed_customers(), "{counts:?}");
    assert!(counts.values().all(|&n| n == 1), "{counts:?}");

    // A lock file naming a process that has ended (no lock held on it) does not block either.
    let mut gone = Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    std::fs::write(
        case.path("out/.skimtrace.lock"),
        format!(
            "{{\"pid\":{},\"command\":\"notify --send\",\"started\":\"2022-08-18T00:00:00Z\"}}\n",
            gone.id()
        ),
    )
    .unwrap();
    case.notify(&["--send", &second.url(), "--tls", "none"])
        .timeout(Duration::from_secs(60))
        .assert()
        .success();
    assert_eq!(second.received().len(), addressed_customers() - 2);
    assert!(!case.path("out/.skimtrace.lock").exists());
}

#[test]
fn a_lock_file_in_a_case_folder_is_not_an_output() {
    let case = Case::new();
    std::fs::write(
        case.path("run.toml"),
        format!("{INCIDENT}\n[orders]\npaths = [\"orders.csv\"]\n"),
    )
    .unwrap();
    skimtrace()
        .current_dir(case.dir.path())
        .args(["run", "-q", "--config", "run.toml", "--out", "case"])
        .assert()
        .success();
    let manifest = std::fs::read_to_string(case.path("case/manifest.json")).unwrap();
    assert!(!manifest.contains(".skimtrace.lock"), "{manifest}");
    // Left by a batch that was killed in the folder: verify does not report it.
    std::fs::write(
        case.path("case/.skimtrace.lock"),
        "{\"pid\":1,\"command\":\"notify --send\",\"started\":\"2022-08-18T00:00:00Z\"}\n",
    )
    .unwrap();
    skimtrace()
        .arg("verify")
        .arg(case.path("case"))
        .assert()
        .success();
}

#[test]
fn a_name_too_long_for_a_header_line_does_not_stop_the_batch() {
    let long = "X".repeat(2000);
    let case = Case::with(&[
        ("taro@example.jp", "山田 太郎", "4111111111111111", "ja"),
        ("long@example.com", &long, "5555555555554444", "en"),
        ("alice@example.com", "Alice Smith", "3530111333300000", "en"),
    ]);
    case.notify(&[]).assert().success();
    let index = crate::util::read_csv(&case.path("out/notices/index.csv"));
    assert_eq!(index.len() - 1, 3, "every customer has a notice");
    let row = index.iter().find(|r| r[1] == "long@example.com").unwrap();
    let raw = std::fs::read(case.path(&format!("out/notices/{}.eml", row[0]))).unwrap();
    assert!(raw.split(|&b| b == b'\n').all(|l| l.len() <= 999));
    let m = MessageParser::default().parse(&raw).unwrap();
    let to = m.to().unwrap().first().unwrap();
    assert_eq!(to.address().unwrap(), "long@example.com");
    assert_eq!(to.name().unwrap(), format!("{}…", "X".repeat(99)));
    // The body still greets the customer by the whole name.
    assert!(m.body_text(0).unwrap().contains(&long));
}
