//! `skimtrace desk`: the real server over HTTP (a plain HTTP/1.1 client on std's TcpStream),
//! on case folders the real binary wrote.

use crate::util::{pan_scan_ascii, read_jsonl, root, skimtrace};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

const KEY: &str = "integration-test-key-0123456789abcdef";

/// The bundled case, run into `dir/case`.
fn bundled_case(dir: &Path) -> PathBuf {
    let out = dir.join("case");
    skimtrace()
        .args(["run", "--quiet", "--config"])
        .arg(root().join("fixtures/vector-park/incident.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    out
}

fn add_operator(case: &Path, ops: &Path, name: &str) -> String {
    let out = skimtrace()
        .args(["desk", "--quiet"])
        .arg(case)
        .arg("--operators")
        .arg(ops)
        .args(["--add-operator", name])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A running desk; stopped when dropped.
struct Desk {
    child: Child,
    port: u16,
}

impl Drop for Desk {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(case: &Path, ops: &Path, extra: &[&str]) -> Desk {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_skimtrace"))
        .env("SKIMTRACE_FINGERPRINT_KEY", KEY)
        .env_remove("RUST_LOG")
        .arg("desk")
        .arg(case)
        .arg("--operators")
        .arg(ops)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Owned by the guard at once, so the server is stopped and reaped on every path.
    let mut desk = Desk { child, port: 0 };
    let mut err = BufReader::new(desk.child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if err.read_line(&mut line).unwrap() == 0 {
            panic!("the desk exited before listening");
        }
        if let Some(rest) = line.split("://127.0.0.1:").nth(1) {
            desk.port = rest.split('/').next().unwrap().parse().unwrap();
            // Keep draining stderr so the server never blocks on a full pipe.
            std::thread::spawn(move || {
                let mut sink = String::new();
                let _ = err.read_to_string(&mut sink);
            });
            return desk;
        }
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let i = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field")
            + 19;
        self.body[i..].split('"').next().unwrap().to_string()
    }
    /// The page's text without tags.
    fn text(&self) -> String {
        let mut out = String::new();
        let mut tag = false;
        for c in self.body.chars() {
            match c {
                '<' => tag = true,
                '>' => {
                    tag = false;
                    out.push(' ');
                }
                c if !tag => out.push(c),
                _ => {}
            }
        }
        out.replace("&#x27;", "'").replace("&amp;", "&")
    }
}

fn enc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// A browser-like client: one cookie jar, every page it saw kept for the card-number scan.
struct Client {
    port: u16,
    cookies: BTreeMap<String, String>,
    pages: Vec<String>,
}

impl Client {
    fn new(port: u16) -> Client {
        Client {
            port,
            cookies: BTreeMap::new(),
            pages: Vec::new(),
        }
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        form: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> Resp {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        if !extra.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("Host: 127.0.0.1:{}\r\n", self.port));
        }
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req.push_str(&format!("Cookie: {}\r\n", c.join("; ")));
        }
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if method == "POST" {
            req.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(&body);
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        for (k, v) in &headers {
            if k == "set-cookie" {
                let kv = v.split(';').next().unwrap();
                let (n, val) = kv.split_once('=').unwrap();
                if val.is_empty() {
                    self.cookies.remove(n);
                } else {
                    self.cookies.insert(n.to_string(), val.to_string());
                }
            }
        }
        self.pages.push(body.to_string());
        Resp {
            status,
            headers,
            body: body.to_string(),
        }
    }

    fn get(&mut self, path: &str) -> Resp {
        self.request("GET", path, &[], &[])
    }

    fn sign_in(&mut self, token: &str) -> Resp {
        let page = self.get("/");
        assert_eq!(page.status, 200);
        let r = self.request(
            "POST",
            "/signin",
            &[("csrf", &page.csrf()), ("token", token)],
            &[],
        );
        assert_eq!(r.status, 303, "{}", r.body);
        let home = self.get("/");
        assert!(
            home.body.contains("Was the caller affected?"),
            "{}",
            home.body
        );
        home
    }

    fn search(&mut self, kind: &str, q: &str, last4: &str) -> Resp {
        let csrf = self.get("/").csrf();
        self.request(
            "POST",
            "/search",
            &[
                ("csrf", &csrf),
                ("kind", kind),
                ("q", q),
                ("last4", last4),
                ("lang", "auto"),
            ],
            &[],
        )
    }
}

/// Every served page and the journal hold no card number (by pan-scan's own rule, and by the
/// tool itself where it sits beside the repository).
fn assert_no_card_numbers(pages: &[String], case: &Path, scratch: &Path) {
    let journal = std::fs::read_to_string(case.join("desk.jsonl")).unwrap();
    for p in pages.iter().chain([&journal]) {
        assert!(
            pan_scan_ascii(p).is_empty(),
            "a card number was served: {:?}",
            pan_scan_ascii(p)
        );
    }
    let dir = scratch.join("pages");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, p) in pages.iter().enumerate() {
        std::fs::write(dir.join(format!("{i}.html")), p).unwrap();
    }
    std::fs::copy(case.join("desk.jsonl"), dir.join("desk.jsonl")).unwrap();
    let tool = root().join("../shared/tools/pan-scan");
    if !tool.exists() {
        assert!(
            std::env::var("CI").is_err(),
            "pan-scan is missing beside the repository ({})",
            tool.display()
        );
        return;
    }
    let out = std::process::Command::new("python3")
        .arg(&tool)
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pan-scan found card numbers in the desk's pages or journal: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn people(case: &Path) -> Vec<serde_json::Value> {
    read_jsonl(&case.join("affected.jsonl"))
}

#[test]
fn desk_search_by_every_key_answers_and_records_each_search() {
    let dir = tempfile::tempdir().unwrap();
    let case = bundled_case(dir.path());
    let before: Vec<String> = list(&case);
    let ops = dir.path().join("ops.json");
    let token = add_operator(&case, &ops, "sato");
    let desk = start(&case, &ops, &[]);
    let mut c = Client::new(desk.port);
    c.sign_in(&token);

    let all = people(&case);
    let s = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    // E-mail, typed in another case with spaces around.
    let p = all
        .iter()
        .find(|p| p["email"].is_string() && !p["cards"].as_array().unwrap().is_empty())
        .unwrap();
    let email = s(&p["email"]);
    let r = c.search("email", &format!("  {}  ", email.to_uppercase()), "");
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(text.contains("AFFECTED"), "{text}");
    assert!(text.contains(&s(&p["name"])), "{text}");
    let card = &p["cards"][0];
    assert!(
        text.contains(&format!("{} ****{}", s(&card["brand"]), s(&card["last4"]))),
        "{text}"
    );
    assert!(
        !text.contains(&s(&card["masked"])) || s(&card["masked"]).starts_with('*'),
        "only brand + last 4 are shown"
    );
    // Orders in the window with their dates, the notice rendered (not sent).
    let order = s(&p["order_ids"][0]);
    assert!(text.contains(&order), "{text}");
    assert!(text.contains(&s(&p["first_order_at"])), "{text}");
    assert!(text.contains("rendered, not sent"), "{text}");
    // The answer script in the caller's language.
    assert!(
        text.contains("お問い合わせいただきありがとうございます"),
        "{text}"
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));

    // Phone: written with the country code and spaces, the export has it as 090…
    let ph = all
        .iter()
        .find(|p| {
            p["phones"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x.as_str().unwrap().starts_with("090")))
        })
        .expect("a person with a 090 number");
    let num = ph["phones"]
        .as_array()
        .unwrap()
        .iter()
        .map(s)
        .find(|x| x.starts_with("090"))
        .unwrap();
    let intl = format!("+81 {}-{}-{}", &num[1..3], &num[3..7], &num[7..]);
    let r = c.search("phone", &intl, "");
    assert!(r.text().contains(&s(&ph["name"])), "{}", r.text());

    // Order number.
    let r = c.search("order", &order, "");
    assert!(r.text().contains(&email), "{}", r.text());

    // Charge id of the gateway.
    let ch = all
        .iter()
        .find(|p| !p["charge_ids"].as_array().unwrap().is_empty())
        .expect("a person with a charge");
    let r = c.search("charge", &s(&ch["charge_ids"][0]), "");
    assert!(r.text().contains(&s(&ch["customer_id"])), "{}", r.text());

    // Name + last 4, the name typed with a full-width space and without the space.
    let nl = all
        .iter()
        .find(|p| {
            s(&p["name"]).contains(' ')
                && p["cards"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["last4"].as_str().unwrap().len() == 4)
        })
        .unwrap();
    let typed = s(&nl["name"]).replace(' ', "\u{3000}");
    let last4 = s(&nl["cards"][0]["last4"]);
    let r = c.search("name_last4", &typed, &last4);
    assert!(r.text().contains(&s(&nl["customer_id"])), "{}", r.text());
    // The same name with other last 4 digits finds nobody.
    let other = if last4 == "0000" { "0001" } else { "0000" };
    let r = c.search("name_last4", &s(&nl["name"]), other);
    assert!(r.text().contains("NOT FOUND"), "{}", r.text());

    // Not found: the exact wording to use.
    let r = c.search("email", "nobody.at.all@example.net", "");
    let text = r.text();
    assert!(text.contains("NOT FOUND"), "{text}");
    assert!(text.contains("ご注文は見つかりませんでした"), "{text}");

    // A full card number typed into the box is refused, never echoed, never recorded.
    let pan = "4111 1111 1111 1111";
    let r = c.search("order", pan, "");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("full card number"), "{}", r.text());
    // Not "4111" alone: the page shows times (the index's build, the operator's recent
    // searches) whose nanoseconds hold any four digits now and then.
    for echoed in [pan, "4111111111111111", "1111 1111 1111", "111111111111"] {
        assert!(!r.body.contains(echoed), "the number is not echoed");
    }

    // The journal: one line per search, keyed hashes only, 0600, in the operator's list.
    let lines = read_jsonl(&case.join("desk.jsonl"));
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "email",
            "phone",
            "order",
            "charge",
            "name_last4",
            "name_last4",
            "email"
        ]
    );
    let found: Vec<u64> = lines.iter().map(|l| l["found"].as_u64().unwrap()).collect();
    assert_eq!(found[0], 1);
    assert_eq!(found[5], 0);
    assert_eq!(found[6], 0);
    for l in &lines {
        assert_eq!(l["operator"], "sato");
        assert!(l["time"].as_str().unwrap().ends_with('Z'));
        let h = l["key_hash"].as_str().unwrap();
        assert_eq!(h.len(), 52, "{h}");
    }
    let journal = std::fs::read_to_string(case.join("desk.jsonl")).unwrap();
    assert!(
        !journal.to_lowercase().contains(&email),
        "the key itself is never written"
    );
    assert!(!journal.contains(&order));
    // The same key (normalised the same) gives the same hash: an auditor can check a key.
    let again = c.search("email", &email, "");
    assert_eq!(again.status, 200);
    let lines = read_jsonl(&case.join("desk.jsonl"));
    assert_eq!(lines[0]["key_hash"], lines[lines.len() - 1]["key_hash"]);
    assert_ne!(lines[0]["key_hash"], lines[6]["key_hash"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(case.join("desk.jsonl"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The page lists the operator's own recent searches.
    assert!(again.text().contains("name_last4"), "{}", again.text());

    // Nothing but desk.jsonl was written into the case folder, and verify says so.
    let mut after = list(&case);
    after.retain(|f| f != "desk.jsonl");
    assert_eq!(after, before);
    let v = skimtrace().arg("verify").arg(&case).output().unwrap();
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
    assert!(String::from_utf8_lossy(&v.stderr).contains("desk.jsonl"));

    assert_no_card_numbers(&c.pages, &case, dir.path());
}

fn list(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(dir, dir);
    v.sort();
    v
}

fn walk(base: &Path, dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk(base, &p));
        } else {
            v.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
        }
    }
    v
}

