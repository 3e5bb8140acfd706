"""The plug-in's settings: `chromahint.json` next to the package, written by the installer."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5557"
DEFAULT_COMMAND = "chromahint serve"
SETTINGS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chromahint.json")


@dataclass(frozen=True)
class Settings:
    endpoint: str = DEFAULT_ENDPOINT
    engine_command: str = DEFAULT_COMMAND
    timeout: float = 300.0  # a large image on a CPU engine can take a while
    swatch_count: int = 5
    regions_shown: int = 6  # numbered on the overlay, highest priority first

    @classmethod
    def load(cls, path: str = SETTINGS_FILE) -> tuple[Settings, str | None]:
        """The settings, and a warning for people when the file is unreadable."""
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except FileNotFoundError:
            return cls(), None
        except (OSError, ValueError) as e:
            return cls(), f"could not read {path} ({e}); using the default settings"
        if not isinstance(doc, dict):
            return cls(), f"{path} does not hold a JSON object; using the default settings"
        return (
            cls(
                endpoint=str(doc.get("endpoint") or DEFAULT_ENDPOINT),
                engine_command=str(doc.get("engine_command") or DEFAULT_COMMAND),
                timeout=float(doc.get("timeout", cls.timeout)),
            ),
            None,
        )
