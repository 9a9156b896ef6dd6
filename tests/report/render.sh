#!/usr/bin/env bash
# Renders a case folder's report.html in headless Chromium and checks that it rendered: a PNG
# of the expected size that is not blank (many distinct colours, ink over most of the page).
#
#   tests/report/render.sh [CASE_FOLDER] [PNG]
#
# Without CASE_FOLDER, runs the bundled case into a temporary folder first (needs cargo) and
# renders its page twice: in Japanese (the case's default_locale) and in English (`skimtrace
# report --lang en` on a copy). A Japanese page also needs a font with Japanese glyphs that the
# page's font stack names (fonts-noto-cjk on Debian): without one its text would be empty boxes.
# Exit 0 rendered, 1 the check failed, 2 chromium is not installed.
set -euo pipefail
cd "$(dirname "$0")/../.."
case_dir=${1:-}
png=${2:-$(mktemp -d)/report.png}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "render.sh: chromium is not installed (apt-get install -y chromium)" >&2
    exit 2
fi
both=""
if [ -z "$case_dir" ]; then
    case_dir=$(mktemp -d)/case
    SOURCE_DATE_EPOCH=1660780800 cargo run --quiet -- run --quiet \
        --config fixtures/vector-park/incident.toml --out "$case_dir"
    both=1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

# render REPORT_HTML PNG: screenshots the page and checks the PNG.
render() {
report=$1
png=$2
[ -f "$report" ] || { echo "render.sh: $report does not exist" >&2; exit 1; }
if grep -q '<html lang="ja">' "$report"; then
    # A face with Japanese glyphs, named by the page's font stack, must be installed.
    families=$(fc-list :lang=ja family 2>/dev/null | tr ',' '\n' | sed 's/^ *//' | sort -u)
    found=""
    while IFS= read -r f; do
        [ -n "$f" ] && grep -qF "'$f'" "$report" && found=$f && break
    done <<< "$families"
    if [ -z "$found" ]; then
        echo "render.sh: no installed font with Japanese glyphs is named by the page's font stack (apt-get install -y fonts-noto-cjk)" >&2
        exit 1
    fi
    echo "render.sh: Japanese text renders in $found"
fi
# Networking off in every way Chromium offers: the report must need nothing from outside.
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --screenshot="$png" --window-size=1200,2000 \
    "file://$report" >/dev/null 2>&1 || true
[ -s "$png" ] || { echo "render.sh: chromium wrote no screenshot" >&2; exit 1; }
python3 - "$png" <<'PY'
import struct, sys, zlib
path = sys.argv[1]
data = open(path, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
if (w, h) != (1200, 2000):
    sys.exit(f"render.sh: {path} is {w}x{h}, expected 1200x2000")
if depth != 8 or ctype not in (2, 6):
    sys.exit(f"render.sh: unexpected PNG colour type {ctype} depth {depth}")
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colours, inked_rows = set(), 0
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    px = {bytes(line[i:i + 3]) for i in range(0, stride, bpp * 4)}
    colours |= px
    if len(px) > 1:
        inked_rows += 1
# The report's red bars must be there: the charts rendered.
red = any(r > 150 and g < 80 and b < 80 for r, g, b in colours)
if len(colours) < 20 or inked_rows < h // 3 or not red:
    sys.exit(f"render.sh: {path} looks blank ({len(colours)} colours, {inked_rows} rows with ink, chart red: {red})")
print(f"render.sh: {path}: {w}x{h}, {len(colours)} colours, {inked_rows} rows with ink: rendered")
PY
}

if [ -n "$both" ]; then
    render "$case_dir/report.html" "$png"
    en_dir=$(mktemp -d)/case-en
    cp -r "$case_dir" "$en_dir"
    SOURCE_DATE_EPOCH=1660780800 cargo run --quiet -- report --lang en "$en_dir" >/dev/null
    grep -q '<html lang="en">' "$en_dir/report.html" || { echo "render.sh: --lang en wrote no English page" >&2; exit 1; }
    render "$en_dir/report.html" "${png%.png}-en.png"
else
    render "$(cd "$case_dir" && pwd)/report.html" "$png"
fi
