//! The case folder (issue 5): `run`, `verify`, `report`, `init` and manifest.json, on a
//! temporary copy of the bundled case.

use crate::util::{copy_case, read_json, skimtrace};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const EPOCH: &str = "1660780800"; // 2022-08-18T00:00:00Z

/// Runs `skimtrace run` on the copy's config into `out`, with a pinned SOURCE_DATE_EPOCH.
fn run_case(case: &Path, out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    skimtrace()
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .arg("run")
        .arg("--config")
        .arg(case.join("incident.toml"))
        .arg("--out")
        .arg(out)
        .args(extra)
        .assert()
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

struct Case {
    _tmp: tempfile::TempDir,
    case: PathBuf,
    out: PathBuf,
}

fn fresh_run() -> Case {
    let tmp = copy_case("vector-park");
    let case = tmp.path().join("vector-park");
    let out = tmp.path().join("out");
    run_case(&case, &out, &[]).success();
    Case {
        _tmp: tmp,
        case,
        out,
    }
}

fn verify(out: &Path) -> assert_cmd::assert::Assert {
    skimtrace().arg("verify").arg(out).assert()
}

#[test]
fn run_produces_the_whole_case_folder() {
    let c = fresh_run();
    for f in [
        "affected.csv",
        "affected.jsonl",
        "orders.csv",
        "rejected.csv",
        "payments.csv",
        "summary.json",
        "evidence.jsonl",
        "evidence.csv",
        "timeline.csv",
        "notices/index.csv",
        "no_email.csv",
        "report.html",
        "report.md",
        "manifest.json",
    ] {
        assert!(c.out.join(f).is_file(), "{f} missing");
    }
    let m = read_json(&c.out.join("manifest.json"));
    assert_eq!(m["timing"]["generated_at"], "2022-08-18T00:00:00Z");
    assert_eq!(m["timing"]["source"], "SOURCE_DATE_EPOCH");
    assert_eq!(m["counts"]["customers_affected"], 140);
    assert!(m["config"]["text"].as_str().unwrap().contains("[incident]"));
    let inputs = m["inputs"].as_array().unwrap();
    assert!(inputs
        .iter()
        .any(|i| i["path"] == "orders/ec-cube4.csv" && i["role"] == "orders"));
    assert!(inputs.iter().any(|i| i["role"] == "payments"));
    assert!(inputs.iter().any(|i| i["role"] == "logs"));
    let outputs: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert!(outputs.contains(&"report.html"));
    assert!(outputs
        .iter()
        .any(|p| p.starts_with("notices/") && p.ends_with(".eml")));
    assert!(
        !outputs.contains(&"manifest.json"),
        "the manifest lists itself"
    );
    // Digests are base64 (SRI), never hex.
    for o in m["outputs"].as_array().unwrap() {
        let d = o["sha256"].as_str().unwrap();
        assert!(d.starts_with("sha256-") && d.ends_with('='), "{d}");
    }
    // No card number anywhere in the folder.
    for (name, bytes) in files(&c.out) {
        let text = String::from_utf8_lossy(&bytes);
        let runs = crate::util::luhn_runs(&text);
        assert!(runs.is_empty(), "{name}: card-like runs {runs:?}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&c.out), 0o700);
        assert_eq!(mode(&c.out.join("notices")), 0o700);
        for f in [
            "report.html",
            "report.md",
            "manifest.json",
            "notices/index.csv",
        ] {
            assert_eq!(mode(&c.out.join(f)), 0o600, "{f}");
        }
    }
}

#[test]
fn verify_passes_then_names_changed_missing_and_extra_files() {
    let c = fresh_run();
    verify(&c.out).code(0);

    // One byte of one output changed.
    let p = c.out.join("affected.csv");
    let mut bytes = std::fs::read(&p).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x01;
    std::fs::write(&p, &bytes).unwrap();
    let a = verify(&c.out).code(1);
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert_eq!(stdout, "changed\taffected.csv\n");
    bytes[last] ^= 0x01;
    std::fs::write(&p, &bytes).unwrap();
    verify(&c.out).code(0);

    // A file deleted, another added.
    std::fs::remove_file(c.out.join("report.md")).unwrap();
    std::fs::write(c.out.join("notices").join("extra.eml"), b"x").unwrap();
    let a = verify(&c.out).code(1);
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert_eq!(stdout, "extra\tnotices/extra.eml\nmissing\treport.md\n");

    // No manifest: exit 2.
    std::fs::remove_file(c.out.join("manifest.json")).unwrap();
    verify(&c.out).code(2);
}

#[test]
fn two_runs_with_the_same_key_and_epoch_are_byte_identical() {
    let tmp = copy_case("vector-park");
    let case = tmp.path().join("vector-park");
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_case(&case, &a, &[]).success();
    run_case(&case, &b, &[]).success();
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
    for (name, bytes) in &fa {
        assert!(bytes == &fb[name], "{name} differs between the two runs");
    }
}

#[test]
fn a_rerun_needs_force_and_keeps_the_previous_manifest() {
    let c = fresh_run();
    let first = std::fs::read(c.out.join("manifest.json")).unwrap();
    let a = run_case(&c.case, &c.out, &[]).code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains("--force"), "{err}");
    assert!(!c.out.join("manifest.prev.json").exists());

    run_case(&c.case, &c.out, &["--force"]).success();
    assert_eq!(
        std::fs::read(c.out.join("manifest.prev.json")).unwrap(),
        first
    );
    verify(&c.out).code(0);
    let m = read_json(&c.out.join("manifest.json"));
    assert!(m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["path"] == "manifest.prev.json"));
}

