"""Signs in to a running desk in headless Chromium, searches the bundled case by e-mail, checks
the result page's text and a screenshot (size, not blank, the verdict's colour present), and
that the page holds no full card number and loaded nothing from elsewhere.

    python3 tests/desk/browser.py URL TOKEN PNG CASE_FOLDER
"""
import json
import re
import struct
import sys
import zlib

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

url, token, png, case = sys.argv[1:5]

# The person searched: the bundled case's first customer with a card and an e-mail.
person = None
with open(f"{case}/affected.jsonl", encoding="utf-8") as f:
    for line in f:
        p = json.loads(line)
        if p.get("email") and p.get("cards") and p.get("phones"):
            person = p
            break
assert person, "no person with an e-mail, a card and a phone in the bundled case"

opts = Options()
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1500",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--no-first-run", "--lang=ja"]:
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
failures = []
try:
    driver.get(url)
    assert "Sign in" in driver.title, driver.title
    driver.find_element(By.NAME, "token").send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form[action='/signin'] button").click()
    try:
        WebDriverWait(driver, 10).until(EC.presence_of_element_located((By.NAME, "q")))
    except Exception:
        raise AssertionError("not signed in: " + driver.find_element(By.TAG_NAME, "body").text)
    Select(driver.find_element(By.NAME, "kind")).select_by_value("email")
    # Typed as a caller spells it out: upper case.
    driver.find_element(By.NAME, "q").send_keys(person["email"].upper())
    driver.find_element(By.CSS_SELECTOR, "form[action='/search'] button").click()
    WebDriverWait(driver, 10).until(EC.presence_of_element_located((By.ID, "result")))
    text = driver.find_element(By.TAG_NAME, "body").text
    card = person["cards"][0]
    expected = [
        "AFFECTED",
        person["name"],
        f"{card['brand']} ****{card['last4']}",
        person["order_ids"][0],
        "お問い合わせいただきありがとうございます",
        "notice",
        "rendered, not sent",
        "Your recent searches",
    ]
    for e in expected:
        if e not in text:
            failures.append(f"the result page lacks {e!r}")
    # No card number on the page: no run of 13 or more digits (with separators) at all.
    for run in re.findall(r"\d(?:[ \-.]?\d){12,}", driver.page_source):
        failures.append(f"a long digit run on the page: {run[:6]}…")
    # The CSP holds: nothing blocked, no error in the console.
    for entry in driver.get_log("browser"):
        if entry["level"] == "SEVERE":
            failures.append(f"console: {entry['message']}")
    # Everything came from the desk itself.
    for r in driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"):
        if not r.startswith(url):
            failures.append(f"loaded from elsewhere: {r}")
    driver.find_element(By.ID, "result").location_once_scrolled_into_view
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(png)
finally:
    driver.quit()

# The screenshot: a real PNG of the window's size, not blank, the verdict's red present.
data = open(png, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    chunk = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", chunk[:10])
    elif kind == b"IDAT":
        idat += chunk
    pos += 12 + n
bpp = {2: 3, 6: 4}[ctype]
raw = zlib.decompress(idat)
stride = w * bpp
rows, prev = [], bytearray(stride)
i = 0
for _ in range(h):
    f = raw[i]; i += 1
    line = bytearray(raw[i:i + stride]); i += stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b = prev[x]
        c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line)); prev = line
colours = set()
verdict_red = 0
for row in rows[::4]:
    for x in range(0, stride, bpp * 4):
        px = row[x:x + 3]
        colours.add(px)
        # .affected: background #fde8e8, text #9b1c1c
        if abs(px[0] - 0x9b) < 24 and px[1] < 0x50 and px[2] < 0x50:
            verdict_red += 1
if w < 1000 or h < 800:
    failures.append(f"screenshot is {w}x{h}")
if len(colours) < 20:
    failures.append(f"screenshot looks blank ({len(colours)} colours)")
if verdict_red == 0:
    failures.append("the AFFECTED verdict's colour is not in the screenshot")
if failures:
    print("browser.py: FAILED\n  " + "\n  ".join(failures), file=sys.stderr)
    sys.exit(1)
print(f"browser.py: signed in, searched, result checked; screenshot {w}x{h}, {len(colours)} colours")
