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
from typing import Any, cast

import msgpack
import zmq
from zmq.auth.thread import ThreadAuthenticator

from chromahint_client import protocol as P
from chromahint_client.protocol import ErrorCode, Mode, ProtocolError

from . import __version__, lineart
from .imaging import Raster, decode
from .models.base import Colorizer, LineartModel
from .models.registry import Models, load_models
from .pipeline import Timer, colorize, predict, swatches_at
from .security import ServerKeys, allowed_keys, remote_endpoints
from .suggest import suggest_points

log = logging.getLogger("chromahint.engine")

POLL_MS = 200  # how often the loop checks for a shutdown signal


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


def rgba8_layer(raster: Raster, data: bytes) -> P.Image:
    return P.Image(raster.width, raster.height, "rgba8", data)


class Engine:
    """Serves typed requests: `handle` parses a frame into one, once, then runs its op."""

    def __init__(
        self,
        models: Models,
        device: str,
        limits: P.Limits | None = None,
    ) -> None:
        self.models = models
        self.device = device
        self.limits = limits or P.Limits()
        self.ops: dict[P.Op, Callable] = {
            P.Op.INFO: self.op_info,
            P.Op.COLORIZE: self.op_colorize,
            P.Op.SWATCHES: self.op_swatches,
            P.Op.REGIONS: self.op_regions,
            P.Op.SUGGEST_POINTS: self.op_suggest_points,
        }

    # -- operations ---------------------------------------------------------------------
    def op_info(self, _req: P.InfoRequest) -> P.InfoReply:
        return P.InfoReply(
            engine=f"chromahint {__version__}",
            protocol=P.VERSION,
            device=describe_device(self.device),
            models=self._model_infos(),
            ops=tuple(sorted(op.value for op in self.ops)),
            limits=self.limits,
            pid=os.getpid(),
        )

    def _model_infos(self) -> tuple[P.ModelInfo, ...]:
        out = []
        if (photo := self.models.photo) is not None:
            out.append(
                P.ModelInfo(
                    Mode.PHOTO.value,
                    photo.name,
                    photo.description,
                    photo.learned,
                    photo.working_size,
                )
            )
        if (art := self.models.lineart) is not None:
            out.append(
                P.ModelInfo(
                    Mode.LINEART.value,
                    art.name,
                    art.description,
                    art.learned,
                    art.working_size,
                    art.max_regions,
                )
            )
        return tuple(out)

    def _photo(self) -> Colorizer:
        if self.models.photo is None:
            raise ProtocolError(
                ErrorCode.UNSUPPORTED, "no photo model is installed in this engine (see 'info')"
            )
        return self.models.photo

    def _lineart(self) -> LineartModel:
        if self.models.lineart is None:
            raise ProtocolError(
                ErrorCode.UNSUPPORTED, "no lineart model is installed in this engine (see 'info')"
            )
        return self.models.lineart

    def op_colorize(self, req: P.ColorizeRequest) -> P.ColorizeReply:
        raster = decode(req.image)
        if req.mode is Mode.LINEART:
            model = self._lineart()
            labels = decode(req.labels).pixels[..., 0] if req.labels is not None else None
            region_rgb = {h.region: h.rgb for h in req.region_hints}
            timer = Timer()
            layer = lineart.colorize(model, raster, req.points, region_rgb, labels, timer)
            # Line art has no colour distribution to draw swatches from.
            rows = [[] for _ in req.points] if req.swatches else []
            return P.ColorizeReply(rgba8_layer(raster, layer), rows, timer.ms)
        result = colorize(self._photo(), raster, req.points, req.swatches, req.global_hints)
        return P.ColorizeReply(rgba8_layer(raster, result.layer), result.swatches, result.timing_ms)

    def op_regions(self, req: P.RegionsRequest) -> P.RegionsReply:
        model = self._lineart()
        raster = decode(req.image)
        if req.max_regions is not None and req.max_regions > model.max_regions:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST,
                f"'max_regions' must be between 1 and {model.max_regions}, got {req.max_regions}",
            )
        timer = Timer()
        labels, order = lineart.regions(model, raster, req.max_regions or model.max_regions, timer)
        image = P.Image(raster.width, raster.height, "gray16", labels.astype("<u2").tobytes())
        return P.RegionsReply(image, order, timer.ms)

    def op_suggest_points(self, req: P.SuggestPointsRequest) -> P.SuggestPointsReply:
        raster = decode(req.image)
        timer = Timer()
        prep = predict(self._photo(), raster, req.points, req.global_hints, timer)
        points = suggest_points(prep, req.k)
        timer.lap("suggest")
        return P.SuggestPointsReply(points, timer.ms)

    def op_swatches(self, req: P.SwatchesRequest) -> P.SwatchesReply:
        raster = decode(req.image)
        timer = Timer()
        prep = predict(self._photo(), raster, req.hints, req.global_hints, timer)
        rows = swatches_at(prep, [(p.x, p.y) for p in req.points], req.k)
        timer.lap("swatches")
        return P.SwatchesReply(rows, timer.ms)

    # -- dispatch -----------------------------------------------------------------------
    def handle(self, payload: bytes) -> dict:
        rid: Any = None
        try:
            if len(payload) > self.limits.max_message_bytes:
                raise ProtocolError(
                    ErrorCode.TOO_LARGE,
                    f"the request is {len(payload)} bytes; this engine accepts at most "
                    f"{self.limits.max_message_bytes}",
                )
            try:
                req = msgpack.unpackb(payload, raw=False, strict_map_key=False)
            except Exception as e:
                raise ProtocolError(
                    ErrorCode.BAD_REQUEST, f"the request is not one valid msgpack map ({e})"
                ) from None
            if isinstance(req, dict):
                rid = req.get("id")
            rid, op = P.parse_envelope(req)
            request = P.parse_request(req, op, self.limits)
            return P.reply_map(self.ops[request.op](request), rid)
        except ProtocolError as e:
            return error_reply(rid, e.code, e.message)
        except MemoryError:
            return error_reply(
                rid, ErrorCode.TOO_LARGE, "the engine ran out of memory for this request"
            )
        except Exception as e:  # the engine keeps serving whatever a request does
            log.error("internal error: %s", traceback.format_exc())
            return error_reply(
                rid, ErrorCode.INTERNAL, f"internal engine error: {type(e).__name__}: {e}"
            )