#[test]
fn desk_sign_in_csrf_headers_and_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let case = bundled_case(dir.path());
    let ops = dir.path().join("ops.json");
    let token = add_operator(&case, &ops, "aoi");
    let stored = std::fs::read_to_string(&ops).unwrap();
    assert!(!stored.contains(&token), "tokens are stored hashed");
    let desk = start(&case, &ops, &[]);
    let mut c = Client::new(desk.port);

    // Security headers on every response; no script anywhere.
    let page = c.get("/");
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'")
            && !csp.contains("script-src")
            && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    assert!(!page.body.contains("<script"));

    // A page elsewhere that points its own name at 127.0.0.1 (DNS rebinding) gets nothing.
    let r = c.request("GET", "/", &[], &[("Host", "rebind.example:8640")]);
    assert_eq!(r.status, 421);
    assert!(!r.body.contains("csrf"));
    let r = c.request("GET", "/", &[], &[("Host", "localhost")]);
    assert_eq!(r.status, 200);

    // Searching without a session goes back to sign-in.
    let r = c.request(
        "POST",
        "/search",
        &[("csrf", "x"), ("kind", "email"), ("q", "a@example.com")],
        &[],
    );
    assert_eq!(r.status, 303);
    // A wrong token is refused.
    let page = c.get("/");
    let r = c.request(
        "POST",
        "/signin",
        &[("csrf", &page.csrf()), ("token", "not-a-token")],
        &[],
    );
    assert_eq!(r.status, 401);
    // A sign-in whose form token does not match the pre-session cookie is refused.
    let r = c.request(
        "POST",
        "/signin",
        &[("csrf", "forged"), ("token", &token)],
        &[],
    );
    assert_eq!(r.status, 403);
    // From another site, even with the right token: refused.
    let pre = c.get("/").csrf();
    let r = c.request(
        "POST",
        "/signin",
        &[("csrf", &pre), ("token", &token)],
        &[("Origin", "http://evil.example")],
    );
    assert_eq!(r.status, 403);

    c.sign_in(&token);
    // The session cookie: HttpOnly, SameSite=Strict.
    // A search with a forged CSRF token: refused, nothing searched or recorded.
    let r = c.request(
        "POST",
        "/search",
        &[
            ("csrf", "forged"),
            ("kind", "email"),
            ("q", "a@example.com"),
        ],
        &[],
    );
    assert_eq!(r.status, 403);
    let r = c.request(
        "POST",
        "/search",
        &[("kind", "email"), ("q", "a@example.com")],
        &[],
    );
    assert_eq!(r.status, 403);
    let csrf = c.get("/").csrf();
    let r = c.request(
        "POST",
        "/search",
        &[("csrf", &csrf), ("kind", "email"), ("q", "a@example.com")],
        &[("Sec-Fetch-Site", "cross-site")],
    );
    assert_eq!(r.status, 403);
    assert!(!case.join("desk.jsonl").exists() || read_jsonl(&case.join("desk.jsonl")).is_empty());
    // With the right token it works.
    let r = c.request(
        "POST",
        "/search",
        &[("csrf", &csrf), ("kind", "email"), ("q", "a@example.com")],
        &[],
    );
    assert_eq!(r.status, 200);
    assert_eq!(read_jsonl(&case.join("desk.jsonl")).len(), 1);

    // The operator is removed: signed out at the next request.
    skimtrace()
        .arg("desk")
        .arg(&case)
        .arg("--operators")
        .arg(&ops)
        .args(["--remove-operator", "aoi"])
        .assert()
        .success();
    let r = c.request(
        "POST",
        "/search",
        &[("csrf", &csrf), ("kind", "email"), ("q", "a@example.com")],
        &[],
    );
    assert_eq!(r.status, 303);
    assert_eq!(read_jsonl(&case.join("desk.jsonl")).len(), 1);

    // Sign-out ends the session.
    let token = add_operator(&case, &ops, "aoi");
    let home = c.sign_in(&token);
    let r = c.request("POST", "/signout", &[("csrf", &home.csrf())], &[]);
    assert_eq!(r.status, 303);
    assert!(c.get("/").body.contains("Operator token"));
}

