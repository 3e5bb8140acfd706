"""photo-net-v2: learned priors, structural edge-aware propagation.

v1 let a U-Net learn to spread hints and it did not learn to in a CPU budget; here the
spreading is structure, and learning supplies what structure cannot:

* an EfficientNet-Lite0 encoder on the lightness (frozen ImageNet features, cacheable) and a
  light U-Net decoder with a hint branch and Iizuka-style global fusion, as in v1, predict at
  stride 2 a **prior** ab (the colour where no hint reaches), its **confidence**, and
  **learned edges** (guide channels whose steps add to the lightness steps);
* a domain-transform normalized convolution (`propagate.py`) over the stride-2 grid solves
  for ab with the hints as strong data terms and the prior, weighted by its confidence, as a
  soft one: a Levin-like energy with a learned prior, in 12 vectorised 1-D passes;
* a full-resolution residual refinement, and logits over the ab bins at stride 4 (swatches).
"""

from __future__ import annotations

import logging
import pathlib
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from chromahint.models import hint_value, propagate
from chromahint.models.effnet_lite import TAP_CHANNELS
from chromahint.models.layers import conv_bn
from chromahint.models.normalize import AB_SCALE, ab_unit, lightness_centred
from chromahint.models.photo_net import PhotoColorizer, PhotoNet, load_state
from chromahint.models.photo_trunk import Pair, PhotoTrunk, Taps, up_to, zero_init

log = logging.getLogger(__name__)

NAME = "photo-net-v2"
# Domain transform at stride 2: spatial reach in stride-2 pixels and the lightness step
# (in L units) that counts as one sigma_s of distance. Chosen on photos-val by the fill
# alone (weights/README.md, photo-net-v2, Architecture): within 0.5 dB of Levin at N = 100.
SIGMA_S = 32.0
SIGMA_R = 16.0
GUIDE_CHANNELS = 2
CONFIDENCE_BIAS = -6.0
# Learned log-scale of the lightness steps, per pixel: below 0 where texture should not stop
# a hint, above where an edge matters more than its contrast says.
EDGE_LOG_RANGE = (-4.0, 2.0)


class PhotoPropNet(PhotoTrunk):
    """forward(L, hint_ab, mask, glob) -> (ab (B,2,H,W), logits (B,Q,ceil(H/4),ceil(W/4)))."""

    name = NAME
    description = (
        "Learned photo colorization with edge-aware hint propagation (EfficientNet-Lite0 "
        "priors, domain-transform solve): point hints, palette/saturation global hints, "
        "per-pixel colour distribution."
    )

    def __init__(self, bins) -> None:
        # Hint branch input [hint ab, mask, propagated ab, reach, L], already at stride 2.
        super().__init__(bins, conv_bn(7, 16))
        e2 = TAP_CHANNELS[0]
        self.dec2 = nn.Sequential(conv_bn(48 + e2 + 16, 32, kernel=1), conv_bn(32, 32))
        # Stride-2 heads: prior ab (2), confidence logit (1), lightness-edge log-scale (1),
        # learned guide (GUIDE_CHANNELS).
        self.heads = nn.Conv2d(32, 4 + GUIDE_CHANNELS, 3, padding=1)
        zero_init(self.heads)
        with torch.no_grad():
            cast(torch.Tensor, self.heads.bias)[2] = CONFIDENCE_BIAS
        self.refine = nn.Sequential(conv_bn(2 + 4, 12), nn.Conv2d(12, 2, 3, padding=1))
        zero_init(cast(nn.Conv2d, self.refine[-1]))

    def head(self, feats: Taps, L: Tensor, hint_ab: Tensor, mask: Tensor, glob: Tensor) -> Pair:
        ab, logits, _ = self.decode(feats, L, hint_ab, mask, glob)
        return ab, logits

    def decode(
        self, feats: Taps, L: Tensor, hint_ab: Tensor, mask: Tensor, glob: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Everything after the encoder, on padded inputs (H, W multiples of STRIDE):
        ab (B, 2, H, W), logits at stride 4, and the stride-2 prior (for its own loss)."""
        L2 = F.avg_pool2d(L, 2)
        m2 = F.avg_pool2d(mask, 2)
        v2 = F.avg_pool2d(hint_ab * mask, 2) / m2.clamp_min(1e-6)
        step_x, step_y = propagate.link_steps(propagate.smooth3(L2) * (SIGMA_S / SIGMA_R))
        dist_x, dist_y = 1.0 + step_x, 1.0 + step_y
        # Hints alone, along lightness: what the decoder sees of where hints reach.
        num, den = propagate.propagate(v2 * m2, m2, dist_x, dist_y, SIGMA_S)
        fill = num / den.clamp_min(1e-12)
        reach = (den.clamp_min(1e-12).log() / 10.0 + 1.0).clamp(min=-2.0)
        x = torch.cat([ab_unit(v2), m2, ab_unit(fill), reach, lightness_centred(L2)], dim=1)
        h2, d, logits = self.trunk(feats, x, glob)
        d = self.dec2(torch.cat([up_to(d, feats[0]), feats[0], h2], dim=1))
        out = self.heads(d)
        prior = AB_SCALE * torch.tanh(out[:, :2])
        confidence = torch.exp(out[:, 2:3].clamp(-30.0, 10.0))
        scale_x, scale_y = propagate.link_means(torch.exp(out[:, 3:4].clamp(*EDGE_LOG_RANGE)))
        learned_x, learned_y = propagate.link_steps(out[:, 4:] * SIGMA_S)
        dist_x = 1.0 + step_x * scale_x + learned_x
        dist_y = 1.0 + step_y * scale_y + learned_y
        # Hints as strong data terms, the prior as a soft one weighted by its confidence.
        num, den = propagate.propagate(
            v2 * m2 + prior * confidence, m2 + confidence, dist_x, dist_y, SIGMA_S
        )
        ab2 = num / den.clamp_min(1e-12)
        ab = F.interpolate(ab2, scale_factor=2, mode="bilinear", align_corners=False)
        residual = self.refine(
            torch.cat([ab_unit(ab), ab_unit(hint_ab), mask, lightness_centred(L)], dim=1)
        )
        return ab + AB_SCALE * residual, logits, prior


def from_v1(v1: PhotoNet) -> PhotoPropNet:
    """A v2 net that starts from v1's trained encoder, global fusion and coarse decoder."""
    net = PhotoPropNet(v1.bins)
    own = net.state_dict()
    shared = {k: v for k, v in v1.state_dict().items() if k in own and own[k].shape == v.shape}
    net.load_state_dict(shared, strict=False)
    return net


def from_state(state: dict[str, Tensor]) -> PhotoPropNet:
    """The net of a saved state (a shipped file, a checkpoint to resume or fine-tune)."""
    net = PhotoPropNet(state["bins"].numpy())
    net.load_state_dict(state)
    return net


def load(weights_path: pathlib.Path, device: str) -> PhotoColorizer:
    colorizer = PhotoColorizer(from_state(load_state(pathlib.Path(weights_path))), device)
    value_path = pathlib.Path(weights_path).parent / hint_value.WEIGHTS
    if value_path.is_file():  # where a hint helps most (suggest_points), trained for this net
        try:
            colorizer.hint_value = hint_value.load(value_path)
        except Exception as e:  # suggestions fall back to the hand-made score
            log.warning("could not load %s (%s): suggest_points uses its own score", value_path, e)
    return colorizer
