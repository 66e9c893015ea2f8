#!/usr/bin/env python3
"""Weeks of collection at scale: the collector's steady-state cycle, the hot object's size over time,
stored bytes per day, and the dashboard's full and incremental render.

    python3 bench/history.py                                  # 30 days at 1,000 meetings a day
    python3 bench/history.py --meetings-per-day 10000 --days 8
    python3 bench/history.py --days 10 --no-render --no-build # a quicker look
    python3 bench/history.py --keep --no-render               # keep the data folder, then:
    python3 bench/history.py --no-build --render-only DATA    # render it again (full, then unchanged)
    python3 bench/history.py --no-build --render-only DATA --runs 5   # the same five times: medians
    python3 bench/history.py --no-build --render-only DATA --rename-one   # then one meeting renamed
    python3 bench/history.py --days 9 --profile profiling --perf FILE   # profile a steady cycle

What it does: builds the release binaries (the release profile is the Lambda functions' profile),
starts `webex-sim` as its own process with `--meetings-per-day N --days D` on a simulated clock that
starts at midnight of the first day (D days before today, so the last day ends at today's midnight and
the dashboard rendered afterwards shows the run as recent history), and then collects through the
simulated days, each cycle a `bench-cycle TIME` process of its own against a folder store (the
collector function's code and settings; the working copy's cache persists between processes as it
does in a warm Lambda's /tmp). Before each cycle it moves the simulator's clock with
`POST /sim/clock`, which also hands out a personal token valid from then.

Cycles run every `--step` minutes (default 60) to get through the weeks, and every 5 minutes (the
schedule in production) for `--steady-minutes` (default 60) up to 15:00 UTC of day 8 and of the last
day, in the simulated working day's busiest hours: those are the steady-state cycles the tables
report. A meeting is fetched the same way
whatever the spacing of cycles (final fetches once it ended; in-progress ones at most every 5 minutes),
so an hourly cycle does the work of twelve 5-minute cycles at once; the steady-state rows come from
5-minute cycles only.

Per cycle, from the cycle's own process (GNU time's `wait4`, `common.measured`): CPU (user + system), peak RSS; from its report:
qualities calls, pages, 429s, whether the database was downloaded; from the store: the hot object's
size (uploaded whole when the cycle records) and the archives it wrote. At the end: every archived
day's stored bytes against the raw JSON of the final pages it holds (decompressed with `zstd` and read
with sqlite3), then a full rebuild of the dashboard (render cache removed, empty site folder) and an
incremental render after one more 5-minute cycle, each `webex-quality render` in its own process.
Prints Markdown tables.
"""

import argparse
import datetime
import gzip
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import common
from common import REPO, TARGET, build, machine, measured, raw_json_bytes

RELEASE = TARGET / "release"
MB = 1e6


