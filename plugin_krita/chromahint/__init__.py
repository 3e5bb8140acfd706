"""Chromahint for Krita 5: paint colour hints, get a colorized layer from the engine.

Krita loads this package at start-up (pykrita, enabled in kritarc by the installer). Our
own folder goes first on sys.path for the shared `chromahint_client` copied next to us, then
`vendor/` for pyzmq/msgpack wheels when Krita's Python lacks them.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
for _path in (os.path.join(_HERE, "vendor"), _HERE):
    if os.path.isdir(_path) and _path not in sys.path:
        sys.path.insert(0, _path)

from krita import DockWidgetFactory, DockWidgetFactoryBase, Krita  # noqa: E402

import chromahint_client  # noqa: E402,F401  (fails early and clearly when it is missing)

from .docker import DOCKER_ID, ChromahintDocker  # noqa: E402

Krita.instance().addDockWidgetFactory(
    DockWidgetFactory(DOCKER_ID, DockWidgetFactoryBase.DockRight, ChromahintDocker)
)
