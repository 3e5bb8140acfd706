"""Property-based fuzzing of one real engine: whatever arrives, exactly one well-formed reply.

One engine process with small limits (so each case is cheap) on a free loopback port; the
strategies in fuzz_frames.py. For every case: exactly one reply, a msgpack map with `v` 1,
`ok`, the request's `id` echoed (nil when the frame was not a request at all), on error a
documented code (never `internal`) with a message, on success a reply its protocol type
parses; the code the protocol types predict for that frame; the next `info` is answered;
memory stays bounded. A case the engine does not answer fails with that case.

CI tier (marker `engine`): 2,150 cases, deterministic. Long tier: CHROMAHINT_FUZZ_LONG=1
runs 100,000 (or CHROMAHINT_FUZZ_CASES; seeded by CHROMAHINT_FUZZ_SEED, else at random)
and writes artifacts/fuzz-long.json (cases, failures, seconds, seed).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fuzz_frames as F
import msgpack
import pytest
import zmq
from conftest import REPO, EngineProcess, launch_engine
from hypothesis import HealthCheck, given, seed, settings

from chromahint_client import protocol as P

pytestmark = pytest.mark.engine

LONG = os.environ.get("CHROMAHINT_FUZZ_LONG") == "1"
LONG_CASES = int(os.environ.get("CHROMAHINT_FUZZ_CASES") or 100_000)
SEED = int(os.environ.get("CHROMAHINT_FUZZ_SEED") or random.randrange(1 << 32))
REPORT = REPO / "artifacts" / "fuzz-long.json"
CODES = {c.value for c in P.ErrorCode}
ANY_ERROR = "any documented code but internal"
REPLY_TIMEOUT_MS = 30_000
RSS_GROWTH_MIB = 300
# Cases per generator in the CI tier; the long tier scales them all up to LONG_CASES.
CASES = {
    "random_values": 600,
    "mutated_requests": 700,
    "damaged_frames": 400,
    "deep_nesting": 100,
    "huge_sizes": 150,
    "multi_frame": 150,
    "valid_edges": 50,
}


def unknown_image(image_id: str) -> P.Image:
    """The engine's cache, as a fuzzed request sees it: no fuzzed id names an image it sent."""
    raise P.ProtocolError(P.ErrorCode.UNKNOWN_IMAGE, f"no image {image_id!r}")


class EngineLost(BaseException):
    """The engine did not answer: stop at once (not an Exception, so hypothesis does not
    shrink it against an engine that may be gone) and name the case."""


@dataclass
class Expect:
    code: str | None  # the error code the protocol types predict; None: a success reply
    rid: Any = None  # the id the reply must carry
    request: P.Request | None = None


def packed(value: Any) -> bytes | None:
    try:
        return msgpack.packb(value, use_bin_type=True)
    except Exception:
        return None