#[test]
fn desk_rate_limits_searches_per_operator() {
    let dir = tempfile::tempdir().unwrap();
    let case = bundled_case(dir.path());
    let ops = dir.path().join("ops.json");
    let t1 = add_operator(&case, &ops, "one");
    let t2 = add_operator(&case, &ops, "two");
    let desk = start(&case, &ops, &["--rate", "3"]);
    let mut a = Client::new(desk.port);
    a.sign_in(&t1);
    for _ in 0..3 {
        assert_eq!(a.search("email", "a@example.com", "").status, 200);
    }
    let r = a.search("email", "a@example.com", "");
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("60"));
    assert!(r.text().contains("nothing was searched"), "{}", r.text());
    // Another operator has a budget of their own.
    let mut b = Client::new(desk.port);
    b.sign_in(&t2);
    assert_eq!(b.search("email", "a@example.com", "").status, 200);
    let lines = read_jsonl(&case.join("desk.jsonl"));
    let ops: Vec<&str> = lines
        .iter()
        .map(|l| l["operator"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["one", "one", "one", "two"]);
}

/// Appends a journal event as `notify --send` writes them.
fn journal_event(path: &Path, campaign: &str, customer: &str, to: &str, phase: &str, time: &str) {
    let ev = serde_json::json!({
        "time": time, "campaign": campaign, "customer_id": customer,
        "message_id": format!("<{campaign}.{customer}.vector-park-demo@example.jp>"),
        "recipient": to, "review": false, "phase": phase, "reply": "250 2.0.0 Ok", "attempt": 1,
    });
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    writeln!(f, "{ev}").unwrap();
}

