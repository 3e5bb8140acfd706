"""The engine's operations: one msgpack map per request in, one per reply out.

The sockets and the serving loop are in serving.py. The engine keeps no per-client state, so
a client that reconnects after a restart (or to another engine) simply asks again.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any

import msgpack

from chromahint_client import protocol as P
from chromahint_client.protocol import ErrorCode, Mode, ProtocolError

from . import __version__, lineart, memory
from .imaging import Raster, decode
from .models.base import Colorizer, LineartModel
from .models.registry import Models, load_models
from .pipeline import Timer, colorize, predict, swatches_at
from .suggest import suggest_points

log = logging.getLogger("chromahint.engine")


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
        memory_mb: int | None = None,
    ) -> None:
        self.models = models
        self.device = device
        self.limits = limits or P.Limits()
        self.memory_cap = None if memory_mb is None else memory_mb << 20
        self.served: Counter[str] = Counter()  # answered requests per op, errors included
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
            served=dict(self.served),
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
            self.served[request.op.value] += 1
            self.admit(request)
            return P.reply_map(self.ops[request.op](request), rid)
        except ProtocolError as e:
            return error_reply(rid, e.code, e.message)
        except MemoryError:
            return out_of_memory(rid)
        except RuntimeError as e:
            if "alloc" in str(e):  # torch's allocators: "can't allocate memory", "not enough"
                return out_of_memory(rid)
            log.error("internal error: %s", traceback.format_exc())
            return error_reply(rid, ErrorCode.INTERNAL, f"internal engine error: {e}")
        except Exception as e:  # the engine keeps serving whatever a request does
            log.error("internal error: %s", traceback.format_exc())
            return error_reply(
                rid, ErrorCode.INTERNAL, f"internal engine error: {type(e).__name__}: {e}"
            )

    def admit(self, request: P.Request) -> None:
        """Refuse, before any work, a request whose image cannot fit in the memory left."""
        image = getattr(request, "image", None)
        if image is None:
            return
        need = memory.request_bytes(image.width * image.height)
        free, bound = memory.free_bytes(self.memory_cap)
        if free is not None and need > free:
            raise ProtocolError(
                ErrorCode.TOO_LARGE,
                f"a {image.width}x{image.height} image needs about {need >> 20} MiB to "
                f"colorize; {bound} leaves {free >> 20} MiB (send a smaller image)",
            )


def out_of_memory(rid: Any) -> dict:
    return error_reply(
        rid,
        ErrorCode.TOO_LARGE,
        "the engine ran out of memory for this request (send a smaller image)",
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


def build_engine(
    device: str = "auto", limits: P.Limits | None = None, memory_mb: int | None = None
) -> Engine:
    dev = pick_device(device)
    models = load_models(dev)
    return Engine(models, dev, limits, memory_mb)
