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