#[test]
fn desk_shows_two_notices_and_a_correction() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = root().join("fixtures/vector-park/incident.toml");
    let orders = root().join("fixtures/vector-park/orders");
    // December: the suspected list, a shorter window and one export missing.
    skimtrace()
        .args(["affected", "--quiet", "--config"])
        .arg(&cfg)
        .args(["--window", "2020-01-01..2021-06-30", "--orders"])
        .arg(orders.join("ec-cube4.csv"))
        .arg(orders.join("shop-cards.csv"))
        .arg("--out")
        .arg(d.join("prelim"))
        .assert()
        .success();
    let case = bundled_case(d);
    skimtrace()
        .args(["notify", "--quiet", "--affected"])
        .arg(d.join("prelim/affected.jsonl"))
        .arg("--config")
        .arg(&cfg)
        .args(["--campaign", "preliminary", "--date", "2021-12-14", "--out"])
        .arg(&case)
        .assert()
        .success();
    skimtrace()
        .args(["diff", "--quiet"])
        .arg(d.join("prelim"))
        .arg(&case)
        .arg("--out")
        .arg(d.join("diff"))
        .assert()
        .success();
    skimtrace()
        .args(["diff", "--quiet"])
        .arg(d.join("prelim"))
        .arg(&case)
        .arg("--out")
        .arg(d.join("removed"))
        .args(["--affected-only", "removed"])
        .assert()
        .success();
    let mail = d.join("mail");
    skimtrace()
        .args(["notify", "--quiet", "--affected"])
        .arg(d.join("removed/affected.jsonl"))
        .arg("--config")
        .arg(&cfg)
        .args(["--campaign", "correction", "--out"])
        .arg(&mail)
        .assert()
        .success();

    let rows = read_jsonl(&d.join("diff/diff.jsonl"));
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let changed = rows
        .iter()
        .find(|r| r["kind"] == "changed" && !s(&r["email"]).is_empty())
        .expect("a changed person");
    let removed = rows
        .iter()
        .find(|r| r["kind"] == "removed" && !s(&r["email"]).is_empty())
        .expect("a removed person");
    let (p_old, p_new) = (
        s(&changed["old_customer_ids"][0]),
        s(&changed["new_customer_ids"][0]),
    );
    let p_mail = s(&changed["email"]);
    let r_old = s(&removed["old_customer_ids"][0]);
    let r_mail = s(&removed["email"]);
    // The preliminary warning was accepted for both; the notice for the changed person was
    // deferred then accepted; the correction to the removed person is still unknown.
    journal_event(
        &case.join("sent-preliminary.jsonl"),
        "preliminary",
        &p_old,
        &p_mail,
        "accepted",
        "2021-12-14T01:00:00Z",
    );
    journal_event(
        &case.join("sent-preliminary.jsonl"),
        "preliminary",
        &r_old,
        &r_mail,
        "accepted",
        "2021-12-14T01:00:05Z",
    );
    journal_event(
        &case.join("sent.jsonl"),
        "notice",
        &p_new,
        &p_mail,
        "deferred",
        "2022-08-18T01:00:00Z",
    );
    journal_event(
        &case.join("sent.jsonl"),
        "notice",
        &p_new,
        &p_mail,
        "accepted",
        "2022-08-18T02:00:00Z",
    );
    journal_event(
        &mail.join("sent-correction.jsonl"),
        "correction",
        &r_old,
        &r_mail,
        "data",
        "2022-08-19T01:00:00Z",
    );

    let ops = d.join("ops.json");
    let token = add_operator(&case, &ops, "ken");
    let desk = start(
        &case,
        &ops,
        &[
            "--notices",
            mail.to_str().unwrap(),
            "--diff",
            d.join("diff").to_str().unwrap(),
        ],
    );
    let mut c = Client::new(desk.port);
    c.sign_in(&token);

    let r = c.search("email", &p_mail, "");
    let text = r.text();
    assert!(text.contains("AFFECTED"), "{text}");
    assert!(
        text.contains("preliminary  accepted  2021-12-14T01:00:00Z"),
        "{text}"
    );
    assert!(
        text.contains("notice  accepted  2022-08-18T02:00:00Z"),
        "{text}"
    );
    assert!(text.contains("changed"), "{text}");
    for f in changed["fields"].as_array().unwrap() {
        assert!(text.contains(&s(f)), "{text}");
    }
    // The script says which notices reached them and when.
    assert!(text.contains("2021-12-14に「注意喚起のご連絡」"), "{text}");
    assert!(text.contains("2022-08-18に「お詫びとお知らせ」"), "{text}");

    // The removed person: not on the list, but the desk says what they were sent.
    let r = c.search("email", &r_mail, "");
    let text = r.text();
    assert!(text.contains("NOT FOUND"), "{text}");
    assert!(text.contains("preliminary  accepted"), "{text}");
    assert!(text.contains("correction  unknown"), "{text}");
    assert!(text.contains("対象外であったことが判明"), "{text}");
    assert!(text.contains("removed"), "{text}");

    assert_no_card_numbers(&c.pages, &case, d);
}

