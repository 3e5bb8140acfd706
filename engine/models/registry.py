"""The one place that turns files in weights/ into colorizers, per mode.

A learned model is used when its weights file is present and loads; otherwise the mode
falls back to its non-learned baseline, if it has one, and `info` says which is serving.
"""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from chromahint_client.protocol import Mode

from .base import Colorizer, LineartModel

log = logging.getLogger(__name__)

WEIGHTS_ENV = "CHROMAHINT_WEIGHTS"


@dataclass(frozen=True)
class ModelSpec:
    mode: Mode
    weights: tuple[
        tuple[str, str], ...
    ]  # (file in the weights folder, "module:loader"), best first
    fallback: str | None = None  # "module:function" taking ()


SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        Mode.PHOTO,
        (
            ("photo_net_v2.safetensors", "chromahint.models.photo_prop:load"),
            ("photo_net.safetensors", "chromahint.models.photo_net:load"),
        ),
        fallback="chromahint.models.levin:load",
    ),
    ModelSpec(Mode.LINEART, (("lineart_net.safetensors", "chromahint.models.lineart_net:load"),)),
)


@dataclass
class Models:
    """What the engine serves, per mode; None where no model (not even a baseline) loaded."""

    photo: Colorizer | None = None
    lineart: LineartModel | None = None

    def served(self) -> list[tuple[Mode, Colorizer | LineartModel]]:
        return [(mode, m) for mode in Mode if (m := getattr(self, mode.value)) is not None]


def weights_dir() -> Path:
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        return Path(env)
    return Path(str(resources.files("chromahint.weights")))


def _resolve(ref: str):
    module, func = ref.split(":")
    return getattr(importlib.import_module(module), func)


def load_models(device: str, folder: Path | None = None) -> Models:
    folder = folder or weights_dir()
    models = Models()
    for spec in SPECS:
        model = None
        for name, loader in spec.weights:
            path = folder / name
            if not path.is_file():
                continue
            try:
                model = _resolve(loader)(path, device)
                break
            except Exception:  # a broken file must not keep the engine from serving
                log.exception("could not load %s; trying the next candidate", path)
        if model is None and spec.fallback:
            model = _resolve(spec.fallback)()
        setattr(models, spec.mode.value, model)
    return models
