"""Chromahint for Krita 5: paint colour hints, get a colorized layer from the engine.

Krita loads this package at start-up (pykrita, enabled in kritarc by the installer) and the
docker registers itself. `lib/` (the shared `chromahint_client`, copied there by the
installer) and `vendor/` (pyzmq/msgpack wheels when Krita's Python lacks them) go first on
sys.path; our own folder does not, since every Krita plug-in shares this Python and our
module names (`docker`, `model`, …) must not shadow anyone's.

Outside Krita (the unit tests import the pure modules, such as `pixels` and `swatches`,
through the installer package that ships them) nothing is registered and sys.path is left
alone.
"""

import importlib.util
import os
import sys

if importlib.util.find_spec("krita") is not None:
    _HERE = os.path.dirname(os.path.abspath(__file__))
    for _path in (os.path.join(_HERE, "vendor"), os.path.join(_HERE, "lib")):
        if os.path.isdir(_path) and _path not in sys.path:
            sys.path.insert(0, _path)

    import chromahint_client  # noqa: F401  (fails early and clearly when it is missing)

    from . import kritadoc
    from .docker import DOCKER_ID, ChromahintDocker

    kritadoc.add_docker(DOCKER_ID, ChromahintDocker)
