"""Which Babl format to read a layer with, and the protocol format that names those bytes.

The engine wants sRGB-encoded (non-linear) samples, so every format here is a primed
(R'G'B', Y') Babl format: GEGL converts from whatever the layer stores, linear or not,
and from the image's colour space into sRGB. Turning the bytes into a protocol image
(byte order included) is `chromahint_client.images.layer_image`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PixelFormat:
    babl: str  # Babl format name for Gegl.Buffer.get/set
    protocol: str  # the engine protocol's name for the same bytes


RESULT = PixelFormat("R'G'B'A u8", "rgba8")  # the engine's reply layer
HINTS = PixelFormat("R'G'B'A u8", "rgba8")  # hints.extract reads 8-bit RGBA
LABELS = "gray16"  # the regions reply's label image

_FORMATS = {
    (8, False, False): PixelFormat("Y' u8", "gray8"),
    (8, True, False): PixelFormat("R'G'B' u8", "rgb8"),
    (16, False, False): PixelFormat("Y' u16", "gray16"),
    (16, True, False): PixelFormat("R'G'B' u16", "rgb16"),
    (32, True, True): PixelFormat("R'G'B'A float", "rgbaf32"),
    (8, True, True): PixelFormat("R'G'B'A u8", "rgba8"),
    (16, True, True): PixelFormat("R'G'B'A u16", "rgba16"),
}


def sample_kind(precision_name: str) -> int:
    """8, 16 or 32 (float) from a Gimp.Precision nick ('u16-non-linear') or name.

    u32 is read as u16 (the protocol has no 32-bit integers and 16 bits hold more than the
    engine resolves); half, float and double are read as 32-bit float.
    """
    kind = precision_name.upper().replace("-", "_").removeprefix("GIMP_PRECISION_").split("_")[0]
    if kind == "U8":
        return 8
    if kind in ("U16", "U32"):
        return 16
    if kind in ("HALF", "FLOAT", "DOUBLE"):
        return 32
    raise ValueError(f"unknown GIMP precision {precision_name!r}")


def source_format(precision_name: str, color: bool, alpha: bool) -> PixelFormat:
    """How to read a layer for the engine.

    Transparency travels only in the RGBA formats (the protocol has no gray+alpha), and
    floats only as rgbaf32, so those cases widen to RGBA.
    """
    bits = sample_kind(precision_name)
    if bits == 32:
        return _FORMATS[(32, True, True)]
    if alpha:
        return _FORMATS[(bits, True, True)]
    return _FORMATS[(bits, color, False)]


def reply_pixels(image: Any, fmt: str, size: tuple[int, int], what: str) -> bytes:
    """The data of a reply's protocol Image, checked to be `fmt` at the layer's `size`.

    (The client has checked that the data fills the image; this checks it is the image the
    plug-in asked about.) Raises ValueError with words for people.
    """
    if image.format != fmt:
        raise ValueError(f"the engine sent its {what} as {image.format}, not {fmt}")
    if (image.width, image.height) != tuple(size):
        raise ValueError(
            f"the engine answered with a {image.width}x{image.height} {what} "
            f"for a {size[0]}x{size[1]} layer"
        )
    return image.data