class Harness:
    """One engine, a REQ and a DEALER socket to it, and what every case saw."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.ctx = zmq.Context.instance()
        self.cases: Counter[str] = Counter()
        self.oks: Counter[str] = Counter()
        self.codes: dict[str, Counter[str]] = {g: Counter() for g in CASES}
        self.seconds: dict[str, float] = {}
        self.failures: list[dict[str, str]] = []
        self.nonce = 1 << 40
        self.restarts = 0
        self.start()

    # -- the engine and the sockets ---------------------------------------------------------
    def start(self) -> None:
        lim = F.LIMITS
        self.engine: EngineProcess = launch_engine(
            self.tmp,
            *("--max-pixels", str(lim.max_pixels), "--max-points", str(lim.max_points)),
            *("--max-message-bytes", str(lim.max_message_bytes), "--cache-mb", str(lim.cache_mb)),
        )
        self.connect()
        info = P.InfoReply.from_map(self.call(P.request_map(P.InfoRequest(), 1)))
        assert info.pid == self.engine.proc.pid and info.limits == lim
        art = info.model(P.Mode.LINEART)
        self.max_regions = art.max_regions if art and art.max_regions else 8
        # One of each op first: the models' first allocations are not growth.
        image = P.Image(8, 8, "gray8", bytes(range(0, 256, 4)))
        hint = P.Point(2.0, 2.0, (200.0, 40.0, 30.0), 2)
        for req in (
            P.ColorizeRequest(image, (hint,), swatches=3),
            P.ColorizeRequest(image, (hint,), P.Mode.LINEART),
            P.SwatchesRequest(image, (P.Spot(4.0, 4.0),), 5, (hint,)),
            P.SuggestPointsRequest(image, (hint,), 5),
            P.RegionsRequest(image),
        ):
            assert self.call(P.request_map(req, 2))["ok"] is True
        self.baseline_mib = self.rss_mib()

    def connect(self) -> None:
        for name in ("req", "dealer"):
            old = getattr(self, name, None)
            if old is not None:
                old.close(0)
            sock = self.ctx.socket(zmq.REQ if name == "req" else zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.SNDTIMEO, 5_000)
            sock.connect(self.engine.endpoint)
            setattr(self, name, sock)

    def close(self) -> None:
        self.req.close(0)
        self.dealer.close(0)
        self.engine.stop()

    def call(self, message: dict) -> dict:
        self.req.send(msgpack.packb(message, use_bin_type=True))
        assert self.req.poll(REPLY_TIMEOUT_MS), "the engine did not answer"
        return msgpack.unpackb(self.req.recv(), raw=False, strict_map_key=False)

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.engine.proc.pid}/status").read_text()
        kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
        return kib / 1024

    def log_tail(self, chars: int = 3000) -> str:
        return self.engine.log.read_text(errors="replace")[-chars:]

    # -- one case ------------------------------------------------------------------------------
    def check(self, gen: str, case: F.Case) -> None:
        self.cases[gen] += 1
        expect = self.expect(case)
        frames = self.exchange(case)
        if frames is None:
            self.lost(case, f"no reply within {REPLY_TIMEOUT_MS / 1000:g} s")
        head, _ = self.split(case)
        assert frames is not None and len(frames) == len(head) + 1 and frames[:-1] == head, (
            f"expected one reply frame after {head}, got {len(frames or [])} frames\n{case!r}"
        )
        try:
            reply = msgpack.unpackb(frames[-1], raw=False, strict_map_key=False)
        except Exception as e:
            raise AssertionError(f"the reply is not msgpack ({e})\n{case!r}") from None
        problem = self.judge(expect, reply)
        assert problem is None, f"{problem}\n{case!r}\nreply: {str(reply)[:400]}\n{self.log_tail()}"
        if reply["ok"]:
            self.oks[gen] += 1
        else:
            self.codes[gen][reply["error"]["code"]] += 1
        self.still_serving(case)

    def split(self, case: F.Case) -> tuple[list[bytes], tuple[bytes, ...]]:
        """(the frames before the reply, the body frames the engine sees). The engine's
        envelope ends at the first empty frame (a broker puts its identity before the
        client's): REQ and our DEALER send that delimiter first; a raw DEALER's frames up to
        its first empty one, if any, are routing frames and come back before the reply."""
        if case.via == "req":
            return [], case.frames  # REQ strips the envelope off the reply
        if case.via == "dealer":
            return [b""], case.frames
        if b"" in case.frames:
            k = case.frames.index(b"")
            return list(case.frames[: k + 1]), case.frames[k + 1 :]
        return [], case.frames

    def expect(self, case: F.Case) -> Expect:
        _, body = self.split(case)
        if len(body) != 1:
            return Expect("bad_request")
        if len(body[0]) > F.LIMITS.max_message_bytes:
            return Expect("too_large")
        try:
            req = msgpack.unpackb(body[0], raw=False, strict_map_key=False)
        except Exception:
            return Expect("bad_request")
        if not isinstance(req, dict):
            return Expect("bad_request")
        rid = req.get("id") if packed(req.get("id")) is not None else None
        v = req.get("v")
        if isinstance(v, bool) or not isinstance(v, int) or v != P.VERSION:
            return Expect("version", rid)
        try:
            _, op = P.parse_envelope(req)
            request = P.parse_request(req, op, F.LIMITS, unknown_image)
        except P.ProtocolError as e:
            return Expect(e.code.value, rid)
        except Exception:  # the types themselves failed: the engine must still not crash
            return Expect(ANY_ERROR, rid)
        if isinstance(request, P.RegionsRequest) and (request.max_regions or 0) > self.max_regions:
            return Expect("bad_request", rid)
        return Expect(None, rid, request)

    def judge(self, expect: Expect, reply: Any) -> str | None:
        if not isinstance(reply, dict):
            return f"the reply is a {type(reply).__name__}, not a map"
        if reply.get("v") != P.VERSION or not isinstance(reply.get("ok"), bool):
            return "the reply lacks 'v': 1 or a boolean 'ok'"
        if packed(reply.get("id")) != packed(expect.rid):
            return f"the reply's id is {str(reply.get('id'))[:80]}, not {str(expect.rid)[:80]}"
        if not reply["ok"]:
            err = reply.get("error")
            code = err.get("code") if isinstance(err, dict) else None
            message = err.get("message") if isinstance(err, dict) else None
            if code not in CODES or not isinstance(message, str) or not message.strip():
                return f"the error {str(err)[:200]} has no documented code and message"
            if code == "internal":
                return f"an internal error: {message[:300]}"
            if expect.code is None:
                return f"a valid request got {code}: {message[:300]}"
            if expect.code not in (code, ANY_ERROR):
                return f"expected {expect.code}, got {code}: {message[:300]}"
            return None
        if expect.code is not None:
            return f"expected the error {expect.code}, got a success reply"
        return self.judge_success(expect.request, reply)

    def judge_success(self, request: P.Request | None, reply: dict) -> str | None:
        assert request is not None
        try:
            typed = P.REPLIES[request.op].from_map(reply)
        except Exception as e:
            return f"the {request.op} reply does not parse: {e}"
        image = getattr(request, "image", None)
        if isinstance(typed, P.ColorizeReply) and image is not None:
            layer = typed.layer
            if (layer.width, layer.height, layer.format) != (image.width, image.height, "rgba8"):
                return f"the layer is {layer.width}x{layer.height} {layer.format}"
        if isinstance(typed, P.SwatchesReply) and isinstance(request, P.SwatchesRequest):
            if len(typed.swatches) != len(request.points):
                return f"{len(typed.swatches)} swatch rows for {len(request.points)} points"
        if isinstance(typed, P.RegionsReply) and image is not None:
            if (typed.labels.width, typed.labels.height) != (image.width, image.height):
                return "the labels are not the image's size"
        return None

    def exchange(self, case: F.Case) -> list[bytes] | None:
        if case.via == "req":
            sock, frames = self.req, list(case.frames)
        else:
            sock = self.dealer
            frames = ([b""] if case.via == "dealer" else []) + list(case.frames)
        sock.send_multipart(frames)
        if not sock.poll(REPLY_TIMEOUT_MS):
            return None
        return sock.recv_multipart()

    def still_serving(self, case: F.Case) -> None:
        self.nonce += 1
        self.req.send(msgpack.packb({"v": 1, "op": "info", "id": self.nonce}))
        if not self.req.poll(REPLY_TIMEOUT_MS):
            self.lost(case, "the next 'info' got no reply")
        reply = msgpack.unpackb(self.req.recv(), raw=False, strict_map_key=False)
        assert reply.get("ok") is True and reply.get("id") == self.nonce, (
            f"the 'info' after the case got {str(reply)[:300]}\n{case!r}"
        )
        if case.via != "req" and self.dealer.poll(10):
            raise AssertionError(f"a second reply: {self.dealer.recv_multipart()!r}\n{case!r}")

    def lost(self, case: F.Case, what: str) -> None:
        """New sockets; a new engine if this one died or hangs; then stop with the case."""
        self.connect()
        alive = self.engine.proc.poll() is None
        answers = False
        if alive:
            self.req.send(msgpack.packb({"v": 1, "op": "info", "id": 0}))
            answers = bool(self.req.poll(REPLY_TIMEOUT_MS))
        log = self.log_tail()
        if not answers:
            state = "hangs" if alive else f"exited with {self.engine.proc.returncode}"
            self.engine.stop()
            self.restarts += 1
            self.start()
        else:
            self.connect()
            state = "answers new sockets"
        raise EngineLost(f"{what}; the engine {state}\n{case!r}\n{log}")

    def memory_growth_mib(self) -> float:
        return self.rss_mib() - self.baseline_mib

    def report(self) -> dict:
        return {
            "cases": sum(self.cases.values()),
            "failures": self.failures,
            "seconds": round(sum(self.seconds.values()), 1),
            "seed": SEED if LONG else "derandomized",
            "rss_growth_mib": round(self.memory_growth_mib(), 1),
            "engine_restarts": self.restarts,
            "generators": {
                g: {
                    "cases": self.cases[g],
                    "ok_replies": self.oks[g],
                    "error_codes": dict(self.codes[g]),
                    "seconds": round(self.seconds.get(g, 0.0), 1),
                }
                for g in CASES
            },
        }


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    h = Harness(tmp_path_factory.mktemp("fuzz"))
    yield h
    summary = h.report()
    print(json.dumps(summary, indent=1))
    if LONG:
        REPORT.parent.mkdir(exist_ok=True)
        REPORT.write_text(json.dumps(summary, indent=1) + "\n")
    h.close()


def fuzz(harness: Harness, gen: str, strategy) -> None:
    n = CASES[gen] if not LONG else math.ceil(CASES[gen] * LONG_CASES / sum(CASES.values()))

    @settings(
        max_examples=n,
        deadline=None,
        derandomize=not LONG,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(case: F.Case) -> None:
        harness.check(gen, case)

    if LONG:
        run = seed(SEED)(run)
    t0 = time.monotonic()
    try:
        run()
    except EngineLost as e:
        harness.failures.append({"generator": gen, "failure": str(e)[:2000]})
        pytest.fail(str(e), pytrace=False)
    except BaseException as e:
        harness.failures.append({"generator": gen, "failure": str(e)[:2000]})
        raise
    finally:
        harness.seconds[gen] = time.monotonic() - t0
    growth = harness.memory_growth_mib()
    assert growth < RSS_GROWTH_MIB, f"the engine grew by {growth:.0f} MiB after {gen}"


def test_random_msgpack_values(harness):
    fuzz(harness, "random_values", F.random_values())


def test_mutated_valid_requests(harness):
    fuzz(harness, "mutated_requests", F.mutated_requests(harness.max_regions))


def test_truncated_and_bit_flipped_frames(harness):
    fuzz(harness, "damaged_frames", F.damaged_frames(harness.max_regions))


def test_deep_nesting(harness):
    fuzz(harness, "deep_nesting", F.deep_frames())


def test_huge_declared_sizes(harness):
    fuzz(harness, "huge_sizes", F.huge_frames())


def test_multi_frame_messages(harness):
    fuzz(harness, "multi_frame", F.multi_frames())


def test_valid_requests_at_the_edges(harness):
    fuzz(harness, "valid_edges", F.valid_requests(harness.max_regions))
