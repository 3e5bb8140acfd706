"""Reply frames without copying the layer: the render writes the layer into a buffer with
room in front, and pack() writes the rest of the reply into that room, so the frame
ZeroMQ sends is the layer's own memory (an 8000x6000 layer is 183 MiB; msgpack alone would
copy it once more). Any other message is packed as usual.
"""

from __future__ import annotations

from typing import cast

import msgpack
import numpy as np

HEADROOM = 1 << 16  # bytes before the layer for the rest of the reply
_BIN32 = b"\xc6"  # msgpack bin 32 header byte; then the length, big-endian


def layer_buffer(height: int, width: int) -> np.ndarray:
    """An uninitialised (height, width, 4) uint8 array with HEADROOM bytes before it."""
    raw = np.empty(HEADROOM + height * width * 4, np.uint8)
    return raw[HEADROOM:].reshape(height, width, 4)


def pack(message: dict) -> bytes | memoryview:
    """The msgpack frame of a message: a reply whose layer is a layer_buffer comes back as
    a view of that buffer (layer last in the map, its data last in the layer)."""
    layer = message.get("layer")
    data = layer.get("data") if isinstance(layer, dict) else None
    raw = getattr(data.obj, "base", None) if isinstance(data, memoryview) else None
    if (
        isinstance(layer, dict)
        and isinstance(data, memoryview)
        and isinstance(raw, np.ndarray)
        and raw.ndim == 1
        and raw.nbytes == HEADROOM + data.nbytes
    ):
        rest = {k: v for k, v in message.items() if k != "layer"}
        rest["layer"] = {**{k: v for k, v in layer.items() if k != "data"}, "data": b""}
        head = _packb(rest)
        empty = b"\xc4\x00"  # bin 8 of no bytes, last: what the layer's data replaces
        if head.endswith(empty):
            head = head[: -len(empty)] + _BIN32 + data.nbytes.to_bytes(4, "big")
            if len(head) <= HEADROOM:
                raw[HEADROOM - len(head) : HEADROOM] = np.frombuffer(head, np.uint8)
                return raw[HEADROOM - len(head) :].data.cast("B")
    return _packb(message)


def _packb(message: dict) -> bytes:
    # packb returns bytes (pyright infers Optional from the pure-Python fallback).
    return cast(bytes, msgpack.packb(message, use_bin_type=True))
