//! The Sigma subset, string in, verdict out: each modifier, each condition form, the skip and
//! error paths, the built-in pack and SigmaHQ's webserver rules.

use super::*;
use crate::access_log::format::LineFormat;

fn rule(detection: &str) -> Rule {
    let text = format!(
        "title: t\nid: 00000000-0000-4000-8000-000000000001\nlogsource:\n    category: webserver\ndetection:\n{detection}\n"
    );
    sigma::parse_rule(&text, "test.yml").unwrap_or_else(|(_, p)| panic!("{p}"))
}

/// Whether `detection` matches a combined-format line.
fn hits(detection: &str, line: &str) -> bool {
    let r = rule(detection);
    let m = Matcher::new(std::slice::from_ref(&r));
    let f = LineFormat::named("combined").unwrap();
    let rec = f.parse(line.as_bytes()).unwrap();
    let mut s = m.scratch();
    let mut out = Vec::new();
    m.matches(line.as_bytes(), &rec, &mut s, &mut out);
    !out.is_empty()
}

fn line(method: &str, target: &str, status: u16, referer: &str, ua: &str) -> String {
    format!(
        r#"203.0.113.9 - - [02/Mar/2020:04:11:09 +0900] "{method} {target} HTTP/1.1" {status} 512 "{referer}" "{ua}""#
    )
}

#[test]
fn plain_values_are_whole_and_case_insensitive() {
    let d = "    selection:\n        cs-uri-stem: '/Admin/Login'\n    condition: selection";
    assert!(hits(d, &line("GET", "/admin/login?x=1", 200, "-", "ua")));
    assert!(!hits(d, &line("GET", "/admin/login2", 200, "-", "ua")));
}

#[test]
fn contains_startswith_endswith() {
    let c =
        "    selection:\n        cs-uri-query|contains: 'BASE64_decode'\n    condition: selection";
    assert!(hits(
        c,
        &line("GET", "/x.php?a=base64_decode(1)", 200, "-", "u")
    ));
    assert!(!hits(c, &line("GET", "/x.php?a=base64", 200, "-", "u")));
    let s = "    selection:\n        cs-user-agent|startswith: 'sqlmap'\n    condition: selection";
    assert!(hits(s, &line("GET", "/", 200, "-", "SQLMap/1.4")));
    assert!(!hits(s, &line("GET", "/", 200, "-", "x sqlmap")));
    let e = "    selection:\n        cs-uri-stem|endswith: '.php'\n    condition: selection";
    assert!(hits(e, &line("GET", "/media/a.PHP?x", 200, "-", "u")));
    assert!(!hits(e, &line("GET", "/media/a.php.txt", 200, "-", "u")));
}

#[test]
fn re_is_case_sensitive_and_all_needs_every_value() {
    let r = "    selection:\n        cs-uri-query|re: '^/[a-z]+\\.php$'\n    condition: selection";
    assert!(hits(r, &line("GET", "/shell.php", 200, "-", "u")));
    assert!(!hits(r, &line("GET", "/Shell.php", 200, "-", "u")));
    let ri =
        "    selection:\n        cs-uri-query|re|i: '^/[a-z]+\\.php$'\n    condition: selection";
    assert!(hits(ri, &line("GET", "/Shell.php", 200, "-", "u")));
    let a = "    selection:\n        cs-uri-query|contains|all:\n            - 'cmd='\n            - 'id'\n    condition: selection";
    assert!(hits(a, &line("GET", "/x?cmd=id", 200, "-", "u")));
    assert!(!hits(a, &line("GET", "/x?cmd=ls", 200, "-", "u")));
}

#[test]
fn cidr_and_numbers_and_null() {
    let c = "    selection:\n        c-ip|cidr:\n            - '203.0.113.0/24'\n            - '2001:db8::/32'\n    condition: selection";
    assert!(hits(c, &line("GET", "/", 200, "-", "u")));
    let other = line("GET", "/", 200, "-", "u").replace("203.0.113.9", "198.51.100.1");
    assert!(!hits(c, &other));
    let v6 = line("GET", "/", 200, "-", "u").replace("203.0.113.9", "2001:db8::7");
    assert!(hits(c, &v6));
    let n = "    selection:\n        sc-status: 404\n    condition: selection";
    assert!(hits(n, &line("GET", "/", 404, "-", "u")));
    assert!(!hits(n, &line("GET", "/", 200, "-", "u")));
    let z =
        "    selection:\n        cs-referer: null\n        cs-host: null\n    condition: selection";
    assert!(hits(z, &line("GET", "/", 200, "-", "u")));
    assert!(!hits(z, &line("GET", "/", 200, "https://x/", "u")));
}

