#!/usr/bin/env bash
# The contact desk in a real browser: runs the bundled case, adds an operator, starts
# `skimtrace desk` on loopback, and has headless Chromium (through chromium-driver and
# Selenium) sign in, search, check the result page's text and take a screenshot.
#
#   tests/desk/browser.sh [PNG]
#
# Exit 0 passed, 1 the check failed, 2 Chromium, chromium-driver or Selenium is missing (and
# 1 instead when CI is set: CI must run it for real).
set -euo pipefail
cd "$(dirname "$0")/../.."
png=${1:-$(mktemp -d)/desk.png}
missing=""
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing="chromium"
command -v chromedriver >/dev/null || missing="$missing chromium-driver"
python3 -c 'import selenium' 2>/dev/null || missing="$missing selenium (PyPI)"
if [ -n "$missing" ]; then
    echo "browser.sh: missing:$missing (apt-get install -y chromium chromium-driver; pip install selenium)" >&2
    if [ -n "${CI:-}" ]; then exit 1; fi
    exit 2
fi
work=$(mktemp -d)
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
cargo build --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/skimtrace"
case_dir="$work/case"
SOURCE_DATE_EPOCH=1660780800 "$bin" run --quiet --config fixtures/vector-park/incident.toml --out "$case_dir"
token=$("$bin" desk "$case_dir" --quiet --config fixtures/vector-park/incident.toml --add-operator desk-01)
"$bin" desk "$case_dir" --config fixtures/vector-park/incident.toml --listen 127.0.0.1:0 2>"$work/desk.log" &
pid=$!
url=""
for _ in $(seq 1 100); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$work/desk.log" | head -1 || true)
    [ -n "$url" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/desk.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { echo "browser.sh: the desk did not start" >&2; cat "$work/desk.log" >&2; exit 1; }
python3 tests/desk/browser.py "$url" "$token" "$png" "$case_dir"
echo "browser.sh: passed; screenshot $png"
