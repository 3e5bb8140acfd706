"""One colorization: lightness at full size -> model at working size -> layer at full size."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from chromahint_client.protocol import GlobalHints, Image, Point, ReferenceMode, Swatch, image_id

from . import exemplar
from .color import rgb_to_lab
from .imaging import Raster, decode, lightness_at, working_shape
from .jobs import Job
from .models.base import Colorizer, Hint, Prediction
from .render import render_rgba8
from .shrink import working_lightness
from .upsample import lab_to_srgb8

SWATCH_MIN_DISTANCE = 12.0  # ab units: closer candidates count as the same colour
SWATCH_RENDERED_DISTANCE = 6.0  # Delta E of the rendered sRGB: closer ones look the same


@dataclass
class Prepared:
    """Everything one prediction produced, at both resolutions."""

    lightness_at: Callable[[float, float], float]  # full-size (x, y) -> the source's L
    L_work: np.ndarray
    pred: Prediction
    hints: list[Hint]
    sx: float
    sy: float
    reference_confidence: float | None = None


def plane_lookup(L: np.ndarray) -> Callable[[float, float], float]:
    """Prepared.lightness_at for a lightness plane in hand (evaluation, tests)."""
    h, w = L.shape
    return lambda x, y: float(L[min(max(int(y), 0), h - 1), min(max(int(x), 0), w - 1)])


@dataclass
class Result:
    layer: bytes | memoryview  # rgba8
    swatches: list[list[Swatch]]
    timing_ms: dict[str, float] = field(default_factory=dict)
    reference_confidence: float | None = None


Reference = tuple[Image, ReferenceMode]  # a colour reference and how to use it


class Timer:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.ms[name] = round(self.ms.get(name, 0.0) + (now - self._t) * 1e3, 3)
        self._t = now


def to_working_hints(points: Sequence[Point], sx: float, sy: float) -> list[Hint]:
    if not points:
        return []
    labs = rgb_to_lab(np.array([p.rgb for p in points], np.float32).clip(0, 255).round() / 255.0)
    return [
        Hint(x=p.x * sx, y=p.y * sy, ab=(float(lab[1]), float(lab[2])), size=max(1.0, p.size * sx))
        for p, lab in zip(points, labs, strict=True)
    ]


def _distinct_top(cands: np.ndarray, weights: np.ndarray, k: int) -> list[tuple[np.ndarray, float]]:
    """Greedy, most probable first: candidates near a chosen one add their mass to it, and
    the swatch is the mass-weighted mean of what it gathered (finer than one bin centre)."""
    # Only the most probable candidates can matter; it keeps this cheap for many points.
    order = np.argsort(-weights)[: max(8 * k, 32)]
    seeds: list[np.ndarray] = []
    mass: list[float] = []
    moment: list[np.ndarray] = []
    for i in order:
        w = float(weights[i])
        if w <= 0:
            break
        if seeds:
            d = np.hypot(*(np.asarray(seeds) - cands[i]).T)
            j = int(np.argmin(d))
            if d[j] < SWATCH_MIN_DISTANCE:
                mass[j] += w
                moment[j] = moment[j] + w * cands[i]
                continue
        if len(seeds) < k:
            seeds.append(cands[i])
            mass.append(w)
            moment.append(w * cands[i])
    ranked = sorted(zip(moment, mass, strict=True), key=lambda c: -c[1])
    return [(m / p, p) for m, p in ranked]


def swatches_at(prep: Prepared, where: Sequence[tuple[float, float]], k: int) -> list[list[Swatch]]:
    """Zhang et al.'s data-driven palette: the k most probable distinct colours per point."""
    pred, hints = prep.pred, prep.hints
    _, h, w = pred.ab.shape
    out = []
    for x, y in where:
        wx, wy = int(np.clip(x * prep.sx, 0, w - 1)), int(np.clip(y * prep.sy, 0, h - 1))
        if pred.probs is not None and pred.bins is not None:
            # The colour the layer shows here leads, with the mass of the most probable bin,
            # so the first swatch is "this, as colorized" (the hint's own colour at a hint)
            # and the distribution's other modes follow as alternatives.
            probs = pred.probs[:, wy, wx]
            cands = np.concatenate([pred.ab[None, :, wy, wx], pred.bins])
            weights = np.concatenate([[probs.max()], probs])
        else:
            # Baseline without a distribution: the prediction, then hint colours by proximity.
            cands = np.array([pred.ab[:, wy, wx]] + [hint.ab for hint in hints], np.float32)
            dist = np.array([0.0] + [np.hypot(hint.x - wx, hint.y - wy) for hint in hints])
            weights = np.exp(-dist / (0.25 * max(h, w)))
            weights[0] = weights[1:].sum() + 1.0 if len(hints) else 1.0
            weights = weights / weights.sum()
        lum = prep.lightness_at(x, y)
        picks = _distinct_top(np.asarray(cands, np.float32), np.asarray(weights, np.float64), 2 * k)
        out.append(_rendered_distinct(picks, lum, k))
    return out


