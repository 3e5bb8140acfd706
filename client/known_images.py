"""The images each engine endpoint is known to hold (by id), for sending an id instead."""

from __future__ import annotations

import threading
from collections import OrderedDict

from . import protocol as P

KNOWN_IMAGES = 16  # image ids remembered per endpoint
# Per endpoint: image id -> its image's fingerprint, most recently used last.
_known: dict[str, OrderedDict[str, bytes]] = {}
_known_lock = threading.Lock()
_FINGERPRINT_SAMPLES = 4096


def fingerprint(image: P.Image) -> bytes:
    """Size, format and 4096 bytes sampled across the data: only an image whose fingerprint
    is known can have a known id, so a new image is sent without hashing it all (the
    engine names it in the reply); a matching one is then hashed to be sure."""
    data = memoryview(image.data).cast("B")
    step = max(1, len(data) // _FINGERPRINT_SAMPLES)
    return f"{image.width}x{image.height}:{image.format}:".encode() + bytes(data[::step])


def _remember(endpoint: str, image_id: str, print_: bytes) -> None:
    with _known_lock:
        ids = _known.setdefault(endpoint, OrderedDict())
        ids[image_id] = print_
        ids.move_to_end(image_id)
        while len(ids) > KNOWN_IMAGES:
            ids.popitem(last=False)


def _forget(endpoint: str, image_id: str) -> None:
    with _known_lock:
        _known.get(endpoint, OrderedDict()).pop(image_id, None)


def _known_id(endpoint: str, image: P.Image, print_: bytes) -> str | None:
    """The id of `image` when the engine at `endpoint` is known to hold it."""
    with _known_lock:
        candidates = print_ in _known.get(endpoint, {}).values()
    if not candidates:
        return None
    ref = P.image_id(image)
    with _known_lock:
        return ref if ref in _known.get(endpoint, ()) else None