#[test]
fn glob_wildcards_and_escapes() {
    let g =
        "    selection:\n        cs-uri-query: '*/wp-content/*.php?*'\n    condition: selection";
    assert!(hits(
        g,
        &line("GET", "/wp-content/up/x.php?a", 200, "-", "u")
    ));
    assert!(!hits(
        g,
        &line("GET", "/wp-content/up/x.php", 200, "-", "u")
    ));
    let q = "    selection:\n        cs-uri-stem: '/a?.js'\n    condition: selection";
    assert!(hits(q, &line("GET", "/ab.js", 200, "-", "u")));
    assert!(!hits(q, &line("GET", "/abc.js", 200, "-", "u")));
    let esc = "    selection:\n        cs-uri-query|contains: 'a\\*b'\n    condition: selection";
    assert!(hits(esc, &line("GET", "/a*b", 200, "-", "u")));
    assert!(!hits(esc, &line("GET", "/axxb", 200, "-", "u")));
}

#[test]
fn keywords_plain_and_with_modifiers() {
    let k = "    keywords:\n        - 'UNION SELECT'\n        - 'wso'\n    condition: keywords";
    assert!(hits(
        k,
        &line("GET", "/?q=union%20select", 200, "-", "wso-bot")
    ));
    assert!(!hits(k, &line("GET", "/?q=union", 200, "-", "u")));
    let all = "    keywords:\n        '|all':\n            - 'POST'\n            - 200\n            - '/gate.php'\n    condition: keywords";
    assert!(hits(all, &line("POST", "/gate.php", 200, "-", "u")));
    assert!(!hits(all, &line("GET", "/gate.php", 200, "-", "u")));
}

#[test]
fn condition_forms() {
    let base = "    sel_a:\n        cs-method: 'POST'\n    sel_b:\n        cs-uri-stem|endswith: '.js'\n    filter:\n        sc-status: 404\n";
    let post_js = line("POST", "/a.js", 200, "-", "u");
    let post_js_404 = line("POST", "/a.js", 404, "-", "u");
    let get_js = line("GET", "/a.js", 200, "-", "u");
    let get_css = line("GET", "/a.css", 200, "-", "u");
    let c = |cond: &str| format!("{base}    condition: {cond}");
    assert!(hits(&c("sel_a and sel_b"), &post_js));
    assert!(!hits(&c("sel_a and sel_b"), &get_js));
    assert!(hits(&c("sel_a or sel_b"), &get_js));
    assert!(!hits(&c("sel_a or sel_b"), &get_css));
    assert!(!hits(&c("sel_a and not filter"), &post_js_404));
    assert!(hits(&c("(sel_a or sel_b) and not filter"), &get_js));
    assert!(hits(&c("1 of sel_*"), &get_js));
    assert!(!hits(&c("all of sel_*"), &get_js));
    assert!(hits(&c("all of sel_*"), &post_js));
    assert!(hits(&c("1 of them"), &get_js));
    assert!(!hits(&c("all of them"), &post_js));
    assert!(hits(&c("all of them"), &post_js_404));
    assert!(hits(&c("not 1 of sel_* or filter"), &get_css));
}

#[test]
fn other_log_sources_are_skipped_with_the_reason() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("sub")).unwrap();
    std::fs::write(
        d.path().join("sub/proc.yml"),
        "title: Proc\nid: 1\nlogsource:\n    category: process_creation\n    product: windows\ndetection:\n    s:\n        Image: x\n    condition: s\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("web.yaml"),
        "title: Web\nid: 2\nlogsource:\n    category: webserver\ndetection:\n    s:\n        cs-method: POST\n    condition: s\n",
    )
    .unwrap();
    std::fs::write(d.path().join("notes.txt"), "not a rule").unwrap();
    let mut set = RuleSet::default();
    set.load_path(d.path(), "rules").unwrap();
    assert_eq!(set.rules.len(), 1);
    assert_eq!(set.skipped.len(), 1);
    assert_eq!(set.skipped[0].source, "rules/sub/proc.yml");
    assert_eq!(
        set.skipped[0].reason,
        "not a web-server access-log rule (category: process_creation, product: windows)"
    );
}