def _rendered_distinct(picks: list[tuple[np.ndarray, float]], lum: float, k: int) -> list[Swatch]:
    """The picks as sRGB at lightness `lum`, most probable first. Colours distinct in ab can
    render alike (out-of-gamut ones are desaturated onto the same sRGB edge): those count as
    one swatch, so the k shown are k colours a person can tell apart."""
    kept: list[tuple[np.ndarray, np.ndarray, float]] = []  # (rgb8, rendered Lab, mass)
    for ab, p in picks:
        rgb = lab_to_srgb8(np.array([lum, ab[0], ab[1]], np.float32))
        lab = rgb_to_lab(rgb.astype(np.float32) / 255.0)
        near = [
            i
            for i, (_, seen, _) in enumerate(kept)
            if np.linalg.norm(seen - lab) < SWATCH_RENDERED_DISTANCE
        ]
        if near:
            rgb0, lab0, p0 = kept[near[0]]
            kept[near[0]] = (rgb0, lab0, p0 + p)
        elif len(kept) < k:
            kept.append((rgb, lab, p))
    kept.sort(key=lambda c: -c[2])
    total = sum(p for _, _, p in kept) or 1.0
    return [Swatch((int(r[0]), int(r[1]), int(r[2])), round(p / total, 6)) for r, _, p in kept]


def predict(
    model: Colorizer,
    raster: Raster,
    points: Sequence[Point],
    global_hints: GlobalHints | None,
    timer: Timer,
    with_probs: bool = True,
    job: Job | None = None,
    reference: Reference | None = None,
) -> Prepared:
    """With a cached image (`job.derive`), the working-size lightness and the model's
    encoder features come from the cache after the first request: a hint change runs only
    the hint-dependent part. No full-size plane is made: the working lightness and the
    render read the pixels themselves."""
    job = job or Job()
    ww, wh = working_shape(raster.width, raster.height, model.working_size)
    L_work = job.derive(("L_work", ww, wh), lambda: working_lightness(raster, ww, wh))
    timer.lap("decode")  # with a cached image only the lookup
    job.checkpoint(0.1, "decode")
    sx, sy = ww / raster.width, wh / raster.height
    hints = to_working_hints(points, sx, sy)
    encoded = job.derive(("encoded", model.name, ww, wh), lambda: model.encode(L_work))
    dense, confidence = None, None
    if reference is not None:
        # Kept with the cached image: a live edit with the same reference matches it once.
        ref, mode = reference
        guide = job.derive(
            ("reference", model.name, image_id(ref), mode, global_hints),
            lambda: exemplar.guidance(model, L_work, encoded, decode(ref), mode, global_hints),
        )
        dense, global_hints, confidence = guide.dense, guide.global_hints, guide.confidence
        timer.lap("reference")
    pred = model.predict(
        L_work, hints, global_hints, with_probs=with_probs, encoded=encoded, dense=dense
    )
    timer.lap("forward")
    job.checkpoint(0.3, "forward")
    return Prepared(
        functools.partial(lightness_at, raster), L_work, pred, hints, sx, sy, confidence
    )


def colorize(
    model: Colorizer,
    raster: Raster,
    points: Sequence[Point],
    swatch_k: int = 0,
    global_hints: GlobalHints | None = None,
    job: Job | None = None,
    reference: Reference | None = None,
) -> Result:
    job = job or Job()
    timer = Timer()
    prep = predict(model, raster, points, global_hints, timer, swatch_k > 0, job, reference)
    layer = render_rgba8(prep.L_work, prep.pred.ab, raster, job, (0.3, 1.0))
    timer.lap("upsample")
    swatches = swatches_at(prep, [(p.x, p.y) for p in points], swatch_k) if swatch_k else []
    timer.lap("swatches")
    return Result(layer, swatches, timer.ms, prep.reference_confidence)