#[test]
fn desk_refuses_other_addresses_without_tls_and_a_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let case = bundled_case(dir.path());
    let ops = dir.path().join("ops.json");
    let out = skimtrace()
        .arg("desk")
        .arg(&case)
        .arg("--operators")
        .arg(&ops)
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--tls-cert") && err.contains("--insecure-lan"),
        "{err}"
    );
    // A key that is not the case's: the journal's hashes would be worthless.
    let out = skimtrace()
        .env(
            "SKIMTRACE_FINGERPRINT_KEY",
            "another-key-entirely-0123456789",
        )
        .arg("desk")
        .arg(&case)
        .arg("--operators")
        .arg(&ops)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not the one this case was made with"));
    // No key at all.
    let out = skimtrace()
        .env_remove("SKIMTRACE_FINGERPRINT_KEY")
        .arg("desk")
        .arg(&case)
        .arg("--operators")
        .arg(&ops)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fingerprint key"));
    // Nothing was written into the case folder.
    assert!(!case.join("desk.jsonl").exists());
}

#[test]
fn affected_reads_phone_numbers_from_every_preset() {
    let dir = tempfile::tempdir().unwrap();
    // EC-CUBE 2 splits the number over three columns.
    let ec2 = dir.path().join("ec2.csv");
    std::fs::write(
        &ec2,
        "注文番号,会員ID,お名前(姓),お名前(名),メールアドレス,電話番号1,電話番号2,電話番号3,都道府県,お支払い合計,支払い方法,対応状況,注文日時\n\
         1001,0,山田,太郎,taro@example.jp,03,1234,5678,東京都,1000,クレジットカード決済,5,2021-01-05 10:00:00\n",
    )
    .unwrap();
    // WooCommerce (Advanced Order Export) writes Phone (Billing).
    let woo = dir.path().join("woo.csv");
    std::fs::write(
        &woo,
        "Order Number,Order Status,Order Date,First Name (Billing),Last Name (Billing),Email (Billing),Phone (Billing),Payment Method Title,Order Total Amount\n\
         W1,completed,2021-01-06 10:00:00,Ann,Lee,ann@example.com,+1 415-555-0100,Credit Card (Stripe),12.00\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    skimtrace()
        .args([
            "affected",
            "--quiet",
            "--window",
            "2021-01-01..2021-01-31",
            "--tz",
            "Asia/Tokyo",
            "--orders",
        ])
        .arg(&ec2)
        .arg(&woo)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let people = read_jsonl(&out.join("affected.jsonl"));
    let phones =
        |email: &str| people.iter().find(|p| p["email"] == email).unwrap()["phones"].clone();
    assert_eq!(
        phones("taro@example.jp"),
        serde_json::json!(["03-1234-5678"])
    );
    assert_eq!(
        phones("ann@example.com"),
        serde_json::json!(["+1 415-555-0100"])
    );
}

#[test]
fn desk_answer_scripts_are_editable_and_checked_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let case = bundled_case(dir.path());
    let ops = dir.path().join("ops.json");
    let tpl = dir.path().join("templates");
    skimtrace()
        .arg("desk")
        .arg(&case)
        .arg("--write-templates")
        .arg(&tpl)
        .assert()
        .success();
    let not_found = tpl.join("desk/ja/answer.not_found.txt.j2");
    assert!(std::fs::read_to_string(&not_found)
        .unwrap()
        .contains("見つかりませんでした"));
    // Writing them again never overwrites an edit.
    skimtrace()
        .arg("desk")
        .arg(&case)
        .arg("--write-templates")
        .arg(&tpl)
        .assert()
        .code(2);
    // Counsel's wording is what the desk shows.
    std::fs::write(
        &not_found,
        "{{ window_start }}〜{{ window_end }}の対象のご注文はございません（窓口確認済み）。\n",
    )
    .unwrap();
    let token = add_operator(&case, &ops, "mio");
    {
        let desk = start(&case, &ops, &["--templates", tpl.to_str().unwrap()]);
        let mut c = Client::new(desk.port);
        c.sign_in(&token);
        let text = c.search("email", "nobody@example.net", "").text();
        assert!(
            text.contains("2020-04-27〜2021-12-22の対象のご注文はございません（窓口確認済み）"),
            "{text}"
        );
    }
    // A broken edit (a syntax error, an unknown value) stops the desk at start, naming the
    // template, before a caller hears it.
    for broken in ["{{ window_start }\n", "{{ no_such_value }}\n"] {
        std::fs::write(&not_found, broken).unwrap();
        let out = skimtrace()
            .arg("desk")
            .arg(&case)
            .arg("--operators")
            .arg(&ops)
            .arg("--templates")
            .arg(&tpl)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{broken}");
        if broken.contains("window_start") {
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("desk/ja/answer.not_found.txt.j2")
            );
        }
    }
}

