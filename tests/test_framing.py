"""Reply frames sent from the layer's own memory decode to the same reply."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from chromahint.framing import HEADROOM, layer_buffer, pack

pytestmark = pytest.mark.unit


def reply(data) -> dict:
    layer = {"width": 3, "height": 2, "format": "rgba8", "data": data}
    return {"v": 1, "id": 7, "ok": True, "layer": layer, "swatches": [[{"p": 0.5}]]}


def test_a_layer_buffer_reply_is_framed_in_place_and_decodes_the_same():
    out = layer_buffer(2, 3)
    out[:] = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    frame = pack(reply(out.data.cast("B")))
    assert isinstance(frame, memoryview)
    assert np.shares_memory(np.frombuffer(frame, np.uint8), out)  # no copy of the layer
    got = msgpack.unpackb(frame, raw=False)
    assert got == reply(bytes(range(24)))


def test_other_messages_and_layers_are_packed_as_usual():
    plain = reply(memoryview(bytes(range(24))))
    assert msgpack.unpackb(pack(plain), raw=False) == reply(bytes(range(24)))
    assert isinstance(pack({"ok": True}), bytes)


def test_a_reply_too_big_for_the_headroom_is_still_sent():
    out = layer_buffer(2, 3)
    out[:] = 9
    big = {**reply(out.data.cast("B")), "swatches": ["x" * HEADROOM]}
    assert msgpack.unpackb(pack(big), raw=False)["layer"]["data"] == bytes([9] * 24)
