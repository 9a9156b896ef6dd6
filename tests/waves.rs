//! Notification waves (issue 9): `skimtrace diff` between a first run (narrower window, the
//! Shopify export missing) and the final run of the bundled case, campaigns sent to the real
//! loopback SMTP server, and the errors `diff` gives on input it cannot compare.
//!
//! The expected added, removed and changed people are computed here from the two
//! affected.jsonl files with a matcher of the test's own, not taken from the tool's output.

use crate::notify::Server;
use crate::util::{copy_case, read_csv, read_json, read_jsonl, skimtrace};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const FIRST_WINDOW: &str = "2020-04-27..2021-06-30";
const CONFIG: &str = "vector-park/incident.toml";

/// A copy of the bundled case with two runs: `first` (window to 2021-06-30, no Shopify export)
/// and `final` (the case as configured).
struct Waves {
    dir: tempfile::TempDir,
}

impl Waves {
    fn new() -> Waves {
        let dir = copy_case("vector-park");
        let w = Waves { dir };
        w.affected("first", &["--window", FIRST_WINDOW], true);
        w.affected("final", &[], false);
        w
    }

    fn path(&self, p: &str) -> std::path::PathBuf {
        self.dir.path().join(p)
    }

    /// `affected` into `out`; `partial` leaves the Shopify export out.
    fn affected(&self, out: &str, extra: &[&str], partial: bool) {
        let mut c = skimtrace();
        c.current_dir(self.dir.path())
            .args(["affected", "--config", CONFIG, "--out", out, "--quiet"])
            .args(extra);
        if partial {
            c.args([
                "--orders",
                "vector-park/orders/ec-cube4.csv",
                "vector-park/orders/shop-cards.csv",
            ]);
        }
        c.assert().success();
    }

    fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut c = skimtrace();
        c.current_dir(self.dir.path())
            .args(args)
            .env_remove("SKIMTRACE_SMTP_USER")
            .env_remove("SKIMTRACE_SMTP_PASSWORD");
        c
    }

    fn notify(&self, affected: &str, campaign: &str, extra: &[&str]) -> assert_cmd::Command {
        let mut c = self.cmd(&[
            "notify",
            "--affected",
            affected,
            "--config",
            CONFIG,
            "--campaign",
            campaign,
            "--out",
            "mail",
        ]);
        c.args(extra);
        c
    }
}

/// The test's own reading of who is who: normalised e-mails and login ids; people with
/// neither by their order ids.
fn keys(p: &Value) -> BTreeSet<String> {
    let mut k = BTreeSet::new();
    for e in p["emails"].as_array().unwrap().iter().chain([&p["email"]]) {
        if let Some(e) = e.as_str() {
            k.insert(format!("e:{}", e.trim().to_lowercase()));
        }
    }
    for l in p["login_ids"].as_array().unwrap() {
        k.insert(format!("l:{}", l.as_str().unwrap().trim().to_lowercase()));
    }
    if k.is_empty() {
        for o in p["order_ids"].as_array().unwrap() {
            k.insert(format!("o:{}", o.as_str().unwrap()));
        }
    }
    k
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().unwrap().to_lowercase())
                .collect()
        })
        .unwrap_or_default()
}

fn cards(p: &Value) -> BTreeSet<String> {
    p["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| match c["fingerprint"].as_str() {
            Some(f) => f.to_string(),
            None => format!("{}|{}", c["brand"], c["masked"]),
        })
        .collect()
}

fn id(p: &Value) -> String {
    p["customer_id"].as_str().unwrap().to_string()
}

/// (added new ids, removed old ids, changed (old id, new id, fields)) computed independently.
type Expected = (
    BTreeSet<String>,
    BTreeSet<String>,
    BTreeMap<(String, String), Vec<&'static str>>,
);