#[test]
fn run_skips_stages_whose_config_is_absent() {
    let tmp = copy_case("vector-park");
    let case = tmp.path().join("vector-park");
    let cfg = std::fs::read_to_string(case.join("incident.toml")).unwrap();
    // Drop [logs] and [notify]: evidence and notify are skipped, the rest runs.
    let mut kept = String::new();
    let mut skip = false;
    for line in cfg.lines() {
        if line.starts_with('[') {
            skip = line == "[logs]" || line == "[notify]";
        }
        if !skip {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    std::fs::write(case.join("incident.toml"), kept).unwrap();
    let out = tmp.path().join("out");
    let a = run_case(&case, &out, &[]).success();
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.contains("evidence  skipped: no [logs] in the config"),
        "{err}"
    );
    assert!(
        err.contains("notify    skipped: no [notify] in the config"),
        "{err}"
    );
    assert!(!out.join("evidence.jsonl").exists());
    assert!(!out.join("notices").exists());
    assert!(out.join("report.html").is_file());
    verify(&out).code(0);
}

/// Every `data-key` figure of report.html equals summary.json's value at that key, and the key
/// figures of report.md are the same, in both languages (the bundled case's is Japanese).
#[test]
fn report_figures_equal_summary_json() {
    let c = fresh_run();
    check_report_figures(&c, "ja");
    skimtrace()
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["report", "--lang", "en"])
        .arg(&c.out)
        .assert()
        .success();
    check_report_figures(&c, "en");
}

