"""What the benchmark scripts share: where the binaries are, building them, the machine's
description, running one process measured on its own (GNU time's `wait4`), and reading a data file's
raw JSON."""

import hashlib
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))


def build(profile, packages, binaries):
    """`cargo build --profile PROFILE` of `packages`' `binaries`."""
    command = ["cargo", "build", "--profile", profile, "--locked"]
    command += [arg for package in packages for arg in ("-p", package)]
    command += [arg for binary in binaries for arg in ("--bin", binary)]
    print("+", " ".join(command), file=sys.stderr, flush=True)
    subprocess.run(command, check=True, cwd=REPO)


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}"


# GNU time (Debian's package `time`) measures each process: see `measured`.
GNU_TIME = "/usr/bin/time"


def measured(command, env):
    """Runs `command`: (wall, CPU seconds, peak RSS in MB, stdout) of that process alone.

    Through GNU time, which starts the command from its own small process and reports what `wait4`
    says of it. Not `wait4` from here: Python starts a child with vfork, and Linux carries the peak
    RSS of the address space a process had before `exec` into its `ru_maxrss`, so every figure was
    at least this script's own RSS (a 15 MB Python: /bin/true "peaked" at 15 MB; after the stored
    bytes table of a 30-day run, the analytics copy "peaked" at 75 MB instead of 26)."""
    if not os.access(GNU_TIME, os.X_OK):
        raise SystemExit(f"{GNU_TIME} is needed to measure each process (Debian: apt-get install time)")
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err, \
            tempfile.NamedTemporaryFile("r", suffix=".time") as usage:
        started = time.monotonic()
        child = subprocess.Popen([GNU_TIME, "-f", "%U %S %M", "-o", usage.name, *command],
                                 env=env, stdout=out, stderr=err, text=True, cwd=REPO)
        code = child.wait()
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        if code != 0:
            raise SystemExit(f"{command} failed:\n{out.read()}\n{err.read()}")
        # The last line: a failed command's status line would come first.
        user, system, peak_kb = usage.read().split("\n")[-2].split()
        return wall, float(user) + float(system), int(peak_kb) / 1024, out.read()


def raw_json_bytes(database):
    """Bytes of the qualities pages a database file holds, as received (from the stored lengths)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return db.execute(
            "SELECT coalesce(sum(b.length), 0) FROM quality_pages p "
            "JOIN bodies b ON b.sha256 = p.body_sha256").fetchone()[0]


# The render cache's keys in a data folder: the current form, and the gzipped JSON of earlier versions.
RENDER_CACHES = ("site-cache.bin.zst", "site-cache.json.gz")
RENDER_CACHE_PARTS = "site-cache"


def remove_render_cache(data):
    """Removes the render cache from the data folder `data` (either form, and the parts of the
    archives): the next render is a full rebuild."""
    for cache in RENDER_CACHES:
        (data / cache).unlink(missing_ok=True)
    shutil.rmtree(data / RENDER_CACHE_PARTS, ignore_errors=True)


# A RAM filesystem for the rendered site, when the machine has one.
RAM = Path("/dev/shm")


def site_parent():
    """Where a render's site folder goes: RAM (`/dev/shm`) when writable, else the temporary folder.

    Not the disk: there a full rebuild's system time measured what the file system went through in
    the minutes before, not the render. ext4 avoids handing out an inode freed in the last minutes,
    and checks each candidate in its buffer cache (`recently_deleted`, `find_get_block_common`,
    `find_inode_bit`: 35 % of the samples of a 4-day rebuild run after the previous site was
    deleted). 2026-12-04, 4,005 meetings, the same binary: 0.95-1.09 s of system CPU on a disk with
    nothing deleted for minutes, 2.68-3.27 s just after sites were deleted, 0.52-0.59 s in RAM. The
    site-builder on AWS uploads to S3 and creates no files at all."""
    return RAM if RAM.is_dir() and os.access(RAM, os.W_OK) else None


def folder_etag(path):
    """Writes the folder store's ETag sidecar of the object at `path` (`.NAME.etag`, its content's
    SHA-256), as the store does when it writes the object."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (path.parent / f".{path.name}.etag").write_text(f'"sha256:{digest}"')


