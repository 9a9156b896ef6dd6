//! Crash safety (issue 6): `skimtrace run` killed with SIGKILL at random points of the bundled
//! case. `verify` must never pass on the folder an interrupted run left, and a re-run with
//! `--force` must give the same case folder as an uninterrupted run (byte for byte, with
//! SOURCE_DATE_EPOCH and a fixed key), apart from manifest.prev.json.

use crate::util::{copy_case, skimtrace};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const EPOCH: &str = "1660780800";

fn run_cmd(case: &Path, out: &Path, force: bool) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_skimtrace"));
    c.env(
        "SKIMTRACE_FINGERPRINT_KEY",
        "integration-test-key-0123456789abcdef",
    )
    .env_remove("RUST_LOG")
    .env("SOURCE_DATE_EPOCH", EPOCH)
    .args(["run", "-q", "--config"])
    .arg(case.join("incident.toml"))
    .arg("--out")
    .arg(out)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    if force {
        c.arg("--force");
    }
    c
}

/// Every file of the folder (hidden ones included), without manifest.prev.json; in
/// manifest.json, the entry for manifest.prev.json is dropped from the outputs.
fn folder(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out.remove("manifest.prev.json");
    if let Some(m) = out.get_mut("manifest.json") {
        let mut v: serde_json::Value = serde_json::from_slice(m).unwrap();
        if let Some(list) = v["outputs"].as_array_mut() {
            list.retain(|o| o["path"] != "manifest.prev.json");
        }
        *m = serde_json::to_vec_pretty(&v).unwrap();
    }
    out
}

/// A small xorshift generator seeded from the clock; the seed is printed so a failure can be
/// replayed with SKIMTRACE_CRASH_SEED.
fn rng() -> impl FnMut() -> u64 {
    let seed = std::env::var("SKIMTRACE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("crash test seed {seed} (replay with SKIMTRACE_CRASH_SEED={seed})");
    let mut s = seed | 1;
    move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    }
}

#[cfg(unix)]
#[test]
fn a_killed_run_never_verifies_and_a_forced_rerun_gives_the_same_folder() {
    let tmp = copy_case("vector-park");
    let case = tmp.path().join("vector-park");
    let reference = tmp.path().join("reference");
    let t = Instant::now();
    assert!(run_cmd(&case, &reference, false)
        .status()
        .unwrap()
        .success());
    let full = t.elapsed();
    let want = folder(&reference);
    let mut next = rng();

    let out = tmp.path().join("out");
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut kills = 0;
    // Several kills into the same folder (each after a random share of a whole run), then
    // a re-run to the end; bounded in time.
    for round in 0..6 {
        if Instant::now() > deadline {
            break;
        }
        let delay = Duration::from_micros(next() % (full.as_micros() as u64).max(1));
        let mut child = run_cmd(&case, &out, round > 0 || out.exists())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap_or(()); // SIGKILL
        let status = child.wait().unwrap();
        if finished && status.success() {
            continue; // the run finished before the kill: nothing interrupted
        }
        kills += 1;
        if out.exists() {
            let v = skimtrace().arg("verify").arg(&out).output().unwrap();
            // verify may pass only on a complete case: a kill that landed after the run's last
            // write (the manifest renamed into place, the process not yet gone), or before the
            // run touched a folder an earlier round had completed. Then the folder must be the
            // uninterrupted run's, byte for byte.
            if v.status.code() == Some(0) {
                assert!(
                    folder(&out) == want,
                    "verify passed on an incomplete folder from a run killed after {delay:?}"
                );
            }
        }
    }
    assert!(
        kills > 0,
        "no run was interrupted (a whole run takes {full:?})"
    );
    assert!(run_cmd(&case, &out, true).status().unwrap().success());
    let got = folder(&out);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the re-run's files differ from an uninterrupted run's"
    );
    for (name, bytes) in &want {
        assert!(
            &got[name] == bytes,
            "{name} differs after an interrupted run"
        );
    }
    let v = skimtrace().arg("verify").arg(&out).output().unwrap();
    assert_eq!(v.status.code(), Some(0));
}