def rfc3339(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class Simulator:
    def __init__(self, meetings_per_day, days, first_day, seed):
        start = datetime.datetime.combine(first_day, datetime.time(), datetime.timezone.utc)
        self.process = subprocess.Popen(
            [str(RELEASE / "webex-sim"), "--port", "0", "--seed", str(seed),
             "--meetings-per-day", str(meetings_per_day), "--days", str(days),
             "--first-day", first_day.isoformat(), "--simulated-clock", rfc3339(start)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
        self.env = {}
        while len(self.env) < 2:
            line = self.process.stdout.readline()
            if not line:
                raise SystemExit("the simulator stopped before printing its URLs")
            if "=" in line and not line.startswith("#"):
                key, value = line.strip().split("=", 1)
                self.env[key] = value
        self.base = self.env["WEBEX_API_URL"].removesuffix("/v1")

    def set_clock(self, moment):
        """Moves the clock; returns a personal token valid for 12 hours from `moment`."""
        request = urllib.request.Request(f"{self.base}/sim/clock?now={rfc3339(moment)}",
                                         method="POST", data=b"")
        with urllib.request.urlopen(request) as answer:
            return answer.read().decode().strip()

    def peak_rss_mb(self):
        """The simulator's own peak RSS so far (VmHWM), in MB."""
        try:
            for line in open(f"/proc/{self.process.pid}/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def stop(self):
        self.process.terminate()
        self.process.wait()


def report_fields(text):
    fields = {key: int(value) for key, value in re.findall(r"(\w+): (\d+)\b(?![.\w])", text)}
    fields["downloaded"] = "downloaded: true" in text
    fields["outcome"] = (re.search(r"outcome: (\w+)", text) or [None, "?"])[1]
    return fields


def archives(data):
    folder = data / "archive"
    return {p.name: p.stat().st_size for p in folder.glob("*.sqlite.zst")} if folder.exists() else {}


class Run:
    def __init__(self, sim, data, env, perf=None):
        self.sim, self.data, self.env = sim, data, env
        self.cycles = []
        self.perf = perf

    def cycle(self, moment, steady):
        token = self.sim.set_clock(moment)
        env = dict(self.env, WEBEX_ACCESS_TOKEN=token)
        hot = self.data / "webex-quality.sqlite"
        before_hot = hot.stat().st_size if hot.exists() else 0
        before_archives = archives(self.data)
        command = [str(RELEASE / "bench-cycle"), rfc3339(moment)]
        if self.perf and steady:
            # The first steady-state cycle, profiled (and left out of the tables).
            command = ["perf", "record", "-F", "999", "--call-graph", "dwarf", "-o", self.perf, "--"] \
                + command
            self.perf = None
            steady = False
        wall, cpu, rss, out = measured(command, env)
        report = report_fields(out)
        after_hot = hot.stat().st_size if hot.exists() else 0
        written = {k: v for k, v in archives(self.data).items() if k not in before_archives}
        uploaded = (after_hot if report.get("upload_attempts", 0) else 0) + sum(written.values())
        downloaded = before_hot if report["downloaded"] else 0
        self.cycles.append(dict(report, moment=moment, steady=steady, wall=wall, cpu=cpu, rss=rss,
                                hot=after_hot, uploaded=uploaded, downloaded_bytes=downloaded))
        return self.cycles[-1]


def steady_row(label, cycles):
    if not cycles:
        return None
    calls = sum(c["calls"] for c in cycles)
    pages = sum(c["pages"] for c in cycles)
    med = lambda key: statistics.median(c[key] for c in cycles)
    return (f"| {label} | {len(cycles)} | {calls / len(cycles):.1f} | "
            f"{(pages / calls) if calls else 0:.2f} | {sum(c['rate_limited'] for c in cycles)} | "
            f"{med('wall'):.2f} s | {med('cpu'):.2f} s (max {max(c['cpu'] for c in cycles):.2f}) | "
            f"{med('rss'):.0f} MB (max {max(c['rss'] for c in cycles):.0f}) | "
            f"{med('downloaded_bytes') / MB:.1f} MB | {med('uploaded') / MB:.1f} MB | "
            f"{cycles[-1]['hot'] / MB:.1f} MB |")


def stored_per_day(data):
    """(day, archive bytes, raw JSON bytes of the final pages it holds, meetings) per archived day."""
    rows = []
    scratch = Path(tempfile.mkdtemp(prefix="wq-bench-archive-"))
    try:
        for archive in sorted((data / "archive").glob("*.sqlite.zst")):
            plain = scratch / archive.name.removesuffix(".zst")
            subprocess.run(["zstd", "-q", "-d", "-f", str(archive), "-o", str(plain)], check=True)
            raw = raw_json_bytes(plain)
            with sqlite3.connect(f"file:{plain}?mode=ro", uri=True) as db:
                meetings = db.execute("SELECT count(*) FROM meetings").fetchone()[0]
            plain.unlink()
            rows.append((archive.name.split(".")[0], archive.stat().st_size, raw, meetings))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meetings-per-day", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--step", type=int, default=60, help="minutes between fast-forward cycles")
    parser.add_argument("--steady-minutes", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--no-render", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--perf", metavar="FILE",
                        help="record the first steady-state cycle with `perf record` into FILE "
                             "(use with CARGO_TARGET_DIR and a `profiling` build for symbols)")
    parser.add_argument("--render-only", metavar="DATA", type=Path,
                        help="only render a data folder kept by an earlier run (--keep): a full "
                             "rebuild, then a render with nothing changed")
    parser.add_argument("--runs", type=int, default=1,
                        help="with --render-only: render this many times and give medians")
    parser.add_argument("--rename-one", action="store_true",
                        help="with --render-only: after each full rebuild, rename one meeting of the "
                             "hot object and render what changed (a render's usual work; the hot "
                             "object is put back afterwards)")
    parser.add_argument("--binaries", type=Path,
                        help="with --render-only: the folder of the webex-quality binary to run "
                             "(default: target/PROFILE; an older tree's, to compare)")
    parser.add_argument("--profile", default="release",
                        help="cargo profile of the binaries (`profiling` keeps symbols for perf)")
    args = parser.parse_args()
    global RELEASE
    RELEASE = TARGET / args.profile
    if not args.no_build:
        build(args.profile, ["webex-quality-cli", "webex-sim", "webex-quality-bench"],
              ["webex-quality", "webex-sim", "bench-cycle"])
    if args.render_only:
        env = dict(os.environ, WEBEX_QUALITY_STORE=str(args.render_only), RUST_LOG="warn")
        binaries = args.binaries or RELEASE
        if not args.rename_one:
            common.render_rows(binaries, env, args.render_only, runs=args.runs)
            return
        with common.OneMeetingRenamed(args.render_only) as rename:
            common.render_rows(binaries, env, args.render_only, between=rename,
                               again_label="one meeting renamed", runs=args.runs)
        return
    today = datetime.datetime.now(datetime.timezone.utc).date()
    first_day = today - datetime.timedelta(days=args.days)
    start = datetime.datetime.combine(first_day, datetime.time(), datetime.timezone.utc)
    end = start + datetime.timedelta(days=args.days)
    # The steady-state hours: 14:00 to 15:00 UTC (the simulated working day's busiest part) of day 8
    # and of the last day.
    busy = [start + datetime.timedelta(days=day - 1, hours=15)
            for day in sorted({min(8, args.days), args.days})]
    windows = [(last - datetime.timedelta(minutes=args.steady_minutes), last) for last in busy]
    sim = Simulator(args.meetings_per_day, args.days, first_day, args.seed)
    data = Path(tempfile.mkdtemp(prefix="wq-bench-history-"))
    env = dict(os.environ, **sim.env, WEBEX_QUALITY_STORE=str(data), RUST_LOG="warn",
               WEBEX_QUALITY_CYCLE_BUDGET_SECONDS="900")
    run = Run(sim, data, env, args.perf)
    hot_at_day = {}
    began = time.monotonic()
    try:
        moment = start
        while moment < end:
            steady = next((w for w in windows if w[0] < moment + datetime.timedelta(minutes=5) <= w[1]),
                          None)
            step = datetime.timedelta(minutes=5 if steady else args.step)
            # Never step over a steady window's start.
            upcoming = [w[0] for w in windows if w[0] > moment]
            moment = min([moment + step] + upcoming)
            in_window = any(w[0] < moment <= w[1] for w in windows)
            cycle = run.cycle(moment, in_window)
            if cycle["outcome"] != "Ok":
                print(f"# {rfc3339(moment)}: outcome {cycle['outcome']}", file=sys.stderr)
            day = (moment - start) / datetime.timedelta(days=1)
            if day == int(day):
                hot_at_day[int(day)] = cycle["hot"]
                print(f"# day {int(day)}: hot object {cycle['hot'] / MB:.1f} MB, archives "
                      f"{len(archives(data))}, {len(run.cycles)} cycles, "
                      f"{time.monotonic() - began:.0f} s", file=sys.stderr, flush=True)
        collected = time.monotonic() - began
        print(f"\n## {args.days} days at {args.meetings_per_day} meetings a day, "
              f"{datetime.date.today().isoformat()}, {machine()}\n")
        print(f"`python3 bench/history.py --meetings-per-day {args.meetings_per_day} "
              f"--days {args.days}`: {len(run.cycles)} cycles in {collected / 60:.0f} min; "
              f"{sum(c['calls'] for c in run.cycles)} qualities calls, "
              f"{sum(c['rate_limited'] for c in run.cycles)} answered 429, "
              f"{sum(c['errors'] for c in run.cycles)} errors; "
              f"{sum(c['cpu'] for c in run.cycles):.0f} s of collector CPU in all; the simulator's "
              f"peak RSS {sim.peak_rss_mb():.0f} MB.\n")
        print("| steady-state 5-minute cycles | cycles | qualities calls per cycle "
              "| requests per call (pages) | 429s | wall (median) | CPU (median) | peak RSS (median) "
              "| downloaded (median) | uploaded (median) | hot object |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for first, last in windows:
            label = f"day {(last - start).days + 1}, {first:%H:%M}-{last:%H:%M}"
            row = steady_row(label, [c for c in run.cycles if first < c["moment"] <= last])
            if row:
                print(row)
        heaviest = max(run.cycles, key=lambda c: c["cpu"])
        print(f"\nHeaviest cycle of the run: {rfc3339(heaviest['moment'])}, {heaviest['calls']} calls, "
              f"{heaviest['cpu']:.2f} s CPU, {max(c['rss'] for c in run.cycles):.0f} MB peak RSS "
              f"(the run's highest).\n")
        print("| day | " + " | ".join(str(d) for d in sorted(hot_at_day)) + " |")
        print("|---|" + "---|" * len(hot_at_day))
        print("| hot object (MB) | " + " | ".join(f"{hot_at_day[d] / MB:.0f}" for d in sorted(hot_at_day))
              + " |\n")
        days = stored_per_day(data)
        if days:
            stored = sum(d[1] for d in days)
            raw = sum(d[2] for d in days)
            print("| archived days | meetings per day | stored per day (median) | raw JSON per day "
                  "(median) | stored / raw |")
            print("|---|---|---|---|---|")
            print(f"| {len(days)} | {statistics.median(d[3] for d in days):.0f} "
                  f"| {statistics.median(d[1] for d in days) / MB:.1f} MB "
                  f"| {statistics.median(d[2] for d in days) / MB:.1f} MB "
                  f"| {100 * stored / raw:.1f} % |\n")
        analytics_row(env, data)
        if not args.no_render:
            render_both(run, env, data, end)
    finally:
        sim.stop()
        if args.keep:
            print(f"# data folder kept: {data}", file=sys.stderr)
        else:
            shutil.rmtree(data, ignore_errors=True)


def analytics_row(env, data):
    """The analytics copy of every archived day (`webex-quality export --analytics` into the data
    folder itself, where a render would write it, so the render rows below do not include it):
    its process's CPU and peak RSS, the rows and the gzipped bytes it wrote."""
    wall, cpu, peak, _ = measured(
        [str(RELEASE / "webex-quality"), "export", "--analytics", "--out", str(data)], env)
    rows = {}
    sizes = {}
    for table in ("intervals", "sessions", "meetings"):
        files = sorted((data / "analytics" / table).glob("date=*/*.json.gz"))
        rows[table] = sum(sum(1 for _ in gzip.open(f, "rt", encoding="utf-8")) for f in files)
        sizes[table] = sum(f.stat().st_size for f in files)
    parts = len(list((data / "analytics" / "meetings").glob("date=*/*.json.gz")))
    if not parts:
        return
    print("| analytics copy | archive parts | meetings | sessions | interval rows | gzipped "
          "(per part) | wall | CPU | peak RSS | interval rows per CPU second |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(f"| `export --analytics` | {parts} | {rows['meetings']:,} | {rows['sessions']:,} "
          f"| {rows['intervals']:,} | {sum(sizes.values()) / parts / MB:.1f} MB | {wall:.1f} s "
          f"| {cpu:.2f} s | {peak:.0f} MB | {rows['intervals'] / max(cpu, 0.001):,.0f} |\n")


def render_both(run, env, data, end):
    """After the collection: a full rebuild, then one more 5-minute cycle and a render of what it
    changed."""
    common.render_rows(RELEASE, env, data, lambda: run.cycle(end + datetime.timedelta(minutes=5), False),
                       "after one more cycle")


if __name__ == "__main__":
    main()
