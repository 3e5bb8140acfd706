"""lineart-net: region-prioritized line-art colorization after Cho et al. 2022 (GuidingPainter).

Two small U-Nets. The segmentation net maps a sketch to `max_regions` per-pixel logits;
trained without labels (a straight-through Gumbel argmax picks one channel per pixel and the
first Nh channels are filled with their mean ground-truth colour as hints), so channel order
is priority order. The colorization net maps sketch + hint colours + hint mask to the flat
colours under the lines; the engine multiplies the sketch back on top.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from scipy import ndimage
from torch import nn

from chromahint.models.base import RGB, LinePoint, hint_square
from chromahint.models.lineart_unet import UNet, pad_to_stride

NAME = "lineart-net-v1"
# Sketch values below this are line pixels: region id 0 and never hinted.
LINE_THRESHOLD = 0.5
# Closed areas below this fraction of the image take one region label (see snap_to_closed_areas).
SNAP_AREA_FRAC = 1.0
# A point hint inside a closed area below this fraction of the image fills that area, like a
# bucket fill; the colorizer then sees it exactly as a region hint (see rasterize).
POINT_FILL_FRAC = 0.5
# Paint hinted pixels exactly the hint colour: a flat-colour artist who picks a colour for a
# region expects that colour, and the small colorizer only approximates it.
EXACT_HINTS = True
DEFAULT_CONFIG = {
    "max_regions": 20,
    "working_size": 256,
    "seg_widths": [12, 24, 32, 48, 64],
    "color_widths": [16, 24, 48, 64, 96],
}


class LineartNets(nn.Module):
    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = dict(config)
        self.seg = UNet(1, config["max_regions"], tuple(config["seg_widths"]))
        # Colour input: sketch, hint rgb (zero outside hints), hint mask.
        self.color = UNet(5, 3, tuple(config["color_widths"]))

    def segment(self, sketch: torch.Tensor) -> torch.Tensor:
        """sketch (B, 1, H, W) in [0, 1] -> region logits (B, Nc, H, W)."""
        x, h, w = pad_to_stride(sketch, 1.0)
        return self.seg(x * 2 - 1)[..., :h, :w]

    def colorize(self, sketch: torch.Tensor, hint: torch.Tensor, mask: torch.Tensor):
        """sketch (B,1,H,W), hint rgb (B,3,H,W) in [0, 1], mask (B,1,H,W) -> rgb (B,3,H,W)."""
        x = torch.cat([sketch * 2 - 1, (hint * 2 - 1) * mask, mask], 1)
        x, h, w = pad_to_stride(x, 0.0)
        return torch.sigmoid(self.color(x)[..., :h, :w])


def region_labels(logits: torch.Tensor, sketch: torch.Tensor) -> torch.Tensor:
    """(Nc, H, W) logits, (H, W) sketch -> (H, W) int labels: 0 on lines, else channel + 1."""
    labels = logits.argmax(0) + 1
    return torch.where(sketch < LINE_THRESHOLD, torch.zeros_like(labels), labels)


def snap_to_closed_areas(labels: np.ndarray, max_frac: float) -> np.ndarray:
    """Give each closed area (4-connected non-line component) smaller than `max_frac` of the
    image its majority label.

    The per-pixel argmax is smooth and ignores thin lines, so a small closed area is often
    split between two regions and one region hint would then paint half of it. Large areas
    (the background, shapes with gaps in their outline) keep the per-pixel labels, since
    there the net's split is often the only cue that two colours meet.
    """
    comp, n = ndimage.label(labels > 0)  # pyright: ignore[reportGeneralTypeIssues]  # (array, count)
    if n == 0 or max_frac <= 0:
        return labels
    k = int(labels.max()) + 1
    votes = np.bincount(comp.ravel() * k + labels.ravel(), minlength=(n + 1) * k)
    votes = votes.reshape(n + 1, k)
    majority = votes.argmax(1)
    small = votes.sum(1) < max_frac * labels.size
    small[0] = False
    out = labels.copy()
    snap = small[comp]
    out[snap] = majority[comp[snap]]
    return out.astype(np.int32)


def rasterize(
    labels: np.ndarray,
    region_rgb: dict[int, RGB],
    points: list[LinePoint],
    areas: np.ndarray | None = None,
    fill_frac: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Region fills, then points (later wins) -> hint (3, H, W) in [0, 1], mask (1, H, W).

    A point is its square of side `size`; with `areas` (closed-area ids, 0 on lines) a point
    inside a closed area smaller than `fill_frac` of the image fills that whole area instead.
    """
    h, w = labels.shape
    hint = np.zeros((3, h, w), np.float32)
    mask = np.zeros((1, h, w), np.float32)
    for rid, rgb in region_rgb.items():
        sel = labels == rid
        if rid > 0 and sel.any():
            hint[:, sel] = np.asarray(rgb, np.float32)[:, None] / 255.0
            mask[0, sel] = 1.0
    sizes = np.bincount(areas.ravel()) if areas is not None else None
    for x, y, rgb, size in points:
        ys, xs = hint_square(x, y, size, h, w)
        if ys.start >= ys.stop or xs.start >= xs.stop:
            continue
        sel = np.zeros((h, w), bool)
        sel[ys, xs] = True
        if sizes is not None and areas is not None:
            ids = np.unique(areas[sel])
            ids = ids[(ids > 0) & (sizes[ids] < fill_frac * areas.size)]
            sel |= np.isin(areas, ids)
        hint[:, sel] = np.asarray(rgb, np.float32)[:, None] / 255.0
        mask[0, sel] = 1.0
    return hint, mask