/// A synthetic case of `rows` card and other orders, every one in the window, with notices.
fn synthetic_case(dir: &Path, rows: u64, customers: u64, seed: u64) {
    std::fs::create_dir_all(dir.join("orders")).unwrap();
    std::fs::write(
        dir.join("incident.toml"),
        r#"[incident]
name = "synthetic"
id = "synthetic"
company = "Example KK"
shop = "Example shop"
timezone = "Asia/Tokyo"
window = "2019-01-01..2023-12-31"

[orders]
paths = ["orders/*.csv"]

[notify]
from = "Example shop <notice@example.com>"
date = "2024-02-01"
"#,
    )
    .unwrap();
    let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("orders/o.csv")).unwrap());
    skimtrace::synth::write_orders(&mut w, rows, customers, seed).unwrap();
    std::io::Write::flush(&mut w).unwrap();
}

/// The notices of a case folder (file stems) and the customer ids of its affected.jsonl.
fn notices_and_customers(
    out: &Path,
) -> (
    std::collections::BTreeSet<String>,
    std::collections::BTreeSet<String>,
) {
    let notices = std::fs::read_dir(out.join("notices"))
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().to_string_lossy().into_owned();
            n.strip_suffix(".eml").map(str::to_string)
        })
        .collect();
    let customers = crate::util::read_jsonl(&out.join("affected.jsonl"))
        .iter()
        .map(|c| c["customer_id"].as_str().unwrap().to_string())
        .collect();
    (notices, customers)
}

/// `run --force` on a smaller input, killed while it removes the previous run's outputs, then
/// `run --force` again: the folder is the uninterrupted run's (byte for byte, apart from
/// manifest.prev.json) and holds no notice of a customer no longer affected. The kill comes the
/// moment manifest.prev.json appears (the previous run's thousands of notices are then being
/// removed); a few rounds, each a new big folder.
#[cfg(unix)]
#[test]
fn a_forced_run_killed_while_removing_the_previous_outputs_leaves_nothing_stale() {
    let tmp = tempfile::tempdir().unwrap();
    let small = tmp.path().join("small");
    synthetic_case(&small, 300, 100, 7);
    let reference = tmp.path().join("reference");
    assert!(run_cmd(&small, &reference, false)
        .status()
        .unwrap()
        .success());
    let want = folder(&reference);
    let (notices, customers) = notices_and_customers(&reference);
    assert!(!notices.is_empty() && notices.is_subset(&customers));

    let big = tmp.path().join("big");
    synthetic_case(&big, 12_000, 6_000, 1);
    let mut mid_removal = 0;
    for round in 0..3 {
        let out = tmp.path().join(format!("out{round}"));
        assert!(run_cmd(&big, &out, false).status().unwrap().success());
        let big_notices = std::fs::read_dir(out.join("notices")).unwrap().count();
        assert!(big_notices > 3_000, "only {big_notices} notices");

        let mut child = run_cmd(&small, &out, true).spawn().unwrap();
        let prev = out.join("manifest.prev.json");
        let t = Instant::now();
        while !prev.exists() && t.elapsed() < Duration::from_secs(60) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
        }
        child.kill().unwrap_or(()); // SIGKILL
        child.wait().unwrap();
        let left = std::fs::read_dir(out.join("notices"))
            .map(|d| d.count())
            .unwrap_or(0);
        if !out.join("manifest.json").exists() && left > notices.len() {
            mid_removal += 1;
        }

        assert!(run_cmd(&small, &out, true).status().unwrap().success());
        let got = folder(&out);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "round {round}: the re-run's files differ from an uninterrupted run's ({left} notices were left by the kill)"
        );
        for (name, bytes) in &want {
            assert!(&got[name] == bytes, "round {round}: {name} differs");
        }
        let (n, c) = notices_and_customers(&out);
        assert!(
            n.is_subset(&c),
            "round {round}: notices of customers no longer affected: {:?}",
            n.difference(&c).take(5).collect::<Vec<_>>()
        );
        let v = skimtrace().arg("verify").arg(&out).output().unwrap();
        assert_eq!(v.status.code(), Some(0), "round {round}");
        if mid_removal > 0 {
            break;
        }
    }
    assert!(
        mid_removal > 0,
        "no kill landed while the previous outputs were being removed"
    );
}
