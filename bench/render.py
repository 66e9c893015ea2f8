#!/usr/bin/env python3
"""Full rebuilds of the dashboard from a kept data folder, each binary given alternated run by run.

Each run is `webex-quality render --out SITE` into an empty folder with the render cache removed
first (so every meeting is read, analysed, rendered and written), its own process (GNU time's `wait4`:
CPU seconds and peak RSS of that process alone). Alternating the binaries run by run keeps a machine
whose speed drifts between minutes from favouring one of them.

    python3 bench/history.py --days 4 --keep --no-render      # makes a data folder, prints it
    python3 bench/render.py DATA                               # this tree's release binary
    python3 bench/render.py DATA --bin OLD --bin NEW --runs 5

The sites are written to `--out-dir`, by default memory (`/dev/shm`, tmpfs) when the machine has
it, else /tmp: what is measured is the render's own cost, not the file system's state (on this
machine's ext4, creating thousands of files minutes after thousands were deleted cost up to a
third of a rebuild in the kernel: `common.site_parent`; the site store on AWS is S3).
Build an older tree's binary with `git worktree add /tmp/old REV` and `cargo build --release` there.
"""

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from common import TARGET, build, machine, measured, remove_render_cache, site_parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, help="a data folder (bench/history.py --keep)")
    parser.add_argument("--bin", action="append", type=Path, dest="binaries",
                        help="a webex-quality binary (repeat to compare; default: this tree's)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out-dir", type=Path,
                        help="where the sites are rendered (default: /dev/shm when writable, else /tmp)")
    parser.add_argument("--profile", default="release")
    parser.add_argument("--no-build", action="store_true")
    args = parser.parse_args()
    if args.out_dir is None:
        args.out_dir = site_parent()

    binaries = args.binaries
    if not binaries:
        if not args.no_build:
            build(args.profile, ["webex-quality-cli"], ["webex-quality"])
        binaries = [TARGET / args.profile / "webex-quality"]
    env = dict(os.environ, WEBEX_QUALITY_STORE=str(args.data), RUST_LOG="warn")
    results = {b: [] for b in binaries}
    meetings = None
    for run in range(args.runs):
        for binary in binaries:
            remove_render_cache(args.data)
            site = Path(tempfile.mkdtemp(prefix="wq-render-", dir=args.out_dir))
            try:
                _, cpu, rss, out = measured([str(binary), "render", "--out", str(site)], env)
            finally:
                shutil.rmtree(site, ignore_errors=True)
            found = re.search(r"\((\d+) meetings rendered", out)
            if not found:
                raise SystemExit(f"unexpected output of {binary} render:\n{out}")
            meetings = int(found.group(1))
            results[binary].append((cpu, rss))
            print(f"run {run + 1}: {binary}: {cpu:.2f} s CPU, {rss:.0f} MB", file=sys.stderr)

    print(f"{machine()}; {meetings:,} meetings; sites in {args.out_dir or tempfile.gettempdir()}; "
          f"{args.runs} runs each")
    print("| binary | CPU (median, range) | meetings per CPU second | peak RSS (range) |")
    print("|---|---|---|---|")
    for binary, runs in results.items():
        cpus = [c for c, _ in runs]
        rsss = [r for _, r in runs]
        median = statistics.median(cpus)
        print(f"| {binary} | {median:.2f} s ({min(cpus):.2f}-{max(cpus):.2f}) | "
              f"{meetings / median:,.0f} | {min(rsss):.0f}-{max(rsss):.0f} MB |")


if __name__ == "__main__":
    main()
