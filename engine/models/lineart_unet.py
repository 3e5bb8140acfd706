"""A small CPU-friendly U-Net shared by the line-art segmentation and colorization nets."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from chromahint.models.layers import conv_bn

# Pixel-unshuffle by 2, then four stride-2 steps: inputs are padded to a multiple of this.
STRIDE = 32


class UNet(nn.Module):
    """forward(x (B, cin, H, W)) -> (B, cout, H, W); H and W must be multiples of STRIDE.

    Nothing runs at full resolution: the input is unshuffled into 2x2 blocks and the head is
    upsampled bilinearly. Flat colours and region logits are smooth, and the engine draws
    the lines on top, so the half-resolution output loses little and saves ~4x compute.
    """

    def __init__(self, cin: int, cout: int, widths: tuple[int, ...] = (16, 24, 48, 64, 96)):
        super().__init__()
        w0, w1, w2, w3, w4 = widths
        self.stem = conv_bn(cin * 4, w0)
        self.down1 = nn.Sequential(conv_bn(w0, w1, stride=2), conv_bn(w1, w1))
        self.down2 = nn.Sequential(conv_bn(w1, w2, stride=2), conv_bn(w2, w2))
        self.down3 = nn.Sequential(conv_bn(w2, w3, stride=2), conv_bn(w3, w3))
        self.down4 = nn.Sequential(conv_bn(w3, w4, stride=2), conv_bn(w4, w4), conv_bn(w4, w4))
        self.up3 = conv_bn(w4 + w3, w3)
        self.up2 = conv_bn(w3 + w2, w2)
        self.up1 = conv_bn(w2 + w1, w1)
        self.up0 = conv_bn(w1 + w0, w0)
        self.head = nn.Conv2d(w0, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = self.stem(F.pixel_unshuffle(x, 2))
        s1 = self.down1(s0)
        s2 = self.down2(s1)
        s3 = self.down3(s2)
        y = self.down4(s3)
        y = self.up3(torch.cat([_up(y, s3), s3], 1))
        y = self.up2(torch.cat([_up(y, s2), s2], 1))
        y = self.up1(torch.cat([_up(y, s1), s1], 1))
        y = self.up0(torch.cat([_up(y, s0), s0], 1))
        return F.interpolate(self.head(y), scale_factor=2.0, mode="bilinear", align_corners=False)


def _up(x: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)


def pad_to_stride(x: torch.Tensor, value: float) -> tuple[torch.Tensor, int, int]:
    """Pad right/bottom to a STRIDE multiple; returns the padded tensor and the original H, W."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % STRIDE, (-w) % STRIDE
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), value=value)
    return x, h, w
