"""The engine's operations: one msgpack map per request in, one per reply out.

The sockets and the serving loop are in serving.py. The engine keeps no per-client state, so
a client that reconnects after a restart (or to another engine) simply asks again.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import msgpack
import numpy as np

from chromahint_client import protocol as P
from chromahint_client.protocol import ErrorCode, Mode, ProtocolError

from . import __version__, lineart, memory, references
from .image_cache import ImageCache
from .imaging import Raster, decode
from .jobs import Cancelled, Job
from .models.base import Colorizer, LineartModel
from .models.registry import Models, load_models
from .pipeline import Timer, colorize, predict, swatches_at
from .suggest import suggest_points

log = logging.getLogger("chromahint.engine")
BUSY_RETRY_MS = 1000


@dataclass(frozen=True)
class Parsed:
    rid: Any
    request: P.Request
    image_id: str | None  # the id it sent instead of an image
    progress: bool  # it asked for progress messages


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


def rgba8_layer(raster: Raster, data: bytes | memoryview) -> P.Image:
    # A memoryview of the rendered array: msgpack packs it as bin without another copy.
    return P.Image(raster.width, raster.height, "rgba8", cast(bytes, data))


class Engine:
    """Serves typed requests: `handle` parses a frame into one, once, then runs its op."""

    def __init__(
        self,
        models: Models,
        device: str,
        limits: P.Limits | None = None,
        memory_mb: int | None = None,
        reference_roots: Sequence[Path] = (),
    ) -> None:
        self.models = models
        self.reference_roots = tuple(Path(r) for r in reference_roots)
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
            P.Op.CANCEL: self.op_cancel,
            P.Op.RECOMMEND_REFERENCES: self.op_recommend_references,
        }
        self._op_names = {op.value for op in self.ops}
        self.cache = ImageCache(self.limits.cache_mb << 20) if self.limits.cache_mb > 0 else None

    # -- operations ---------------------------------------------------------------------
    def op_info(self, _req: P.InfoRequest, _job: Job | None = None) -> P.InfoReply:
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

    def op_colorize(self, req: P.ColorizeRequest, job: Job) -> P.ColorizeReply:
        raster = job.derive("raster", lambda: decode(req.image))
        if req.mode is Mode.LINEART:
            model = self._lineart()
            labels = decode(req.labels).pixels[..., 0] if req.labels is not None else None
            region_rgb = {h.region: h.rgb for h in req.region_hints}
            timer = Timer()
            layer = lineart.colorize(
                model, raster, req.points, region_rgb, labels, timer, job.derive
            )
            # Line art has no colour distribution to draw swatches from.
            rows = [[] for _ in req.points] if req.swatches else []
            return P.ColorizeReply(rgba8_layer(raster, layer), rows, timer.ms, job.image_id)
        reference = None if req.reference is None else (req.reference, req.reference_mode)
        photo = self._photo()
        result = colorize(photo, raster, req.points, req.swatches, req.global_hints, job, reference)
        layer = rgba8_layer(raster, result.layer)
        confidence = result.reference_confidence
        return P.ColorizeReply(
            layer,
            result.swatches,
            result.timing_ms,
            job.image_id,
            None if confidence is None else round(confidence, 4),
        )

    def op_regions(self, req: P.RegionsRequest, job: Job) -> P.RegionsReply:
        model = self._lineart()
        raster = job.derive("raster", lambda: decode(req.image))
        if req.max_regions is not None and req.max_regions > model.max_regions:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST,
                f"'max_regions' must be between 1 and {model.max_regions}, got {req.max_regions}",
            )
        timer = Timer()
        most = req.max_regions or model.max_regions
        labels, order = lineart.regions(model, raster, most, timer, job.derive)
        image = P.Image(raster.width, raster.height, "gray16", labels.astype("<u2").tobytes())
        return P.RegionsReply(image, order, timer.ms, job.image_id)

    def op_suggest_points(self, req: P.SuggestPointsRequest, job: Job) -> P.SuggestPointsReply:
        raster = job.derive("raster", lambda: decode(req.image))
        timer = Timer()
        model = self._photo()
        prep = predict(model, raster, req.points, req.global_hints, timer, True, job)
        points = suggest_points(prep, req.k, getattr(model, "hint_value", None))
        timer.lap("suggest")
        return P.SuggestPointsReply(points, timer.ms, job.image_id)

    def op_swatches(self, req: P.SwatchesRequest, job: Job) -> P.SwatchesReply:
        raster = job.derive("raster", lambda: decode(req.image))
        timer = Timer()
        prep = predict(self._photo(), raster, req.hints, req.global_hints, timer, True, job)
        rows = swatches_at(prep, [(p.x, p.y) for p in req.points], req.k)
        timer.lap("swatches")
        return P.SwatchesReply(rows, timer.ms, job.image_id)

    def op_recommend_references(
        self, req: P.RecommendReferencesRequest, job: Job
    ) -> P.RecommendReferencesReply:
        model = self._photo()
        timer = Timer()
        raster = job.derive("raster", lambda: decode(req.image))
        target = job.derive(
            ("descriptor", model.name),
            lambda: references.describe(model, [references.raster_plane(raster)])[0],
        )
        skipped = indexed = 0
        if req.folder is None:
            planes = [references.raster_plane(decode(c)) for c in req.candidates]
            table, names = references.describe(model, planes), None
        else:
            folder = references.allowed_folder(req.folder, self.reference_roots)
            names, table, skipped, indexed = references.folder_index(model, folder, job.checkpoint)
            names = [str(folder / n) for n in names]
        timer.lap("describe")
        score = references.scores(target, table) if len(table) else np.zeros(0)
        best = np.argsort(-score, kind="stable")[: req.limit]
        ranking = [
            P.Ranked(round(float(score[i]), 5), int(i))
            if names is None
            else P.Ranked(round(float(score[i]), 5), None, names[i])
            for i in best
        ]
        timer.lap("rank")
        return P.RecommendReferencesReply(ranking, timer.ms, skipped, indexed, job.image_id)

    def op_cancel(self, _req: P.CancelRequest, _job: Job) -> P.CancelReply:
        # Served one at a time (handle()), nothing else is queued or running to cancel; the
        # serving loop answers cancel itself (serving.py).
        return P.CancelReply(False)

    # -- dispatch -----------------------------------------------------------------------
    def parse(self, payload: bytes | memoryview) -> Parsed | dict:
        """A frame -> its typed request, or the error reply it gets. No work is done here
        beyond reading and checking (the serving loop parses as requests arrive)."""
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
            if op in self._op_names:  # counted with its errors (an unknown image, a bad field)
                self.served[op] += 1
            lookup = self.cache.lookup if self.cache is not None else None
            request = P.parse_request(req, op, self.limits, lookup)
            ref = req.get("image_id")
            return Parsed(
                rid, request, ref if isinstance(ref, str) else None, bool(req.get("progress"))
            )
        except ProtocolError as e:
            return error_reply(rid, e.code, e.message, e.retry_after_ms)
        except Exception as e:  # the engine keeps serving whatever a request does
            log.error("internal error: %s", traceback.format_exc())
            return error_reply(
                rid, ErrorCode.INTERNAL, f"internal engine error: {type(e).__name__}: {e}"
            )

    def run(self, parsed: Parsed, job: Job) -> dict:
        """Serve a parsed request: its reply map, or the error reply it gets."""
        rid, request = parsed.rid, parsed.request
        job.rid = rid
        try:
            image = image_of(request)
            if image is not None and self.cache is not None:
                entry = self.cache.put(image, parsed.image_id)
                job.image_id = entry.image_id
                job.derive = partial(self.cache.derive, entry)
            return P.reply_map(self.ops[request.op](request, job), rid)
        except ProtocolError as e:
            return error_reply(rid, e.code, e.message, e.retry_after_ms)
        except Cancelled:
            return error_reply(rid, ErrorCode.CANCELLED, "cancelled (a cancel op asked for it)")
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

    def handle(self, payload: bytes) -> dict:
        """Parse, admit and serve one frame, with nothing else in flight."""
        parsed = self.parse(payload)
        if isinstance(parsed, dict):
            return parsed
        try:
            self.admit(parsed.request)
        except ProtocolError as e:
            return error_reply(parsed.rid, e.code, e.message, e.retry_after_ms)
        return self.run(parsed, Job())

    def need_bytes(self, request: P.Request) -> int:
        image = image_of(request)
        if image is None:
            return 0
        ref = getattr(request, "reference", None)
        ref_pixels = 0 if ref is None else ref.width * ref.height
        return memory.request_bytes(image.width * image.height, ref_pixels)

    def admit(self, request: P.Request, in_use: int = 0) -> None:
        """Refuse, before any work, a request whose image cannot fit in the memory left:
        `busy` when it would fit once the `in_use` bytes reserved by others are free,
        `too_large` when it never would."""
        image = image_of(request)
        if image is None:
            return
        need = self.need_bytes(request)
        free, bound = memory.free_bytes(self.memory_cap, in_use)
        if free is None or need <= free:
            return
        size = f"a {image.width}x{image.height} image needs about {need >> 20} MiB"
        if need <= free + in_use:
            raise ProtocolError(
                ErrorCode.BUSY,
                f"{size}, and the requests running now leave {free >> 20} MiB: try again "
                "when they finish",
                retry_after_ms=BUSY_RETRY_MS,
            )
        raise ProtocolError(
            ErrorCode.TOO_LARGE,
            f"{size} to colorize; {bound} leaves {free >> 20} MiB (send a smaller image)",
        )


def image_of(request: P.Request) -> P.Image | None:
    return getattr(request, "image", None)


def out_of_memory(rid: Any) -> dict:
    return error_reply(
        rid,
        ErrorCode.TOO_LARGE,
        "the engine ran out of memory for this request (send a smaller image)",
    )


def error_reply(rid: Any, code: ErrorCode, message: str, retry_after_ms: int | None = None) -> dict:
    return P.error_map(_safe_id(rid), code, message, retry_after_ms)


def _safe_id(rid: Any) -> Any:
    """Echo the id unless it cannot be packed back (it came from msgpack, so it almost can)."""
    try:
        msgpack.packb(rid, use_bin_type=True)
        return rid
    except Exception:
        return None


def build_engine(
    device: str = "auto",
    limits: P.Limits | None = None,
    memory_mb: int | None = None,
    reference_roots: Sequence[Path] = (),
) -> Engine:
    from .render import warm_up

    dev = pick_device(device)
    models = load_models(dev)
    warm_up()  # compile the render kernel before the first request needs it
    return Engine(models, dev, limits, memory_mb, reference_roots)