#[test]
fn a_broken_rule_file_is_a_config_error_naming_file_and_rule() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("bad.yml");
    std::fs::write(
        &p,
        "title: Bad regex\nid: 3\nlogsource:\n    category: webserver\ndetection:\n    s:\n        cs-uri-query|re: '(unclosed'\n    condition: s\n",
    )
    .unwrap();
    let e = RuleSet::default().load_path(&p, "bad.yml").unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("bad.yml") && msg.contains("\"Bad regex\"") && msg.contains("bad regex"),
        "{msg}"
    );
    assert_eq!(e.exit_code(), 2);
    std::fs::write(
        &p,
        "title: Odd\nid: 4\nlogsource:\n    category: webserver\ndetection:\n    s:\n        cs-uri-query|base64offset|contains: 'x'\n    condition: s\n",
    )
    .unwrap();
    let msg = RuleSet::default()
        .load_path(&p, "bad.yml")
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("unsupported Sigma construct: modifier \"base64offset\""),
        "{msg}"
    );
    std::fs::write(&p, "title: Cond\nid: 5\nlogsource:\n    category: webserver\ndetection:\n    s:\n        cs-method: GET\n    condition: s and missing\n").unwrap();
    let msg = RuleSet::default()
        .load_path(&p, "bad.yml")
        .unwrap_err()
        .to_string();
    assert!(msg.contains("\"missing\""), "{msg}");
}

#[test]
fn builtin_pack_loads_with_uuids_and_comments() {
    let set = RuleSet::builtin();
    assert!(set.rules.len() >= 20, "{}", set.rules.len());
    assert!(set.skipped.is_empty());
    for (name, text) in BUILTIN {
        assert!(
            text.starts_with("# "),
            "{name} has no comment on what it catches"
        );
    }
    for r in &set.rules {
        let id = &r.id;
        let ok = id.len() == 36 && id.bytes().filter(|&c| c == b'-').count() == 4;
        assert!(ok, "{} id {id} is not a UUID", r.title);
    }
}

#[test]
fn builtin_pack_catches_its_examples() {
    let set = RuleSet::builtin();
    let m = Matcher::new(&set.rules);
    let f = LineFormat::named("combined").unwrap();
    let id_of = |name: &str| {
        set.rules
            .iter()
            .position(|r| r.source == format!("builtin:{name}.yml"))
            .unwrap() as u32
    };
    for (l, rule) in [
        (
            line("GET", "/media/catalog/x.php", 200, "-", "u"),
            "php-in-static-folder",
        ),
        (
            line("POST", "/js/mage/cookies.js", 200, "-", "u"),
            "post-to-static-asset",
        ),
        (line("GET", "/.git/config", 404, "-", "u"), "git-folder"),
        (line("GET", "/.env", 404, "-", "u"), "env-file"),
        (
            line("GET", "/app/etc/env.php", 403, "-", "u"),
            "config-file-read",
        ),
        (
            line("POST", "/admin/login_check", 302, "-", "u"),
            "eccube-admin-login",
        ),
        (
            line("GET", "/", 200, "https://magentocore.net/x", "u"),
            "exfil-domain-referer",
        ),
        (
            line("GET", "/x.php?a=eval(base64_decode(1))", 200, "-", "u"),
            "php-code-in-query",
        ),
    ] {
        let rec = f.parse(l.as_bytes()).unwrap();
        let mut out = Vec::new();
        m.matches(l.as_bytes(), &rec, &mut m.scratch(), &mut out);
        assert!(out.contains(&id_of(rule)), "{rule} missed {l}");
    }
    let benign = line(
        "GET",
        "/products/shoes.html?color=red",
        200,
        "https://www.google.com/",
        "Mozilla/5.0",
    );
    let rec = f.parse(benign.as_bytes()).unwrap();
    let mut out = Vec::new();
    m.matches(benign.as_bytes(), &rec, &mut m.scratch(), &mut out);
    assert!(out.is_empty(), "{out:?}");
}

/// A rule that pairs a method with a short extension of the path waits for the method when it
/// is not `GET` or `HEAD` (a POST is a few requests in a hundred, a `.js` most of them), and
/// for the other literals when it is.
#[test]
fn triggers_prefer_a_rare_method_to_short_extensions() {
    let m = Matcher::new(&[
        rule("    sel:\n        cs-method: 'POST'\n        cs-uri-stem|endswith: ['.js', '.png']\n    condition: sel"),
        rule("    sel:\n        cs-method: 'GET'\n        cs-uri-stem|endswith: ['.js', '.png']\n    condition: sel"),
    ]);
    let t = m.triggers();
    assert_eq!(
        t[0],
        matcher::Trigger::Literals(vec![("cs-method", "post".into())])
    );
    assert!(!t[0].on_most_requests());
    assert_eq!(
        t[1],
        matcher::Trigger::Literals(vec![("cs-uri", ".js".into()), ("cs-uri", ".png".into())])
    );
    assert!(!t[1].on_most_requests());
    let f = LineFormat::named("combined").unwrap();
    for (method, target, want) in [
        ("POST", "/js/a.js", vec![0]),
        ("post", "/i/B.PNG", vec![0]),
        ("GET", "/js/a.js", vec![1]),
        ("PUT", "/js/a.js", vec![]),
        ("POST", "/js/a.php", vec![]),
    ] {
        let l = line(method, target, 200, "-", "u");
        let rec = f.parse(l.as_bytes()).unwrap();
        let mut out = Vec::new();
        m.matches(l.as_bytes(), &rec, &mut m.scratch(), &mut out);
        assert_eq!(out, want, "{l}");
        assert_eq!(out, m.matches_unfiltered(l.as_bytes(), &rec), "{l}");
    }
}

