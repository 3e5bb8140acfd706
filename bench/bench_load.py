"""Load: 8 clients x 200 mixed requests on one engine, latency percentiles per op.

    python bench/bench_load.py [--clients 8] [--per-client 200]

Starts a real engine process on loopback; each client (its own thread and REQ socket, the
shared Lazy Pirate client) sends colorize (three sizes), swatches, regions and info
requests whose replies prove they reached the right client (tests/load_clients.py). Prints
lost and misrouted counts and a markdown table of p50/p95/p99 per op.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench_engine import _cores, cpu_name, free_endpoint

from chromahint_client.launcher import is_running

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from load_clients import run_load  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--per-client", type=int, default=200)
    args = ap.parse_args()
    endpoint = free_endpoint()
    cmd = [sys.executable, "-m", "chromahint", "--log-level", "WARNING", "serve"]
    proc = subprocess.Popen([*cmd, "--endpoint", endpoint])
    try:
        deadline = time.monotonic() + 120
        while (info := is_running(endpoint)) is None:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("engine did not start")
        report = run_load(endpoint, args.clients, args.per_client, timeout=300, retries=0)
    finally:
        proc.terminate()
        proc.wait(30)
    total = args.clients * args.per_client
    print(
        f"Machine: {cpu_name()}, {_cores()} cores; device {info.device}; "
        f"Python {platform.python_version()}.\n"
        f"{args.clients} clients x {args.per_client} requests = {total} in "
        f"{report.seconds:.1f} s: {report.answered} answered, {len(report.failed)} failed "
        f"(errors), {len(report.misrouted)} misrouted, "
        f"{total - len(report.outcomes)} without an outcome.\n"
    )
    print("| op | requests | p50 (ms) | p95 (ms) | p99 (ms) |")
    print("|---|---|---|---|---|")
    for op, row in report.percentiles().items():
        print(f"| {op} | {row['n']} | {row['p50']:.0f} | {row['p95']:.0f} | {row['p99']:.0f} |")
    return 0 if report.answered == total else 1


if __name__ == "__main__":
    raise SystemExit(main())
