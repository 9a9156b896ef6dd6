#!/usr/bin/env bash
# The speed and memory of `affected` against polars on data shaped like a mid-size case
# (README, "Speed"): 1,000,000 and 10,000,000 orders, 46 % of them in the window, 30 % in-window
# card orders, 17 distinct e-mails per 100 rows. Best of three wall times and the peak resident
# memory of each, and their ratios; then the same against polars taken as far as the outputs
# (benches/affected_polars.py with an output folder), which the targets do not name: it shows
# what writing the outputs costs the peer. SKIMTRACE_BENCH_ROWS="1000000" picks the sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
rows_list=${SKIMTRACE_BENCH_ROWS:-"1000000 10000000"}
dir=target/bench-affected
mkdir -p "$dir"
python3 -c 'import polars' 2>/dev/null \
  || python3 -m pip install --quiet polars \
  || python3 -m pip install --quiet --break-system-packages polars
cargo build --release --quiet --bin skimtrace --example gen_orders
export SKIMTRACE_FINGERPRINT_KEY=bench-key-0123456789abcdef0123456789

# best_of_three CMD...: prints "SECONDS PEAK_KB" of the fastest of three runs.
best_of_three() {
  local best="" peak=""
  for _ in 1 2 3; do
    local t
    /usr/bin/time -f "%e %M" -o "$dir/time.txt" "$@" >/dev/null 2>&1
    t=$(tail -1 "$dir/time.txt")
    if [ -z "$best" ] || awk -v a="${t% *}" -v b="$best" 'BEGIN{exit !(a<b)}'; then
      best=${t% *}; peak=${t#* }
    fi
  done
  echo "$best $peak"
}

printf '%-10s %10s %10s %12s %12s %8s %8s\n' rows skimtrace polars "skim MiB" "polars MiB" "time x" "mem x"
: >"$dir/outputs.txt"
for rows in $rows_list; do
  csv="$dir/orders-$rows.csv"
  [ -f "$csv" ] || ./target/release/examples/gen_orders --peer-shape "$rows" "$csv"
  read -r st sm < <(best_of_three ./target/release/skimtrace affected --quiet --orders "$csv" \
      --tz Asia/Tokyo --window 2020-04-27..2021-12-22 --out "$dir/out-$rows" --force)
  read -r pt pm < <(best_of_three python3 benches/affected_polars.py "$csv")
  read -r ot om < <(best_of_three python3 benches/affected_polars.py "$csv" "$dir/polars-$rows")
  awk -v r="$rows" -v st="$st" -v sm="$sm" -v pt="$pt" -v pm="$pm" 'BEGIN{
    printf "%-10s %9.2fs %9.2fs %12.0f %12.0f %8.2f %8.2f\n", r, st, pt, sm/1024, pm/1024, st/pt, sm/pm }'
  awk -v r="$rows" -v st="$st" -v sm="$sm" -v ot="$ot" -v om="$om" 'BEGIN{
    printf "%-10s %9.2fs %9.2fs %12.0f %12.0f %8.2f %8.2f\n", r, st, ot, sm/1024, om/1024, st/ot, sm/om }' \
    >>"$dir/outputs.txt"
done
echo "(time x, mem x: skimtrace / polars; targets: time x <= 1, peak <= 96 MiB at 1M and <= polars/4 at 10M)"
echo
echo "polars taken as far as the outputs (benches/affected_polars.py CSV DIR: orders.csv, affected.jsonl, affected.csv):"
# Indented, so that benches/speed.sh does not take these rows for the targets' rows.
printf '  %-10s %10s %10s %12s %12s %8s %8s\n' rows skimtrace "polars+out" "skim MiB" "polars MiB" "time x" "mem x"
sed 's/^/  /' "$dir/outputs.txt"
