//! Every output byte-identical to the recorded digests: the bundled case run whole, and data
//! shaped like the benchmarks (a Stripe-like order + payments pair, the peer-comparison export,
//! a combined log with attacks), so a refactor or a speed-up that changes one byte of one output
//! fails here, naming the file.
//!
//! The digests live in `tests/identical/*.sha256`. When an output is meant to change, run
//! `SKIMTRACE_BLESS=1 cargo nextest run identical` and commit the new digests with the change
//! that explains them.

use crate::util::{copy_case, skimtrace};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

const WINDOW: &str = "2020-04-27..2021-12-22";

/// `sha256  path` for every file under `dir`, sorted by path.
fn digests(dir: &Path) -> String {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    let mut rows: Vec<(String, String)> = files
        .iter()
        .map(|p| {
            let rel = p
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(p).unwrap();
            let hex = Sha256::digest(&bytes)
                .iter()
                .fold(String::new(), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                });
            (rel, hex)
        })
        .collect();
    rows.sort();
    rows.iter().fold(String::new(), |mut s, (p, h)| {
        let _ = writeln!(s, "{h}  {p}");
        s
    })
}

/// Every summary.json under `dir` reads as the typed `Summary` and writes back the same JSON:
/// the struct declares the whole file.
fn summaries_round_trip(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "summary.json") {
                let raw: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
                let typed: skimtrace::summary::Summary =
                    serde_json::from_value(raw.clone()).unwrap();
                assert!(
                    typed.other.is_empty(),
                    "{}: untyped keys {:?}",
                    p.display(),
                    typed.other.keys()
                );
                assert_eq!(
                    serde_json::to_value(&typed).unwrap(),
                    raw,
                    "{}",
                    p.display()
                );
                seen += 1;
            }
        }
    }
    assert!(seen > 0, "no summary.json under {}", dir.display());
}

/// Compares `got` with `tests/identical/NAME.sha256` (or records it under SKIMTRACE_BLESS=1),
/// naming every file that differs, appears or disappears.
fn check(name: &str, got: &str) {
    let path = crate::util::root()
        .join("tests/identical")
        .join(format!("{name}.sha256"));
    if std::env::var_os("SKIMTRACE_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (SKIMTRACE_BLESS=1 records it)", path.display()));
    if want == got {
        return;
    }
    let parse = |s: &str| -> std::collections::BTreeMap<String, String> {
        s.lines()
            .filter_map(|l| l.split_once("  "))
            .map(|(h, p)| (p.to_string(), h.to_string()))
            .collect()
    };
    let (w, g) = (parse(&want), parse(got));
    let mut diff = Vec::new();
    for (p, h) in &w {
        match g.get(p) {
            None => diff.push(format!("missing: {p}")),
            Some(x) if x != h => diff.push(format!("changed: {p}")),
            _ => {}
        }
    }
    for p in g.keys().filter(|p| !w.contains_key(*p)) {
        diff.push(format!("new: {p}"));
    }
    panic!(
        "{name}: outputs differ from {}:\n{}",
        path.display(),
        diff.join("\n")
    );
}

#[test]
fn the_bundled_case_is_byte_identical() {
    let tmp = copy_case("vector-park");
    // Relative paths: the manifest records the config's path as given.
    skimtrace()
        .current_dir(tmp.path())
        .env("SOURCE_DATE_EPOCH", "1660780800")
        .args(["run", "--quiet", "--config", "vector-park/incident.toml"])
        .args(["--out", "case"])
        .assert()
        .success();
    check("vector-park", &digests(&tmp.path().join("case")));
    summaries_round_trip(&tmp.path().join("case"));
}

#[test]
fn the_benchmark_shapes_are_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = |name: &str| std::io::BufWriter::new(std::fs::File::create(dir.join(name)).unwrap());
    {
        let (mut o, mut p) = (file("orders.csv"), file("payments.csv"));
        skimtrace::synth::write_orders_and_payments(&mut o, Some(&mut p), 20_000, 5_000, 42)
            .unwrap();
        o.flush().unwrap();
        p.flush().unwrap();
        let mut peer = file("peer.csv");
        skimtrace::synth::write_peer_shape(&mut peer, 20_000, 42).unwrap();
        peer.flush().unwrap();
        let templates: Vec<String> = skimtrace::synth::LOG_TEMPLATES
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut log = file("access.log");
        // One line in 64 an attack: about 1.5 % of the requests match, as in the benchmark.
        skimtrace::synth::write_combined_log(&mut log, &templates, 64, 4 << 20).unwrap();
        log.flush().unwrap();
    }
    let run = |args: &[&str]| {
        skimtrace()
            .current_dir(dir)
            .args(args)
            .args(["--quiet", "--tz", "Asia/Tokyo", "--window", WINDOW])
            .assert()
            .success();
    };
    run(&[
        "affected",
        "--orders",
        "orders.csv",
        "--payments",
        "payments.csv",
        "--out",
        "out/payments",
    ]);
    run(&["affected", "--orders", "peer.csv", "--out", "out/peer"]);
    run(&[
        "evidence",
        "--logs",
        "access.log",
        "--out",
        "out/evidence",
        "--emit-events",
        "out/events.parquet",
    ]);
    check("benchmark-shapes", &digests(&dir.join("out")));
    summaries_round_trip(&dir.join("out"));
}
