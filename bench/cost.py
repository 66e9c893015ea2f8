#!/usr/bin/env python3
"""What the AWS deployment costs a month, from measured figures: `infra/README.md`'s estimate.

    python3 bench/cost.py                          # 1,000 meetings a day (9 simulated days)
    python3 bench/cost.py --meetings-per-day 100
    python3 bench/cost.py --no-build --profile profiling

What it measures (the simulator and the collector as in `bench/history.py`, each cycle its own
process against a folder store): it collects through the simulated days hourly up to 00:05 UTC of the
last day, renders the whole dashboard once (`bench-render TIME`: the site-builder's code and
settings on the simulated clock, as the site-builder
does on its first run), goes on hourly with a render each hour up to 13:00 UTC, and then runs the
production schedule for two hours: a collection cycle
every 5 minutes, each followed by two renders, as the two S3 notifications of a cycle (the database
and the status object) invoke the site-builder twice. Per cycle it records the collector's CPU time
and peak RSS and the hot object it uploads; per render the files it uploaded and removed (what the
site-builder PUTs and DELETEs on S3), its CPU time and peak RSS.

Then the bill, per month of 30 days at 288 cycles a day, with the prices below (us-east-1, on-demand,
2026-12; no free tier counted, though most of these lines fit in AWS's always-free tiers):
  - S3 requests: per cycle the collector's own (counted from its code path: lease read and write,
    a conditional database read, database write, status read and write, token read, lease release),
    the site-builder's PUTs and DELETEs (measured) and reads (database, status, render cache,
    manifest), the daily copy;
  - S3 storage: the hot object, its noncurrent versions (kept one day: 288 a day), 30 daily
    copies, the archives (the growth of one month, `bench/history.py`'s stored bytes per day) and
    the site;
  - Lambda: invocations and GB-seconds (duration estimated from the measured CPU time at the share
    of a vCPU that the configured memory gives on arm64, 1,769 MB for one vCPU);
  - CloudWatch Logs ingestion (one JSON line per invocation, about 600 bytes), CloudFront (viewers'
    requests, within the always-free 10 million), SSM standard parameters (free), EventBridge
    Scheduler (free below 14 million).
"""

import argparse
import datetime
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import history
from common import TARGET, build, machine, measured

MB = 1e6
GB = 1e9

# Prices, us-east-1, on-demand (checked 2026-12 against the AWS price pages).
S3_PUT = 0.005 / 1000          # PUT, COPY, POST, LIST
S3_GET = 0.0004 / 1000         # GET and all other requests
S3_STORAGE = 0.023             # per GB-month, S3 Standard
LAMBDA_GB_SECOND = 0.0000133334  # arm64
LAMBDA_REQUEST = 0.20 / 1e6
LOGS_INGESTION = 0.50          # per GB
DAYS = 30
CYCLES_PER_DAY = 288

# The template's memory sizes (MB) and the vCPU share they give.
COLLECTOR_MB = 512
SITE_BUILDER_MB = 1024
FULL_VCPU_MB = 1769


def duration(cpu_seconds, memory_mb):
    """Lambda duration for `cpu_seconds` of one core's work at `memory_mb` (at least 1 ms)."""
    return max(cpu_seconds / min(1.0, memory_mb / FULL_VCPU_MB), 0.001)


