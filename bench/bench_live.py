"""Live editing (issue 12): images sent once, hint changes at canvas size, big jobs beside
small ones. One fresh engine on loopback, the shared client, medians.

    python bench/bench_live.py [--repeats 5]

Rows: 8000x6000 gray8 with the image sent (round trip, engine peak memory); a 256² request
sent 0.2 s after an 8000x6000 one from another client; 1024² with the image sent (overhead
= round trip minus the engine's `forward`); live updates (image sent once, then one more
hint per request, the client sending only the image id) at 1024² and 4096x2731 rgba8.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time

import numpy as np
from bench_engine import free_endpoint, peak_rss_mib, print_table

from chromahint_client import Client
from chromahint_client import protocol as P
from chromahint_client.launcher import is_running


def picture(w: int, h: int, fmt: str = "gray8", seed: int = 0) -> P.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    gray = 128 + 60 * np.sin(x / (w / 7) + seed) * np.cos(y / (h / 5)) + rng.normal(0, 4, (h, w))
    g8 = np.clip(gray, 0, 255).astype(np.uint8)
    if fmt == "gray8":
        return P.Image(w, h, fmt, g8.tobytes())
    rgba = np.empty((h, w, 4), np.uint8)
    rgba[..., :3] = g8[..., None]
    rgba[..., 3] = 255
    return P.Image(w, h, fmt, rgba.tobytes())


def hints(w: int, h: int, n: int, seed: int = 1) -> tuple[P.Point, ...]:
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(n):
        r, g, b = (float(c) for c in rng.integers(0, 256, 3))
        x, y = float(rng.uniform(0, w - 1)), float(rng.uniform(0, h - 1))
        points.append(P.Point(x, y, (r, g, b), max(1, w // 128)))
    return tuple(points)


def timed(c: Client, request: P.ColorizeRequest) -> tuple[float, P.ColorizeReply]:
    t0 = time.perf_counter()
    reply = c.colorize(request)
    return time.perf_counter() - t0, reply


def live(c: Client, image: P.Image, repeats: int) -> tuple[float, float]:
    """(median round trip, median forward) of hint changes after the image was sent once."""
    w, h = image.width, image.height
    c.colorize(P.ColorizeRequest(image, hints(w, h, 3)))  # sends the image; the id is known
    totals, forwards = [], []
    for i in range(repeats):
        # A fresh copy each time, as a plug-in reads the canvas again for each update.
        again = P.Image(w, h, image.format, bytes(bytearray(image.data)))
        seconds, reply = timed(c, P.ColorizeRequest(again, hints(w, h, 4 + i)))
        totals.append(seconds)
        forwards.append(reply.timing_ms["forward"] / 1e3)
    return statistics.median(totals), statistics.median(forwards)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    endpoint = free_endpoint()
    cmd = [sys.executable, "-m", "chromahint", "--log-level", "WARNING", "serve"]
    proc = subprocess.Popen([*cmd, "--endpoint", endpoint])
    rows: list[tuple[str, str, str]] = []
    try:
        deadline = time.monotonic() + 120
        while (info := is_running(endpoint)) is None:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("engine did not start")
        with Client(endpoint, timeout=600, retries=0) as c:
            big = [picture(8000, 6000, seed=s) for s in range(args.repeats)]
            totals = [timed(c, P.ColorizeRequest(img, hints(8000, 6000, 20)))[0] for img in big]
            peak = peak_rss_mib(proc.pid)
            rows.append(
                (
                    "8000x6000 gray8, image sent, 20 hints",
                    f"{statistics.median(totals):.2f} s; engine peak {peak:.0f} MiB",
                    "≤ 2 s; ≤ 1536 MiB",
                )
            )

            small, order, waits = picture(256, 256, seed=9), [], []
            for trial in range(3):

                def send_big(image=big[trial]) -> None:
                    with Client(endpoint, timeout=600, retries=0) as other:
                        other.colorize(P.ColorizeRequest(image, hints(8000, 6000, 5)))
                    order.append("big")

                thread = threading.Thread(target=send_big)
                thread.start()
                time.sleep(0.2)
                seconds, _ = timed(c, P.ColorizeRequest(small, hints(256, 256, 5)))
                order.append("small")
                waits.append(seconds)
                thread.join()
            first = all(order[i : i + 2] == ["small", "big"] for i in range(0, len(order), 2))
            rows.append(
                (
                    "256² sent 0.2 s after an 8000x6000 from another client",
                    f"{statistics.median(waits):.3f} s (worst {max(waits):.3f} s); "
                    f"answered first: {'all 3' if first else order}",
                    "≤ 0.5 s, first",
                )
            )

            sent, fwd = [], []
            for s in range(args.repeats):
                img = picture(1024, 1024, seed=100 + s)  # a new image each time: sent, decoded
                seconds, reply = timed(c, P.ColorizeRequest(img, hints(1024, 1024, 20)))
                sent.append(seconds)
                fwd.append(reply.timing_ms["forward"] / 1e3)
            total, forward = statistics.median(sent), statistics.median(fwd)
            share = 100 * (total - forward) / total
            rows.append(
                (
                    "1024² gray8, image sent, 20 hints",
                    f"{total * 1e3:.0f} ms, forward {forward * 1e3:.0f} ms, overhead {share:.0f} %",
                    "overhead ≤ 15 %",
                )
            )
            for w, h, fmt, goal in (
                (1024, 1024, "rgba8", "≤ 60 ms"),
                (4096, 2731, "rgba8", "≤ 0.40 s"),
            ):
                total, forward = live(c, picture(w, h, fmt, seed=200), args.repeats)
                rows.append(
                    (
                        f"live {w}x{h} {fmt}: image once, then one more hint per request",
                        f"{total * 1e3:.0f} ms (forward {forward * 1e3:.0f} ms)",
                        goal,
                    )
                )
    finally:
        proc.terminate()
        proc.wait(30)
    print_table(
        f"device {info.device}; {args.repeats} repeats, medians.",
        ("case", "measured", "goal"),
        rows,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
