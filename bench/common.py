"""What the benchmark scripts share: where the binaries are, building them, the machine's
description, running one process measured on its own (`wait4`), and reading a data file's raw JSON."""

import os
import sqlite3
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


def measured(command, env):
    """Runs `command`: (wall, CPU seconds, peak RSS in MB, stdout) of that process alone."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.monotonic()
        child = subprocess.Popen(command, env=env, stdout=out, stderr=err, text=True, cwd=REPO)
        # wait4: this process's own rusage (CPU and peak RSS), not the build's or the simulator's.
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{command} failed:\n{out.read()}\n{err.read()}")
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read()


def raw_json_bytes(database):
    """Bytes of the qualities pages a database file holds, as received (from the stored lengths)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return db.execute(
            "SELECT coalesce(sum(b.length), 0) FROM quality_pages p "
            "JOIN bodies b ON b.sha256 = p.body_sha256").fetchone()[0]
