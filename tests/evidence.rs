//! `skimtrace evidence` and `skimtrace rules`, end to end on the bundled logs
//! (`fixtures/vector-park/logs/`: a rotated set with a gzip'd member, a JSON-lines file,
//! planted indicators before, inside and after the window 2020-04-27..2021-12-22 Asia/Tokyo).

use crate::util::{read_csv, root, skimtrace};
use std::collections::BTreeMap;
use std::path::Path;

const CONFIG: &str = r#"
[incident]
id = "vp-logs"
timezone = "Asia/Tokyo"
window = "2020-04-27..2021-12-22"

[logs]
paths = ["logs/"]
"#;

/// A temporary case folder holding a copy of the fixture logs and a small config.
fn case() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let src = root().join("fixtures/vector-park/logs");
    std::fs::create_dir_all(d.path().join("logs/custom")).unwrap();
    for sub in ["", "custom"] {
        for e in std::fs::read_dir(src.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(
                    &p,
                    d.path().join("logs").join(sub).join(p.file_name().unwrap()),
                )
                .unwrap();
            }
        }
    }
    std::fs::write(d.path().join("incident.toml"), CONFIG).unwrap();
    d
}

fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Built-in rule id → file name (without `.yml`), from `skimtrace rules list`.
fn rule_names() -> BTreeMap<String, String> {
    let out = skimtrace().args(["rules", "list"]).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let name = f[3].trim_start_matches("builtin:").trim_end_matches(".yml");
            (f[0].to_string(), name.to_string())
        })
        .collect()
}

/// Luhn-valid runs of 13–19 digits (single spaces or dashes allowed between digits), written
/// here independently of the library.
fn card_like(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let digits: Vec<(usize, u8)> = text
        .bytes()
        .enumerate()
        .filter(|(_, c)| c.is_ascii_digit())
        .collect();
    let b = text.as_bytes();
    for s in 0..digits.len() {
        let mut run = Vec::new();
        for k in s..digits.len() {
            if k > s {
                let gap = &b[digits[k - 1].0 + 1..digits[k].0];
                if !(gap.is_empty() || gap == b" " || gap == b"-") {
                    break;
                }
            }
            run.push(digits[k].1 - b'0');
            if (13..=19).contains(&run.len()) {
                let sum: u32 = run
                    .iter()
                    .rev()
                    .enumerate()
                    .map(|(i, &d)| {
                        let d = u32::from(d);
                        if i % 2 == 1 {
                            if d * 2 > 9 {
                                d * 2 - 9
                            } else {
                                d * 2
                            }
                        } else {
                            d
                        }
                    })
                    .sum();
                if sum.is_multiple_of(10) {
                    found.push(run.iter().map(|d| (d + b'0') as char).collect());
                }
            }
        }
    }
    found
}

