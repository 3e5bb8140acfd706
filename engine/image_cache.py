"""Images by id, with what was derived from them, so a live update sends only its hints.

A request that carries an image puts it here under its content hash (protocol `image_id`);
a later request may name that id instead of sending the image again. Each entry also keeps
what the engine derived from the image alone (the decoded raster, the working-size
lightness, the model's encoder features), so a hint change recomputes none of it.
Entries are evicted least recently used first when the cache passes its byte budget
(`serve --cache-mb`); an evicted or unknown id gets `unknown_image` and the client sends the
image again. Correctness never depends on the cache: a restarted engine starts empty.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from chromahint_client import protocol as P
from chromahint_client.protocol import ErrorCode, ProtocolError

T = TypeVar("T")
ENTRY_OVERHEAD = 4096  # bytes an entry costs beyond its arrays (the objects around them)


def nbytes(value: Any) -> int:
    """Bytes held by arrays, tensors, bytes and containers of them (others count as 0)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    if hasattr(value, "element_size") and hasattr(value, "numel"):  # a torch tensor
        return int(value.element_size() * value.numel())
    if isinstance(value, list | tuple):
        return sum(nbytes(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return sum(nbytes(getattr(value, f)) for f in value.__dataclass_fields__)
    return 0


@dataclass
class Entry:
    image_id: str
    image: P.Image
    derived: dict[Any, Any] = field(default_factory=dict)
    size: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class ImageCache:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, image: P.Image, image_id: str | None = None) -> Entry:
        """The entry for `image` (made, or found when the same image came before)."""
        key = image_id or P.image_id(image)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = Entry(key, image, size=ENTRY_OVERHEAD + len(image.data))
                self._entries[key] = entry
            self._entries.move_to_end(key)
            self._evict(keep=key)
        return entry

    def get(self, image_id: str) -> Entry:
        with self._lock:
            entry = self._entries.get(image_id)
            if entry is None:
                raise ProtocolError(
                    ErrorCode.UNKNOWN_IMAGE,
                    f"this engine holds no image {image_id!r} (evicted, or the engine restarted): "
                    "send the image itself",
                )
            self._entries.move_to_end(image_id)
            return entry

    def lookup(self, image_id: str) -> P.Image:
        """For protocol.parse_request: the image an `image_id` names."""
        return self.get(image_id).image

    def derive(self, entry: Entry, key: Any, make: Callable[[], T]) -> T:
        """entry.derived[key], made once by `make()` and counted in the budget."""
        with entry.lock:  # two requests for one image make it once
            if key in entry.derived:
                return entry.derived[key]
            value = make()
            entry.derived[key] = value
            grown = nbytes(value)
        with self._lock:
            entry.size += grown
            self._evict(keep=entry.image_id)
        return value

    def _evict(self, keep: str) -> None:
        total = sum(e.size for e in self._entries.values())
        while total > self.max_bytes and len(self._entries) > 1:
            oldest = next(iter(self._entries))
            if oldest == keep:
                self._entries.move_to_end(oldest)
                oldest = next(iter(self._entries))
            total -= self._entries.pop(oldest).size
