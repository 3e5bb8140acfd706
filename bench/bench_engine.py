"""Engine latency through the real protocol: `colorize` round trips vs the model's forward.

    python bench/bench_engine.py [--sizes 512 1024 4096] [--repeats 7]

Starts a real engine process on loopback, sends gray8 images with 20 hint points, and
prints a markdown table: median round trip, median forward pass (as the engine reports it),
the overhead (everything but the forward pass) and its share, and the engine's peak memory.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from PIL import Image
from skimage import data as skdata

from chromahint_client import Client
from chromahint_client import protocol as P
from chromahint_client.launcher import is_running


def free_endpoint() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def test_image(size: int) -> P.Image:
    gray = Image.fromarray(skdata.camera()).resize((size, size), Image.Resampling.BICUBIC)
    return P.Image(size, size, "gray8", gray.tobytes())


def hint_points(size: int, n: int = 20, seed: int = 0) -> tuple[P.Point, ...]:
    rng = random.Random(seed)
    return tuple(
        P.Point(
            x=rng.uniform(0, size - 1),
            y=rng.uniform(0, size - 1),
            rgb=(rng.randrange(256), rng.randrange(256), rng.randrange(256)),
            size=max(1, size // 128),
        )
        for _ in range(n)
    )


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@contextlib.contextmanager
def engine_process(serve_args: list[str]) -> Iterator[tuple[subprocess.Popen, str, P.InfoReply]]:
    """A real engine on a free loopback port: (process, endpoint, its info), stopped after."""
    endpoint = free_endpoint()
    cmd = [sys.executable, "-m", "chromahint", "--log-level", "WARNING", "serve"]
    proc = subprocess.Popen([*cmd, "--endpoint", endpoint, *serve_args])
    try:
        deadline = time.monotonic() + 120
        while (info := is_running(endpoint)) is None:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("engine did not start")
        yield proc, endpoint, info
    finally:
        proc.terminate()
        proc.wait(30)


def print_table(machine: str, header: tuple[str, ...], rows: list[tuple]) -> None:
    """The machine line, then a markdown table."""
    print(f"Machine: {cpu_name()}, {_cores()} cores; {machine}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 4096])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="engine CPU threads (0: its default)")
    args = ap.parse_args()

    with engine_process(["--device", args.device, "--threads", str(args.threads)]) as (
        proc,
        endpoint,
        info,
    ):
        model = info.model(P.Mode.PHOTO)
        if model is None:
            raise SystemExit("the engine serves no photo model")
        rows = []
        with Client(endpoint, timeout=600, retries=0) as c:
            for size in args.sizes:
                request = P.ColorizeRequest(test_image(size), hint_points(size))
                c.colorize(request)  # warm-up
                totals, forwards = [], []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    reply = c.colorize(request)
                    totals.append((time.perf_counter() - t0) * 1e3)
                    forwards.append(reply.timing_ms["forward"])
                total, fwd = statistics.median(totals), statistics.median(forwards)
                rows.append((size, total, fwd, total - fwd))
        peak = peak_rss_mib(proc.pid)

    print(
        f"Machine: {cpu_name()}, {_cores()} cores; device {info.device}; "
        f"model {model.name} (working size {model.working_size}); "
        f"Python {platform.python_version()}; {args.repeats} repeats, medians.\n"
    )
    print("| image | colorize round trip (ms) | forward (ms) | overhead (ms) | overhead share |")
    print("|---|---|---|---|---|")
    for size, total, fwd, over in rows:
        print(
            f"| {size}² gray8, 20 points | {total:.1f} | {fwd:.1f} | {over:.1f} | "
            f"{100 * over / total:.1f}% |"
        )
    print(f"\nEngine peak resident memory over the run: {peak:.0f} MiB")
    return 0


def _cores() -> int:
    import os

    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


if __name__ == "__main__":
    raise SystemExit(main())