class LineartModel:
    learned = True

    def __init__(self, nets: LineartNets, device: str) -> None:
        self.nets = nets.to(device).eval()
        self.device = device
        self.name = NAME
        self.working_size = int(nets.config["working_size"])
        self.max_regions = int(nets.config["max_regions"])
        self.snap_area_frac = SNAP_AREA_FRAC
        self.point_fill_frac = POINT_FILL_FRAC
        self.exact_hints = EXACT_HINTS
        self.description = (
            f"GuidingPainter-style line-art colorization: {self.max_regions} learned priority "
            f"regions + region/point hints, working size {self.working_size}"
        )

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.tensor(np.asarray(a, dtype=np.float32), device=self.device)

    @torch.inference_mode()
    def regions(self, sketch: np.ndarray, max_regions: int) -> tuple[np.ndarray, list[int]]:
        sk = self._tensor(sketch)
        logits = self.nets.segment(sk[None, None])[0]
        labels = region_labels(logits, sk).cpu().numpy().astype(np.int32)
        labels = snap_to_closed_areas(labels, self.snap_area_frac)
        present = set(np.unique(labels).tolist())
        order = [k for k in range(1, self.max_regions + 1) if k in present]
        return labels, order[: max(int(max_regions), 0)]

    @torch.inference_mode()
    def colorize(
        self,
        sketch: np.ndarray,
        labels: np.ndarray | None,
        region_rgb: dict[int, RGB],
        points: list[LinePoint],
    ) -> np.ndarray:
        if labels is None and region_rgb:
            labels, _ = self.regions(sketch, self.max_regions)
        if labels is None:
            labels = np.zeros(sketch.shape, np.int32)
        areas = None
        if self.point_fill_frac > 0:
            areas, _ = ndimage.label(sketch >= LINE_THRESHOLD)  # pyright: ignore[reportGeneralTypeIssues]
        hint, mask = rasterize(labels, region_rgb, points, areas, self.point_fill_frac)
        out = self.nets.colorize(
            self._tensor(sketch)[None, None], self._tensor(hint)[None], self._tensor(mask)[None]
        )
        out = out[0].float().cpu().numpy()
        if self.exact_hints:
            out = out * (1 - mask) + hint * mask
        return out.clip(0.0, 1.0).astype(np.float32)


def save(nets: LineartNets, path: pathlib.Path, half: bool = True) -> None:
    state = {
        k: (v.half() if half and v.is_floating_point() else v).contiguous().cpu()
        for k, v in nets.state_dict().items()
    }
    save_file(state, str(path), metadata={"config": json.dumps(nets.config), "name": NAME})


def load_nets(weights_path: pathlib.Path) -> LineartNets:
    from safetensors import safe_open

    with safe_open(str(weights_path), framework="pt") as f:
        config = json.loads((f.metadata() or {}).get("config", json.dumps(DEFAULT_CONFIG)))
    nets = LineartNets(config)
    state = {
        k: v.float() if v.is_floating_point() else v for k, v in load_file(weights_path).items()
    }
    nets.load_state_dict(state)
    return nets


def load(weights_path: pathlib.Path, device: str) -> LineartModel:
    return LineartModel(load_nets(pathlib.Path(weights_path)), device)