fn expected_diff(old: &[Value], new: &[Value]) -> Expected {
    let mut added = BTreeSet::new();
    let mut changed = BTreeMap::new();
    let mut matched_old = BTreeSet::new();
    for n in new {
        let nk = keys(n);
        let olds: Vec<&Value> = old.iter().filter(|o| !keys(o).is_disjoint(&nk)).collect();
        match olds.as_slice() {
            [] => {
                added.insert(id(n));
            }
            [o] => {
                assert!(
                    matched_old.insert(id(o)),
                    "the bundled case links no two people differently"
                );
                let mut fields = Vec::new();
                if cards(o) != cards(n) {
                    fields.push("cards");
                }
                if o["email"].as_str().map(str::to_lowercase)
                    != n["email"].as_str().map(str::to_lowercase)
                {
                    fields.push("email");
                }
                if strings(&o["emails"]) != strings(&n["emails"]) {
                    fields.push("emails");
                }
                if strings(&o["order_ids"]) != strings(&n["order_ids"]) {
                    fields.push("order_ids");
                }
                if o["contact"] != n["contact"] {
                    fields.push("contact");
                }
                if !fields.is_empty() {
                    changed.insert((id(o), id(n)), fields);
                }
            }
            _ => panic!("the bundled case links no two people differently"),
        }
    }
    let removed = old
        .iter()
        .map(id)
        .filter(|i| !matched_old.contains(i))
        .collect();
    (added, removed, changed)
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn diff_lists_exactly_the_added_removed_and_changed_people() {
    let w = Waves::new();
    let old = read_jsonl(&w.path("first/affected.jsonl"));
    let new = read_jsonl(&w.path("final/affected.jsonl"));
    // The final run is the oracle's list.
    let oracle = read_json(&crate::util::root().join("fixtures/vector-park/expected.json"));
    assert_eq!(new.len(), oracle["people"].as_array().unwrap().len());

    // Without --out: the summary on stdout, no file.
    let out = w.cmd(&["diff", "first", "final"]).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(!w.path("diff.csv").exists() && !w.path("diff.json").exists());

    w.cmd(&["diff", "first", "final", "--out", "d", "--quiet"])
        .assert()
        .success();
    let (added, removed, changed) = expected_diff(&old, &new);
    assert!(!added.is_empty() && !changed.is_empty(), "the waves differ");

    let rows = read_jsonl(&w.path("d/diff.jsonl"));
    let mut got_added = BTreeSet::new();
    let mut got_removed = BTreeSet::new();
    let mut got_changed = BTreeMap::new();
    let mut unchanged = 0;
    for r in &rows {
        let (o, n) = (ids(&r["old_customer_ids"]), ids(&r["new_customer_ids"]));
        match r["kind"].as_str().unwrap() {
            "added" => {
                assert!(o.is_empty() && n.len() == 1);
                got_added.insert(n[0].clone());
            }
            "removed" => {
                assert!(n.is_empty() && o.len() == 1);
                got_removed.insert(o[0].clone());
            }
            "changed" => {
                assert_eq!((o.len(), n.len()), (1, 1), "{r}");
                let fields: Vec<&'static str> = r["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| {
                        let f = f.as_str().unwrap();
                        ["cards", "email", "emails", "order_ids", "contact", "people"]
                            .into_iter()
                            .find(|x| *x == f)
                            .unwrap()
                    })
                    .collect();
                got_changed.insert((o[0].clone(), n[0].clone()), fields);
            }
            "unchanged" => unchanged += 1,
            k => panic!("kind {k}"),
        }
    }
    assert_eq!(got_added, added);
    assert_eq!(got_removed, removed);
    assert_eq!(got_changed, changed);
    assert_eq!(
        rows.len(),
        added.len() + removed.len() + changed.len() + unchanged
    );
    assert_eq!(
        unchanged + changed.len() + added.len(),
        new.len(),
        "every new person is in one row"
    );

    // diff.csv says the same, one row per person.
    let csv = crate::util::read_csv_maps(&w.path("d/diff.csv"));
    assert_eq!(csv.len(), rows.len());
    let csv_added: BTreeSet<String> = csv
        .iter()
        .filter(|r| r["kind"] == "added")
        .map(|r| r["new_customer_ids"].clone())
        .collect();
    assert_eq!(csv_added, added);

    // diff.json: counts, both windows, both key ids; the stdout summary has the counts.
    let summary = read_json(&w.path("d/diff.json"));
    assert_eq!(summary["counts"]["added"], added.len());
    assert_eq!(summary["counts"]["removed"], removed.len());
    assert_eq!(summary["counts"]["changed"], changed.len());
    assert_eq!(summary["counts"]["unchanged"], unchanged);
    assert_eq!(summary["old"]["window"]["spec"], FIRST_WINDOW);
    assert_eq!(summary["new"]["window"]["spec"], "2020-04-27..2021-12-22");
    assert_eq!(
        summary["old"]["fingerprint_key"]["id"],
        summary["new"]["fingerprint_key"]["id"]
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("added"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert_eq!(
        line.split_whitespace().nth(1),
        Some(&*added.len().to_string())
    );

    // --affected-only: just those people, as in NEW (removed as in OLD), byte for byte.
    w.cmd(&[
        "diff",
        "first",
        "final",
        "--out",
        "f",
        "--affected-only",
        "added,changed",
        "--quiet",
    ])
    .assert()
    .success();
    let only = read_jsonl(&w.path("f/affected.jsonl"));
    let want: BTreeSet<String> = added
        .iter()
        .cloned()
        .chain(changed.keys().map(|(_, n)| n.clone()))
        .collect();
    let got: BTreeSet<String> = only.iter().map(id).collect();
    assert_eq!(got, want);
    for p in &only {
        assert!(new.contains(p), "written as in the new run");
    }
    // Deterministic: the same command gives the same bytes.
    let before = std::fs::read(w.path("d/diff.jsonl")).unwrap();
    w.cmd(&["diff", "first", "final", "--out", "d", "--quiet"])
        .assert()
        .success();
    assert_eq!(std::fs::read(w.path("d/diff.jsonl")).unwrap(), before);
}

#[test]
fn a_folder_diffed_with_itself_has_no_change() {
    let w = Waves::new();
    w.cmd(&["diff", "final", "final/affected.jsonl", "--out", "same"])
        .assert()
        .success();
    let s = read_json(&w.path("same/diff.json"));
    let n = read_jsonl(&w.path("final/affected.jsonl")).len();
    assert_eq!(s["counts"]["unchanged"], n);
    for k in ["added", "removed", "changed"] {
        assert_eq!(s["counts"][k], 0, "{k}");
    }
}

#[test]
fn diff_refuses_a_folder_without_affected_jsonl_and_runs_with_other_keys() {
    let w = Waves::new();
    std::fs::create_dir(w.path("empty")).unwrap();
    let out = w
        .cmd(&["diff", "empty", "final", "--out", "x"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("no affected.jsonl") && err.contains("skimtrace affected"),
        "{err}"
    );
    assert!(!w.path("x").exists());

    // The same exports with another fingerprint key: cards cannot be compared.
    let mut c = w.cmd(&["affected", "--config", CONFIG, "--out", "other", "--quiet"]);
    c.env("SKIMTRACE_FINGERPRINT_KEY", "another-key-fedcba9876543210")
        .assert()
        .success();
    let out = w
        .cmd(&["diff", "final", "other", "--out", "x"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("different fingerprint keys") && err.contains("--key-file"),
        "{err}"
    );
    assert!(!w.path("x").exists(), "no diff file written");
    assert!(out.get_output().stdout.is_empty());
}

#[test]
fn a_correction_goes_to_the_people_the_final_window_drops() {
    let w = Waves::new();
    // A suspected window that starts earlier than the final one.
    w.affected("suspected", &["--window", "2020-01-01..2021-06-30"], true);
    w.cmd(&[
        "diff",
        "suspected",
        "final",
        "--out",
        "gone",
        "--affected-only",
        "removed",
        "--quiet",
    ])
    .assert()
    .success();
    let old = read_jsonl(&w.path("suspected/affected.jsonl"));
    let new = read_jsonl(&w.path("final/affected.jsonl"));
    let (_, removed, _) = expected_diff(&old, &new);
    assert!(!removed.is_empty());
    let gone = read_jsonl(&w.path("gone/affected.jsonl"));
    assert_eq!(gone.iter().map(id).collect::<BTreeSet<_>>(), removed);
    for p in &gone {
        assert!(
            old.contains(p),
            "removed people are written as in the old run"
        );
    }
    w.notify("gone/affected.jsonl", "correction", &["--quiet"])
        .assert()
        .success();
    let index = crate::util::read_csv_maps(&w.path("mail/notices-correction/index.csv"));
    assert!(!index.is_empty());
    let first = &index[0];
    let raw = std::fs::read(w.path(&format!(
        "mail/notices-correction/{}.eml",
        first["customer_id"]
    )))
    .unwrap();
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let body = msg.body_text(0).unwrap();
    assert!(
        body.contains("2020年4月27日～2021年12月22日")
            || body.contains("April 27, 2020 to December 22, 2021"),
        "{body}"
    );
    assert!(
        !body.contains("****") && !body.contains("下4桁"),
        "no cards in a correction"
    );
    assert!(
        !w.path("mail/notices").exists(),
        "the notice campaign is untouched"
    );
}

/// Envelope recipient (lower-cased) and campaign (from the Message-ID) of every message.
fn deliveries(server: &Server) -> Vec<(String, String)> {
    server
        .received()
        .iter()
        .map(|(rcpts, raw)| {
            assert_eq!(rcpts.len(), 1);
            let msg = mail_parser::MessageParser::default().parse(raw).unwrap();
            let mid = msg.message_id().unwrap().to_string();
            let campaign = mid
                .trim_start_matches('<')
                .split('.')
                .next()
                .unwrap()
                .to_string();
            (campaign, rcpts[0].to_lowercase())
        })
        .collect()
}

fn emailable(dir: &Path, list: &str, no_email: &str) -> usize {
    read_jsonl(&dir.join(list)).len() - (read_csv(&dir.join(no_email)).len() - 1)
}

#[test]
fn each_address_gets_at_most_one_message_per_campaign() {
    let w = Waves::new();
    let inbox = tempfile::tempdir().unwrap();
    let server = Server::start(inbox.path(), &[]);
    let url = server.url();
    let send = ["--send", url.as_str(), "--tls", "none", "--quiet"];

    // December: the preliminary warning to the suspected list.
    let mut prelim = send.to_vec();
    prelim.extend(["--date", "2021-12-14"]);
    w.notify("first/affected.jsonl", "preliminary", &prelim)
        .assert()
        .success();
    let n_prelim = emailable(
        w.dir.path(),
        "first/affected.jsonl",
        "mail/no_email-preliminary.csv",
    );
    assert_eq!(deliveries(&server).len(), n_prelim);

    // August: the formal notice, first to the new and changed people, then to everyone.
    w.cmd(&[
        "diff",
        "first",
        "final",
        "--out",
        "followup",
        "--affected-only",
        "added,changed",
        "--quiet",
    ])
    .assert()
    .success();
    w.notify("followup/affected.jsonl", "notice", &send)
        .assert()
        .success();
    let after_followup = deliveries(&server).len();
    let n_followup = emailable(w.dir.path(), "followup/affected.jsonl", "mail/no_email.csv");
    assert_eq!(after_followup, n_prelim + n_followup);
    w.notify("final/affected.jsonl", "notice", &send)
        .assert()
        .success();
    let n_final = emailable(w.dir.path(), "final/affected.jsonl", "mail/no_email.csv");
    let all = deliveries(&server);
    assert_eq!(
        all.len(),
        n_prelim + n_final,
        "the follow-up's people got one notice"
    );

    // Every address: at most one message per campaign.
    let mut per: BTreeMap<(String, String), usize> = BTreeMap::new();
    for d in &all {
        *per.entry(d.clone()).or_default() += 1;
    }
    let twice: Vec<_> = per.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{twice:?}");
    assert!(per.keys().any(|(c, _)| c == "preliminary"));
    assert!(per.keys().any(|(c, _)| c == "notice"));

    // A re-run of either campaign sends nothing.
    w.notify("first/affected.jsonl", "preliminary", &prelim)
        .assert()
        .success();
    w.notify("final/affected.jsonl", "notice", &send)
        .assert()
        .success();
    w.notify("followup/affected.jsonl", "notice", &send)
        .assert()
        .success();
    assert_eq!(deliveries(&server).len(), all.len());

    // Another run's list names the same people under other customer ids: their addresses
    // already have the preliminary warning, so nothing goes out.
    let renamed: String = std::fs::read_to_string(w.path("first/affected.jsonl"))
        .unwrap()
        .replace("\"customer_id\":\"c-", "\"customer_id\":\"c-x");
    std::fs::create_dir(w.path("renamed")).unwrap();
    std::fs::write(w.path("renamed/affected.jsonl"), renamed).unwrap();
    let out = w
        .notify("renamed/affected.jsonl", "preliminary", &send[..4])
        .assert()
        .success();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("address already has"), "{err}");
    assert_eq!(deliveries(&server).len(), all.len());

    // --status: per campaign, from the journals.
    let out = w
        .cmd(&["notify", "--status", "--out", "mail"])
        .assert()
        .success();
    let table = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let row = |c: &str| -> Vec<String> {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(c))
            .unwrap_or_else(|| panic!("{c} in {table}"))
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(row("preliminary")[2], n_prelim.to_string(), "{table}");
    assert_eq!(row("notice")[2], n_final.to_string(), "{table}");
    assert!(w.path("mail/sent.jsonl").exists() && w.path("mail/sent-preliminary.jsonl").exists());
}

#[test]
fn an_unknown_campaign_without_templates_is_an_error() {
    let w = Waves::new();
    let out = w
        .notify("final/affected.jsonl", "reminder", &["--check"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("no templates for campaign \"reminder\"") && err.contains("templates init"),
        "{err}"
    );
    w.notify("final/affected.jsonl", "Bad/Name", &["--check"])
        .assert()
        .code(2);
    // `templates init` writes every wave; a campaign of one's own is a folder beside them.
    w.cmd(&["templates", "init", "tpl", "--quiet"])
        .assert()
        .success();
    for wave in ["preliminary", "notice", "correction"] {
        for loc in ["ja", "en"] {
            assert!(w.path(&format!("tpl/{wave}/{loc}/body.txt.j2")).is_file());
        }
        w.notify(
            "final/affected.jsonl",
            wave,
            &["--check", "--templates", "tpl"],
        )
        .assert()
        .success();
    }
    for loc in ["ja", "en"] {
        let dir = w.path(&format!("tpl/reminder/{loc}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("subject.txt.j2"),
            "Reminder: {{ incident.shop }}\n",
        )
        .unwrap();
        std::fs::write(dir.join("body.txt.j2"), "{{ window.text }}\n").unwrap();
    }
    w.notify(
        "final/affected.jsonl",
        "reminder",
        &["--check", "--templates", "tpl"],
    )
    .assert()
    .success();
    // The window is not final in a preliminary warning: a template that uses it fails.
    std::fs::write(
        w.path("tpl/preliminary/ja/body.txt.j2"),
        "{{ window.text }}\n",
    )
    .unwrap();
    let out = w
        .notify(
            "final/affected.jsonl",
            "preliminary",
            &["--check", "--templates", "tpl"],
        )
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("undefined"), "{err}");
}

/// `--affected-only` writes each person's line as the run wrote it; a line edited by hand to
/// hold a card number (plain, or as JSON escapes a reader decodes: `\u0034\u0031…`) is written
/// masked.
#[test]
fn affected_only_never_copies_a_card_number() {
    let w = Waves::new();
    std::fs::create_dir(w.path("edited")).unwrap();
    std::fs::copy(w.path("final/summary.json"), w.path("edited/summary.json")).unwrap();
    let pan = ["4111", "1111", "1111", "1111"].concat();
    let escaped: String = pan
        .chars()
        .map(|c| format!("\\u{:04x}", c as u32))
        .collect();
    let text = std::fs::read_to_string(w.path("final/affected.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut edit = |k: usize, card: &str| {
        let name = read_jsonl(&w.path("final/affected.jsonl"))[k]["name"]
            .as_str()
            .unwrap()
            .to_string();
        let quoted = serde_json::to_string(&name).unwrap();
        assert!(lines[k].contains(&quoted));
        lines[k] = lines[k].replacen(
            &quoted,
            &format!("\"{} {card}\"", &quoted[1..quoted.len() - 1]),
            1,
        );
    };
    edit(0, &pan);
    edit(1, &escaped);
    std::fs::write(w.path("edited/affected.jsonl"), lines.join("\n") + "\n").unwrap();
    w.cmd(&[
        "diff",
        "final",
        "edited",
        "--out",
        "x",
        "--affected-only",
        "unchanged",
        "--quiet",
    ])
    .assert()
    .success();
    let written = std::fs::read_to_string(w.path("x/affected.jsonl")).unwrap();
    let people = read_jsonl(&w.path("x/affected.jsonl"));
    assert_eq!(people.len(), lines.len(), "the name is no compared field");
    let edited = people
        .iter()
        .filter(|p| p["name"].as_str().unwrap().ends_with(" 411111******1111"))
        .count();
    assert_eq!(edited, 2, "{written}");
    assert!(
        !written.contains(&pan) && !written.contains(&escaped),
        "{written}"
    );
}
