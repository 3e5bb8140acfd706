"""The plug-ins' settings: `chromahint.json` beside each plug-in, written by the installer.

One loader and one failure rule for both editors: a missing file means the defaults; a file
that cannot be read or holds wrong values raises SettingsError, whose message names the file
and the field, so the plug-in can show it instead of silently using something else.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .protocol import DEFAULT_ENDPOINT

FILE_NAME = "chromahint.json"
DEFAULT_COMMAND = "chromahint serve"
# A colorize request is not retried: a resend would queue the same work again behind the
# first. One long wait covers a large image on a CPU.
DEFAULT_TIMEOUT = 300.0


_Num = TypeVar("_Num", int, float)


class SettingsError(Exception):
    """The settings file exists but is not usable; str() says which file and why."""


@dataclass(frozen=True)
class Settings:
    endpoint: str = DEFAULT_ENDPOINT
    engine_command: str = DEFAULT_COMMAND
    timeout: float = DEFAULT_TIMEOUT
    swatch_count: int = 5  # colours per place
    regions_shown: int = 6  # numbered on an overlay, highest priority first
    path: str = ""  # where they were read from, to point people at it


def _positive(
    doc: dict, key: str, default: float, path: str, kind: Callable[[float], _Num]
) -> _Num:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise SettingsError(f"'{key}' in {path} must be a positive number, got {value!r}")
    if kind is int and int(value) != value:
        raise SettingsError(f"'{key}' in {path} must be a whole number, got {value!r}")
    return kind(value)


def load(folder: str) -> Settings:
    """The settings in `folder`/chromahint.json (defaults when there is no such file)."""
    path = os.path.join(folder, FILE_NAME)
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except FileNotFoundError:
        return Settings(path=path)
    except (OSError, ValueError) as e:
        raise SettingsError(f"cannot read the Chromahint settings {path}: {e}") from None
    if not isinstance(doc, dict):
        raise SettingsError(f"the Chromahint settings {path} must hold a JSON object")
    for key in ("endpoint", "engine_command"):
        if key in doc and not isinstance(doc[key], str):
            raise SettingsError(f"'{key}' in {path} must be a string")
    return Settings(
        endpoint=doc.get("endpoint") or DEFAULT_ENDPOINT,
        engine_command=doc.get("engine_command") or DEFAULT_COMMAND,
        timeout=_positive(doc, "timeout", DEFAULT_TIMEOUT, path, float),
        swatch_count=_positive(doc, "swatch_count", 5, path, int),
        regions_shown=_positive(doc, "regions_shown", 6, path, int),
        path=path,
    )
