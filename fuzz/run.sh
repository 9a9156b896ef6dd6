#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), one after the other. Needs a nightly
# toolchain (rustup toolchain install nightly); installs cargo-fuzz when it is missing.
# Crashes land in fuzz/artifacts/TARGET/; the script exits non-zero when any target fails.
#   fuzz/run.sh 60            # every target, 60 s each
#   fuzz/run.sh 300 cards     # one target
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
failed=()
for t in "${targets[@]}"; do
    echo "fuzz/run.sh: $t for ${secs}s"
    mkdir -p "fuzz/corpus/$t"
    if ! cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10; then
        failed+=("$t")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz/run.sh: failed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
echo "fuzz/run.sh: every target ran ${secs}s without a failure"
