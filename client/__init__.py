"""Chromahint's client, shared by the GIMP and Krita plug-ins and the command line.

Pure Python: the standard library, pyzmq and msgpack only (no torch, no numpy), so the
plug-ins can carry it into any editor's Python. `protocol` holds every wire type; `Client`
sends them; `settings`, `session`, `images`, `hints` and `regions` are what both plug-ins
share.
"""

from .client import (
    BadReply,
    Client,
    EngineAuthError,
    EngineError,
    EngineNotRunning,
    EngineReplyError,
    EngineTimeout,
)
from .curve import CurveKeys, KeyFileError
from .protocol import DEFAULT_ENDPOINT

__all__ = [
    "DEFAULT_ENDPOINT",
    "BadReply",
    "Client",
    "CurveKeys",
    "EngineAuthError",
    "EngineError",
    "EngineNotRunning",
    "EngineReplyError",
    "EngineTimeout",
    "KeyFileError",
]
