"""lineart-net: region-prioritized line-art colorization after Cho et al. 2022 (GuidingPainter).

Two small U-Nets. The segmentation net maps a sketch to per-pixel logits over Nc channels;
trained without labels (a straight-through Gumbel argmax picks one channel per pixel and the
first Nh channels are filled with their mean ground-truth colour as hints), so channel order
is priority order. That net is training scaffolding now: the engine's regions are the
drawing's closed areas (closed_areas.py), ranked by size (engine/lineart.py; the learned
order measured lower, weights/LINEART.md). The colorization net maps sketch + hint colours +
hint mask to the flat colours under the lines; the engine multiplies the sketch back on top.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from chromahint.models.base import RGB, LinePoint, hint_square
from chromahint.models.lineart_unet import UNet, pad_to_stride

NAME = "lineart-net-v2"
# Sketch values below this are line pixels: region id 0 and never hinted.
LINE_THRESHOLD = 0.5
# Regions the engine offers (info's max_regions); the segmentation net's channel count
# (config "max_regions") is a training setting.
MAX_REGIONS = 32
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


def rasterize(
    labels: np.ndarray, fills: dict[int, RGB], points: list[LinePoint]
) -> tuple[np.ndarray, np.ndarray]:
    """Region fills, then point squares (later wins) -> hint (3, H, W) in [0, 1], mask (1, H, W)."""
    h, w = labels.shape
    hint = np.zeros((3, h, w), np.float32)
    mask = np.zeros((1, h, w), np.float32)
    if fills:
        lut = np.zeros((int(max(labels.max(), max(fills))) + 1, 3), np.float32)
        has = np.zeros(len(lut), bool)
        for rid, rgb in fills.items():
            if rid > 0:
                lut[rid], has[rid] = np.asarray(rgb, np.float32) / 255.0, True
        sel = has[labels]
        hint[:, sel] = lut[labels[sel]].T
        mask[0, sel] = 1.0
    for x, y, rgb, size in points:
        ys, xs = hint_square(x, y, size, h, w)
        hint[:, ys, xs] = np.asarray(rgb, np.float32)[:, None, None] / 255.0
        mask[0, ys, xs] = 1.0
    return hint, mask


class LineartModel:
    learned = True

    def __init__(self, nets: LineartNets, device: str) -> None:
        self.nets = nets.to(device).eval()
        self.device = device
        self.name = NAME
        self.working_size = int(nets.config["working_size"])
        self.max_regions = MAX_REGIONS
        self.exact_hints = EXACT_HINTS
        self.description = (
            f"Line-art colorization: up to {self.max_regions} closed-area regions, largest "
            f"first, + region/point hints, working size {self.working_size}"
        )

    def _tensor(self, a: np.ndarray) -> torch.Tensor:
        return torch.tensor(np.asarray(a, dtype=np.float32), device=self.device)

    @torch.inference_mode()
    def colorize(
        self, sketch: np.ndarray, labels: np.ndarray, fills: dict[int, RGB],
        points: list[LinePoint],
    ) -> np.ndarray:  # fmt: skip
        hint, mask = rasterize(labels, fills, points)
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
