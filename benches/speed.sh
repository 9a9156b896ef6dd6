#!/usr/bin/env bash
# Every figure of the speed issue in one run, on this machine (README, "Speed"):
#   1. `evidence` on a 1 GB combined log, about 1.5 % of the requests matching: MB/s with the
#      24 built-in rules and with SigmaHQ's web rules added, the gzip'd copy against `zcat`
#      (cargo bench --bench evidence);
#   2. `evidence` memory per matching request: 1,000 and 1,000,000 requests for /.env, all
#      matching, peak resident memory of each and the bytes per hit above the first;
#   3. `affected` against polars on 1,000,000 and 10,000,000 orders (benches/affected.sh).
# Then the ratios against the targets, in one table. Nothing else should run meanwhile.
# SKIMTRACE_BENCH_ROWS="1000000" skips the 10,000,000-row export; SKIMTRACE_BENCH_MB sets the
# log's size (default 1024).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/bench-speed
mkdir -p "$out"
log="$out/speed.txt"
: >"$log"
cargo build --release --quiet --bin skimtrace
export SKIMTRACE_FINGERPRINT_KEY=bench-key-0123456789abcdef0123456789

echo "== evidence: throughput (cargo bench --bench evidence)" | tee -a "$log"
SKIMTRACE_BENCH_GOACCESS=0 SKIMTRACE_BENCH_EVENTS=0 cargo bench --quiet --bench evidence 2>/dev/null | tee -a "$log"

echo "== evidence: memory per matching request" | tee -a "$log"
# env_log N FILE: N requests for /.env, one a second from 2021-06-01 (inside the window).
env_log() {
  python3 - "$1" "$2" <<'PY'
import sys, datetime
n, path = int(sys.argv[1]), sys.argv[2]
t0 = datetime.datetime(2021, 6, 1)
with open(path, "w") as f:
    for i in range(n):
        t = (t0 + datetime.timedelta(seconds=i)).strftime("%d/%b/%Y:%H:%M:%S +0900")
        f.write(f'198.51.{i // 256 % 256}.{i % 256} - - [{t}] "GET /.env HTTP/1.1" 404 196 "-" '
                '"Mozilla/5.0 (compatible; scanner/1.0)"\n')
PY
}
peak_kb() {
  /usr/bin/time -f "%M" -o "$out/time.txt" ./target/release/skimtrace evidence --quiet --logs "$1" \
      --tz Asia/Tokyo --window 2020-04-27..2021-12-22 --out "$out/ev" --force >/dev/null 2>&1
  tail -1 "$out/time.txt"
}
[ -f "$out/env-1k.log" ] || env_log 1000 "$out/env-1k.log"
[ -f "$out/env-1m.log" ] || env_log 1000000 "$out/env-1m.log"
base=$(peak_kb "$out/env-1k.log")
big=$(peak_kb "$out/env-1m.log")
hits=$(grep -c . "$out/ev/evidence.jsonl")
python3 -c 'import sys; b, m, h = map(int, sys.argv[1:]); print(f"1,000 hits: {b/1024:.0f} MiB peak; {h} hits: {m/1024:.0f} MiB peak, {(m-b)*1024/(h-1000):.0f} bytes per hit above it")' \
  "$base" "$big" "$hits" | tee -a "$log"

echo "== affected against polars (benches/affected.sh)" | tee -a "$log"
SKIMTRACE_BENCH_ROWS=${SKIMTRACE_BENCH_ROWS:-"1000000 10000000"} bash benches/affected.sh | tee -a "$log"

echo
echo "== ratios and targets"
python3 - "$log" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def grab(pattern, default=None):
    m = re.search(pattern, text, re.M)
    return m.groups() if m else default
mb, = grab(r"^file: .*\((\d+) MB,", ("?",))
plain, = grab(r"^skimtrace plain: .*?(\d+) MB/s", ("0",))
gz, = grab(r"^skimtrace gzip: .*?([\d.]+)x zcat", ("9",))
sigma = grab(r"^skimtrace plain, .*SigmaHQ.*?(\d+) MB/s")
hits, peak, per = grab(r"(\d+) hits: (\d+) MiB peak, (\d+) bytes per hit", ("0", "0", "0"))
yes = lambda ok: "yes" if ok else "no"
print(f"{'what':<48} {'measured':>22} {'target':>16}  met")
print(f"{'evidence, ' + mb + ' MB log, 24 built-in rules':<48} {plain + ' MB/s':>22} {'>= 1000 MB/s':>16}  {yes(int(plain) >= 1000)}")
if sigma:
    print(f"{'evidence, + SigmaHQ web rules':<48} {sigma[0] + ' MB/s':>22} {'>= 500 MB/s':>16}  {yes(int(sigma[0]) >= 500)}")
print(f"{'evidence, gzip copy':<48} {gz + 'x zcat':>22} {'<= 0.6x':>16}  {yes(float(gz) <= 0.6)}")
print(f"{'evidence, ' + hits + ' matching requests':<48} {peak + ' MiB, ' + per + ' B/hit':>22} {'<= 256 MiB':>16}  {yes(int(peak) <= 256)}")
for m in re.finditer(r"^(\d+) +([\d.]+)s +([\d.]+)s +(\d+) +(\d+) +([\d.]+) +([\d.]+)$", text, re.M):
    rows, st, pt, sm, pm, tx, mx = m.groups()
    big = int(rows) > 1_000_000
    ok = float(tx) <= 1 and (float(mx) <= 0.25 if big else int(sm) <= 96)
    target = "<= 1x, 1/4 memory" if big else "<= 1x, 96 MiB"
    print(f"{'affected, ' + rows + ' rows, against polars':<48} {tx + 'x time, ' + sm + ' MiB':>22} {target:>16}  {yes(ok)}")
PY
