#!/usr/bin/env python3
"""The Lambda functions' package sizes and cold starts, as the README reports them.

    python3 functions/measure.py            # both (two release builds: about 15 minutes on 2 cores)
    python3 functions/measure.py --sizes    # only the arm64 zip packages (cargo lambda build)
    python3 functions/measure.py --init     # only the cold starts (native release build)

Sizes: `cargo lambda build --release --arm64 --output-format zip` for the three functions, the
zips as Lambda receives them (needs cargo-lambda and ziglang, which tests/run installs into
target/test-tools/venv, and `rustup target add aarch64-unknown-linux-gnu`).

Cold start: Lambda's "Init Duration" is the time from starting the bootstrap process until it
asks the Runtime API for its first event. This script plays the Runtime API on localhost, starts
each function's release binary (built natively for this machine, with the same release profile:
the arm64 binary cannot run here) with the environment a deployment gives it, and times the
first `GET /2018-06-01/runtime/invocation/next`. Nothing is invoked; no network is used.
"""

import argparse
import http.server
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FUNCTIONS = ["oauth-redirect", "collector", "site-builder"]
VENV = REPO / "target" / "test-tools" / "venv" / "bin"

ENVIRONMENT = {
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "example",
    "AWS_SESSION_TOKEN": "example",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_FORMAT": "JSON",
    "WEBEX_QUALITY_STORE": "s3://webex-quality-data-123456789012/data",
    "WEBEX_QUALITY_SITE_STORE": "s3://webex-quality-site-123456789012",
    "WEBEX_CLIENT_ID": "C-measure",
    "WEBEX_CLIENT_SECRET": "measure-client-secret",
    "WEBEX_REDIRECT_URI": "https://abc123.execute-api.eu-west-1.amazonaws.com/oauth/callback",
    "WEBEX_QUALITY_SETUP_SECRET": "measure-setup-secret-value",
}


def run(command, **kwargs):
    print("+", " ".join(command), file=sys.stderr, flush=True)
    subprocess.run(command, check=True, cwd=REPO, **kwargs)


def sizes():
    env = dict(os.environ)
    # zig is found through the first python3 on PATH: the virtual environment that has ziglang.
    env["PATH"] = f"{VENV}{os.pathsep}{env['PATH']}"
    packages = [arg for name in FUNCTIONS for arg in ("-p", name)]
    started = time.monotonic()
    run(["cargo", "lambda", "build", "--release", "--arm64", "--output-format", "zip", *packages], env=env)
    took = time.monotonic() - started
    rows = []
    for name in FUNCTIONS:
        zipped = REPO / "target" / "lambda" / name / "bootstrap.zip"
        rows.append((name, zipped.stat().st_size))
    return rows, took


class RuntimeApi(http.server.BaseHTTPRequestHandler):
    """Answers nothing: notes when the first `next` arrives, and keeps the request open."""

    first_next = None
    arrived = threading.Event()

    def do_GET(self):  # noqa: N802 (the standard library's name)
        if self.path.endswith("/runtime/invocation/next") and not RuntimeApi.arrived.is_set():
            RuntimeApi.first_next = time.monotonic()
            RuntimeApi.arrived.set()
        time.sleep(5)

    def log_message(self, *args):
        pass


def init_duration(binary, rounds):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {
        "PATH": os.environ["PATH"],
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": binary.name,
        **ENVIRONMENT,
    }
    times = []
    for _ in range(rounds):
        RuntimeApi.arrived.clear()
        started = time.monotonic()
        process = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not RuntimeApi.arrived.wait(timeout=10):
            process.kill()
            raise SystemExit(f"{binary.name} never asked for an event: {process.stderr.read().decode()}")
        times.append((RuntimeApi.first_next - started) * 1000)
        process.kill()
        process.wait()
    server.shutdown()
    return times


def cold_starts(rounds):
    packages = [arg for name in FUNCTIONS for arg in ("-p", name)]
    run(["cargo", "build", "--release", "--locked", *packages])
    rows = []
    for name in FUNCTIONS:
        times = init_duration(REPO / "target" / "release" / name, rounds)
        rows.append((name, statistics.median(times), min(times), max(times)))
    return rows


def machine():
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{os.cpu_count()} cores, {model}, {platform.machine()}, {rustc}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", action="store_true", help="only the package sizes")
    parser.add_argument("--init", action="store_true", help="only the cold starts")
    parser.add_argument("--rounds", type=int, default=20, help="cold starts per function")
    args = parser.parse_args()
    both = not args.sizes and not args.init
    print(f"Measured {time.strftime('%Y-%m-%d')} on {machine()}")
    if args.sizes or both:
        rows, took = sizes()
        print(f"\n`cargo lambda build --release --arm64 --output-format zip` ({took / 60:.1f} min):\n")
        print("| function | zip (arm64) | target |")
        print("|---|---|---|")
        for name, size in rows:
            verdict = "met" if size <= 8 * 1024 * 1024 else "MISSED"
            print(f"| {name} | {size / 1024 / 1024:.2f} MB | at most 8 MB: {verdict} |")
    if args.init or both:
        rows = cold_starts(args.rounds)
        print(f"\nInit duration, native release build, {args.rounds} cold starts each:\n")
        print("| function | median | fastest | slowest | target |")
        print("|---|---|---|---|---|")
        for name, median, fastest, slowest in rows:
            verdict = "met" if median < 50 else "MISSED"
            print(f"| {name} | {median:.1f} ms | {fastest:.1f} ms | {slowest:.1f} ms | under 50 ms: {verdict} |")


if __name__ == "__main__":
    main()
