"""photo-net: user-guided photo colorization after Zhang et al. 2017, sized for a CPU.

Inputs are lightness, sparse ab hints with their mask, and an optional global hint
(a target colour histogram and/or a saturation). A push-pull fill of the hints gives a
dense first guess; an EfficientNet-Lite0 encoder on the lightness supplies semantics
and, pooled, the global image features of Iizuka et al. 2016; a light U-Net decoder
fuses both with a hint branch and predicts (1) ab as a residual over the fill at full
resolution and (2) logits over the quantized ab bins at stride 4 (the swatch source).
"""

from __future__ import annotations

import copy
import math
import pathlib
import time
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from chromahint.color import rgb_to_lab
from chromahint.models.ab_bins import gamut_bins, histogram
from chromahint.models.base import GlobalHints, Hint, Prediction
from chromahint.models.effnet_lite import TAP_CHANNELS, LiteEncoder
from chromahint.models.hint_fill import push_pull
from chromahint.models.layers import conv_bn

NAME = "photo-net-v1"
STRIDE = 32
AB_SCALE = 110.0
# Saturation hint: the image's mean CIELAB chroma divided by this, clipped to [0, 1].
SATURATION_CHROMA = 50.0


def up_to(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)


class PhotoNet(nn.Module):
    """forward(L, hint_ab, mask, glob) -> (ab (B,2,H,W), logits (B,Q,ceil(H/4),ceil(W/4)))."""

    def __init__(self, bins: np.ndarray | None = None) -> None:
        super().__init__()
        bins = gamut_bins() if bins is None else bins
        self.register_buffer("bins", torch.as_tensor(bins, dtype=torch.float32))
        q = len(bins)
        self.glob_dim = q + 3  # histogram, saturation, has-histogram, has-saturation
        e2, e4, e8, e16, e32 = TAP_CHANNELS
        self.encoder = LiteEncoder()
        # Hint branch on [hint ab, mask, fill ab, L]: cheap strided convs to stride 16.
        self.hint2 = conv_bn(6, 16, stride=2)
        self.hint4 = conv_bn(16, 32, stride=2)
        self.hint8 = conv_bn(32, 48, stride=2)
        self.hint16 = conv_bn(48, 64, stride=2)
        # Global fusion: pooled image features and the global hint, added at stride 16.
        self.image_global = nn.Sequential(nn.Linear(e32, 128), nn.ReLU(inplace=True))
        self.hint_global = nn.Sequential(
            nn.Linear(self.glob_dim, 128), nn.ReLU(inplace=True), nn.Linear(128, 128)
        )
        self.global_mix = nn.Linear(256, 128)
        self.lat32 = conv_bn(e32, 128, kernel=1)
        self.fuse16 = conv_bn(e16 + 128 + 64, 128, kernel=1)
        self.dec16 = nn.Sequential(conv_bn(128, 128), conv_bn(128, 128))
        # Each level: a 1x1 squeeze of [upsampled decoder, encoder tap, hint branch], then 3x3.
        self.dec8 = nn.Sequential(conv_bn(128 + e8 + 48, 64, kernel=1), conv_bn(64, 64))
        self.dec4 = nn.Sequential(conv_bn(64 + e4 + 32, 48, kernel=1), conv_bn(48, 48))
        self.classify = nn.Conv2d(48, q, 1)
        self.dec2 = nn.Sequential(conv_bn(48 + e2 + 16, 24, kernel=1), conv_bn(24, 16))
        # Full resolution: edge-aware refinement guided by L and the raw hints.
        self.refine = nn.Sequential(conv_bn(16 + 6, 12), nn.Conv2d(12, 2, 3, padding=1))
        nn.init.zeros_(self.refine[-1].weight)
        nn.init.zeros_(self.refine[-1].bias)

    def forward(
        self, L: torch.Tensor, hint_ab: torch.Tensor, mask: torch.Tensor, glob: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = L.shape[-2:]
        ph, pw = -h % STRIDE, -w % STRIDE
        # Pad right/bottom only, so stride-4 logits stay aligned with the top-left pixel.
        if ph or pw:
            L = F.pad(L, (0, pw, 0, ph), mode="replicate")
            hint_ab = F.pad(hint_ab, (0, pw, 0, ph))
            mask = F.pad(mask, (0, pw, 0, ph))
        fill = push_pull(hint_ab, mask)
        x = torch.cat([hint_ab / AB_SCALE, mask, fill / AB_SCALE, L / 100.0 - 0.5], dim=1)
        f2, f4, f8, f16, f32 = self.encoder(L / 50.0 - 1.0)
        h2 = self.hint2(x)
        h4 = self.hint4(h2)
        h8 = self.hint8(h4)
        h16 = self.hint16(h8)
        g = torch.cat([self.image_global(f32.mean(dim=(2, 3))), self.hint_global(glob)], dim=1)
        g = self.global_mix(g)[:, :, None, None]
        d = self.fuse16(torch.cat([f16, up_to(self.lat32(f32), f16), h16], dim=1))
        d = self.dec16(F.relu(d + g))
        d = self.dec8(torch.cat([up_to(d, f8), f8, h8], dim=1))
        d = self.dec4(torch.cat([up_to(d, f4), f4, h4], dim=1))
        logits = self.classify(d)
        d = self.dec2(torch.cat([up_to(d, f2), f2, h2], dim=1))
        residual = self.refine(torch.cat([up_to(d, x), x], dim=1))
        ab = fill + AB_SCALE * residual
        return ab[..., :h, :w], logits[..., : math.ceil(h / 4), : math.ceil(w / 4)]


def global_vector(
    bins: torch.Tensor,
    palette_ab: torch.Tensor | None = None,
    palette_weights: torch.Tensor | None = None,
    saturation: float | None = None,
) -> torch.Tensor:
    """The network's global-hint input (Q + 3,) from palette ab points and a saturation."""
    q = len(bins)
    v = torch.zeros(q + 3, device=bins.device)
    if palette_ab is not None and len(palette_ab):
        v[:q] = histogram(palette_ab, palette_weights, bins)
        v[q + 1] = 1.0
    if saturation is not None:
        v[q] = float(saturation)
        v[q + 2] = 1.0
    return v


def rasterize_hints(
    hints: Sequence[Hint], height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Hints -> (ab (2,H,W), mask (1,H,W)). A square's first pixel is floor(c - size/2 + 0.5),
    so integer pixel-index and pixel-centre (i + 0.5) coordinates land on the same pixels."""
    ab = np.zeros((2, height, width), np.float32)
    mask = np.zeros((1, height, width), np.float32)
    for hint in hints:
        side = max(1, round(hint.size))
        x0 = math.floor(hint.x - side / 2 + 0.5)
        y0 = math.floor(hint.y - side / 2 + 0.5)
        xs = slice(max(x0, 0), max(min(x0 + side, width), 0))
        ys = slice(max(y0, 0), max(min(y0 + side, height), 0))
        ab[0, ys, xs], ab[1, ys, xs] = hint.ab
        mask[0, ys, xs] = 1.0
    return ab, mask


def fused_for_inference(net: PhotoNet) -> PhotoNet:
    """An eval-mode copy with every BatchNorm folded into its convolution (~20 % faster)."""
    net = copy.deepcopy(net).eval()
    pairs = [(net.encoder, "_conv_stem", "_bn0")]
    for block in net.encoder._blocks:
        if block.expand:
            pairs.append((block, "_expand_conv", "_bn0"))
        pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
    for owner, conv, bn in pairs:
        setattr(owner, conv, fuse_conv_bn_eval(getattr(owner, conv), getattr(owner, bn)))
        setattr(owner, bn, nn.Identity())
    for module in net.modules():
        is_conv_bn = isinstance(module, nn.Sequential) and len(module) > 1
        if (
            is_conv_bn
            and isinstance(module[0], nn.Conv2d)
            and isinstance(module[1], nn.BatchNorm2d)
        ):
            module[0] = fuse_conv_bn_eval(module[0], module[1])
            module[1] = nn.Identity()
    return net


class PhotoColorizer:
    name = NAME
    description = (
        "Learned photo colorization (Zhang et al. 2017 style, EfficientNet-Lite0 encoder): "
        "point hints, palette/saturation global hints, per-pixel colour distribution."
    )
    learned = True
    working_size = 256

    def __init__(self, net: PhotoNet, device: str, half: bool | None = None) -> None:
        self.device = torch.device(device)
        self.half = self.device.type == "cuda" if half is None else half
        self.net = fused_for_inference(net).to(self.device)
        if self.half:
            self.net.half()
        else:
            # oneDNN runs the depthwise convolutions faster in NHWC.
            self.net = self.net.to(memory_format=torch.channels_last)
        self.bins = net.bins.float().cpu().numpy()

    def global_input(self, global_hints: GlobalHints | None) -> torch.Tensor:
        bins = self.net.bins.float()
        if global_hints is None or global_hints.empty:
            return global_vector(bins)
        palette_ab = weights = None
        if global_hints.palette:
            pal = np.asarray(global_hints.palette, dtype=np.float32).reshape(-1, 4)
            lab = rgb_to_lab(np.clip(pal[:, :3], 0, 255) / 255.0)
            palette_ab = torch.from_numpy(lab[:, 1:]).to(bins)
            weights = torch.from_numpy(np.clip(pal[:, 3], 0, None)).to(bins)
            if float(weights.sum()) <= 0:
                weights = torch.ones_like(weights)
        return global_vector(bins, palette_ab, weights, global_hints.saturation)

    @torch.inference_mode()
    def predict(
        self,
        L: np.ndarray,
        hints: Sequence[Hint],
        global_hints: GlobalHints | None = None,
        *,
        with_probs: bool = True,
    ) -> Prediction:
        t0 = time.perf_counter()
        height, width = L.shape
        ab, mask = rasterize_hints(hints, height, width)
        dtype = torch.float16 if self.half else torch.float32
        to = {"device": self.device, "dtype": dtype}
        glob = self.global_input(global_hints)[None].to(**to)
        out_ab, logits = self.net(
            torch.from_numpy(np.ascontiguousarray(L, dtype=np.float32))[None, None].to(**to),
            torch.from_numpy(ab)[None].to(**to),
            torch.from_numpy(mask)[None].to(**to),
            glob,
        )
        t1 = time.perf_counter()
        probs = None
        if with_probs:
            # Interpolating probabilities (not logits) keeps every pixel summing to 1.
            p = torch.softmax(logits.float(), dim=1)
            p = F.interpolate(p, scale_factor=4, mode="bilinear", align_corners=False)
            probs = p[0, :, :height, :width].cpu().numpy()
        t2 = time.perf_counter()
        return Prediction(
            ab=out_ab[0].float().cpu().numpy(),
            probs=probs,
            bins=self.bins,
            timing_ms={"net": (t1 - t0) * 1e3, "probs": (t2 - t1) * 1e3},
        )


def load_state(weights_path: pathlib.Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {
        k: v.float() if v.is_floating_point() else v
        for k, v in load_file(str(weights_path)).items()
    }


def load(weights_path: pathlib.Path, device: str) -> PhotoColorizer:
    state = load_state(pathlib.Path(weights_path))
    net = PhotoNet(bins=state["bins"].numpy())
    net.load_state_dict(state)
    return PhotoColorizer(net, device)