#[test]
fn iocs_match_ips_domains_and_paths() {
    let mut iocs = Iocs::default();
    iocs.ips.push(sigma::parse_cidr("203.0.113.0/28").unwrap());
    iocs.domains.push("evil-cdn.example".into());
    iocs.paths.push("/js/jquery.min.js.php".into());
    let mut set = RuleSet::default();
    set.add_iocs(&iocs);
    let m = Matcher::new(&set.rules);
    let f = LineFormat::named("combined").unwrap();
    let run = |l: &str| {
        let rec = f.parse(l.as_bytes()).unwrap();
        let mut out = Vec::new();
        m.matches(l.as_bytes(), &rec, &mut m.scratch(), &mut out);
        out.iter()
            .map(|&i| set.rules[i as usize].id.clone())
            .collect::<Vec<_>>()
    };
    let l = line(
        "GET",
        "/pub/js/jquery.min.js.php",
        200,
        "https://www.evil-cdn.example/p",
        "u",
    );
    assert_eq!(run(&l), ["ioc-ips", "ioc-domains", "ioc-paths"]);
    let l = line("GET", "/", 200, "https://notevil-cdn.example/", "u")
        .replace("203.0.113.9", "203.0.113.99");
    assert!(run(&l).is_empty());
}

/// Every `category: webserver` rule of SigmaHQ loads (the subset covers 100%).
#[test]
fn all_sigmahq_webserver_rules_load() {
    // The shared data lies beside the repository (`../shared`), in CI as on a developer's
    // machine: there it must be, and the test fails without it.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/sigmahq-webserver");
    if !dir.is_dir() {
        if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false") {
            panic!("{} is absent: needed in CI", dir.display());
        }
        eprintln!("skipped: {} is absent", dir.display());
        return;
    }
    let mut set = RuleSet::default();
    set.load_path(&dir, "sigmahq").unwrap();
    assert_eq!(set.skipped, vec![], "skipped rules");
    assert_eq!(set.rules.len(), 86);
    // And they run over a line without error, and an exploit line fires its rule.
    let m = Matcher::new(&set.rules);
    let f = LineFormat::named("combined").unwrap();
    let l = line(
        "GET",
        "/index.php?id=1%20UNION%20SELECT%201,2",
        200,
        "-",
        "sqlmap",
    );
    let rec = f.parse(l.as_bytes()).unwrap();
    let mut out = Vec::new();
    m.matches(l.as_bytes(), &rec, &mut m.scratch(), &mut out);
    let titles: Vec<&str> = out
        .iter()
        .map(|&i| set.rules[i as usize].title.as_str())
        .collect();
    assert!(
        titles.contains(&"SQL Injection Strings In URI"),
        "{titles:?}"
    );
}

#[test]
fn json_lines_and_joined_targets_match_like_combined_ones() {
    let r = rule(
        "    selection:\n        cs-uri-query|contains: 'x.php?cmd='\n    condition: selection",
    );
    let m = Matcher::new(std::slice::from_ref(&r));
    let run = |f: &LineFormat, line: &str| {
        let rec = f.parse(line.as_bytes()).unwrap();
        let mut out = Vec::new();
        m.matches(line.as_bytes(), &rec, &mut m.scratch(), &mut out);
        !out.is_empty()
    };
    let j = LineFormat::named("json").unwrap();
    assert!(run(
        &j,
        r#"{"time_local":"01/May/2020:10:00:00 +0900","request":"GET /x.php?cmd=id HTTP/1.1","status":200}"#
    ));
    assert!(run(
        &j,
        r#"{"time_local":"01/May/2020:10:00:00 +0900","request":"GET /x.php?cmd=\u0069d HTTP/1.1","status":200,"http_user_agent":"a \"b\""}"#
    ));
    assert!(!run(
        &j,
        r#"{"time_local":"01/May/2020:10:00:00 +0900","request":"GET /y.php?cmd=id HTTP/1.1","status":200}"#
    ));
    // Path and query logged apart: the literal spans the `?` the parser put back.
    let split = LineFormat::custom("$remote_addr [$time_local] $request_method $uri $args $status")
        .unwrap();
    assert!(run(
        &split,
        "1.2.3.4 [01/May/2020:10:00:00 +0900] GET /x.php cmd=id 200"
    ));
}

