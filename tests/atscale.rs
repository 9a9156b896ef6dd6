//! At scale: `rules export`, `evidence --emit-events` (Parquet) and `evidence --hits`, end to
//! end. The proof against a real engine (pySigma + SQLite over the Parquet) is
//! `tests/atscale/proof.py`, run here when its Python packages are installed and always by
//! `.ci/run`.

use crate::util::{luhn_runs, read_jsonl, root, skimtrace};
use arrow_array::{Array, Int32Array, Int64Array, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::Path;

const CONFIG: &str = r#"
[incident]
id = "vp-scale"
timezone = "Asia/Tokyo"
window = "2020-04-27..2021-12-22"

[logs]
paths = ["logs/"]
"#;

/// A published test number (fixtures/test-pans.txt), spaced the way a form would send it.
const PAN: &str = "4111 1111 1111 1111";

/// A case folder with the fixture logs plus one combined log carrying a card number in the
/// query, the referer and the user agent, and a request with `-` fields.
fn case() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let src = root().join("fixtures/vector-park/logs");
    std::fs::create_dir_all(d.path().join("logs")).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, d.path().join("logs").join(p.file_name().unwrap())).unwrap();
        }
    }
    let pan = PAN.replace(' ', "-");
    let lines = [
        format!("198.51.100.9 - - [01/Jun/2021:10:00:00 +0900] \"GET /shopping/payment?card={pan}&x=<script> HTTP/1.1\" 200 10 \"https://shop.example.jp/?c={}\" \"Mozilla/5.0 {PAN}\"", PAN.replace(' ', "-")),
        "198.51.100.10 - - [01/Jun/2021:10:00:01 +0900] \"GET / HTTP/1.1\" 200 - \"-\" \"-\"".to_string(),
    ];
    std::fs::write(d.path().join("logs/other.log"), lines.join("\n") + "\n").unwrap();
    std::fs::write(d.path().join("incident.toml"), CONFIG).unwrap();
    d
}

fn batches(p: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(p).unwrap();
    ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(|b| b.unwrap())
        .collect()
}

