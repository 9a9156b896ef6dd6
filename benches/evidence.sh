#!/usr/bin/env bash
# Runs the evidence benchmark (release build) with GoAccess installed when possible.
# SKIMTRACE_BENCH_MB sets the size of the generated log (default 1024).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v goaccess >/dev/null || { apt-get install -y goaccess >/dev/null 2>&1 || echo "goaccess not installed: its column is skipped"; }
cargo bench --bench evidence
