"""Opens a `weir report` page in headless Chromium and checks it as a user
would see it (stdlib only).

usage: report_browser.py CHROMIUM PAGE [--rows N] [--anomalous a,b,c]
                         [--text T] [--screenshot OUT.png] [--compare-load TRIVIAL.html]

- the DOM after the page's script ran (virtual time): one `tr.feature` per
  feature (`--rows`), the `--anomalous` features flagged, charts drawn as
  SVG, no `<img>` element, `--text` shown as text;
- no console errors and no uncaught exceptions;
- no network request from the page (Chromium's net log: every request whose
  network isolation key is the page's file:// site must be a file: URL);
- a screenshot that is not blank (`--screenshot`);
- with `--compare-load`: the page's load time against a trivial page's in the
  same run, printed as a ratio.
Prints one JSON line with what it measured; exits 1 on the first failure.
"""

import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import zlib

FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--disable-default-apps", "--hide-scrollbars",
    "--window-size=1400,1000", "--virtual-time-budget=3000",
]


def run(chromium, profile, *args):
    cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
           "--v=0", *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return p.stdout, p.stderr


def fail(msg):
    print(f"report_browser: {msg}", file=sys.stderr)
    sys.exit(1)


def console_errors(stderr):
    lines = [l for l in stderr.splitlines() if ":CONSOLE" in l]
    return [l for l in lines if "Uncaught" in l or "error" in l.lower()]


def page_requests(netlog):
    with open(netlog) as f:
        data = json.load(f)
    urls = set()
    for e in data.get("events", []):
        p = e.get("params", {})
        key = str(p.get("network_isolation_key", ""))
        url = str(p.get("url", ""))
        if key.startswith("file://") and url and not url.startswith("file:"):
            urls.add(url)
    return sorted(urls)


def png_is_blank(path):
    """Whether the PNG's image data holds (almost) one color."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return True
    pos, idat = 8, b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    return len(set(raw[::97])) < 8


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("chromium")
    ap.add_argument("page")
    ap.add_argument("--rows", type=int)
    ap.add_argument("--anomalous", default="")
    ap.add_argument("--text", action="append", default=[])
    ap.add_argument("--screenshot")
    ap.add_argument("--compare-load")
    a = ap.parse_args()
    url = "file://" + os.path.abspath(a.page)
    out = {"page": a.page}
    with tempfile.TemporaryDirectory() as profile:
        netlog = os.path.join(profile, "net.json")
        started = time.time()
        dom, stderr = run(a.chromium, profile, f"--log-net-log={netlog}", "--dump-dom", url)
        out["load_s"] = round(time.time() - started, 3)
        errors = console_errors(stderr)
        if errors:
            fail(f"console errors: {errors[:3]}")
        requests = page_requests(netlog)
        if requests:
            fail(f"the page made network requests: {requests[:5]}")
        rows = re.findall(r'<tr class="feature( anomalous)?" id="[^"]+" data-name="([^"]*)"', dom)
        out["rows"] = len(rows)
        if a.rows is not None and len(rows) != a.rows:
            fail(f"{len(rows)} feature rows, expected {a.rows}")
        flagged = {name for anomalous, name in rows if anomalous}
        for name in filter(None, a.anomalous.split(",")):
            if name not in flagged:
                fail(f"feature {name} is not flagged; flagged: {sorted(flagged)}")
        out["flagged"] = sorted(flagged)
        drawn = len(re.findall(r'data-drawn="1"', dom))
        out["charts_drawn"] = drawn
        if rows and drawn == 0:
            fail("no chart was drawn (the page's script did not run)")
        if "<img" in dom:
            fail("an <img> element is in the DOM")
        for t in a.text:
            if t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") not in dom:
                fail(f"text {t!r} is not shown")
        if a.screenshot:
            run(a.chromium, profile, f"--screenshot={os.path.abspath(a.screenshot)}", url)
            if not os.path.exists(a.screenshot) or png_is_blank(a.screenshot):
                fail("the screenshot is missing or blank")
            out["screenshot"] = a.screenshot
        if a.compare_load:
            started = time.time()
            run(a.chromium, profile, "--dump-dom", "file://" + os.path.abspath(a.compare_load))
            trivial = time.time() - started
            out["trivial_load_s"] = round(trivial, 3)
            out["load_ratio"] = round(out["load_s"] / max(trivial, 1e-3), 2)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