/// The built-in pack and SigmaHQ's rules (when the shared data is there: `all_sigmahq_…`
/// requires it in CI).
fn every_rule() -> Vec<Rule> {
    let mut set = RuleSet::builtin();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/sigmahq-webserver");
    if dir.is_dir() {
        set.load_path(&dir, "sigmahq").unwrap();
    }
    set.rules
}

mod prefilter {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    /// Every rule (the built-in pack and SigmaHQ's), with the literals they wait for.
    fn matcher() -> &'static (Matcher, Vec<String>) {
        static M: OnceLock<(Matcher, Vec<String>)> = OnceLock::new();
        M.get_or_init(|| {
            let m = Matcher::new(&every_rule());
            let mut lits: Vec<String> = m
                .triggers()
                .into_iter()
                .flat_map(|t| match t {
                    matcher::Trigger::Literals(v) => v.into_iter().map(|(_, l)| l).collect(),
                    matcher::Trigger::Every => Vec::new(),
                })
                .filter(|l| !l.contains('"') && !l.contains('\\'))
                .collect();
            lits.sort();
            lits.dedup();
            (m, lits)
        })
    }

    /// The built-in pack alone: its user agent's and referer's literals are few enough for
    /// gates over their prefixes in every case, which the larger set of every rule is not.
    fn builtin() -> &'static Matcher {
        static M: OnceLock<Matcher> = OnceLock::new();
        M.get_or_init(|| Matcher::new(&RuleSet::builtin().rules))
    }

    /// A value made of literals the rules look for (cut, each letter in either case, as the
    /// bits of `case` say) and filler.
    fn value() -> impl Strategy<Value = String> {
        let lits = &matcher().1;
        proptest::collection::vec(
            (
                0..lits.len(),
                0usize..3,
                prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()],
                "[a-zA-Z0-9/.?=&%-]{0,4}",
            ),
            0..4,
        )
        .prop_map(move |parts| {
            let mut v = String::new();
            for (i, cut, case, filler) in parts {
                let l = &lits[i];
                let l = l.get(..l.len().saturating_sub(cut)).unwrap_or(l);
                v.extend(l.chars().enumerate().map(|(k, c)| {
                    if case >> (k % 64) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                }));
                v.push_str(&filler);
            }
            v.replace(' ', "%20")
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, cases: 1500, ..Default::default() })]
        /// Looking for literals first never changes a verdict: the same rules match as when
        /// every rule is evaluated in full, on combined lines and on JSON lines whose values
        /// were unescaped.
        #[test]
        fn never_changes_a_verdict(
            method in prop_oneof![Just("GET"), Just("POST"), Just("get"), Just("PUT")],
            target in value(),
            referer in value(),
            ua in value(),
            status in prop_oneof![Just(200u16), Just(404), Just(500)],
        ) {
            let path = format!("/{}", target.trim_start_matches('/'));
            let combined = LineFormat::named("combined").unwrap();
            let l = line(method, &path, status, &referer, &ua);
            if let Ok(rec) = combined.parse(l.as_bytes()) {
                for m in [&matcher().0, builtin()] {
                    let mut out = Vec::new();
                    m.matches(l.as_bytes(), &rec, &mut m.scratch(), &mut out);
                    prop_assert_eq!(&out, &m.matches_unfiltered(l.as_bytes(), &rec), "{}", l);
                }
            }
            // JSON, with every `/` escaped: no value is a slice of the line.
            let esc = |s: &str| s.replace('/', "\\/");
            let j = format!(
                r#"{{"time_local":"01/May/2020:10:00:00 +0900","request":"{method} {} HTTP/1.1","status":{status},"http_referer":"{}","http_user_agent":"{}"}}"#,
                esc(&path), esc(&referer), esc(&ua)
            );
            let json = LineFormat::named("json").unwrap();
            if let Ok(rec) = json.parse(j.as_bytes()) {
                for m in [&matcher().0, builtin()] {
                    let mut out = Vec::new();
                    m.matches(j.as_bytes(), &rec, &mut m.scratch(), &mut out);
                    prop_assert_eq!(&out, &m.matches_unfiltered(j.as_bytes(), &rec), "{}", j);
                }
            }
        }
    }
}