def error_reply(rid: Any, code: ErrorCode, message: str) -> dict:
    return P.error_map(_safe_id(rid), code, message)


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


class InsecureEndpoint(ValueError):
    """An endpoint other machines can reach, asked for without CURVE keys."""


def check_endpoints(endpoints: Sequence[str], keys: ServerKeys | None) -> None:
    """Refuse, before anything is bound, to serve a non-loopback endpoint without CURVE."""
    remote = remote_endpoints(endpoints)
    if remote and keys is None:
        raise InsecureEndpoint(
            f"{', '.join(remote)} can be reached from other machines; the engine serves such "
            "endpoints only with CURVE keys (make them with 'chromahint keys server' and "
            "'chromahint keys client NAME'; see docs/security.md)"
        )


def start_authenticator(ctx: zmq.Context, keys: ServerKeys) -> ThreadAuthenticator:
    """ZeroMQ's ZAP handler, accepting the CURVE client keys in the allow folder."""
    auth = ThreadAuthenticator(ctx, log=logging.getLogger("chromahint.engine.auth"))
    auth.start()
    load_allowed(auth, keys)
    return auth


def load_allowed(auth: ThreadAuthenticator, keys: ServerKeys) -> None:
    auth.configure_curve(domain="*", location=str(keys.allow_dir))
    n = len(allowed_keys(keys.allow_dir))
    if n:
        log.info("CURVE: %d client key(s) allowed from %s", n, keys.allow_dir)
    else:
        log.warning(
            "CURVE: no client keys in %s, so no client can connect "
            "(add one with 'chromahint keys client NAME')",
            keys.allow_dir,
        )


def make_socket(ctx: zmq.Context, engine: Engine, keys: ServerKeys | None) -> zmq.Socket:
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    # Frames far beyond the limit are dropped by ZeroMQ itself; those just over it still
    # arrive so the sender gets a readable error.
    sock.setsockopt(zmq.MAXMSGSIZE, 2 * engine.limits.max_message_bytes)
    if keys is not None:
        # Set before binding: CURVE then applies to every endpoint of this socket, loopback
        # and ipc:// included.
        sock.curve_secretkey = keys.secret
        sock.curve_publickey = keys.public
        sock.curve_server = True
    return sock


def serve(
    engine: Engine,
    endpoints: Sequence[str],
    stop: Callable[[], bool] | None = None,
    keys: ServerKeys | None = None,
) -> None:
    """Serve on every endpoint until SIGINT/SIGTERM (or `stop()`). With `keys` the socket is
    a CURVE server for all its endpoints and accepts only the client keys in the allow
    folder (SIGHUP reloads it); without, only loopback and ipc:// endpoints are allowed."""
    check_endpoints(endpoints, keys)
    ctx = zmq.Context.instance()
    auth = start_authenticator(ctx, keys) if keys is not None else None
    sock = make_socket(ctx, engine, keys)
    ipc_paths = []
    try:
        for ep in endpoints:
            sock.bind(ep)
            if ep.startswith("ipc://"):
                ipc_paths.append(ep[len("ipc://") :])
    except BaseException:
        sock.close(0)
        if auth is not None:
            auth.stop()
        raise
    stopping = {"flag": False, "reload": False}

    def on_signal(signum, _frame):
        log.info("signal %s: shutting down", signal.Signals(signum).name)
        stopping["flag"] = True

    def on_hangup(_signum, _frame):
        stopping["reload"] = True

    old = {}
    if threading.current_thread() is threading.main_thread():
        old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        if auth is not None and hasattr(signal, "SIGHUP"):
            old[signal.SIGHUP] = signal.signal(signal.SIGHUP, on_hangup)
    security = " (CURVE: clients need a key in the allow folder)" if keys is not None else ""
    log.info("listening on %s%s", ", ".join(endpoints), security)
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    try:
        while not stopping["flag"] and not (stop and stop()):
            if stopping["reload"] and auth is not None and keys is not None:
                stopping["reload"] = False
                log.info("SIGHUP: reloading %s", keys.allow_dir)
                load_allowed(auth, keys)
            if not poller.poll(POLL_MS):
                continue
            frames = sock.recv_multipart(copy=True)
            envelope, body = split_envelope(frames)
            t0 = time.perf_counter()
            if len(body) != 1:
                reply = error_reply(
                    None, ErrorCode.BAD_REQUEST, f"a request is one frame; got {len(body)} frames"
                )
            else:
                reply = engine.handle(body[0])
            op_ms = (time.perf_counter() - t0) * 1e3
            # packb returns bytes (pyright infers Optional from the pure-Python fallback).
            packed = cast(bytes, msgpack.packb(reply, use_bin_type=True))
            sock.send_multipart(envelope + [packed])
            log.debug("reply ok=%s in %.1f ms", reply["ok"], op_ms)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        sock.close(0)
        if auth is not None:
            auth.stop()
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
