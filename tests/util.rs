//! Helpers shared by the integration tests: a temporary case folder and the real binary.
#![allow(dead_code)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// The repository root (where `fixtures/` lives).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `skimtrace` binary built for this test run, with a fixed fingerprint key.
pub fn skimtrace() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_skimtrace"));
    c.env(
        "SKIMTRACE_FINGERPRINT_KEY",
        "integration-test-key-0123456789abcdef",
    );
    c.env_remove("RUST_LOG");
    c
}

/// `skimtrace affected` run in `dir` with `args` (its inputs and options), the window and zone of
/// the bundled case (2020-04-27..2021-12-22, Asia/Tokyo), into `dir/out` (`--force`).
pub fn affected_in(dir: &Path, args: &[&str]) -> std::process::Output {
    skimtrace()
        .current_dir(dir)
        .arg("affected")
        .args(args)
        .args(["--window", "2020-04-27..2021-12-22", "--tz", "Asia/Tokyo"])
        .args(["--out", "out", "--force"])
        .output()
        .unwrap()
}

/// `text` with its ASCII digits written as another script's, whose zero is `zero` (`0xFF10`
/// full-width, `0x0660` Arabic-Indic); anything else as it is.
pub fn digits_in_script(text: &str, zero: u32) -> String {
    text.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(zero + (c as u32 - 0x30)).unwrap(),
            c => c,
        })
        .collect()
}

/// Reads a CSV output back as rows of strings (header included).
pub fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// Copies a case folder from `fixtures/` into a fresh temporary directory and returns it (the
/// case is at `dir.path().join(name)`), so a test never writes into the repository.
pub fn copy_case(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    copy_tree(&root().join("fixtures").join(name), &dir.path().join(name));
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        }
    }
}

/// Reads a CSV output as records keyed by the header's column names.
pub fn read_csv_maps(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let rows = read_csv(path);
    let (header, body) = rows.split_first().expect("a header row");
    body.iter()
        .map(|r| header.iter().cloned().zip(r.iter().cloned()).collect())
        .collect()
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads a JSON-lines file.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// Card-number runs as `shared/tools/pan-scan` defines them: 13–19 digits, possibly split by
/// single spaces or dashes, that pass Luhn. Every sub-run that starts and ends next to a
/// non-digit is tried (so `4111 1111 1111 1111 12` still holds one). Returns the digits found.
pub fn luhn_runs(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // A maximal run of digits with single separators between them.
        let start = i;
        let mut j = i;
        while j < b.len() {
            if b[j].is_ascii_digit()
                || ((b[j] == b' ' || b[j] == b'-')
                    && j + 1 < b.len()
                    && b[j + 1].is_ascii_digit()
                    && b[j - 1].is_ascii_digit())
            {
                j += 1;
            } else {
                break;
            }
        }
        let run = &b[start..j];
        let starts: Vec<usize> = (0..run.len())
            .filter(|&k| run[k].is_ascii_digit() && (k == 0 || !run[k - 1].is_ascii_digit()))
            .collect();
        let ends: Vec<usize> = (1..=run.len())
            .filter(|&k| {
                run[k - 1].is_ascii_digit() && (k == run.len() || !run[k].is_ascii_digit())
            })
            .collect();
        for &s in &starts {
            for &e in &ends {
                if e <= s {
                    continue;
                }
                let digits: Vec<u8> = run[s..e]
                    .iter()
                    .copied()
                    .filter(u8::is_ascii_digit)
                    .collect();
                if (13..=19).contains(&digits.len()) && luhn(&digits) {
                    found.push(String::from_utf8(digits).unwrap());
                }
            }
        }
        i = j;
    }
    found
}

/// Luhn, written out here so the tests do not trust the library's own.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0;
    for (i, d) in digits.iter().rev().enumerate() {
        let mut n = u32::from(d - b'0');
        if i % 2 == 1 {
            n *= 2;
            if n > 9 {
                n -= 9;
            }
        }
        sum += n;
    }
    !digits.is_empty() && sum % 10 == 0
}

/// The card numbers `shared/tools/pan-scan` finds in ASCII text, by its own rule, written out
/// here so the tests do not trust the library's detector: from each digit not preceded by a
/// digit, the longest match of 13–19 digits joined by at most three of ` -._/+` and not followed
/// by a digit; it counts when it passes Luhn, has a real brand's prefix and is grouped like a
/// card (whole, one by one, or groups of three or more but the last). The search goes on after a
/// match, as Python's `finditer` does.
pub fn pan_scan_ascii(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let sep = |c: u8| matches!(c, b' ' | b'-' | b'.' | b'_' | b'/' | b'+');
    let brand_like = |d: &[u8]| {
        let n = |k: usize| -> u32 { std::str::from_utf8(&d[..k]).unwrap().parse().unwrap() };
        d[0] == b'4'
            || (51..=55).contains(&n(2))
            || (222100..=272099).contains(&n(6))
            || [34, 37, 36, 38, 39, 65, 62].contains(&n(2))
            || (3528..=3589).contains(&n(4))
            || (300..=305).contains(&n(3))
            || n(4) == 6011
            || (644..=649).contains(&n(3))
    };
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        // Ends of every digit reachable with at most three separators between digits.
        let mut ends = vec![i + 1];
        let mut count = 1;
        let mut j = i + 1;
        loop {
            let mut k = j;
            while k < b.len() && k - j < 3 && sep(b[k]) {
                k += 1;
            }
            if k < b.len() && b[k].is_ascii_digit() && count < 19 {
                count += 1;
                j = k + 1;
                ends.push(j);
            } else {
                break;
            }
        }
        let mut matched = None;
        for (n, &e) in ends.iter().enumerate().rev() {
            if n + 1 >= 13 && !(e < b.len() && b[e].is_ascii_digit()) {
                matched = Some(e);
                break;
            }
        }
        let Some(e) = matched else {
            i += 1;
            continue;
        };
        let run = &text[i..e];
        let digits: Vec<u8> = run.bytes().filter(u8::is_ascii_digit).collect();
        let groups: Vec<&str> = run
            .split(|c: char| sep(c as u8))
            .filter(|g| !g.is_empty())
            .collect();
        let grouped = groups.len() == 1
            || groups.iter().all(|g| g.len() == 1)
            || groups[..groups.len() - 1].iter().all(|g| g.len() >= 3);
        if luhn(&digits) && brand_like(&digits) && grouped {
            found.push(String::from_utf8(digits).unwrap());
        }
        i = e;
    }
    found
}

/// A test that needs something this machine lacks (python3, a tmpfs mount, the shared data):
/// under CI (`CI` set, as `.ci/run` runs) that is a failure — the test must run there — and on a
/// developer's machine the test is skipped with a line that says why.
pub fn missing(what: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false") {
        panic!("{what}: needed in CI, where every test must run (.ci/run installs what it needs)");
    }
    eprintln!("skipped: {what}");
}