/// One HTTPS request to the desk, trusting only `ca` (its self-signed certificate).
fn https_get(port: u16, ca: &Path) -> String {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut conn = rustls::ClientConnection::new(std::sync::Arc::new(cfg), name).unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut tls = rustls::Stream::new(&mut conn, &mut sock);
    tls.write_all(
        format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn desk_serves_https_with_secure_cookies_and_refuses_plain_http_there() {
    let dir = tempfile::tempdir().unwrap();
    let case = bundled_case(dir.path());
    let ops = dir.path().join("ops.json");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=desk",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl makes the test certificate");
    assert!(ok.success());
    // A key that does not belong to the certificate, or a file that is not PEM: refused at
    // start, naming the file.
    let out = skimtrace()
        .arg("desk")
        .arg(&case)
        .arg("--operators")
        .arg(&ops)
        .args(["--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cert.pem"));

    let desk = start(
        &case,
        &ops,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let resp = https_get(desk.port, &cert);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let lower = resp.to_ascii_lowercase();
    assert!(lower.contains("set-cookie: __host-desk-pre="), "{resp}");
    assert!(lower.contains("; secure"), "{resp}");
    assert!(
        lower.contains("strict-transport-security: max-age="),
        "{resp}"
    );
    // Plain HTTP to the TLS port gets no page.
    let mut s = TcpStream::connect(("127.0.0.1", desk.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    assert!(!String::from_utf8_lossy(&raw).contains("Sign in"));
}

#[test]
fn desk_never_shows_a_card_number_planted_in_the_case_folder() {
    let dir = tempfile::tempdir().unwrap();
    let case = bundled_case(dir.path());
    // A card number where none belongs: in a name (an export that had it in the wrong column)
    // and in a server's reply in the journal.
    let path = case.join("affected.jsonl");
    let mut people = read_jsonl(&path);
    let email = people[0]["email"].as_str().unwrap().to_string();
    let id = people[0]["customer_id"].as_str().unwrap().to_string();
    people[0]["name"] = serde_json::json!("Taro 4111-1111-1111-1111");
    let text: String = people.iter().map(|p| format!("{p}\n")).collect();
    std::fs::write(&path, text).unwrap();
    let ev = serde_json::json!({
        "time": "2022-08-18T01:00:00Z", "campaign": "notice", "customer_id": id,
        "message_id": "<x>", "recipient": email, "review": false, "phase": "failed",
        "reply": "550 rejected 5555 5555 5555 4444", "attempt": 1,
    });
    std::fs::write(case.join("sent.jsonl"), format!("{ev}\n")).unwrap();
    let ops = dir.path().join("ops.json");
    let token = add_operator(&case, &ops, "rin");
    let desk = start(&case, &ops, &[]);
    let mut c = Client::new(desk.port);
    c.sign_in(&token);
    let r = c.search("email", &email, "");
    let text = r.text();
    assert!(
        text.contains("AFFECTED") && text.contains("failed"),
        "{text}"
    );
    assert!(text.contains("1111"), "the last 4 may show: {text}");
    assert_no_card_numbers(&c.pages, &case, dir.path());
}
