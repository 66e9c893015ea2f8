#!/usr/bin/env python3
"""One collection cycle at scale: CPU time, peak memory and stored bytes of the collector.

    python3 bench/cycle.py                       # 1,000 ended meetings (yesterday's), release build
    python3 bench/cycle.py --meetings 300        # a smaller day
    python3 bench/cycle.py --no-build            # reuse target/release binaries
    python3 bench/cycle.py --render              # then a full and an incremental render

What it does: builds the release binaries (`webex-quality`, the CLI, and `webex-sim`; the release
profile is the Lambda functions' profile), starts the simulator as its own process with
`--meetings-per-day N --days 1 --first-day <yesterday>` (so every meeting has ended and is due for
its final fetch), and runs `webex-quality collect` once against it with a personal access token
and a fresh data folder. The collector is a separate process, so its CPU time and peak RSS
(GNU time's `wait4` of it: user + system time, peak RSS) are its own, not the simulator's.
It then checks that every page is stored byte for byte (`webex-quality export --raw`
against the simulator's bodies is the end-to-end tests' job; here the page count and the stored
size are reported) and prints one Markdown table row.
"""

import argparse
import hashlib
import sqlite3
import datetime
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from common import REPO, TARGET, build, machine, measured, raw_json_bytes, render_rows

RELEASE = TARGET / "release"


def start_simulator(meetings, seed):
    yesterday = (datetime.datetime.now(datetime.timezone.utc).date()
                 - datetime.timedelta(days=1)).isoformat()
    sim = subprocess.Popen(
        [str(RELEASE / "webex-sim"), "--port", "0", "--seed", str(seed),
         "--meetings-per-day", str(meetings), "--days", "1", "--first-day", yesterday,
         "--personal-token"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    env = {}
    while len(env) < 3:
        line = sim.stdout.readline()
        if not line:
            raise SystemExit("the simulator stopped before printing its URLs")
        if "=" in line and not line.startswith("#"):
            key, value = line.strip().split("=", 1)
            env[key] = value
    return sim, env


def raw_bytes(database):
    """Bytes of the qualities pages as received, and their count (from the stored lengths)."""
    raw = raw_json_bytes(database)
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        pages = db.execute("SELECT count(*) FROM quality_pages").fetchone()[0]
        keys = {row[0] for row in db.execute("SELECT sha256 FROM bodies")}
    return raw, pages, keys


def byte_exact(env, data):
    """`webex-quality export --raw` decodes every stored page (checking its hash and length);
    the exported files hash to the stored keys, which are the SHA-256 of the bodies as received."""
    out = Path(tempfile.mkdtemp(prefix="wq-bench-export-"))
    try:
        subprocess.run([str(RELEASE / "webex-quality"), "export", "--raw", "--out", str(out)],
                       env=env, check=True, capture_output=True, cwd=REPO)
        _, pages, keys = raw_bytes(data / "webex-quality.sqlite")
        files = [p for p in out.rglob("*.json") if p.is_file()]
        hashes = {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
        if len(files) != pages or not hashes <= keys:
            raise SystemExit(f"export: {len(files)} files for {pages} pages; "
                             f"{len(hashes - keys)} bodies that were not stored")
        return f"yes ({len(files)} pages exported, each hashing to its stored key)"
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meetings", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--profile", default="release",
                        help="cargo profile (`profiling` keeps symbols for perf)")
    parser.add_argument("--perf", metavar="FILE",
                        help="record the collector with `perf record -g` into FILE")
    parser.add_argument("--render", action="store_true",
                        help="then render the dashboard from that data: a full rebuild (no "
                             "render cache) and an incremental one, CPU and peak RSS each")
    args = parser.parse_args()
    global RELEASE
    RELEASE = TARGET / args.profile
    if not args.no_build:
        build(args.profile, ["webex-quality-cli", "webex-sim"], ["webex-quality", "webex-sim"])
    sim, sim_env = start_simulator(args.meetings, args.seed)
    data = Path(tempfile.mkdtemp(prefix="wq-bench-cycle-"))
    try:
        env = dict(os.environ)
        env.update(sim_env)
        env.update({
            "WEBEX_QUALITY_STORE": str(data),
            "WEBEX_QUALITY_CYCLE_BUDGET_SECONDS": "900",
            "RUST_LOG": "warn",
        })
        command = [str(RELEASE / "webex-quality"), "collect"]
        if args.perf:
            command = ["perf", "record", "-F", "999", "-g", "-o", args.perf, "--"] + command
        wall, cpu, peak_mb, stdout = measured(command, env)
        summary = stdout.strip().splitlines()
        stored = (data / "webex-quality.sqlite").stat().st_size
        raw, pages, _ = raw_bytes(data / "webex-quality.sqlite")
        exact = byte_exact(env, data)
        print("\n".join(summary), file=sys.stderr)
        print("| date | machine | meetings | pages | raw JSON | wall | CPU | peak RSS | database | stored/raw |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        print(f"| {datetime.date.today().isoformat()} | {machine()} "
              f"| {args.meetings} | {pages} | {raw / 1e6:.1f} MB | {wall:.1f} s | {cpu:.2f} s "
              f"| {peak_mb:.0f} MB | {stored / 1e6:.1f} MB | {100 * stored / raw:.1f} % |")
        print(f"# every page byte for byte: {exact}", file=sys.stderr)
        print(f"# cycle: {summary[-1] if summary else ''}", file=sys.stderr)
        if args.render:
            render_rows(RELEASE, env, data)
    finally:
        sim.terminate()
        sim.wait()
        if args.keep:
            print(f"# data folder kept: {data}", file=sys.stderr)
        else:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
