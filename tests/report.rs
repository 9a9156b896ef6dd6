//! The report in the case's language, the PPC report and its deadlines (issue 16), the table
//! form of the window, and `notify --status` after a partial send, on copies of the bundled
//! case (whose default_locale is ja).

use crate::util::{copy_case, luhn_runs, read_json, skimtrace};
use std::path::{Path, PathBuf};

const EPOCH: &str = "1660780800"; // 2022-08-18T00:00:00Z

struct Case {
    _tmp: tempfile::TempDir,
    case: PathBuf,
    out: PathBuf,
}

/// A copy of the bundled case with `edit` applied to its incident.toml.
fn case_with(edit: impl Fn(String) -> String) -> Case {
    let tmp = copy_case("vector-park");
    let case = tmp.path().join("vector-park");
    let toml = case.join("incident.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, edit(text)).unwrap();
    let out = tmp.path().join("out");
    Case {
        _tmp: tmp,
        case,
        out,
    }
}

fn run(c: &Case) -> assert_cmd::assert::Assert {
    skimtrace()
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .arg("run")
        .arg("--config")
        .arg(c.case.join("incident.toml"))
        .arg("--out")
        .arg(&c.out)
        .assert()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn no_card_numbers(name: &str, text: &str) {
    let runs = luhn_runs(text);
    assert!(runs.is_empty(), "{name}: card-like runs {runs:?}");
}

/// The bundled case's report in Japanese (its default_locale), the same report in English, and
/// ppc-report.md, pinned as snapshots.
#[test]
fn the_report_in_both_languages_and_the_ppc_report_match_their_snapshots() {
    let c = case_with(|t| t);
    run(&c).success();
    let ja = read(&c.out.join("report.md"));
    let ppc = read(&c.out.join("ppc-report.md"));
    skimtrace()
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["report", "--lang", "en"])
        .arg(&c.out)
        .assert()
        .success();
    let en = read(&c.out.join("report.md"));
    for (name, text) in [("ja", &ja), ("en", &en), ("ppc", &ppc)] {
        no_card_numbers(name, text);
    }
    insta::assert_snapshot!("report_ja_md", ja);
    insta::assert_snapshot!("report_en_md", en);
    insta::assert_snapshot!("ppc_report_md", ppc);
}

/// The bundled run: a Japanese page, the PPC report pasteable as it is (no Markdown escapes, no
/// English prompt), listed in the manifest; the deadlines in summary.json, the report and the
/// run's summary; a final report filed late stays "late" once done.
#[test]
fn the_run_dates_the_ppc_reports_and_says_where_they_stand() {
    let c = case_with(|t| {
        t.replace(
            "discovered = \"2021-12-07\"\n",
            "discovered = \"2021-12-07\"\nreported_preliminary = \"2021-12-10\"\nreported_final = \"2022-07-11\"\n",
        )
        .replace(
            "min = 250, deadline_days = 30, note =",
            "min = 250, deadline_days = 30, from = \"2022-06-28\", note =",
        )
    });
    let a = run(&c).success();
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    let s = read_json(&c.out.join("summary.json"));
    let d = &s["deadlines"];
    assert_eq!(d["today"], "2022-08-18");
    let rows = d["rows"].as_array().unwrap();
    let by_id = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap().clone();
    let pre = by_id("ppc_preliminary");
    assert_eq!(
        (pre["due"].as_str(), pre["status"].as_str()),
        (Some("2021-12-12"), Some("done"))
    );
    let fin = by_id("ppc_final");
    assert_eq!(fin["due"], "2022-02-05");
    assert_eq!(fin["status"], "done_late");
    assert_eq!(fin["days_late"], 156);
    // US-TX: 30 days from the row's own date; the bundled case has no Texan: no deadline runs.
    let tx = by_id("US-TX");
    assert_eq!(tx["due"], "2022-07-28");
    assert_eq!(tx["status"], "not_reached");
    assert!(
        err.contains("deadline PPC final report: due 2022-02-05 (60 days from 2021-12-07): done on 2022-07-11, 156 days late"),
        "{err}"
    );
    let md = read(&c.out.join("report.md"));
    assert!(md.contains("| 個人情報保護委員会への確報 |"), "{md}");
    assert!(md.contains("| 2022年2月5日 | 2022年7月11日に報告済み（期限から156日遅れ） |"));
    let html = read(&c.out.join("report.html"));
    assert!(html.contains("<html lang=\"ja\">"));
    assert!(
        html.contains("data-key=\"deadlines.rows.1.due\" data-value=\"2022-02-05\">2022年2月5日<")
    );
    assert!(
        html.contains("Hiragino Sans")
            && html.contains("Meiryo")
            && html.contains("Noto Sans CJK JP")
    );

    let ppc = read(&c.out.join("ppc-report.md"));
    for item in [
        "## 1. 概要",
        "## 2. 漏えい等が発生し、又は発生したおそれがある個人データの項目",
        "## 3. 漏えい等が発生し、又は発生したおそれがある個人データに係る本人の数",
        "## 4. 原因",
        "## 5. 二次被害又はそのおそれの有無及びその内容",
        "## 6. 本人への対応の実施状況",
        "## 7. 公表の実施状況",
        "## 8. 再発防止のための措置",
        "## 9. その他参考となる事項",
    ] {
        assert!(ppc.contains(item), "ppc-report.md lacks {item}");
    }
    assert!(ppc.contains("2020年4月27日～2021年12月22日"));
    assert!(ppc.contains("2021年12月7日に本件を認識しました"));
    assert!(ppc.contains("最大140名"));
    assert!(ppc.contains("（要記入）フォレンジック調査"));
    // Pasted into a form as it is: no Markdown escape, no English prompt.
    assert!(
        !ppc.contains('\\'),
        "a Markdown escape would be pasted: {ppc}"
    );
    assert!(!ppc.contains("To be completed"));
    let m = read_json(&c.out.join("manifest.json"));
    assert!(m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["path"] == "ppc-report.md"));
    skimtrace().arg("verify").arg(&c.out).assert().success();
}

