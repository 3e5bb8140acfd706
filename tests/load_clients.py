"""Many real clients at once: mixed requests whose replies prove they reached the right client.

Client c's k-th request carries an image of a size no other request has: (48 + c) x (32 + k)
pixels, times 1, 2 or 4 ("colorize of different sizes"), so a reply delivered to the wrong
client, or answering the wrong request, has the wrong layer size, the wrong number of
swatch rows, or the wrong labels size, and is counted as misrouted. Used by
tests/test_load_faults.py, tests/test_studio.py and bench/bench_load.py.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from chromahint_client import Client, EngineError
from chromahint_client import protocol as P

OPS = ("colorize", "colorize", "swatches", "regions", "info")  # colorize twice as often


@dataclass
class Outcome:
    client: int
    index: int
    op: str
    seconds: float
    ok: bool
    misrouted: bool = False
    error: str = ""


@dataclass
class LoadReport:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def answered(self) -> int:
        return sum(o.ok for o in self.outcomes)

    @property
    def misrouted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.misrouted]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.ok]

    def latencies(self) -> dict[str, list[float]]:
        out: dict[str, list[float]] = defaultdict(list)
        for o in self.outcomes:
            if o.ok:
                out[o.op].append(o.seconds)
        return dict(out)

    def percentiles(self) -> dict[str, dict[str, float]]:
        """op -> {n, p50, p95, p99} in milliseconds (answered requests only)."""
        table = {}
        for op, secs in sorted(self.latencies().items()):
            ms = np.array(secs) * 1e3
            table[op] = {
                "n": len(ms),
                **{f"p{q}": float(np.percentile(ms, q)) for q in (50, 95, 99)},
            }
        return table


def gray_image(w: int, h: int, seed: int) -> P.Image:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(40, 220, w)[None, :] + rng.normal(0, 6, (h, w))
    return P.Image(w, h, "gray8", np.clip(ramp, 0, 255).astype(np.uint8).tobytes())


def request_for(c: int, k: int, rng: random.Random) -> tuple[str, P.Request | None, tuple]:
    """(op, typed request, what the reply must show) for client c's k-th request."""
    op = rng.choice(OPS)
    scale = rng.choice((1, 2, 4))
    w, h = (48 + c) * scale, (32 + k) * scale
    if op == "info":
        return op, None, ()
    image = gray_image(w, h, c * 1000 + k)
    n = 1 + (c + k) % 5
    points = tuple(
        P.Point(rng.uniform(0, w - 1), rng.uniform(0, h - 1), (rng.randrange(256),) * 3)
        for _ in range(n)
    )
    if op == "colorize":
        return op, P.ColorizeRequest(image, points, swatches=0), (w, h)
    if op == "swatches":
        spots = tuple(P.Spot(p.x, p.y) for p in points)
        return op, P.SwatchesRequest(image, spots, 3), (n,)
    return op, P.RegionsRequest(image), (w, h)


def reply_fits(op: str, reply: object, expect: tuple) -> bool:
    if op == "colorize":
        assert isinstance(reply, P.ColorizeReply)
        return (reply.layer.width, reply.layer.height) == expect
    if op == "swatches":
        assert isinstance(reply, P.SwatchesReply)
        return len(reply.swatches) == expect[0]
    if op == "regions":
        assert isinstance(reply, P.RegionsReply)
        return (reply.labels.width, reply.labels.height) == expect
    return isinstance(reply, P.InfoReply)


def one_client(
    endpoint: str,
    c: int,
    n: int,
    timeout: float,
    retries: int,
    out: list[Outcome],
    lock: threading.Lock,
    stop: threading.Event | None = None,
) -> None:
    rng = random.Random(c)
    with Client(endpoint, timeout=timeout, retries=retries) as client:
        for k in range(n):
            if stop is not None and stop.is_set():
                return
            op, request, expect = request_for(c, k, rng)
            t0 = time.perf_counter()
            try:
                reply = client.info() if request is None else client.call(request)
            except EngineError as e:
                result = Outcome(c, k, op, time.perf_counter() - t0, False, error=str(e))
            else:
                try:
                    fits = reply_fits(op, reply, expect)
                except AssertionError:  # a reply of another op's type
                    fits = False
                result = Outcome(c, k, op, time.perf_counter() - t0, fits, misrouted=not fits)
            with lock:
                out.append(result)


def run_load(
    endpoint: str,
    clients: int = 8,
    per_client: int = 200,
    timeout: float = 60.0,
    retries: int = 2,
    during: list | None = None,
) -> LoadReport:
    """Run `clients` threads, each with its own Client, `per_client` requests each. `during`:
    callables run in this thread while the load runs (fault injection), in order."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    threads = [
        threading.Thread(
            target=one_client,
            args=(endpoint, c, per_client, timeout, retries, outcomes, lock),
            name=f"load-client-{c}",
        )
        for c in range(clients)
    ]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for action in during or []:
        action(outcomes)
    for t in threads:
        t.join()
    return LoadReport(sorted(outcomes, key=lambda o: (o.client, o.index)), time.perf_counter() - t0)


def wait_answered(outcomes: list[Outcome], count: int, timeout: float = 600.0) -> None:
    """Block until `count` requests have an outcome (the load is well under way)."""
    deadline = time.monotonic() + timeout
    while len(outcomes) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(outcomes)} of {count} requests answered in time")
        time.sleep(0.05)