/// A column of a batch, as its array type.
fn column<'b, A: 'static>(b: &'b RecordBatch, col: &str) -> &'b A {
    b.column_by_name(col)
        .unwrap_or_else(|| panic!("no column {col}"))
        .as_any()
        .downcast_ref::<A>()
        .unwrap_or_else(|| panic!("{col} is not of the expected type"))
}

fn strings(b: &RecordBatch, col: &str) -> Vec<Option<String>> {
    let a = b
        .column_by_name(col)
        .unwrap_or_else(|| panic!("no column {col}"))
        .as_any()
        .downcast_ref::<StringArray>()
        .unwrap_or_else(|| panic!("{col} is not a string column"));
    (0..a.len())
        .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
        .collect()
}

#[test]
fn emit_events_writes_every_parsed_request_masked_and_deterministic() {
    let d = case();
    let run = |name: &str| {
        let out = d.path().join(format!("out-{name}"));
        let events = d.path().join(format!("{name}.parquet"));
        let o = skimtrace()
            .current_dir(d.path())
            .args(["evidence", "--config", "incident.toml", "--out"])
            .arg(&out)
            .arg("--emit-events")
            .arg(&events)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        (out, events)
    };
    let (out, events) = run("a");
    let (_, again) = run("b");
    assert_eq!(
        std::fs::read(&events).unwrap(),
        std::fs::read(&again).unwrap(),
        "the Parquet file is the same on every run"
    );
    let summary = crate::util::read_json(&out.join("summary.json"));
    let parsed = summary["evidence"]["totals"]["parsed"].as_u64().unwrap();
    let bs = batches(&events);
    let rows: usize = bs.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows as u64, parsed);
    assert_eq!(
        rows,
        22 + 2,
        "every parsed line of the fixtures and other.log"
    );
    let text_cols = [
        "c-ip",
        "cs-username",
        "cs-method",
        "cs-uri-stem",
        "cs-uri-query",
        "cs-uri",
        "cs-referer",
        "cs-user-agent",
        "cs-host",
        "source_file",
        "raw",
    ];
    let mut seen_masked = 0;
    let mut keys = Vec::new();
    for b in &bs {
        for c in text_cols {
            for v in strings(b, c).into_iter().flatten() {
                assert!(luhn_runs(&v).is_empty(), "card number in {c}: {v}");
                if v.contains("****") && v.contains("4111") {
                    seen_masked += 1;
                }
            }
        }
        let files = strings(b, "source_file");
        let lines = column::<Int64Array>(b, "line");
        let status = column::<Int32Array>(b, "sc-status");
        let ua = strings(b, "cs-user-agent");
        let referer = strings(b, "cs-referer");
        for i in 0..b.num_rows() {
            let f = files[i].clone().unwrap();
            if f == "logs/other.log" && lines.value(i) == 2 {
                assert!(status.value(i) == 200 && ua[i].is_none() && referer[i].is_none());
            }
            if f == "logs/access.log" && lines.value(i) == 1 {
                assert_eq!(status.value(i), 200);
            }
            keys.push((f, lines.value(i)));
        }
    }
    assert!(seen_masked >= 3, "the masked card number is in the rows");
    // Rows in input order (rotated sets oldest first): each file one block, lines rising.
    let mut blocks: Vec<&str> = keys.iter().map(|k| k.0.as_str()).collect();
    blocks.dedup();
    let mut unique = blocks.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(blocks.len(), unique.len(), "{blocks:?}");
    assert_eq!(
        blocks[..3],
        [
            "logs/access.log.2.gz",
            "logs/access.log.1",
            "logs/access.log"
        ]
    );
    assert!(keys.windows(2).all(|w| w[0].0 != w[1].0 || w[0].1 < w[1].1));
    // Every hit of evidence.jsonl is a row of the events file.
    for h in read_jsonl(&out.join("evidence.jsonl")) {
        let (f, l) = h["source"].as_str().unwrap().rsplit_once(':').unwrap();
        let k = (f.to_string(), l.parse::<i64>().unwrap());
        assert!(keys.contains(&k), "{k:?}");
    }
}

#[test]
fn rules_export_writes_the_active_set_and_it_loads_back() {
    let d = tempfile::tempdir().unwrap();
    let mine = d.path().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(
        mine.join("r.yml"),
        "title: Mine\nid: 0d7c9a8e-2b1f-4c55-9f0e-000000000001\nlogsource:\n    category: webserver\ndetection:\n    selection:\n        cs-uri-query|contains: '/mine'\n    condition: selection\nlevel: high\n",
    )
    .unwrap();
    let count = |dir: &Path| std::fs::read_dir(dir).unwrap().count();
    let listed = skimtrace().args(["rules", "list"]).output().unwrap();
    let builtin = String::from_utf8(listed.stdout).unwrap().lines().count();
    let all = d.path().join("all");
    let o = skimtrace()
        .args(["rules", "export"])
        .arg(&all)
        .arg("--rules")
        .arg(&mine)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(count(&all), builtin + 1);
    assert_eq!(
        std::fs::read_to_string(all.join("0d7c9a8e-2b1f-4c55-9f0e-000000000001.yml")).unwrap(),
        std::fs::read_to_string(mine.join("r.yml")).unwrap()
    );
    let only = d.path().join("only");
    let o = skimtrace()
        .args(["rules", "export", "--no-builtin", "--rules"])
        .arg(&mine)
        .arg(&only)
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(count(&only), 1);
    // What was exported loads back as the same rules.
    let o = skimtrace()
        .args(["rules", "check"])
        .arg(&all)
        .output()
        .unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("accepted")).count(),
        builtin + 1
    );
    assert!(!text.contains("skipped"));
}