def render(binaries, env, site, moment):
    """One render at the simulated `moment` (`bench-render`: the site-builder's configuration
    and code), into the folder `site`, with its own work folder beside it."""
    env = dict(env, WEBEX_QUALITY_SITE_STORE=str(site),
               WEBEX_QUALITY_WORK_DIR=str(site.with_name(site.name + "-work")))
    wall, cpu, rss, out = measured([str(binaries / "bench-render"), history.rfc3339(moment)], env)
    match = re.search(r"(\d+) uploaded, (\d+) removed", out)
    if not match:
        raise SystemExit(f"render said: {out}")
    print(f"# render at {history.rfc3339(moment)}: {out.strip()}", file=sys.stderr, flush=True)
    return dict(wall=wall, cpu=cpu, rss=rss, uploaded=int(match[1]), removed=int(match[2]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--meetings-per-day", type=int, default=1000)
    parser.add_argument("--days", type=int, default=9)
    parser.add_argument("--steady-hours", type=int, default=2)
    parser.add_argument("--render-every", type=int, default=1, metavar="N",
                        help="render after every Nth cycle only (the site-builder's "
                             "WEBEX_QUALITY_RENDER_INTERVAL_MINUTES = 5 N; then one render, the "
                             "other events within the interval render nothing)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--profile", default="release")
    parser.add_argument("--archive-mb-per-day", type=float, default=None,
                        help="stored bytes per archived day (default: measured by this run)")
    args = parser.parse_args()
    binaries = TARGET / args.profile
    history.RELEASE = binaries
    if not args.no_build:
        build(args.profile, ["webex-quality-cli", "webex-sim", "webex-quality-bench"],
              ["webex-quality", "webex-sim", "bench-cycle", "bench-render"])
    today = datetime.datetime.now(datetime.timezone.utc).date()
    first_day = today - datetime.timedelta(days=args.days)
    start = datetime.datetime.combine(first_day, datetime.time(), datetime.timezone.utc)
    steady_end = start + datetime.timedelta(days=args.days - 1, hours=15)
    steady_start = steady_end - datetime.timedelta(hours=args.steady_hours)
    sim = history.Simulator(args.meetings_per_day, args.days, first_day, args.seed)
    data = Path(tempfile.mkdtemp(prefix="wq-bench-cost-"))
    site = Path(tempfile.mkdtemp(prefix="wq-bench-cost-site-"))
    env = dict(os.environ, **sim.env, WEBEX_QUALITY_STORE=str(data), RUST_LOG="warn",
               WEBEX_QUALITY_CYCLE_BUDGET_SECONDS="900")
    run = history.Run(sim, data, env)
    began = time.monotonic()
    # The whole site is rendered first just after midnight of the last day, then hourly: a
    # person's page is rendered at most once a UTC day, so the next day's first render (measured
    # at the end) carries the pages of everyone in a meeting that day.
    day_start = start + datetime.timedelta(days=args.days - 1, minutes=5)
    next_day = day_start + datetime.timedelta(days=1)
    try:
        moment = start
        while moment < day_start:
            moment = min(moment + datetime.timedelta(hours=1), day_start)
            run.cycle(moment, False)
        print(f"# collected to {history.rfc3339(moment)} in {time.monotonic() - began:.0f} s",
              file=sys.stderr, flush=True)
        first = render(binaries, env, site, moment)
        while moment < steady_start:
            moment = min(moment + datetime.timedelta(hours=1), steady_start)
            run.cycle(moment, False)
            render(binaries, env, site, moment)
        cycles, renders = [], []
        skipped = {"wall": 0.0, "cpu": 0.0, "rss": 0.0, "uploaded": 0, "removed": 0}
        while moment < steady_end:
            moment += datetime.timedelta(minutes=5)
            cycles.append(run.cycle(moment, True))
            if len(cycles) % args.render_every == 0:
                first_render = render(binaries, env, site, moment)
                second = skipped if args.render_every > 1 else render(binaries, env, site, moment)
                renders.append((first_render, second))
        daily = None
        while moment < next_day:
            moment = min(moment + datetime.timedelta(hours=1), next_day)
            run.cycle(moment, False)
            rendered = render(binaries, env, site, moment)
            if daily is None and moment.date() == next_day.date():
                daily = rendered
        site_bytes = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
        archive_days = history.stored_per_day(data)
    finally:
        sim.stop()
        shutil.rmtree(data, ignore_errors=True)
        shutil.rmtree(site, ignore_errors=True)
        shutil.rmtree(site.with_name(site.name + "-work"), ignore_errors=True)

    med = statistics.median
    collector_cpu = med(c["cpu"] for c in cycles)
    hot = cycles[-1]["hot"]
    # DELETE requests are free; uploads are PUTs.
    puts_first = med(r[0]["uploaded"] for r in renders)
    puts_second = med(r[1]["uploaded"] for r in renders)
    render_cpu = med(r[0]["cpu"] for r in renders) + med(r[1]["cpu"] for r in renders)
    if args.archive_mb_per_day is not None:
        archive_per_day = args.archive_mb_per_day * MB
    elif archive_days:
        archive_per_day = med(d[1] for d in archive_days)
    else:
        archive_per_day = 0.0

    print(f"\n## {args.meetings_per_day} meetings a day: measured "
          f"{datetime.date.today().isoformat()}, {machine()}, `--profile {args.profile}`\n")
    renders_said = ("each followed by two renders" if args.render_every == 1 else
                    f"a render after every {args.render_every}th (a render interval of "
                    f"{5 * args.render_every} minutes)")
    print(f"`python3 bench/cost.py --meetings-per-day {args.meetings_per_day}"
          f"{'' if args.render_every == 1 else f' --render-every {args.render_every}'}`: "
          f"{len(cycles)} five-minute cycles of day {args.days} up to 15:00 UTC, {renders_said}; "
          f"the first render of the whole site uploaded {first['uploaded']} files.\n")
    print("| per cycle (median) | collector CPU | collector peak RSS | hot object uploaded "
          "| render 1: files uploaded (removed) | render 2 | renders' CPU | renders' peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| | {collector_cpu:.2f} s | {med(c['rss'] for c in cycles):.0f} MB | {hot / MB:.1f} MB "
          f"| {puts_first:.0f}, max {max(r[0]['uploaded'] for r in renders)} "
          f"({med(r[0]['removed'] for r in renders):.0f}) "
          f"| {puts_second:.0f} | {render_cpu:.2f} s "
          f"| {max(max(r[0]['rss'], r[1]['rss']) for r in renders):.0f} MB |\n")
    print(f"The next day's first render (people's pages of the day): "
          f"{daily['uploaded']} files uploaded, {daily['cpu']:.2f} s of CPU, "
          f"{daily['rss']:.0f} MB peak RSS.\n")

    month_cycles = CYCLES_PER_DAY * DAYS
    month_renders = month_cycles / args.render_every
    # S3 requests per cycle.
    collector_puts = 4      # lease taken, database, status, lease released
    collector_gets = 4      # lease, database (conditional: 304 when the warm copy is current), status, tokens
    builder_puts = puts_first + puts_second + 2 + 2 + 2  # the files, the render cache, the manifest, the archive list, twice
    builder_gets = 2 * 4    # database (conditional), status, render cache, manifest
    if args.render_every > 1:
        builder_puts -= 3   # one render per interval: the second event's render is skipped
        builder_gets -= 4
    # And once a day: the daily copy, and the day's first render's people's pages.
    puts = (month_cycles * collector_puts + month_renders * builder_puts
            + DAYS * (1 + max(daily["uploaded"] - puts_first, 0)))
    gets = month_cycles * collector_gets + month_renders * builder_gets
    # Storage (GB-month): the hot object, one day of its old versions, 30 daily copies, the
    # archives (the mean over a month of growth: half a month's), the site.
    versions = hot * CYCLES_PER_DAY
    storage = (hot + versions + 30 * hot + archive_per_day * DAYS / 2 + site_bytes) / GB
    # Lambda.
    collector_seconds = duration(collector_cpu, COLLECTOR_MB)
    builder_seconds = duration(render_cpu, SITE_BUILDER_MB)
    daily_seconds = max(duration(daily["cpu"], SITE_BUILDER_MB) - builder_seconds, 0.0)
    gb_seconds = (month_cycles * collector_seconds * COLLECTOR_MB
                  + (month_renders * builder_seconds + DAYS * daily_seconds) * SITE_BUILDER_MB) / 1024
    invocations = month_cycles * 3
    logs = invocations * 600 / GB
    lines = [
        ("S3 PUT, COPY, LIST (DELETE is free)", f"{puts:,.0f} requests", puts * S3_PUT),
        ("S3 GET", f"{gets:,.0f} requests", gets * S3_GET),
        ("S3 storage", f"{storage:.1f} GB-month (hot {hot / MB:.0f} MB, a day of old versions "
         f"{versions / GB:.1f} GB, 30 daily copies {30 * hot / GB:.1f} GB, archives "
         f"{archive_per_day / MB:.1f} MB a day, site {site_bytes / GB:.2f} GB)", storage * S3_STORAGE),
        ("Lambda duration", f"{gb_seconds:,.0f} GB-s (collector {collector_seconds:.1f} s at "
         f"{COLLECTOR_MB} MB, site-builder {builder_seconds:.1f} s at {SITE_BUILDER_MB} MB, per cycle)",
         gb_seconds * LAMBDA_GB_SECOND),
        ("Lambda requests", f"{invocations:,} invocations", invocations * LAMBDA_REQUEST),
        ("CloudWatch Logs", f"{logs * 1000:.0f} MB ingested", logs * LOGS_INGESTION),
        ("CloudFront, SSM, Scheduler, API Gateway", "within the always-free tiers", 0.0),
    ]
    total = sum(cost for _, _, cost in lines)
    print("| line | quantity a month | USD a month |")
    print("|---|---|---|")
    for name, quantity, cost in lines:
        print(f"| {name} | {quantity} | {cost:.2f} |")
    print(f"| **total** | | **{total:.2f}** |")


if __name__ == "__main__":
    main()