fn check_report_figures(c: &Case, lang: &str) {
    let summary = read_json(&c.out.join("summary.json"));
    let html = std::fs::read_to_string(c.out.join("report.html")).unwrap();
    let re = regex::Regex::new(r#"data-key="([^"]+)" data-value="([^"]*)""#).unwrap();
    let mut checked = 0;
    for cap in re.captures_iter(&html) {
        let key = unescape(&cap[1]);
        let value = unescape(&cap[2]);
        let want = lookup(&summary, &key).unwrap_or_else(|| panic!("{key} not in summary.json"));
        let want = match want {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        assert_eq!(value, want, "report.html figure {key}");
        checked += 1;
    }
    assert!(checked > 60, "only {checked} figures carry a data-key");
    for key in [
        "customers_affected",
        "cards_affected",
        "orders_in_window",
        "by_brand.VISA.customers",
        "by_country.JP",
        "by_region.US/CA",
        "files.0.rows_read",
        "payments.files.1.matched",
        "evidence.totals.evidence_requests",
        "window_check.status",
        "deadlines.rows.1.due",
    ] {
        assert!(
            html.contains(&format!("data-key=\"{key}\"")),
            "report.html lacks {key}"
        );
    }
    // report.md: the key-figures table, `| label | value | `key` |`.
    let md = std::fs::read_to_string(c.out.join("report.md")).unwrap();
    let row = regex::Regex::new(r"(?m)^\| [^|]+ \| ([^|]+) \| `([^`]+)` \|$").unwrap();
    let mut n = 0;
    for cap in row.captures_iter(&md) {
        let value = cap[1].replace('\\', "");
        let want = match lookup(&summary, &cap[2]).unwrap() {
            serde_json::Value::String(s) => s.clone(),
            v => v.to_string(),
        };
        assert_eq!(value, want, "report.md figure {}", &cap[2]);
        n += 1;
    }
    assert!(n >= 10, "only {n} key figures in report.md");
    // The monthly chart sums to the orders in the window.
    let total = if lang == "ja" { "合計" } else { "total" };
    assert!(md.contains(&format!("| {total} | {} |", summary["orders_in_window"])));
    assert!(html.contains(&format!("<html lang=\"{lang}\">")));
    // Self-contained: no scripts, no external assets.
    assert!(!html.contains("<script"));
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
    assert!(html.contains("<svg"));
    if lang == "ja" {
        assert!(md.contains("法的助言ではありません") && md.contains("## 主な数値"));
        assert!(!md.contains("Key figures"));
    } else {
        assert!(md.contains("no legal advice") && md.contains("## Key figures"));
        assert!(!md.contains("主な数値"));
    }
    // The PPC items are Japanese in either language, with their prompts.
    assert!(md.contains("再発防止のための措置") && md.contains("（要記入）"));
}

/// A hostile value from the inputs is escaped in both reports.
#[test]
fn report_escapes_what_comes_from_the_inputs() {
    let c = fresh_run();
    let p = c.out.join("summary.json");
    let mut s = read_json(&p);
    s["incident"]["name"] = "<script>alert(1)</script> | x".into();
    s["by_country"]["<img src=x onerror=alert(1)>"] = 1.into();
    std::fs::write(&p, serde_json::to_vec_pretty(&s).unwrap()).unwrap();
    skimtrace().arg("report").arg(&c.out).assert().success();
    let html = std::fs::read_to_string(c.out.join("report.html")).unwrap();
    assert!(
        !html.contains("<script>") && !html.contains("<img"),
        "unescaped input in report.html"
    );
    assert!(html.contains("&lt;script&gt;"));
    let md = std::fs::read_to_string(c.out.join("report.md")).unwrap();
    assert!(
        !md.contains("<script>") && !md.contains("<img"),
        "unescaped input in report.md"
    );
    // The standalone report reads the config the manifest recorded: thresholds are there.
    assert!(
        md.contains("US-CA"),
        "thresholds missing from a report rebuilt from the manifest"
    );
}

#[test]
fn init_scaffolds_a_case_whose_config_parses() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("case");
    let a = skimtrace().arg("init").arg(&dir).assert().success();
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains("Next steps"), "{err}");
    for p in [
        "incident.toml",
        "templates/notice/ja/body.txt.j2",
        "templates/notice/en/subject.txt.j2",
        "rules/webshell-names.yml",
    ] {
        assert!(dir.join(p).is_file(), "{p} missing");
    }
    for p in ["inputs/orders", "inputs/payments", "inputs/logs"] {
        assert!(dir.join(p).is_dir(), "{p} missing");
    }
    // The config parses and its rules load (`rules list` reads [logs] rules).
    skimtrace()
        .args(["rules", "list", "--config"])
        .arg(dir.join("incident.toml"))
        .assert()
        .success();
    // Non-empty: refused without --force.
    skimtrace().arg("init").arg(&dir).assert().code(2);
    skimtrace()
        .arg("init")
        .arg(&dir)
        .arg("--force")
        .assert()
        .success();
    // With the bundled exports copied in, the scaffolded case runs end to end.
    let vp = crate::util::root().join("fixtures/vector-park");
    for f in ["ec-cube4.csv", "shop-cards.csv", "shopify.csv"] {
        std::fs::copy(vp.join("orders").join(f), dir.join("inputs/orders").join(f)).unwrap();
    }
    for e in std::fs::read_dir(vp.join("logs")).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() && !e.file_name().to_string_lossy().ends_with(".md") {
            std::fs::copy(e.path(), dir.join("inputs/logs").join(e.file_name())).unwrap();
        }
    }
    let out = dir.join("out");
    skimtrace()
        .arg("run")
        .arg("--config")
        .arg(dir.join("incident.toml"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert!(out.join("report.html").is_file());
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// summary.json at a dotted path (the report's convention: longest key first; numbers index
/// arrays).
fn lookup<'a>(v: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    if let Some(x) = v.get(path) {
        return Some(x);
    }
    let dots: Vec<usize> = path.match_indices('.').map(|(i, _)| i).collect();
    for &i in dots.iter().rev() {
        let head = &path[..i];
        let inner = match v {
            serde_json::Value::Array(a) => head.parse::<usize>().ok().and_then(|n| a.get(n)),
            _ => v.get(head),
        };
        if let Some(inner) = inner {
            if let Some(x) = lookup(inner, &path[i + 1..]) {
                return Some(x);
            }
        }
    }
    match v {
        serde_json::Value::Array(a) => path.parse::<usize>().ok().and_then(|n| a.get(n)),
        _ => None,
    }
}