/// `[report] language` wins over default_locale; a language the report is not written in is a
/// config error that says what to write; so is a date that is not one.
#[test]
fn the_language_setting_and_its_errors() {
    let c = case_with(|t| t.replace("[report]\n", "[report]\nlanguage = \"en\"\n"));
    run(&c).success();
    let md = read(&c.out.join("report.md"));
    assert!(md.starts_with("# Incident report: "), "{md}");
    assert!(md.contains("## Reporting deadlines"));
    // The PPC's items stay in Japanese.
    assert!(md.contains("### 1. 概要"));

    let c = case_with(|t| t.replace("[report]\n", "[report]\nlanguage = \"fr\"\n"));
    let err = String::from_utf8_lossy(&run(&c).failure().get_output().stderr).into_owned();
    assert!(
        err.contains("language = \"fr\"") && err.contains("language = \"ja\""),
        "{err}"
    );
    let c = case_with(|t| {
        t.replace(
            "discovered = \"2021-12-07\"\n",
            "discovered = \"2021-12-07\"\nreported_final = \"11 July\"\n",
        )
    });
    let err = String::from_utf8_lossy(&run(&c).failure().get_output().stderr).into_owned();
    assert!(
        err.contains("incident.reported_final = \"11 July\"")
            && err.contains("reported_final = \"2021-12-07\""),
        "{err}"
    );
}

/// `window = { start = …, end = … }` runs the same case as `window = "START..END"`.
#[test]
fn the_window_as_a_table_gives_the_same_case() {
    let string = case_with(|t| t);
    run(&string).success();
    let table = case_with(|t| {
        t.replace(
            "window = \"2020-04-27..2021-12-22\"",
            "window = { start = \"2020-04-27\", end = \"2021-12-22\" }",
        )
    });
    run(&table).success();
    for f in ["affected.jsonl", "orders.csv", "summary.json"] {
        assert_eq!(
            read(&string.out.join(f)),
            read(&table.out.join(f)),
            "{f} differs"
        );
    }
}

/// After a send that reached some customers and failed one, `notify --status` shows the
/// campaign's list, how many were accepted and how many are still to be reached.
#[test]
fn notify_status_after_a_partial_send() {
    let c = case_with(|t| t);
    run(&c).success();
    let affected: Vec<serde_json::Value> = crate::util::read_jsonl(&c.out.join("affected.jsonl"));
    let with_email: Vec<&serde_json::Value> = affected
        .iter()
        .filter(|r| r["email"].as_str().is_some_and(|e| e.contains('@')))
        .take(3)
        .collect();
    let ids: Vec<&str> = with_email
        .iter()
        .map(|r| r["customer_id"].as_str().unwrap())
        .collect();
    let rejected = with_email[2]["email"].as_str().unwrap();
    let mail = c.out.parent().unwrap().join("mail");
    let server = crate::notify::Server::start(&mail, &["--reject", rejected]);
    let mut cmd = skimtrace();
    cmd.env("SOURCE_DATE_EPOCH", EPOCH)
        .args(["notify", "--config"])
        .arg(c.case.join("incident.toml"))
        .arg("--affected")
        .arg(c.out.join("affected.jsonl"))
        .arg("--out")
        .arg(&c.out)
        .args(["--send", &server.url(), "--tls", "none"]);
    for id in &ids {
        cmd.args(["--only", id]);
    }
    cmd.assert().code(1);
    assert_eq!(server.received().len(), 2);
    let out = skimtrace()
        .args(["notify", "--status", "--out"])
        .arg(&c.out)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("notice "))
        .unwrap_or_else(|| panic!("no notice row in\n{out}"))
        .split_whitespace()
        .collect();
    let col = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    let n = affected.len();
    assert_eq!(col("list"), n.to_string(), "{out}");
    assert_eq!(col("accepted"), "2", "{out}");
    assert_eq!(col("to_reach"), (n - 2).to_string(), "{out}");
    assert_eq!(col("failed"), "1", "{out}");
}