/// The proof with a real engine (`tests/atscale/proof.py`): pySigma's SQLite backend over the
/// Parquet events must find exactly `evidence`'s hits, and those hits fed back with `--hits`
/// must give the same window check and timeline. Skipped with a message when its Python
/// packages are missing; `.ci/run` installs them, so CI always runs it.
#[test]
fn proof_with_pysigma_and_sqlite() {
    let bin = env!("CARGO_BIN_EXE_skimtrace");
    let out = match std::process::Command::new("python3")
        .arg(root().join("tests/atscale/proof.py"))
        .env("SKIMTRACE_BIN", bin)
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            crate::util::missing(&format!("python3 ({e})"));
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.code() == Some(77) {
        crate::util::missing(&format!("the proof's Python packages: {stdout}"));
        return;
    }
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("proof holds"), "{stdout}");
}

/// A log of several events chunks (a row group each, encoded on the scan's threads and put
/// back in order): every row keeps its exact line number, malformed lines leave gaps, and the
/// raw line of each row is the one at that number.
#[test]
fn events_of_a_log_bigger_than_a_chunk_keep_exact_line_numbers() {
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("big.log");
    let mut text = String::new();
    let mut expected = Vec::new();
    let mut n = 0i64;
    while text.len() < 3 * skimtrace::evidence::parquet::EVENTS_CHUNK {
        n += 1;
        if n % 997 == 0 {
            text.push_str("not a request at all\n");
            continue;
        }
        let s = n % 60;
        text.push_str(&format!(
            "203.0.113.{} - - [01/Jun/2021:10:{:02}:{s:02} +0900] \"GET /p/{n}?q=line-{n} HTTP/1.1\" 200 512 \"https://shop.example.jp/\" \"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/115.0\"\n",
            n % 250,
            (n / 60) % 60
        ));
        expected.push(n);
    }
    std::fs::write(&log, &text).unwrap();
    let events = d.path().join("e.parquet");
    let o = skimtrace()
        .args([
            "evidence",
            "-q",
            "--window",
            "2021-06-01..2021-06-30",
            "--tz",
            "Asia/Tokyo",
        ])
        .arg("--logs")
        .arg(&log)
        .arg("--out")
        .arg(d.path().join("out"))
        .arg("--emit-events")
        .arg(&events)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let f = std::fs::File::open(&events).unwrap();
    let groups = ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .metadata()
        .num_row_groups();
    assert!(groups >= 3, "{groups} row groups");
    let mut lines = Vec::new();
    for b in batches(&events) {
        let l = column::<Int64Array>(&b, "line");
        for (i, raw) in strings(&b, "raw").into_iter().enumerate() {
            let want = format!("GET /p/{0}?q=line-{0} ", l.value(i));
            assert!(raw.unwrap().contains(&want), "line {}", l.value(i));
            lines.push(l.value(i));
        }
    }
    assert_eq!(lines, expected);
}

