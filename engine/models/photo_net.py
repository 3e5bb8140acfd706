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
import pathlib
import time
from collections.abc import Sequence
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from chromahint.color import rgb_to_lab
from chromahint.models.ab_bins import gamut_bins, histogram
from chromahint.models.base import DenseHints, GlobalHints, Hint, Prediction, rasterize_hints
from chromahint.models.effnet_lite import TAP_CHANNELS, LiteEncoder, MBConv
from chromahint.models.hint_fill import push_pull
from chromahint.models.hint_value import HintValue
from chromahint.models.layers import conv_bn
from chromahint.models.normalize import AB_SCALE, ab_unit, lightness_centred
from chromahint.models.photo_trunk import Pair, PhotoTrunk, Taps, pad_lightness, up_to, zero_init

NAME = "photo-net-v1"
# Saturation hint: the image's mean CIELAB chroma divided by this, clipped to [0, 1].
SATURATION_CHROMA = 50.0


class PhotoNet(PhotoTrunk):
    """forward(L, hint_ab, mask, glob) -> (ab (B,2,H,W), logits (B,Q,ceil(H/4),ceil(W/4)))."""

    name = NAME
    description = (
        "Learned photo colorization (Zhang et al. 2017 style, EfficientNet-Lite0 encoder): "
        "point hints, palette/saturation global hints, per-pixel colour distribution."
    )

    def __init__(self, bins: np.ndarray | None = None) -> None:
        # Hint branch input [hint ab, mask, fill ab, L], strided to stride 2.
        super().__init__(gamut_bins() if bins is None else bins, conv_bn(6, 16, stride=2))
        e2 = TAP_CHANNELS[0]
        self.dec2 = nn.Sequential(conv_bn(48 + e2 + 16, 24, kernel=1), conv_bn(24, 16))
        # Full resolution: edge-aware refinement guided by L and the raw hints.
        self.refine = nn.Sequential(conv_bn(16 + 6, 12), nn.Conv2d(12, 2, 3, padding=1))
        zero_init(cast(nn.Conv2d, self.refine[-1]))

    def head(self, feats: Taps, L: Tensor, hint_ab: Tensor, mask: Tensor, glob: Tensor) -> Pair:
        fill = push_pull(hint_ab, mask)
        x = torch.cat([ab_unit(hint_ab), mask, ab_unit(fill), lightness_centred(L)], dim=1)
        h2, d, logits = self.trunk(feats, x, glob)
        d = self.dec2(torch.cat([up_to(d, feats[0]), feats[0], h2], dim=1))
        residual = self.refine(torch.cat([up_to(d, x), x], dim=1))
        return fill + AB_SCALE * residual, logits


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
        if palette_weights is None:
            palette_weights = torch.ones(len(palette_ab), device=bins.device)
        v[:q] = histogram(palette_ab, palette_weights, bins)
        v[q + 1] = 1.0
    if saturation is not None:
        v[q] = float(saturation)
        v[q + 2] = 1.0
    return v


def fused_for_inference(net: nn.Module) -> nn.Module:
    """An eval-mode copy with every BatchNorm folded into its convolution (~20 % faster)."""
    net = copy.deepcopy(net).eval()
    encoder = cast(LiteEncoder, net.encoder)
    pairs: list[tuple[nn.Module, str, str]] = [(encoder, "_conv_stem", "_bn0")]
    for block in cast(list[MBConv], encoder._blocks):
        if block.expand:
            pairs.append((block, "_expand_conv", "_bn0"))
        pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
    for owner, conv, bn in pairs:
        setattr(owner, conv, fuse_conv_bn_eval(getattr(owner, conv), getattr(owner, bn)))
        setattr(owner, bn, nn.Identity())
    for module in net.modules():
        if not (isinstance(module, nn.Sequential) and len(module) > 1):
            continue
        conv, bn = module[0], module[1]
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
            module[0] = fuse_conv_bn_eval(conv, bn)
            module[1] = nn.Identity()
    return net


class PhotoColorizer:
    """Serves a photo network (PhotoNet or photo_prop.PhotoPropNet) to the engine."""

    learned = True
    working_size = 256
    hint_value: HintValue | None = None  # photo-net-v2's head for suggest_points, if shipped

    def __init__(self, net: nn.Module, device: str, half: bool | None = None) -> None:
        self.name = str(net.name)
        self.description = str(net.description)
        self.device = torch.device(device)
        self.half = self.device.type == "cuda" if half is None else half
        self.net = fused_for_inference(net).to(self.device)
        if self.half:
            self.net.half()
        else:
            # oneDNN runs the depthwise convolutions faster in NHWC.
            # (torch's stub lacks Module.to's memory_format overload)
            self.net = self.net.to(memory_format=torch.channels_last)  # pyright: ignore[reportCallIssue]
        self.bins_t = cast(torch.Tensor, self.net.bins).float()
        self.bins = self.bins_t.cpu().numpy()

    def global_input(self, global_hints: GlobalHints | None) -> torch.Tensor:
        bins = self.bins_t
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

    def _lightness(self, L: np.ndarray) -> torch.Tensor:
        dtype = torch.float16 if self.half else torch.float32
        plane = torch.from_numpy(np.array(L, dtype=np.float32))  # a copy: L may be read-only
        return plane[None, None].to(device=self.device, dtype=dtype)

    @torch.inference_mode()
    def encode(self, L: np.ndarray) -> list[torch.Tensor]:
        """The encoder taps for L: what a hint change does not change."""
        return cast(PhotoTrunk, self.net).features(pad_lightness(self._lightness(L)))

    @torch.inference_mode()
    def predict(
        self,
        L: np.ndarray,
        hints: Sequence[Hint],
        global_hints: GlobalHints | None = None,
        *,
        with_probs: bool = True,
        encoded: object | None = None,
        dense: DenseHints | None = None,
    ) -> Prediction:
        t0 = time.perf_counter()
        height, width = L.shape
        ab, mask = rasterize_hints(hints, height, width, dense)
        dtype = torch.float16 if self.half else torch.float32
        to = {"device": self.device, "dtype": dtype}
        glob = self.global_input(global_hints)[None].to(**to)
        out_ab, logits = self.net(
            self._lightness(L),
            torch.from_numpy(ab)[None].to(**to),
            torch.from_numpy(mask)[None].to(**to),
            glob,
            cast(list[torch.Tensor] | None, encoded),
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
