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

from .base import Colorizer

log = logging.getLogger(__name__)

WEIGHTS_ENV = "CHROMAHINT_WEIGHTS"


@dataclass(frozen=True)
class ModelSpec:
    mode: str
    weights: str  # file name inside the weights folder
    loader: str  # "module:function" taking (path, device)
    fallback: str | None = None  # "module:function" taking ()


SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        "photo",
        "photo_net.safetensors",
        "chromahint.models.photo_net:load",
        fallback="chromahint.models.levin:load",
    ),
    ModelSpec("lineart", "lineart_net.safetensors", "chromahint.models.lineart_net:load"),
)


def weights_dir() -> Path:
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        return Path(env)
    return Path(str(resources.files("chromahint.weights")))


def _resolve(ref: str):
    module, func = ref.split(":")
    return getattr(importlib.import_module(module), func)


def load_models(device: str, folder: Path | None = None) -> dict[str, Colorizer]:
    folder = folder or weights_dir()
    models: dict[str, Colorizer] = {}
    for spec in SPECS:
        path = folder / spec.weights
        if path.is_file():
            try:
                models[spec.mode] = _resolve(spec.loader)(path, device)
                continue
            except Exception:  # a broken file must not keep the engine from serving
                log.exception("could not load %s; using the fallback if any", path)
        if spec.fallback:
            models[spec.mode] = _resolve(spec.fallback)()
    return models