class OneMeetingRenamed:
    """Renames one meeting of the hot object of the data folder `data` (a new title each call), as a
    cycle that saw it renamed would: the next render renders that meeting and its people's pages
    again, and every page made from the whole history, a render's usual work. Use it as a context:
    the hot object is put back as it was when it ends."""

    def __init__(self, data):
        self.hot = data / "webex-quality.sqlite"
        self.calls = 0

    def __enter__(self):
        self.backup = tempfile.NamedTemporaryFile(prefix="wq-bench-hot-", dir=self.hot.parent)
        shutil.copyfile(self.hot, self.backup.name)
        return self

    def __call__(self):
        self.calls += 1
        with sqlite3.connect(self.hot) as db:
            db.execute("UPDATE meetings SET title = ? WHERE instance_id = "
                       "(SELECT min(instance_id) FROM meetings)", (f"Renamed {self.calls}",))
        db.close()
        folder_etag(self.hot)

    def __exit__(self, *_):
        shutil.copyfile(self.backup.name, self.hot)
        folder_etag(self.hot)
        self.backup.close()


def render_rows(binaries, env, data, between=None, again_label="nothing changed", runs=1):
    """Prints a table of `webex-quality render --out` runs, each its own process: a full rebuild
    (the render cache removed, an empty site folder), then, after `between()` if given, a render
    of what changed. With `runs` above 1, each is run that many times (`between` before each second
    render) and the table gives the medians and ranges: this VM's speed drifts by tens of percent
    between half hours, so one run says little."""
    command = [str(binaries / "webex-quality"), "render", "--out", None]
    fulls, agains = [], []
    # Bytes of render cache each render wrote (the hot object and the parts it rewrote).
    cache_written = {"full": [], "again": []}
    for _ in range(runs):
        site = Path(tempfile.mkdtemp(prefix="wq-bench-site-", dir=site_parent()))
        command[-1] = str(site)
        try:
            remove_render_cache(data)
            before = render_cache_files(data)
            fulls.append(measured(command, env))
            cache_written["full"].append(written_since(before, data))
            # The site's files (not the folder store's hidden ETag sidecars).
            files = [p for p in site.rglob("*") if p.is_file() and not p.name.startswith(".")]
            size = sum(p.stat().st_size for p in files)
            meetings = len(list((site / "meetings").glob("*.html")))
            if between:
                between()
            before = render_cache_files(data)
            agains.append(measured(command, env))
            cache_written["again"].append(written_since(before, data))
        finally:
            shutil.rmtree(site, ignore_errors=True)
    print(f"# the sites were written to {site.parent} ({'RAM' if site.parent == RAM else 'disk'})"
          f"{f'; medians of {runs} runs, ranges in brackets' if runs > 1 else ''}")

    def cells(results):
        walls, cpus, peaks = ([r[i] for r in results] for i in range(3))
        cpu = f"{statistics.median(cpus):.2f} s"
        peak = f"{statistics.median(peaks):.0f} MB"
        if runs > 1:
            cpu += f" ({min(cpus):.2f}-{max(cpus):.2f})"
            peak += f" ({min(peaks):.0f}-{max(peaks):.0f})"
        return f"{statistics.median(walls):.1f} s", cpu, peak, statistics.median(cpus)

    def cache(which):
        return f"{statistics.median(cache_written[which]) / 1e6:.2f} MB"

    wall, cpu, peak, median_cpu = cells(fulls)
    print("| render | wall | CPU | peak RSS | meetings per CPU second | files | bytes "
          "| render cache written |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| full rebuild | {wall} | {cpu} | {peak} | {meetings / median_cpu:.0f} "
          f"({meetings} meeting pages) | {len(files)} | {size / 1e6:.1f} MB | {cache('full')} |")
    wall, cpu, peak, _ = cells(agains)
    print(f"| {again_label} | {wall} | {cpu} | {peak} | | | | {cache('again')} |")


def render_cache_files(data):
    """Each file of the render cache in the data folder `data` (not the folder store's hidden ETag
    sidecars): its modification time and size."""
    paths = [data / name for name in RENDER_CACHES]
    parts = data / RENDER_CACHE_PARTS
    paths += [p for p in parts.glob("*") if not p.name.startswith(".")] if parts.is_dir() else []
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in paths if p.is_file()}


def written_since(before, data):
    """Bytes of the render cache's files in `data` written since `before` (`render_cache_files`)."""
    return sum(size for path, (mtime, size) in render_cache_files(data).items()
               if before.get(path, (None, None))[0] != mtime)
