"""What both photo networks share: the frozen encoder, the hint branch from stride 4 to 16,
Iizuka et al.'s global fusion and the U-Net decoder from stride 32 to 4 with the ab-bin
logits (Zhang et al.'s distribution, the swatch source).

The attribute names are the state-dict names of photo-net-v1's weights, so photo-net-v2
starts from v1's trained trunk. Each network adds its own stride-2 hint input (`hint2`),
its stride-2 decoder level and its output heads.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from chromahint.models.effnet_lite import TAP_CHANNELS, LiteEncoder
from chromahint.models.layers import conv_bn
from chromahint.models.normalize import lightness_encoder

Taps = list[Tensor]  # the encoder's outputs, strides 2 to 32
Pair = tuple[Tensor, Tensor]  # (ab, logits)
STRIDE = 32  # the encoder's deepest stride: inputs are padded to a multiple of it


def up_to(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)


def zero_init(conv: nn.Conv2d) -> None:
    """A residual head that starts as the identity of what it refines."""
    nn.init.zeros_(conv.weight)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def pad_lightness(L: torch.Tensor) -> torch.Tensor:
    """Pad right/bottom to a multiple of STRIDE, repeating the edge."""
    h, w = L.shape[-2:]
    ph, pw = -h % STRIDE, -w % STRIDE
    return F.pad(L, (0, pw, 0, ph), mode="replicate") if ph or pw else L


def pad_inputs(
    L: torch.Tensor, hint_ab: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad right/bottom to a multiple of STRIDE (stride-4 logits stay aligned top-left)."""
    h, w = L.shape[-2:]
    ph, pw = -h % STRIDE, -w % STRIDE
    if ph or pw:
        hint_ab = F.pad(hint_ab, (0, pw, 0, ph))
        mask = F.pad(mask, (0, pw, 0, ph))
    return pad_lightness(L), hint_ab, mask


class PhotoTrunk(nn.Module):
    bins: torch.Tensor

    def __init__(self, bins, hint2: nn.Module) -> None:
        super().__init__()
        self.register_buffer("bins", torch.as_tensor(bins, dtype=torch.float32))
        q = len(bins)
        self.glob_dim = q + 3  # histogram, saturation, has-histogram, has-saturation
        _, e4, e8, e16, e32 = TAP_CHANNELS
        self.encoder = LiteEncoder()
        # Hint branch: the network's own stride-2 input, then cheap strided convs to 16.
        self.hint2 = hint2
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

    def features(self, L: torch.Tensor) -> list[torch.Tensor]:
        """Encoder taps of L (B, 1, H, W) padded to a multiple of STRIDE: the part that
        depends on the image only, which the engine keeps per cached image."""
        return self.encoder(lightness_encoder(L))

    def forward(
        self, L: Tensor, hint_ab: Tensor, mask: Tensor, glob: Tensor, feats: Taps | None = None
    ) -> Pair:
        """-> (ab (B, 2, H, W), logits (B, Q, ceil(H/4), ceil(W/4))); `feats`: this L's
        `features()` from an earlier call, so only the hint-dependent part runs."""
        h, w = L.shape[-2:]
        L, hint_ab, mask = pad_inputs(L, hint_ab, mask)
        ab, logits = self.head(self.features(L) if feats is None else feats, L, hint_ab, mask, glob)
        return ab[..., :h, :w], logits[..., : math.ceil(h / 4), : math.ceil(w / 4)]

    def head(self, feats: Taps, L: Tensor, hint_ab: Tensor, mask: Tensor, glob: Tensor) -> Pair:
        """Everything after the encoder, on padded inputs: (ab, logits) uncropped."""
        raise NotImplementedError

    def trunk(
        self, feats: list[torch.Tensor], x: torch.Tensor, glob: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encoder taps, the stride-2 hint input x and the global hint -> (the hint branch
        at stride 2, the decoder at stride 4, the bin logits at stride 4)."""
        _, f4, f8, f16, f32 = feats
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
        return h2, d, self.classify(d)
