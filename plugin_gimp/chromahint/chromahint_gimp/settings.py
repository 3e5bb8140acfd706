"""The plug-in's settings: `chromahint.json` beside chromahint.py, written by the installer."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5557"
DEFAULT_COMMAND = "chromahint serve"
# A colorize request is not retried: a resend would queue the same work again behind
# the first. One long wait covers a large image on a CPU.
DEFAULT_TIMEOUT = 300.0
FILE_NAME = "chromahint.json"


@dataclass(frozen=True)
class Settings:
    endpoint: str = DEFAULT_ENDPOINT
    engine_command: str = DEFAULT_COMMAND
    timeout: float = DEFAULT_TIMEOUT
    path: str = ""  # where they were read from, to point people at it


class SettingsError(Exception):
    pass


def load(folder: str) -> Settings:
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
    try:
        timeout = float(doc.get("timeout", DEFAULT_TIMEOUT))
    except (TypeError, ValueError):
        raise SettingsError(f"'timeout' in {path} must be a number of seconds") from None
    return Settings(
        endpoint=str(doc.get("endpoint") or DEFAULT_ENDPOINT),
        engine_command=str(doc.get("engine_command") or DEFAULT_COMMAND),
        timeout=timeout if timeout > 0 else DEFAULT_TIMEOUT,
        path=path,
    )