#[test]
fn vector_park_logs_give_the_planted_hits_in_time_order() {
    let d = case();
    let out = d.path().join("out");
    let run = skimtrace()
        .arg("evidence")
        .arg("--config")
        .arg(d.path().join("incident.toml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let names = rule_names();
    let rows = read_csv(&out.join("evidence.csv"));
    assert_eq!(
        rows[0],
        [
            "time",
            "source",
            "ip",
            "method",
            "path",
            "target",
            "status",
            "referer",
            "user_agent",
            "rules",
            "in_window",
            "level",
            "origin"
        ]
    );
    let got: Vec<(String, String, String, String)> = rows[1..]
        .iter()
        .map(|r| {
            let mut rules: Vec<&str> = r[9].split(' ').map(|id| names[id].as_str()).collect();
            rules.sort();
            (r[0].clone(), r[1].clone(), rules.join(","), r[10].clone())
        })
        .collect();
    let want = [
        (
            "2020-03-02T04:11:09+09:00",
            "logs/access.log.2.gz:3",
            "php-in-static-folder,webshell-names",
            "false",
        ),
        (
            "2020-03-02T04:12:30+09:00",
            "logs/access.log.2.gz:4",
            "php-in-static-folder,webshell-command-params,webshell-names",
            "false",
        ),
        (
            "2020-04-27T08:15:00+09:00",
            "logs/access.log.1:2",
            "eccube-admin-login",
            "true",
        ),
        (
            "2020-04-27T08:20:00+09:00",
            "logs/access.log.1:3",
            "post-to-static-asset",
            "true",
        ),
        (
            "2020-04-28T11:00:00+09:00",
            "logs/access.log.1:9",
            "env-file",
            "true",
        ),
        (
            "2020-04-28T11:30:00+09:00",
            "logs/access.log.1:10",
            "exfil-domain-referer",
            "true",
        ),
        (
            "2021-06-15T12:00:10+09:00",
            "logs/shop-json.log:2",
            "config-file-read",
            "true",
        ),
        (
            "2021-12-22T23:59:59+09:00",
            "logs/access.log:3",
            "php-in-static-folder",
            "true",
        ),
        (
            "2021-12-25T03:00:00+09:00",
            "logs/access.log:5",
            "git-folder",
            "false",
        ),
    ];
    let want: Vec<(String, String, String, String)> = want
        .iter()
        .map(|(a, b, c, e)| (a.to_string(), b.to_string(), c.to_string(), e.to_string()))
        .collect();
    assert_eq!(got, want);
    // Fields of one row, as logged (IPv4 client, empty referer for `-`).
    let git = &rows[9];
    assert_eq!(
        &git[2..9],
        [
            "203.0.113.66",
            "GET",
            "/.git/config",
            "/.git/config",
            "404",
            "",
            "curl/7.68.0"
        ]
    );
    // JSONL carries the same rows in the same order.
    let jsonl = std::fs::read_to_string(out.join("evidence.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(first["source"], "logs/access.log.2.gz:3");
    assert_eq!(first["status"], 200);
    assert_eq!(first["referer"], serde_json::Value::Null);
    assert_eq!(first["level"], "critical");
    assert_eq!(
        first["titles"],
        serde_json::json!([
            "Request for a known web-shell file name",
            "PHP file requested under a static or upload folder"
        ])
    );
    assert_eq!(jsonl.lines().count(), 9);

    // The window check: before the start (56 days), after the end (3 days), gaps.
    assert!(stderr.contains("first matched 2020-03-02T04:11:09+09:00, 56 days before the declared window start (logs/access.log.2.gz:3)"), "{stderr}");
    assert!(stderr.contains("last matched 2021-12-25T03:00:00+09:00, 3 days after the declared window end (logs/access.log:5)"), "{stderr}");
    assert!(
        stderr.contains("no log lines from 2020-04-29 to 2021-06-14 (412 days inside the window)"),
        "{stderr}"
    );
    let s = read_json(&out.join("summary.json"));
    let wc = &s["window_check"];
    assert_eq!(wc["status"], "indicators_outside_window");
    assert_eq!(
        wc["earliest_indicator"]["time"],
        "2020-03-02T04:11:09+09:00"
    );
    assert_eq!(wc["latest_indicator"]["time"], "2021-12-25T03:00:00+09:00");
    let kinds: Vec<(String, String)> = wc["outside_window"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                names[f["rule"].as_str().unwrap()].clone(),
                f["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("webshell-names".to_string(), "before_start".to_string()),
            ("php-in-static-folder".into(), "before_start".into()),
            ("git-folder".into(), "after_end".into()),
            ("webshell-command-params".into(), "before_start".into()),
        ]
    );
    let gaps: Vec<(String, String, i64)> = wc["log_gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["from"].as_str().unwrap().into(),
                g["to"].as_str().unwrap().into(),
                g["days"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        gaps,
        [
            ("2020-04-29".to_string(), "2021-06-14".to_string(), 412),
            ("2021-06-16".into(), "2021-12-19".into(), 187),
            ("2021-12-21".into(), "2021-12-21".into(), 1),
        ]
    );

    // Every line is accounted for, per file, oldest rotation first.
    let ev = &s["evidence"];
    let files: Vec<(String, u64, u64, u64, bool)> = ev["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["lines_read"].as_u64().unwrap(),
                f["parsed"].as_u64().unwrap(),
                f["malformed"].as_u64().unwrap(),
                f["gzip"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            ("logs/access.log.2.gz".to_string(), 6, 6, 0, true),
            ("logs/access.log.1".into(), 10, 8, 2, false),
            ("logs/access.log".into(), 5, 5, 0, false),
            ("logs/shop-json.log".into(), 3, 3, 0, false),
        ]
    );
    assert_eq!(ev["files"][3]["format"], "json");
    assert_eq!(ev["totals"]["lines_read"], 24);
    assert_eq!(ev["totals"]["reconciled"], true);
    assert_eq!(ev["totals"]["checkouts_in_window"], 3);
    assert_eq!(ev["totals"]["checkouts_outside_window"], 2);
    assert_eq!(
        ev["distinct_ips"], 3,
        "203.0.113.66, 198.51.100.23, 192.0.2.23"
    );

    // The timeline: one row per day from the first to the last logged day.
    let tl = read_csv(&out.join("timeline.csv"));
    assert_eq!(
        &tl[0][..6],
        [
            "date",
            "in_window",
            "requests",
            "checkouts_in_window",
            "checkouts_outside_window",
            "evidence_requests"
        ]
    );
    assert_eq!(tl.len() - 1, 665, "2020-03-01..2021-12-25");
    let day = |d: &str| tl.iter().find(|r| r[0] == d).unwrap()[1..6].join(",");
    assert_eq!(day("2020-03-02"), "false,3,0,1,2");
    assert_eq!(day("2020-04-27"), "true,5,1,0,2");
    assert_eq!(day("2020-04-28"), "true,3,0,0,2");
    assert_eq!(day("2021-06-15"), "true,3,1,0,1");
    assert_eq!(day("2021-12-22"), "true,1,0,0,1");
    assert_eq!(day("2021-12-23"), "false,1,0,1,0");
    assert_eq!(day("2021-01-01"), "true,0,0,0,0");
    // Hits per rule: the web-shell rule's column holds 2 on 2020-03-02.
    let ws = names
        .iter()
        .find(|(_, n)| *n == "webshell-names")
        .unwrap()
        .0;
    let col = tl[0].iter().position(|h| h == ws).unwrap();
    assert_eq!(tl.iter().find(|r| r[0] == "2020-03-02").unwrap()[col], "2");
}

#[test]
fn rejected_lines_are_counted_sampled_and_masked() {
    let d = case();
    let out = d.path().join("out");
    skimtrace()
        .arg("evidence")
        .arg("-c")
        .arg(d.path().join("incident.toml"))
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let rows = read_csv(&out.join("rejected_lines.csv"));
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1][0], "logs/access.log.1:6");
    assert_eq!(rows[1][1], "expected [time] at column 21");
    assert!(
        rows[1][2].starts_with("card=4111 11** **** 1111 pasted"),
        "{}",
        rows[1][2]
    );
    assert_eq!(rows[2][0], "logs/access.log.1:7");
    assert_eq!(rows[2][1], "unterminated quoted user agent");
    let s = read_json(&out.join("summary.json"));
    assert_eq!(
        s["evidence"]["files"][1]["malformed_reasons"],
        serde_json::json!({"expected [time]": 1, "unterminated quoted user agent": 1})
    );
    // The planted card number is in the input, and in no output.
    let input = std::fs::read_to_string(d.path().join("logs/access.log.1")).unwrap();
    assert_eq!(card_like(&input).len(), 1);
    for e in std::fs::read_dir(&out).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            card_like(&text).is_empty(),
            "{} holds a card number",
            p.display()
        );
    }
}

#[test]
fn a_custom_apache_logformat_parses_its_fixture() {
    let d = case();
    let out = d.path().join("out");
    let run = skimtrace()
        .args(["evidence", "--window", "2020-04-27..2021-12-22", "--tz", "Asia/Tokyo", "--logs"])
        .arg(d.path().join("logs/custom/apache-logformat.log"))
        .args([
            "--log-format",
            r#"LogFormat "%a %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\" %D %{PHPSESSID}C" shop"#,
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let s = read_json(&out.join("summary.json"));
    let f = &s["evidence"]["files"][0];
    assert_eq!(
        (
            f["lines_read"].as_u64(),
            f["parsed"].as_u64(),
            f["malformed"].as_u64()
        ),
        (Some(4), Some(3), Some(1))
    );
    assert_eq!(f["format"], "custom");
    assert_eq!(s["evidence"]["totals"]["checkouts_in_window"], 1);
    // The checkout carries the user and the session cookie the format logs.
    let ck = read_csv(&out.join("checkouts.csv"));
    assert_eq!(
        ck[0],
        [
            "time",
            "source",
            "ip",
            "user",
            "session",
            "target",
            "status",
            "user_agent"
        ]
    );
    assert_eq!(ck.len(), 2);
    assert_eq!(&ck[1][..1], ["2020-05-10T10:02:00+09:00"]);
    assert_eq!(
        &ck[1][2..7],
        ["192.0.2.50", "taro", "sess-a1", "/shopping/confirm", "302"]
    );
    assert_eq!(
        s["evidence"]["totals"]["checkouts_in_window_with_session"],
        1
    );
    let rows = read_csv(&out.join("evidence.csv"));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][0], "2020-05-10T10:03:00+09:00");
    assert_eq!(rows[1][4], "/media/tmp/x.php");
}

#[test]
fn a_custom_nginx_log_format_parses_its_fixture() {
    let d = case();
    let out = d.path().join("out");
    let run = skimtrace()
        .args(["evidence", "--window", "2020-04-27..2021-12-22", "--tz", "Asia/Tokyo", "--logs"])
        .arg(d.path().join("logs/custom/nginx-log_format.log"))
        .args([
            "--log-format",
            "log_format shop '$remote_addr - $remote_user [$time_local] \"$request\" '\n    '$status $body_bytes_sent \"$http_referer\" \"$http_user_agent\" \"$http_host\" $request_time';",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let s = read_json(&out.join("summary.json"));
    let f = &s["evidence"]["files"][0];
    assert_eq!(
        (f["parsed"].as_u64(), f["malformed"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(
        s["evidence"]["totals"]["checkouts_in_window"], 1,
        "the IPv6 client's checkout"
    );
    let rows = read_csv(&out.join("evidence.csv"));
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1][1],
        format!(
            "{}:2",
            d.path().join("logs/custom/nginx-log_format.log").display()
        )
    );
    assert_eq!(rows[1][4], "/wp-config.php.bak");
    // The same file read as plain combined does not parse (the host field is extra but
    // quoted text after the user agent is tolerated; a wrong time field is not).
    let bad = skimtrace()
        .args([
            "evidence",
            "--window",
            "2020-04-27..2021-12-22",
            "--tz",
            "Asia/Tokyo",
            "--logs",
        ])
        .arg(d.path().join("logs/custom/nginx-log_format.log"))
        .args([
            "--log-format",
            "$remote_addr $time_iso8601 \"$request\" $status",
            "--out",
        ])
        .arg(d.path().join("out2"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no line parsed as custom (3 malformed)"));
}

#[test]
fn iocs_add_to_the_builtin_rules_and_summaries_merge() {
    let d = case();
    let out = d.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("summary.json"), r#"{"affected": {"kept": true}}"#).unwrap();
    std::fs::write(d.path().join("ips.txt"), "# attacker\n203.0.113.64/28\n").unwrap();
    std::fs::write(d.path().join("domains.txt"), "magentocore.net\n").unwrap();
    skimtrace()
        .arg("evidence")
        .arg("-c")
        .arg(d.path().join("incident.toml"))
        .arg("--ioc-ips")
        .arg(d.path().join("ips.txt"))
        .arg("--ioc-domains")
        .arg(d.path().join("domains.txt"))
        .arg("-o")
        .arg(&out)
        .arg("--force")
        .assert()
        .success();
    let s = read_json(&out.join("summary.json"));
    assert_eq!(s["affected"]["kept"], true);
    let matched: BTreeMap<String, u64> = s["evidence"]["rules"]["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap().to_string(),
                m["hits"].as_u64().unwrap(),
            )
        })
        .collect();
    // 203.0.113.66 made 6 requests in the set, all now evidence through the IP list.
    assert_eq!(matched["ioc-ips"], 6);
    assert_eq!(matched["ioc-domains"], 1);
    assert_eq!(s["evidence"]["rules"]["active"], 26);
}

#[test]
fn the_elastic_apache_log_parses_9999_lines_and_rejects_one() {
    let p = root().join("../shared/data/elastic-apache-logs/apache_logs.gz");
    if !p.is_file() {
        crate::util::missing("the elastic sample log (../shared/data)");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    skimtrace()
        .args([
            "evidence",
            "--window",
            "2015-05-17..2015-05-20",
            "--tz",
            "UTC",
            "--logs",
        ])
        .arg(&p)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let s = read_json(&out.join("summary.json"));
    let f = &s["evidence"]["files"][0];
    assert_eq!(
        (
            f["lines_read"].as_u64(),
            f["parsed"].as_u64(),
            f["malformed"].as_u64()
        ),
        (Some(10000), Some(9999), Some(1))
    );
    assert_eq!(f["first_time"], "2015-05-17T10:05:00+00:00");
    assert_eq!(f["last_time"], "2015-05-20T21:05:59+00:00");
    let rej = read_csv(&out.join("rejected_lines.csv"));
    assert_eq!(rej.len(), 2);
    assert!(rej[1][0].ends_with(":8899"), "{:?}", rej[1]);
    assert_eq!(s["window_check"]["log_gaps"], serde_json::json!([]));
    let tl = read_csv(&out.join("timeline.csv"));
    let total: u64 = tl[1..].iter().map(|r| r[2].parse::<u64>().unwrap()).sum();
    assert_eq!(total, 9999);
    // Hits are in time order although the log is not.
    let rows = read_csv(&out.join("evidence.csv"));
    let times: Vec<&String> = rows[1..].iter().map(|r| &r[0]).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
}

#[test]
fn rules_check_accepts_skips_and_refuses() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("rules")).unwrap();
    std::fs::write(
        d.path().join("rules/proxy.yml"),
        "title: Proxy rule\nid: 11111111-1111-4111-8111-111111111111\nlogsource:\n    category: proxy\ndetection:\n    s:\n        c-uri|contains: x\n    condition: s\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("rules/host.yaml"),
        "title: Host rule\nid: 22222222-2222-4222-8222-222222222222\nlogsource:\n    category: webserver\ndetection:\n    s:\n        cs-host|endswith: '.example'\n    condition: s\n",
    )
    .unwrap();
    let out = skimtrace()
        .args(["rules", "check"])
        .arg(d.path().join("rules"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("accepted\t22222222-2222-4222-8222-222222222222\tHost rule"),
        "{stdout}"
    );
    assert!(
        stdout.contains("skipped\t")
            && stdout.contains(
                "proxy.yml\tProxy rule\tnot a web-server access-log rule (category: proxy)"
            ),
        "{stdout}"
    );
    assert!(stderr.contains("rule 22222222-2222-4222-8222-222222222222 uses Host which the combined format does not carry"), "{stderr}");
    assert!(stderr.contains("1 rules accepted, 1 skipped"), "{stderr}");

    std::fs::write(
        d.path().join("broken.yml"),
        "title: Broken rule\nid: 33333333-3333-4333-8333-333333333333\nlogsource:\n    category: webserver\ndetection:\n    s:\n        cs-uri-query|re: '(?<=x)y'\n    condition: s\n",
    )
    .unwrap();
    let out = skimtrace()
        .args(["rules", "check"])
        .arg(d.path().join("broken.yml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken.yml: rule \"Broken rule\": invalid rule: bad regex"),
        "{stderr}"
    );

    let no_rules = skimtrace()
        .args([
            "evidence",
            "--no-builtin",
            "--window",
            "2020-04-27..2021-12-22",
            "--tz",
            "Asia/Tokyo",
            "--logs",
        ])
        .arg(root().join("fixtures/vector-park/logs/access.log"))
        .arg("--out")
        .arg(d.path().join("o"))
        .output()
        .unwrap();
    assert_eq!(no_rules.status.code(), Some(2));
}

#[test]
fn every_sigmahq_webserver_rule_loads_through_the_cli() {
    let dir = root().join("../shared/data/sigmahq-webserver");
    if !dir.is_dir() {
        crate::util::missing("the SigmaHQ rules (../shared/data)");
        return;
    }
    let out = skimtrace()
        .args(["rules", "check"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("86 rules accepted, 0 skipped"), "{stderr}");
}

#[test]
fn absurd_lines_and_truncated_gzip_are_reported_not_fatal() {
    let d = tempfile::tempdir().unwrap();
    let ok = r#"192.0.2.1 - - [01/May/2020:10:00:00 +0900] "GET / HTTP/1.1" 200 5 "-" "UA""#;
    let mut big = format!("{ok}\n");
    big.push_str(&format!(
        r#"192.0.2.2 - - [01/May/2020:10:00:01 +0900] "GET /?q={} HTTP/1.1" 200 5 "-" "UA""#,
        "A".repeat(3 << 20)
    ));
    big.push('\n');
    big.push_str(&format!(
        r#"192.0.2.3 - - [01/May/2020:10:00:02 +0900] "GET /.env?{} HTTP/1.1" 404 5 "-" "UA""#,
        "B".repeat(200_000)
    ));
    big.push_str(&format!("\n{ok}\n"));
    std::fs::write(d.path().join("big.log"), big).unwrap();
    let gz = std::fs::read(root().join("fixtures/vector-park/logs/access.log.2.gz")).unwrap();
    std::fs::write(d.path().join("cut.log.gz"), &gz[..gz.len() / 2]).unwrap();
    let out = d.path().join("out");
    let run = skimtrace()
        .args([
            "evidence",
            "--window",
            "2020-04-27..2021-12-22",
            "--tz",
            "Asia/Tokyo",
            "--logs",
        ])
        .arg(d.path().join("big.log"))
        .arg(d.path().join("cut.log.gz"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cut.log.gz: reading stopped after line"),
        "{stderr}"
    );
    let s = read_json(&out.join("summary.json"));
    let big = &s["evidence"]["files"][0];
    assert_eq!(
        (
            big["lines_read"].as_u64(),
            big["parsed"].as_u64(),
            big["malformed"].as_u64()
        ),
        (Some(4), Some(3), Some(1))
    );
    assert_eq!(
        big["malformed_reasons"],
        serde_json::json!({"line longer than 1048576 bytes": 1})
    );
    assert!(s["evidence"]["files"][1]["read_error"].is_string());
    // The 200 kB line still parses and matches.
    let rows = read_csv(&out.join("evidence.csv"));
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[1][1],
        format!("{}:3", d.path().join("big.log").display())
    );
    let rej = read_csv(&out.join("rejected_lines.csv"));
    assert_eq!(
        rej[1][0],
        format!("{}:2", d.path().join("big.log").display())
    );
    assert!(rej[1][2].len() <= 2000, "samples are cut");
}

/// Published test numbers (fixtures/test-pans.txt), one per written form below.
const PLANTED: [&str; 8] = [
    "4111111111111111",
    "5555555555554444",
    "4242424242424242",
    "378282246310005",
    "6011111111111117",
    "3566002020360505",
    "5105105105105100",
    "4012888888881881",
];

/// A card number in every written form a log can hold it in: separators (dots, double spaces,
/// en dash, `ー`, zero-width space, soft hyphen, `%2D`, the log's own `\x2d`), other digits
/// (full-width, Arabic-Indic, Devanagari) and escaped digits (`%34%31…`). The bool: the form
/// holds no space, so it fits an unquoted field (`%u`).
fn written_forms(pan: &str) -> Vec<(String, bool)> {
    let groups = |sep: &str| {
        let d: Vec<char> = pan.chars().collect();
        d.chunks(4)
            .map(|c| c.iter().collect::<String>())
            .collect::<Vec<_>>()
            .join(sep)
    };
    let map = |zero: u32| crate::util::digits_in_script(pan, zero);
    vec![
        (groups("."), true),
        (groups("  "), false),
        (map(0xFF10), true),
        (map(0x0660), true),
        (map(0x0966), true),
        (groups("\u{2013}"), true),
        (groups("\u{30FC}"), true),
        (groups("\u{200B}"), true),
        (groups("\u{00AD}"), true),
        (groups("%2D"), true),
        (pan.bytes().map(|b| format!("%{b:02X}")).collect(), true),
        (groups(r"\x2d"), true),
    ]
}

/// Text as a reader of the logs reads it, for the oracle below: `%XX` and `\xHH` escapes
/// decoded, NFKC, every Unicode decimal digit as its ASCII digit, every space, dash and
/// invisible separator as `-`.
fn read_as_a_person(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let b = text.as_bytes();
    let mut bytes = Vec::with_capacity(b.len());
    let mut i = 0;
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    while i < b.len() {
        let esc = match b[i] {
            b'%' if i + 2 < b.len() => Some((i + 1, 3)),
            b'\\' if i + 3 < b.len() && b[i + 1] == b'x' => Some((i + 2, 4)),
            _ => None,
        };
        if let Some((h, len)) = esc {
            if let (Some(x), Some(y)) = (hex(b[h]), hex(b[h + 1])) {
                bytes.push(x << 4 | y);
                i += len;
                continue;
            }
        }
        bytes.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&bytes)
        .nfkc()
        .map(|c| match c as u32 {
            0x0660..=0x0669 => char::from(b'0' + (c as u32 - 0x0660) as u8),
            0x06F0..=0x06F9 => char::from(b'0' + (c as u32 - 0x06F0) as u8),
            0x0966..=0x096F => char::from(b'0' + (c as u32 - 0x0966) as u8),
            0x2010..=0x2015 | 0x30FC | 0xFF0D | 0x200B..=0x200D | 0x2060 | 0xFEFF | 0x00AD => '-',
            0x00A0 | 0x3000 => ' ',
            _ => c,
        })
        .collect()
}

/// What must never be written: a full card number in any form (pan-scan's rule over the text
/// as a person reads it), nor more than the first six digits of a planted one (what is left
/// when a number is cut before it is masked: `4111 1111 11` at the end of a sample).
fn assert_no_card_data(what: &str, text: &str) {
    let read = read_as_a_person(text);
    let found = crate::util::pan_scan_ascii(&read);
    assert!(found.is_empty(), "{what} holds card numbers {found:?}");
    let digits_only: String = read
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '_' | '/' | '+'))
        .collect();
    for pan in PLANTED {
        assert!(
            !digits_only.contains(&pan[..7]),
            "{what} holds the first 7 digits of {pan}: {}",
            &digits_only[digits_only.find(&pan[..7]).unwrap().saturating_sub(60)..]
                .chars()
                .take(120)
                .collect::<String>()
        );
    }
}

/// Runs pan-scan (`../shared/tools/pan-scan`, beside the repository) over `paths`: it must
/// find nothing. Skipped with a message when the tool is not there.
fn pan_scan(paths: &[&Path]) {
    let tool = root().join("../shared/tools/pan-scan");
    if !tool.exists() {
        crate::util::missing(&format!("pan-scan at {}", tool.display()));
        return;
    }
    let o = std::process::Command::new("python3")
        .arg(&tool)
        .args(paths)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "pan-scan found card numbers:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Card numbers planted in every written form, in every field (path, query, referer, user
/// agent, user), in a line over 1 MiB and in malformed lines where a cut would fall inside
/// them, beside bytes that are not UTF-8; and hits read back with `--hits`, one rejected row
/// holding a card number where its text is cut. Nothing of them leaves the process: not in
/// the outputs, not in the Parquet events, not on stdout or stderr. The bytes that are not
/// UTF-8 are written as `\xHH`, and the summary counts what was masked, per file and column.
#[test]
fn card_numbers_in_every_written_form_never_leave_the_process() {
    let d = tempfile::tempdir().unwrap();
    let at = |s: u32| format!("[01/Jun/2021:10:{:02}:{:02} +0900]", s / 60, s % 60);
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut s = 0;
    let mut planted: BTreeMap<&str, u64> = BTreeMap::new();
    for (k, pan) in PLANTED.iter().enumerate() {
        for (form, no_space) in written_forms(pan) {
            let ip = format!("198.51.100.{}", k + 1);
            let req = |target: &str| format!("GET {target} HTTP/1.1");
            let mut add = |col: &'static str, line: String| {
                *planted.entry(col).or_default() += 1;
                lines.push(line.into_bytes());
            };
            s += 1;
            add(
                "cs-uri",
                format!(
                    "{ip} - - {} \"{}\" 200 10 \"-\" \"UA\"",
                    at(s),
                    req(&format!("/p/{form}/x?<script>"))
                ),
            );
            s += 1;
            add(
                "cs-uri",
                format!(
                    "{ip} - - {} \"{}\" 200 10 \"-\" \"UA\"",
                    at(s),
                    req(&format!("/p?c={form}&x=<script>"))
                ),
            );
            s += 1;
            add(
                "cs-referer",
                format!(
                    "{ip} - - {} \"{}\" 200 10 \"https://shop.example.jp/?c={form}\" \"UA\"",
                    at(s),
                    req("/?x=<script>")
                ),
            );
            s += 1;
            add(
                "cs-user-agent",
                format!(
                    "{ip} - - {} \"{}\" 200 10 \"-\" \"Mozilla/5.0 {form}\"",
                    at(s),
                    req("/?x=<script>")
                ),
            );
            if no_space {
                s += 1;
                add(
                    "cs-username",
                    format!(
                        "{ip} - {form} {} \"POST /shopping/confirm HTTP/1.1\" 302 10 \"-\" \"UA\"",
                        at(s)
                    ),
                );
            }
        }
    }
    // Bytes that are not UTF-8: raw in the user agent, escaped by the server in the target.
    s += 1;
    let mut raw = format!(
        "192.0.2.50 - - {} \"GET /p?q=\\xff\\xfe&x=<script> HTTP/1.1\" 200 1 \"-\" \"Mozilla ",
        at(s)
    )
    .into_bytes();
    raw.extend_from_slice(b"\xff\xfe\xc3(\"");
    lines.push(raw);
    // A line over 1 MiB with a card number across the 512 bytes its sample keeps.
    let head = format!("192.0.2.60 - - {} \"GET /?c=", at(s + 1));
    let mut long = head.clone();
    long.push_str(&"a".repeat(500 - head.len()));
    long.push_str("4111 1111 1111 1111 ");
    long.push_str(&"b".repeat(1 << 20));
    long.push_str(" HTTP/1.1\" 200 1 \"-\" \"UA\"");
    lines.push(long.into_bytes());
    // A malformed line with one across the 2,000 bytes kept of it, and a bad time quoted in
    // the reason with one across the 40 bytes quoted.
    let mut bad = "not a request ".to_string();
    bad.push_str(&"c".repeat(1990 - bad.len()));
    bad.push_str("5555-5555-5555-4444 end");
    lines.push(bad.into_bytes());
    lines.push(
        b"192.0.2.70 - - [xxxxxxxxxxxxxxxxxxxxxx4242 4242 4242 4242] \"GET / HTTP/1.1\" 200 1 \"-\" \"UA\""
            .to_vec(),
    );
    let mut log = lines.join(&b"\n"[..]);
    log.push(b'\n');
    std::fs::write(d.path().join("shop.log"), &log).unwrap();
    // Hits from elsewhere: one accepted with a card number in its target, one rejected (no
    // such rule, a card number in the rule's name) with a card number across the 2,000 bytes
    // its text keeps.
    let mut pad = "/x?pad=".to_string();
    pad.push_str(&"d".repeat(1990 - "2021-06-01T00:00:00Z,192.0.2.1,".len() - pad.len()));
    let hits = format!(
        "time,c-ip,cs-uri-query,rule\n\
         2021-06-02T00:00:00Z,192.0.2.2,/p?c=6011-1111-1111-1117,Script markup in the request target\n\
         2021-06-01T00:00:00Z,192.0.2.1,{pad}3566 0020 2036 0505 end,rule 5105 1051 0510 5100\n"
    );
    std::fs::write(d.path().join("hits.csv"), hits).unwrap();

    let captured = d.path().join("captured");
    std::fs::create_dir_all(&captured).unwrap();
    for (name, events) in [("with-events", true), ("plain", false)] {
        let out = d.path().join(name);
        let mut cmd = skimtrace();
        cmd.current_dir(d.path()).args([
            "evidence",
            "--window",
            "2021-04-27..2021-12-22",
            "--tz",
            "Asia/Tokyo",
            "--logs",
            "shop.log",
            "--hits",
            "hits.csv",
            "--out",
        ]);
        cmd.arg(&out);
        if events {
            cmd.arg("--emit-events").arg(out.join("events.parquet"));
        }
        let o = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(o.status.code(), Some(0), "{stderr}");
        std::fs::write(captured.join(format!("{name}.stdout")), &o.stdout).unwrap();
        std::fs::write(captured.join(format!("{name}.stderr")), &o.stderr).unwrap();
        assert_no_card_data("stderr", &stderr);
        assert_no_card_data("stdout", &String::from_utf8_lossy(&o.stdout));
        for e in std::fs::read_dir(&out).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "parquet") {
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            let text =
                String::from_utf8(bytes).unwrap_or_else(|_| panic!("{} is not UTF-8", p.display()));
            assert!(!text.contains('\u{FFFD}'), "{} holds U+FFFD", p.display());
            assert_no_card_data(&p.display().to_string(), &text);
        }
        // Nothing was lost: every line is counted, the samples are cut, the bytes that are
        // not UTF-8 are there as the log's escapes.
        let summary = read_json(&out.join("summary.json"));
        let file = &summary["evidence"]["files"][0];
        assert_eq!(file["lines_read"].as_u64(), Some(lines.len() as u64));
        assert_eq!(file["malformed"].as_u64(), Some(3), "{file}");
        let rejected = crate::util::read_csv_maps(&out.join("rejected_lines.csv"));
        let long_sample = &rejected
            .iter()
            .find(|r| r["reason"].starts_with("line longer than"))
            .unwrap()["line"];
        assert!(long_sample.len() <= 512, "{}", long_sample.len());
        assert!(long_sample.ends_with("4111 11** **"), "{long_sample}");
        let evidence = std::fs::read_to_string(out.join("evidence.csv")).unwrap();
        assert!(evidence.contains(r"/p?q=\xff\xfe&x=<script>"), "{evidence}");
        assert!(evidence.contains(r"Mozilla \xff\xfe\xc3("), "{evidence}");
        // The summary says how many were masked, in which file and column.
        let cards = &file["card_numbers_masked"];
        for (col, n) in &planted {
            assert_eq!(cards[col].as_u64(), Some(*n), "{col}: {cards}");
        }
        let planted_lines: u64 = planted.values().sum();
        // Whole lines: every planted one, the long line's and the two malformed lines'.
        assert_eq!(cards["raw"].as_u64(), Some(planted_lines + 3), "{cards}");
        assert_eq!(
            summary["evidence"]["totals"]["card_numbers_masked"].as_u64(),
            Some(planted_lines + 3)
        );
        let imported = &summary["evidence"]["imported_hits"][0];
        assert_eq!(
            imported["card_numbers_masked"],
            serde_json::json!({"rule": 1, "target": 2}),
            "{imported}"
        );
        assert!(
            stderr.contains(&format!(
                "shop.log: {} card numbers in the log lines",
                planted_lines + 3
            )),
            "{stderr}"
        );
        if events {
            let f = std::fs::File::open(out.join("events.parquet")).unwrap();
            let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
                .unwrap()
                .build()
                .unwrap();
            let mut rows = 0;
            let mut raw_escaped = false;
            for b in reader {
                let b = b.unwrap();
                rows += b.num_rows();
                for (field, col) in b.schema().fields().iter().zip(b.columns()) {
                    let Some(a) = col.as_any().downcast_ref::<arrow_array::StringArray>() else {
                        continue;
                    };
                    for v in a.iter().flatten() {
                        assert!(!v.contains('\u{FFFD}'), "{}: {v}", field.name());
                        assert_no_card_data(&format!("events column {}", field.name()), v);
                        raw_escaped |=
                            field.name() == "raw" && v.contains(r#"Mozilla \xff\xfe\xc3("#);
                    }
                }
            }
            assert_eq!(rows as u64, file["parsed"].as_u64().unwrap());
            assert!(raw_escaped, "the raw line keeps its bytes as \\xHH");
        }
    }
    pan_scan(&[
        &d.path().join("with-events"),
        &d.path().join("plain"),
        &captured,
    ]);
}

/// A logs folder holding a link to a rotated log that was moved away: the other logs are read,
/// and the link is named on stderr and in summary.json (`evidence.inputs_not_read`), not passed
/// over in silence.
#[cfg(unix)]
#[test]
fn a_log_link_to_nothing_is_named() {
    let d = tempfile::tempdir().unwrap();
    let logs = d.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::copy(
        root().join("fixtures/vector-park/logs/access.log"),
        logs.join("access.log"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        d.path().join("archive/access.log.1"),
        logs.join("access.log.1"),
    )
    .unwrap();
    let run = skimtrace()
        .current_dir(d.path())
        .args(["evidence", "--logs", "logs"])
        .args(["--window", "2020-04-27..2021-12-22", "--tz", "Asia/Tokyo"])
        .args(["--out", "out"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let said = |w: &str| w.contains("access.log.1") && w.contains("a link to nothing");
    assert!(stderr.lines().any(said), "{stderr}");
    let s = crate::util::read_json(&d.path().join("out/summary.json"));
    let not_read = s["evidence"]["inputs_not_read"].as_array().expect("listed");
    assert!(not_read.iter().any(|w| said(w.as_str().unwrap())), "{s}");
    assert_eq!(s["evidence"]["files"].as_array().unwrap().len(), 1, "{s}");
}
