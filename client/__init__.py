"""Chromahint's client, shared by the GIMP and Krita plug-ins and the command line.

Pure Python: the standard library, pyzmq and msgpack only (no torch, no numpy), so the
plug-ins can carry it into any editor's Python.
"""

from .client import (
    DEFAULT_ENDPOINT,
    Client,
    EngineError,
    EngineNotRunning,
    EngineReplyError,
    EngineTimeout,
)

__all__ = [
    "DEFAULT_ENDPOINT",
    "Client",
    "EngineError",
    "EngineNotRunning",
    "EngineReplyError",
    "EngineTimeout",
]