/// A mixed case: the fixture logs scanned here plus hits from two engines (a SQL engine's CSV
/// and an ECS JSON-lines export). Each hit keeps its origin, rows of one request merge, a row
/// of a request scanned here adds its rule to the local hit, bad rows are rejected and counted
/// (never fatal), and an imported hit drives the window check like a local one.
#[test]
fn hits_from_elsewhere_merge_with_the_local_scan() {
    let d = case();
    std::fs::create_dir_all(d.path().join("mine")).unwrap();
    std::fs::write(
        d.path().join("mine/r.yml"),
        "title: Mine\nid: 0d7c9a8e-2b1f-4c55-9f0e-000000000001\nlogsource:\n    category: webserver\ndetection:\n    selection:\n        cs-uri-query|contains: '/mine-only-elsewhere'\n    condition: selection\nlevel: high\n",
    )
    .unwrap();
    let evidence = |out: &str, extra: &[&str]| {
        let o = skimtrace()
            .current_dir(d.path())
            .args([
                "evidence",
                "--config",
                "incident.toml",
                "--rules",
                "mine",
                "--out",
                out,
            ])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stderr).unwrap()
    };
    evidence("out-local", &[]);
    let local = read_jsonl(&d.path().join("out-local/evidence.jsonl"));
    let first = &local[0];
    let (src, line) = first["source"].as_str().unwrap().rsplit_once(':').unwrap();
    let mine = "0d7c9a8e-2b1f-4c55-9f0e-000000000001";
    let webshell = local
        .iter()
        .flat_map(|h| h["rules"].as_array().unwrap().clone())
        .map(|r| r.as_str().unwrap().to_string())
        .next()
        .unwrap();
    let csv = [
        "time,c-ip,cs-method,cs-uri-query,sc-status,cs-referer,cs-user-agent,rule_id,source_file,line".to_string(),
        format!("{},,,,,,,{mine},{src},{line}", first["time"].as_str().unwrap()),
        format!("2020-03-01 01:00:00+00,192.0.2.7,GET,/mine-only-elsewhere?c={},200,,curl/8,{mine},,", PAN.replace(' ', "")),
        format!("2020-03-01 01:00:00+00,192.0.2.7,GET,/mine-only-elsewhere?c={},200,,curl/8,{webshell},,", PAN.replace(' ', "")),
        format!("yesterday,192.0.2.7,GET,/x,200,,curl/8,{mine},,"),
        "2020-03-02 01:00:00+00,192.0.2.7,GET,/x,200,,curl/8,no-such-rule,,".to_string(),
    ];
    std::fs::write(d.path().join("hits.csv"), csv.join("\n") + "\n").unwrap();
    let jsonl = [
        r#"{"@timestamp":"2021-05-01T00:00:00Z","source":{"ip":"198.51.100.77"},"http":{"request":{"method":"POST"},"response":{"status_code":200}},"url":{"original":"/mine-only-elsewhere"},"rule":{"name":"mine"}}"#,
        "not json at all",
    ];
    std::fs::write(d.path().join("remote.jsonl"), jsonl.join("\n") + "\n").unwrap();
    let stderr = evidence(
        "out-mixed",
        &["--hits", "hits.csv", "--hits", "remote.jsonl"],
    );
    let out = d.path().join("out-mixed");
    let hits = read_jsonl(&out.join("evidence.jsonl"));
    assert_eq!(hits.len(), local.len() + 2, "one new request per engine");
    let merged = hits
        .iter()
        .find(|h| h["source"] == first["source"])
        .unwrap();
    assert_eq!(merged["origin"], "local");
    let rules: Vec<&str> = merged["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(rules.contains(&mine), "{rules:?}");
    let from_csv: Vec<_> = hits.iter().filter(|h| h["origin"] == "hits.csv").collect();
    assert_eq!(from_csv.len(), 1);
    assert_eq!(from_csv[0]["source"], "hits.csv:3");
    assert_eq!(from_csv[0]["time"], "2020-03-01T10:00:00+09:00");
    assert_eq!(
        from_csv[0]["rules"].as_array().unwrap().len(),
        2,
        "two rows, one request"
    );
    assert!(
        luhn_runs(&from_csv[0].to_string()).is_empty(),
        "{}",
        from_csv[0]
    );
    let from_json: Vec<_> = hits
        .iter()
        .filter(|h| h["origin"] == "remote.jsonl")
        .collect();
    assert_eq!(from_json.len(), 1);
    assert_eq!(
        (
            from_json[0]["method"].as_str(),
            from_json[0]["status"].as_u64()
        ),
        (Some("POST"), Some(200))
    );
    // The CSV carries the origin too.
    let rows = crate::util::read_csv_maps(&out.join("evidence.csv"));
    let origins: Vec<&str> = rows.iter().map(|r| r["origin"].as_str()).collect();
    assert_eq!(
        origins.iter().filter(|o| **o == "local").count(),
        local.len()
    );
    assert!(origins.contains(&"hits.csv") && origins.contains(&"remote.jsonl"));
    // Bad rows: rejected with file, line and reason, counted, the run goes on.
    let rejected = crate::util::read_csv_maps(&out.join("rejected_lines.csv"));
    let find = |src: &str| {
        rejected
            .iter()
            .find(|r| r["source"] == src)
            .unwrap_or_else(|| panic!("{src} not in {rejected:?}"))
    };
    assert!(find("hits.csv:5")["reason"].contains("yesterday"));
    assert!(find("hits.csv:6")["reason"].contains("not an active rule"));
    assert!(find("remote.jsonl:2")["reason"].contains("not a JSON object"));
    let summary = crate::util::read_json(&out.join("summary.json"));
    let imported = &summary["evidence"]["imported_hits"];
    assert_eq!(imported[0]["file"], "hits.csv");
    assert_eq!(
        (
            imported[0]["rows"].as_u64(),
            imported[0]["rejected"].as_u64(),
            imported[0]["hits"].as_u64()
        ),
        (Some(5), Some(2), Some(1))
    );
    assert_eq!(
        (
            imported[1]["rows"].as_u64(),
            imported[1]["rejected"].as_u64(),
            imported[1]["hits"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert!(
        stderr.contains("hits.csv: 2 of 5 rows rejected"),
        "{stderr}"
    );
    // The window check sees the imported hit: rule Mine first matched 57 days before the start.
    assert!(stderr.contains("Mine) first matched 2020-03-01T10:00:00+09:00, 57 days before the declared window start (hits.csv:3)"), "{stderr}");
}

/// A run on a hits file alone, as a Windows tool writes it (CRLF, blank lines): rejected rows
/// are named by their real line, and no log gap is claimed, as no log was read.
#[test]
fn hits_alone_name_the_real_lines_and_claim_no_log_gaps() {
    let d = tempfile::tempdir().unwrap();
    let rows = [
        "time,c-ip,cs-uri-query,rule",
        "",
        "2021-05-01T00:00:00Z,192.0.2.1,/.git/config,Access to a .git folder",
        "\"two",
        "lines\",192.0.2.1,/.git/config,Access to a .git folder",
        "",
        "2021-05-02T00:00:00Z,192.0.2.1,/.git/HEAD,no such rule",
    ];
    std::fs::write(d.path().join("siem.csv"), rows.join("\r\n") + "\r\n").unwrap();
    let o = skimtrace()
        .current_dir(d.path())
        .args([
            "evidence",
            "--hits",
            "siem.csv",
            "--window",
            "2021-04-27..2021-12-22",
        ])
        .args(["--tz", "Asia/Tokyo", "--out", "out"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("no log lines"), "{stderr}");
    let rejected = crate::util::read_csv_maps(&d.path().join("out/rejected_lines.csv"));
    let sources: Vec<&str> = rejected.iter().map(|r| r["source"].as_str()).collect();
    assert_eq!(sources, ["siem.csv:4", "siem.csv:7"]);
    let hits = read_jsonl(&d.path().join("out/evidence.jsonl"));
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["source"], "siem.csv:3");
    assert_eq!(hits[0]["origin"], "siem.csv");
}

/// Bytes that are not UTF-8 as `\xHH`, written out here so the test does not trust the
/// library's own: what a raw line must read as in the events file.
fn escaped(line: &[u8]) -> String {
    let mut out = String::new();
    for chunk in line.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// A field value as written: [`escaped`], and a backslash that would read as the start of a
/// `\xHH` escape written `\x5c` (the README's "Evidence stays evidence").
fn escaped_value(v: &[u8]) -> String {
    let e = escaped(v);
    // Only backslashes of the value itself: `escaped` wrote its own `\x` for bytes that are
    // not UTF-8, and those are not doubled here because the value held no such backslash.
    if v.windows(4).any(|w| {
        w[0] == b'\\' && w[1] == b'x' && w[2].is_ascii_hexdigit() && w[3].is_ascii_hexdigit()
    }) {
        let re = regex::Regex::new(r"\\(x[0-9A-Fa-f]{2})").unwrap();
        return re.replace_all(&e, r"\x5c$1").into_owned();
    }
    e
}

/// **Evidence stays evidence**, on the real Apache log of `../shared/data/elastic-apache-logs`
/// (a 20-digit `feed-id`, a 21-digit Google `cx=`, 9,999 requests) and a log of requests that
/// were written wrong before: bytes that are not UTF-8, raw and as the server escapes them, a
/// literal `\\x41`, the hex payload of a CVE-2023-46747 exploit, card numbers. Line by line
/// (the gz read with flate2), the events' `raw` column is the log line, bytes that are not
/// UTF-8 as `\xHH`; a line holding a card number differs only in the digits the mask hides;
/// the target, referer and user-agent columns are the logged values. Skipped with a message
/// when the data folder is absent.
#[test]
fn events_equal_the_real_log_apart_from_card_numbers() {
    let real = root().join("../shared/data/elastic-apache-logs/apache_logs.gz");
    if !real.exists() {
        crate::util::missing(&format!("{} (the shared data)", real.display()));
        return;
    }
    let mut text = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(&real).unwrap()),
        &mut text,
    )
    .unwrap();
    let d = tempfile::tempdir().unwrap();
    let mut planted: Vec<Vec<u8>> = vec![
        br#"192.0.2.80 - - [17/May/2015:10:05:00 +0000] "POST /mgmt/tm/util/bash?q=666f726d5f706167653d253266746d756925326673797374656d253266757365722532666372656174652e6a7370 HTTP/1.1" 200 10 "-" "curl/7.88""#.to_vec(),
        br#"192.0.2.81 - - [17/May/2015:10:05:01 +0000] "GET /q?x=\xff\xfe\xe3\x81\x82 HTTP/1.1" 200 10 "-" "UA \\x41""#.to_vec(),
        br#"192.0.2.82 - - [17/May/2015:10:05:02 +0000] "GET /pay?card=4111-1111-1111-1111 HTTP/1.1" 200 10 "https://shop.example.jp/?c=5555 5555 5555 4444" "Mozilla/5.0""#.to_vec(),
    ];
    let mut raw_bytes =
        br#"192.0.2.83 - - [17/May/2015:10:05:03 +0000] "GET /r HTTP/1.1" 200 10 "-" "Mozilla "#
            .to_vec();
    raw_bytes.extend_from_slice(b"\xff\xc3(\xe3\x81\"");
    planted.push(raw_bytes);
    let mut plog = planted.join(&b"\n"[..]);
    plog.push(b'\n');
    std::fs::write(d.path().join("planted.log"), &plog).unwrap();
    let events = d.path().join("e.parquet");
    let o = skimtrace()
        .current_dir(d.path())
        .args([
            "evidence",
            "-q",
            "--window",
            "2015-05-17..2015-05-20",
            "--tz",
            "UTC",
        ])
        .arg("--logs")
        .arg(&real)
        .args(["--logs", "planted.log", "--out", "out", "--emit-events"])
        .arg(&events)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let logs: std::collections::BTreeMap<String, Vec<&[u8]>> = [
        (
            real.display().to_string(),
            text.split(|&b| b == b'\n').collect(),
        ),
        (
            "planted.log".to_string(),
            plog.split(|&b| b == b'\n').collect(),
        ),
    ]
    .into_iter()
    .collect();
    // A combined line's request target, referer and user agent, as the test reads them.
    let re = regex::bytes::Regex::new(
        r#"(?-u)^\S+ \S+ \S+ \[[^\]]+\] "\S+ (.*?)(?: HTTP/[0-9.]+)?" \d+ \S+ "(.*)" "(.*)"$"#,
    )
    .unwrap();
    // The log's own escapes undone (`\\`, `\"`, `\xHH`), as the parser undoes them.
    let unescape = |v: &[u8]| -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < v.len() {
            if v[i] == b'\\' && i + 1 < v.len() {
                if matches!(v[i + 1], b'\\' | b'"') {
                    out.push(v[i + 1]);
                    i += 2;
                    continue;
                }
                let hex = std::str::from_utf8(&v[(i + 2).min(v.len())..(i + 4).min(v.len())]);
                if v[i + 1] == b'x' && i + 3 < v.len() {
                    if let Some(x) = hex.ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                        out.push(x);
                        i += 4;
                        continue;
                    }
                }
            }
            out.push(v[i]);
            i += 1;
        }
        out
    };
    let strip = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_ascii_digit() && *c != '*')
            .collect()
    };
    let (mut rows, mut masked, mut fields_checked) = (0, 0, 0);
    for b in batches(&events) {
        let files = strings(&b, "source_file");
        let lines = column::<Int64Array>(&b, "line");
        let raws = strings(&b, "raw");
        let targets = strings(&b, "cs-uri");
        let referers = strings(&b, "cs-referer");
        let agents = strings(&b, "cs-user-agent");
        for i in 0..b.num_rows() {
            rows += 1;
            let line = logs[files[i].as_ref().unwrap()][lines.value(i) as usize - 1];
            let want = escaped(line);
            let got = raws[i].clone().unwrap();
            let cards = crate::util::luhn_runs(&want);
            if cards.is_empty() {
                assert_eq!(
                    got,
                    want,
                    "{}:{}",
                    files[i].as_ref().unwrap(),
                    lines.value(i)
                );
            } else {
                masked += 1;
                assert_ne!(got, want);
                assert_eq!(strip(&got), strip(&want), "only digits are masked");
                assert!(crate::util::pan_scan_ascii(&got).is_empty(), "{got}");
            }
            // Field values as logged (escapes undone, bytes that are not UTF-8 as `\xHH`),
            // where they hold no card number.
            let c = re.captures(line).unwrap_or_else(|| panic!("{want}"));
            for (k, col) in [(1, &targets), (2, &referers), (3, &agents)] {
                let v = escaped_value(&unescape(&c[k]));
                if crate::util::luhn_runs(&v).is_empty() {
                    let expect = (v != "-" && !v.is_empty()).then_some(v);
                    assert_eq!(col[i], expect, "column {k} of {want}");
                    fields_checked += 1;
                }
            }
        }
    }
    assert_eq!(rows, 9_999 + planted.len(), "every parsed line is a row");
    assert_eq!(masked, 1, "one line holds card numbers");
    assert!(fields_checked > 29_000);
}