/// The report's "Notifications" section (issue 9): one row per campaign with what it rendered,
/// and its list compared with the current affected list.
#[test]
fn report_lists_each_campaign_against_the_current_list() {
    let c = fresh_run();
    // A preliminary warning rendered into the same folder, to a list of two people.
    let all = std::fs::read_to_string(c.out.join("affected.jsonl")).unwrap();
    let two: String = all.lines().take(2).map(|l| format!("{l}\n")).collect();
    let list = c.out.parent().unwrap().join("first-two.jsonl");
    std::fs::write(&list, two).unwrap();
    skimtrace()
        .args(["notify", "--campaign", "preliminary", "--config"])
        .arg(c.case.join("incident.toml"))
        .arg("--affected")
        .arg(&list)
        .arg("--out")
        .arg(&c.out)
        .assert()
        .success();
    skimtrace()
        .args(["report", "--lang", "en", "--config"])
        .arg(c.case.join("incident.toml"))
        .arg(&c.out)
        .assert()
        .success();
    let md = std::fs::read_to_string(c.out.join("report.md")).unwrap();
    let section = &md[md
        .find("## Notifications")
        .expect("a Notifications section")..];
    let row = |name: &str| -> Vec<String> {
        section
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}`")))
            .unwrap_or_else(|| panic!("no row for {name} in\n{section}"))
            .split('|')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let customers = all.lines().count();
    let rendered: usize = read_json(&c.out.join("summary.json"))["customers_affected"]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(customers, rendered);
    let notice = row("notice");
    let pre = row("preliminary");
    // The notice went to everyone with an address; the preliminary list holds two people, both
    // still affected, so everyone else is affected but not reached by it.
    assert_eq!(pre[1], "2", "{pre:?}");
    assert_eq!(pre[4], "not sent", "{pre:?}");
    assert_eq!(pre[5], "2", "{pre:?}");
    assert_eq!(pre[6], "0", "{pre:?}");
    assert_eq!(pre[7], (customers - 2).to_string(), "{pre:?}");
    assert_eq!(notice[6], "0", "{notice:?}");
    let notice_rendered: usize = notice[1].parse().unwrap();
    assert_eq!(
        notice[7],
        (customers - notice_rendered).to_string(),
        "{notice:?}"
    );
}

/// `run --force` leaves nothing stale: the previous run's outputs that this run does not write
/// are gone (here: the evidence of a stage now skipped), while a send journal stays.
#[test]
fn a_forced_rerun_removes_stale_outputs_but_keeps_journals() {
    let c = fresh_run();
    assert!(c.out.join("evidence.csv").exists());
    std::fs::write(c.out.join("sent.jsonl"), "").unwrap();
    // The next run has no [logs]: evidence is skipped.
    let cfg_path = c.case.join("incident.toml");
    let cfg = std::fs::read_to_string(&cfg_path).unwrap();
    let start = cfg.find("\n[logs]").expect("[logs] in the bundled config");
    let end = start
        + cfg[start..]
            .find("\n[notify]")
            .expect("[notify] after [logs]");
    std::fs::write(&cfg_path, format!("{}{}", &cfg[..start], &cfg[end..])).unwrap();
    run_case(&c.case, &c.out, &["--force"]).success();
    assert!(
        !c.out.join("evidence.csv").exists(),
        "stale evidence.csv left"
    );
    assert!(
        !c.out.join("timeline.csv").exists(),
        "stale timeline.csv left"
    );
    assert!(
        c.out.join("sent.jsonl").exists(),
        "the send journal was removed"
    );
    assert!(c.out.join("manifest.prev.json").exists());
    verify(&c.out).success();
}

/// Every entry below `dir` without following links: path → (kind, mode, bytes of a file).
#[cfg(unix)]
fn snapshot(dir: &Path) -> BTreeMap<String, (String, u32, Vec<u8>)> {
    use std::os::unix::fs::PermissionsExt;
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, (String, u32, Vec<u8>)>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let mode = m.permissions().mode() & 0o7777;
            if m.file_type().is_symlink() {
                let to = std::fs::read_link(&p).unwrap();
                out.insert(
                    rel,
                    (
                        "link".into(),
                        0,
                        to.to_string_lossy().into_owned().into_bytes(),
                    ),
                );
            } else if m.is_dir() {
                out.insert(rel, ("dir".into(), mode, Vec::new()));
                walk(root, &p, out);
            } else {
                out.insert(rel, ("file".into(), mode, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o7777;
    out.insert(".".into(), ("dir".into(), mode, Vec::new()));
    walk(dir, dir, &mut out);
    out
}

/// A `notices` folder that is a link into another folder: `run --force` refuses, naming it,
/// and the other folder keeps every byte, every file and its mode (nothing written into it,
/// nothing removed from it, no chmod). The case folder is untouched too: the refusal comes
/// before anything is moved or removed.
#[cfg(unix)]
#[test]
fn run_force_follows_no_symlinked_notices_folder() {
    use std::os::unix::fs::PermissionsExt;
    let c = fresh_run();
    let victim = c.out.parent().unwrap().join("someone-elses");
    std::fs::create_dir(&victim).unwrap();
    std::fs::write(victim.join("index.csv"), "theirs\n").unwrap();
    std::fs::write(victim.join("keep.txt"), "precious\n").unwrap();
    std::fs::write(victim.join(".index.csv.tmp-1"), "looks like ours\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::remove_dir_all(c.out.join("notices")).unwrap();
    std::os::unix::fs::symlink(&victim, c.out.join("notices")).unwrap();
    let before = snapshot(&victim);
    let folder_before = snapshot(&c.out);

    let a = run_case(&c.case, &c.out, &["--force"]).code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.contains("notices (a symbolic link)") && err.contains("did not write"),
        "{err}"
    );
    assert_eq!(snapshot(&victim), before, "the linked folder changed");
    assert_eq!(snapshot(&c.out), folder_before, "the case folder changed");

    // The same link in a folder that holds no case yet: still refused.
    let fresh = c.out.parent().unwrap().join("fresh");
    std::fs::create_dir(&fresh).unwrap();
    std::os::unix::fs::symlink(&victim, fresh.join("notices")).unwrap();
    run_case(&c.case, &fresh, &["--force"]).code(2);
    assert_eq!(snapshot(&victim), before, "the linked folder changed");

    // A case folder given as a link is refused too: the folder written must be the one named.
    let link = c.out.parent().unwrap().join("out-link");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let a = run_case(&c.case, &link, &["--force"]).code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(snapshot(&victim), before, "the linked folder changed");
}

/// Files the tool did not write are never adopted: `run --force` refuses, naming each (a
/// planted CSV, a planted notice, a link to a system file), and changes nothing. The notify
/// records (a send journal, another campaign's no_email list) are kept and not refused, but the
/// new manifest does not list them either: it lists what the run wrote.
#[cfg(unix)]
#[test]
fn run_force_refuses_files_it_did_not_write_and_lists_only_its_own() {
    let c = fresh_run();
    std::fs::write(c.out.join("planted.csv"), "a,b\n").unwrap();
    std::fs::write(c.out.join("notices").join("c-planted.eml"), "x").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", c.out.join("hostname")).unwrap();
    std::fs::write(c.out.join("sent.jsonl"), "").unwrap();
    std::fs::write(c.out.join("no_email-preliminary.csv"), "customer_id\n").unwrap();
    let folder_before = snapshot(&c.out);

    let a = run_case(&c.case, &c.out, &["--force"]).code(2);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    for name in [
        "planted.csv",
        "notices/c-planted.eml",
        "hostname (a symbolic link)",
    ] {
        assert!(err.contains(name), "{name} not named in: {err}");
    }
    assert!(
        !err.contains("sent.jsonl") && !err.contains("no_email-preliminary"),
        "{err}"
    );
    assert_eq!(
        snapshot(&c.out),
        folder_before,
        "a refused run changed the folder"
    );

    // Without the planted entries the run goes ahead; the records stay, unlisted.
    for f in ["planted.csv", "notices/c-planted.eml", "hostname"] {
        std::fs::remove_file(c.out.join(f)).unwrap();
    }
    run_case(&c.case, &c.out, &["--force"]).success();
    assert!(c.out.join("sent.jsonl").exists());
    assert!(c.out.join("no_email-preliminary.csv").exists());
    let m = read_json(&c.out.join("manifest.json"));
    let listed: Vec<&str> = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["path"].as_str().unwrap())
        .collect();
    assert!(!listed.contains(&"sent.jsonl"), "the journal was adopted");
    assert!(
        !listed.contains(&"no_email-preliminary.csv"),
        "a record was adopted"
    );
    assert!(listed.contains(&"no_email.csv") && listed.contains(&"notices/index.csv"));
    let a = verify(&c.out).code(0);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.contains("not covered by the manifest") && err.contains("sent.jsonl"),
        "{err}"
    );

    // A file planted after the run is an extra for verify, and the next run refuses it.
    std::fs::write(c.out.join("later.csv"), "x").unwrap();
    verify(&c.out).code(1);
    let a = run_case(&c.case, &c.out, &["--force"]).code(2);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("later.csv"));
}

/// `verify` never follows a link nor opens a special file: a listed file replaced by a link to
/// `/dev/zero`, another replaced by a FIFO, and an unlisted link to `/dev/zero` are reported,
/// and verify finishes (with a timeout, so the old behaviour, reading forever, fails).
#[cfg(unix)]
#[test]
fn verify_reports_links_and_fifos_without_reading_them() {
    let c = fresh_run();
    std::fs::remove_file(c.out.join("report.md")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", c.out.join("report.md")).unwrap();
    std::fs::remove_file(c.out.join("affected.csv")).unwrap();
    let ok = std::process::Command::new("mkfifo")
        .arg(c.out.join("affected.csv"))
        .status()
        .unwrap();
    assert!(ok.success());
    std::os::unix::fs::symlink("/dev/zero", c.out.join("notices").join("zz.eml")).unwrap();
    let a = skimtrace()
        .arg("verify")
        .arg(&c.out)
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(1);
    let stdout = String::from_utf8_lossy(&a.get_output().stdout).into_owned();
    assert_eq!(
        stdout,
        "special\taffected.csv\nlink\tnotices/zz.eml\nlink\treport.md\n"
    );
    // A manifest replaced by a link to /dev/zero: an error, not a hang.
    let m = c.out.join("manifest.json");
    std::fs::remove_file(&m).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &m).unwrap();
    let a = skimtrace()
        .arg("verify")
        .arg(&c.out)
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(err.contains("symbolic link"), "{err}");
}

/// Input file names that are not paths once written: a card-like number in a name is masked in
/// summary.json and the manifest, and a Shift_JIS name (an export unpacked from a Windows zip)
/// is written with U+FFFD. The run still reads every file (a glob matches the Shift_JIS name)
/// and the manifest hashes the files themselves (it read the written names back and failed at
/// its last stage, exit 1, with the case folder left without a manifest).
#[cfg(unix)]
#[test]
fn inputs_named_with_a_card_number_or_in_shift_jis_are_read_and_in_the_manifest() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = copy_case("vector-park");
    let case = tmp.path().join("vector-park");
    // A Visa-like number passing Luhn, made here (pan-scan reads the repository).
    let stem = b"52601815908301";
    let last = (b'0'..=b'9')
        .find(|&d| crate::util::luhn(&[&b"4"[..], stem, &[d]].concat()))
        .unwrap();
    let pan = format!("4{}{}", std::str::from_utf8(stem).unwrap(), last as char);
    let carded = format!("orders/shop-cards-{pan}.csv");
    std::fs::rename(case.join("orders/shop-cards.csv"), case.join(&carded)).unwrap();
    std::fs::create_dir(case.join("shopify")).unwrap();
    // 注文.csv in CP932.
    let sjis = std::ffi::OsStr::from_bytes(b"\x92\x8d\x95\xb6.csv");
    std::fs::rename(
        case.join("orders/shopify.csv"),
        case.join("shopify").join(sjis),
    )
    .unwrap();
    let toml = std::fs::read_to_string(case.join("incident.toml")).unwrap();
    let toml = toml
        .replace("\"orders/shop-cards.csv\"", &format!("{carded:?}"))
        .replace("\"orders/shopify.csv\"", "\"shopify/*.csv\"");
    std::fs::write(case.join("incident.toml"), toml).unwrap();

    let out = tmp.path().join("out");
    run_case(&case, &out, &[]).success();
    let summary = read_json(&out.join("summary.json"));
    let read: Vec<&str> = summary["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    let masked = format!("orders/shop-cards-452601******{}.csv", &pan[12..]);
    let lossy = "shopify/\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}.csv";
    assert!(read.contains(&masked.as_str()), "{read:?}");
    assert!(read.contains(&lossy), "{read:?}");
    let m = read_json(&out.join("manifest.json"));
    let inputs = m["inputs"].as_array().unwrap();
    for name in [masked.as_str(), lossy] {
        let entry = inputs.iter().find(|i| i["path"] == name);
        let file = summary["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == name);
        let (entry, file) = (entry.unwrap(), file.unwrap());
        assert_eq!(entry["role"], "orders");
        assert_eq!(entry["sha256"], file["sha256"], "{name}");
    }
    for f in ["summary.json", "manifest.json"] {
        let text = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(
            !text.contains(&pan),
            "{f} holds the file name's card number"
        );
    }
    verify(&out).code(0);
}
