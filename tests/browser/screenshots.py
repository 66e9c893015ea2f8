#!/usr/bin/env python3
"""The README's screenshots: the demo's dashboard in Debian's Chromium.

    python3 tests/browser/screenshots.py            # builds the CLI (local profile) first
    python3 tests/browser/screenshots.py --no-build

Runs `webex-quality demo --once` into a temporary folder (the simulated week, collected and
rendered), serves the site on loopback, and saves with `tests/browser/check.mjs` (which also reports
console errors and requests elsewhere, and fails here on any) the overview, the meetings list and
one meeting page as `docs/dashboard-*.png`. The meeting page is the most affected meeting (most
poor participant-minutes) of at most 15 participants, so that the page fits the picture. It also
prints how many of the demo's meetings are good, fair and poor. Needs
what `tests/run` installs (Chromium, playwright-core).
"""

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULES = REPO / "target/test-tools/node/node_modules"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if not (MODULES / "playwright-core").exists() or not Path("/usr/bin/chromium").exists():
        sys.exit("Chromium and playwright-core are needed: run tests/run once, which installs them")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--locked", "--profile", "local", "-p",
                        "webex-quality-cli", "--bin", "webex-quality"], cwd=REPO, check=True)
    binary = REPO / "target/local/webex-quality"
    with tempfile.TemporaryDirectory(prefix="wq-screenshots-") as work:
        data = Path(work) / "data"
        subprocess.run([str(binary), "demo", "--once", "--quiet", "--data-dir", str(data)],
                       cwd=REPO, check=True)
        site = data / "site"
        meetings = json.loads((site / "meetings.json").read_text())
        small = [m for m in meetings if m["participants"] <= 15]
        meeting = max(small, key=lambda m: (m["poor_participant_minutes"], m["start"]))
        page = f"meetings/{meeting['instance_id']}.html"
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port),
             "--directory", str(site)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        sys.exit("the static server did not start")
                    time.sleep(0.1)
            shots = Path(work) / "shots"
            shots.mkdir()
            out = subprocess.run(
                ["node", str(REPO / "tests/browser/check.mjs"), f"http://127.0.0.1:{port}",
                 str(shots), "index.html", "meetings.html", page],
                env={"PLAYWRIGHT_MODULES": str(MODULES), "PATH": "/usr/bin:/bin"},
                capture_output=True, text=True, check=True)
        finally:
            server.terminate()
            server.wait()
        for entry in json.loads(out.stdout):
            problems = entry["console"] + entry["errors"] + entry["external"]
            if entry["status"] != 200 or problems:
                sys.exit(f"{entry['page']}: status {entry['status']}, {problems}")
        docs = REPO / "docs"
        for name, target in [("index.html", "dashboard-overview.png"),
                             ("meetings.html", "dashboard-meetings.png"),
                             (page.replace("/", "_"), "dashboard-meeting.png")]:
            shutil.copyfile(shots / f"{name}.png", docs / target)
            print(f"docs/{target}")
        print(f"meeting page: {meeting['title']} ({meeting['verdict_detail']}; {meeting['cause']})")
        counts = {v: sum(1 for m in meetings if m["verdict"] == v) for v in ("good", "fair", "poor")}
        print(f"the demo's {len(meetings)} meetings: {counts['good']} good, {counts['fair']} fair, "
              f"{counts['poor']} poor")


if __name__ == "__main__":
    main()