/// A log whose name holds a 20-digit run (no card number, so written as it is) with its first
/// 16 digits at bytes 49–64 of `source_file`: the Parquet writer's default cut of min/max
/// statistics to 64 bytes left those 16, a card number, in the file's footer.
#[test]
fn events_statistics_are_never_cut_into_a_card_number() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("logs")).unwrap();
    let pan = ["4111", "1111", "1111", "1111"].concat();
    let name = format!("{}-{pan}2345.log", "x".repeat(42));
    assert_eq!(format!("logs/{}-", "x".repeat(42)).len() + 16, 64);
    std::fs::write(
        d.path().join("logs").join(&name),
        "192.0.2.1 - - [01/Jun/2021:10:00:00 +0900] \"GET /.git/config HTTP/1.1\" 404 10 \"-\" \"curl\"\n",
    )
    .unwrap();
    let o = skimtrace()
        .current_dir(d.path())
        .args(["evidence", "-q", "--window", "2021-05-01..2021-07-01"])
        .args(["--tz", "Asia/Tokyo", "--logs", "logs/", "--out", "out"])
        .args(["--emit-events", "events.parquet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(d.path().join("events.parquet")).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains(&format!("{pan}2345")),
        "the name is kept whole"
    );
    assert_eq!(crate::util::pan_scan_ascii(&text), Vec::<String>::new());
}
