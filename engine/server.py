"""The resident engine: one ROUTER socket, one msgpack map per request and per reply.

Requests are served one at a time, in arrival order; the engine keeps no per-client
state, so a client that reconnects after a restart simply asks again.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import msgpack
import zmq

from . import __version__, lineart
from . import protocol as P
from .models.base import Colorizer
from .models.registry import load_models
from .pipeline import Timer, colorize, predict, swatches_at
from .suggest import suggest_points

log = logging.getLogger("chromahint.engine")

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5557"
POLL_MS = 200  # how often the loop checks for a shutdown signal

GLOBAL_FIELDS = frozenset({"mode", "palette", "saturation"})
COLORIZE_FIELDS = GLOBAL_FIELDS | {"image", "points", "swatches"}
LINEART_FIELDS = frozenset({"image", "points", "mode", "swatches", "region_hints", "labels"})
SWATCHES_FIELDS = GLOBAL_FIELDS | {"image", "points", "k", "hints"}
SUGGEST_FIELDS = GLOBAL_FIELDS | {"image", "points", "k"}
REGIONS_FIELDS = frozenset({"image", "max_regions"})
MAX_SUGGESTIONS = 64


def pick_device(requested: str = "auto") -> str:
    if requested != "auto":
        return requested
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def describe_device(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return f"{device} ({torch.cuda.get_device_name(0)})"
    return "cpu"


class Engine:
    def __init__(
        self,
        models: dict[str, Colorizer],
        device: str,
        limits: P.Limits | None = None,
    ) -> None:
        self.models = models
        self.device = device
        self.limits = limits or P.Limits()
        self.ops: dict[str, Callable[[dict], dict]] = {
            "info": self.op_info,
            "colorize": self.op_colorize,
            "swatches": self.op_swatches,
            "regions": self.op_regions,
            "suggest_points": self.op_suggest_points,
        }

    # -- operations ---------------------------------------------------------------------
    def op_info(self, req: dict) -> dict:
        P.check_fields(req, "info", frozenset())
        return {
            "engine": f"chromahint {__version__}",
            "protocol": P.VERSION,
            "device": describe_device(self.device),
            "models": [
                {
                    "mode": mode,
                    "name": m.name,
                    "description": m.description,
                    "learned": m.learned,
                    "working_size": m.working_size,
                    **({"max_regions": m.max_regions} if hasattr(m, "max_regions") else {}),
                }
                for mode, m in self.models.items()
            ],
            "ops": sorted(self.ops),
            "limits": self.limits.as_dict(),
            "pid": os.getpid(),
        }

    def _model(self, req: dict) -> Colorizer:
        mode = req.get("mode", "photo")
        if not isinstance(mode, str):
            raise P.ProtocolError(P.BAD_REQUEST, "'mode' must be 'photo' or 'lineart'")
        if mode not in ("photo", "lineart"):
            raise P.ProtocolError(P.UNSUPPORTED, f"unknown mode {mode!r}; use 'photo' or 'lineart'")
        if mode not in self.models:
            raise P.ProtocolError(
                P.UNSUPPORTED, f"no {mode} model is installed in this engine (see 'info')"
            )
        return self.models[mode]

    def op_colorize(self, req: dict) -> dict:
        if req.get("mode") == "lineart":
            return self._colorize_lineart(req)
        P.check_fields(req, "colorize", COLORIZE_FIELDS)
        model = self._model(req)
        raster = P.parse_image(req.get("image"), self.limits)
        points = P.parse_points(req.get("points"), raster, self.limits)
        k = P.parse_k(req.get("swatches"), "swatches")
        result = colorize(model, raster, points, k, P.parse_global_hints(req))
        layer = {"width": raster.width, "height": raster.height, "format": "rgba8"}
        layer["data"] = result.layer
        return {"layer": layer, "swatches": result.swatches, "timing_ms": result.timing_ms}

    def _colorize_lineart(self, req: dict) -> dict:
        P.check_fields(req, "colorize", LINEART_FIELDS)
        model = self._model(req)
        raster = P.parse_image(req.get("image"), self.limits)
        points = P.parse_points(req.get("points"), raster, self.limits)
        k = P.parse_k(req.get("swatches"), "swatches")
        region_rgb = P.parse_region_hints(req.get("region_hints"), self.limits)
        labels = None
        if req.get("labels") is not None:
            labels = P.parse_labels(req["labels"], raster, self.limits)
        timer = Timer()
        layer = lineart.colorize(model, raster, points, region_rgb, labels, timer)
        data = {"width": raster.width, "height": raster.height, "format": "rgba8", "data": layer}
        # Line art has no colour distribution to draw swatches from.
        return {"layer": data, "swatches": [[] for _ in points] if k else [], "timing_ms": timer.ms}

    def op_regions(self, req: dict) -> dict:
        P.check_fields(req, "regions", REGIONS_FIELDS)
        model = self._model({"mode": "lineart"})
        raster = P.parse_image(req.get("image"), self.limits)
        max_regions = P.parse_count(
            req.get("max_regions"), "max_regions", model.max_regions, default=model.max_regions
        )
        timer = Timer()
        labels, order = lineart.regions(model, raster, max_regions, timer)
        image = {"width": raster.width, "height": raster.height, "format": "gray16"}
        image["data"] = labels.astype("<u2").tobytes()
        return {"labels": image, "order": order, "timing_ms": timer.ms}

    def op_suggest_points(self, req: dict) -> dict:
        P.check_fields(req, "suggest_points", SUGGEST_FIELDS)
        if req.get("mode", "photo") != "photo":
            raise P.ProtocolError(
                P.UNSUPPORTED, "suggest_points is for photos; for line art use 'regions'"
            )
        model = self._model(req)
        raster = P.parse_image(req.get("image"), self.limits)
        hints = P.parse_points(req.get("points"), raster, self.limits)
        k = P.parse_count(req.get("k"), "k", MAX_SUGGESTIONS, default=5)
        timer = Timer()
        prep = predict(model, raster, hints, P.parse_global_hints(req), timer)
        points = suggest_points(prep, k)
        timer.lap("suggest")
        return {"points": points, "timing_ms": timer.ms}

    def op_swatches(self, req: dict) -> dict:
        P.check_fields(req, "swatches", SWATCHES_FIELDS)
        if req.get("mode") == "lineart":
            raise P.ProtocolError(
                P.UNSUPPORTED, "line art has no colour distribution; swatches are for photos"
            )
        model = self._model(req)
        raster = P.parse_image(req.get("image"), self.limits)
        where = P.parse_points(req.get("points"), raster, self.limits, with_rgb=False)
        hints = P.parse_points(req.get("hints"), raster, self.limits, name="hints")
        k = P.parse_k(req.get("k"), "k", default=5)
        timer = Timer()
        prep = predict(model, raster, hints, P.parse_global_hints(req), timer)
        sw = swatches_at(prep, [(p.x, p.y) for p in where], k)
        timer.lap("swatches")
        return {"swatches": sw, "timing_ms": timer.ms}

    # -- dispatch -----------------------------------------------------------------------
    def handle(self, payload: bytes) -> dict:
        rid: Any = None
        try:
            if len(payload) > self.limits.max_message_bytes:
                raise P.ProtocolError(
                    P.TOO_LARGE,
                    f"the request is {len(payload)} bytes; this engine accepts at most "
                    f"{self.limits.max_message_bytes}",
                )
            try:
                req = msgpack.unpackb(payload, raw=False, strict_map_key=False)
            except Exception as e:
                raise P.ProtocolError(
                    P.BAD_REQUEST, f"the request is not one valid msgpack map ({e})"
                ) from None
            if isinstance(req, dict):
                rid = req.get("id")
            rid, op = P.parse_envelope(req)
            handler = self.ops.get(op)
            if handler is None:
                raise P.ProtocolError(
                    P.UNSUPPORTED,
                    f"unknown operation {op!r}; this engine supports {', '.join(sorted(self.ops))}",
                )
            body = handler(req)
            return {"v": P.VERSION, "id": rid, "ok": True, **body}
        except P.ProtocolError as e:
            return error_reply(rid, e.code, e.message)
        except MemoryError:
            return error_reply(rid, P.TOO_LARGE, "the engine ran out of memory for this request")
        except Exception as e:  # the engine keeps serving whatever a request does
            log.error("internal error: %s", traceback.format_exc())
            return error_reply(rid, P.INTERNAL, f"internal engine error: {type(e).__name__}: {e}")


def error_reply(rid: Any, code: str, message: str) -> dict:
    return {
        "v": P.VERSION,
        "id": _safe_id(rid),
        "ok": False,
        "error": {"code": code, "message": message},
    }


def _safe_id(rid: Any) -> Any:
    """Echo the id unless it cannot be packed back (it came from msgpack, so it almost can)."""
    try:
        msgpack.packb(rid, use_bin_type=True)
        return rid
    except Exception:
        return None


def split_envelope(frames: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    """ROUTER frames -> (routing envelope incl. empty delimiter if any, body frames)."""
    if len(frames) >= 2 and frames[1] == b"":
        return frames[:2], frames[2:]
    return frames[:1], frames[1:]


def serve(engine: Engine, endpoints: Sequence[str], stop: Callable[[], bool] | None = None) -> None:
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    # Frames far beyond the limit are dropped by ZeroMQ itself; those just over it still
    # arrive so the sender gets a readable error.
    sock.setsockopt(zmq.MAXMSGSIZE, 2 * engine.limits.max_message_bytes)
    ipc_paths = []
    for ep in endpoints:
        sock.bind(ep)
        if ep.startswith("ipc://"):
            ipc_paths.append(ep[len("ipc://") :])
    stopping = {"flag": False}

    def on_signal(signum, _frame):
        log.info("signal %s: shutting down", signal.Signals(signum).name)
        stopping["flag"] = True

    old = {}
    if threading.current_thread() is threading.main_thread():
        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    log.info("listening on %s", ", ".join(endpoints))
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    try:
        while not stopping["flag"] and not (stop and stop()):
            if not poller.poll(POLL_MS):
                continue
            frames = sock.recv_multipart(copy=True)
            envelope, body = split_envelope(frames)
            t0 = time.perf_counter()
            if len(body) != 1:
                reply = error_reply(
                    None, P.BAD_REQUEST, f"a request is one frame; got {len(body)} frames"
                )
            else:
                reply = engine.handle(body[0])
            op_ms = (time.perf_counter() - t0) * 1e3
            sock.send_multipart(envelope + [msgpack.packb(reply, use_bin_type=True)])
            log.debug("reply ok=%s in %.1f ms", reply["ok"], op_ms)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        sock.close(0)
        for path in ipc_paths:
            try:
                os.unlink(path)
            except OSError:
                pass
        log.info("engine stopped")


def build_engine(device: str = "auto", limits: P.Limits | None = None) -> Engine:
    dev = pick_device(device)
    models = load_models(dev)
    return Engine(models, dev, limits)
