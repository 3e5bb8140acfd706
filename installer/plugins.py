"""The files each plug-in install consists of, read from the packages shipped with us.

The plug-in sources are package data of `chromahint_installer.plugin_gimp` and
`chromahint_installer.plugin_krita`; the shared client is the `chromahint_client` package.
Both are copied into the editor, since the editor's Python cannot see our environment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path, PurePosixPath

from chromahint_client.settings import FILE_NAME as SETTINGS_FILE

from . import GIMP_PLUGIN, KRITA_PLUGIN

KRITA_LIB = "lib"  # must match plugin_krita/chromahint_krita/__init__.py


class InstallError(Exception):
    """Something keeps the install from going on; str() tells the user what to do."""


@dataclass(frozen=True)
class PlannedFile:
    path: Path
    data: bytes
    mode: int
    component: str  # "gimp", "krita" or "service"


def _walk(node: Traversable, rel: PurePosixPath | None = None) -> Iterator[tuple[str, bytes]]:
    rel = rel or PurePosixPath()
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name.startswith(".") or child.name == "__pycache__":
            continue
        if child.is_dir():
            yield from _walk(child, rel / child.name)
        elif not child.name.endswith((".pyc", ".pyo")):
            yield str(rel / child.name), child.read_bytes()


def _source(package: str) -> Traversable:
    return resources.files(package)


def settings_bytes(
    endpoint: str,
    engine_command: str,
    server_key: Path | None = None,
    client_key: Path | None = None,
) -> bytes:
    """The plug-ins' chromahint.json; the key files (for an engine that requires CURVE,
    docs/security.md) are written as absolute paths, and only when given."""
    doc = {"endpoint": endpoint, "engine_command": engine_command}
    if server_key is not None and client_key is not None:
        doc["server_key"] = str(server_key.absolute())
        doc["client_key"] = str(client_key.absolute())
    return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()


def _client_files(dest: Path, component: str) -> list[PlannedFile]:
    return [
        PlannedFile(dest / "chromahint_client" / rel, data, 0o644, component)
        for rel, data in _walk(_source("chromahint_client"))
        if rel.endswith(".py")
    ]


def gimp_plugin_dir(profile: Path) -> Path:
    return profile / "plug-ins" / GIMP_PLUGIN


def gimp_files(profile: Path, settings: bytes) -> list[PlannedFile]:
    src = _source("chromahint_installer.plugin_gimp") / GIMP_PLUGIN
    main = f"{GIMP_PLUGIN}.py"
    if not src.is_dir() or not (src / main).is_file():
        raise InstallError(
            f"the GIMP plug-in is missing from this installation ({src}/{main}); "
            "reinstall chromahint"
        )
    dest = gimp_plugin_dir(profile)
    # GIMP 3 runs plug-ins/<name>/<name>.py and only if it is executable.
    files = [
        PlannedFile(dest / rel, data, 0o755 if rel == main else 0o644, "gimp")
        for rel, data in _walk(src)
    ]
    files += _client_files(dest, "gimp")
    files.append(PlannedFile(dest / SETTINGS_FILE, settings, 0o644, "gimp"))
    return files


def krita_plugin_dir(resources_dir: Path) -> Path:
    return resources_dir / "pykrita" / KRITA_PLUGIN


def krita_desktop_path(resources_dir: Path) -> Path:
    return resources_dir / "pykrita" / f"{KRITA_PLUGIN}.desktop"


def krita_files(resources_dir: Path, settings: bytes) -> list[PlannedFile]:
    root = _source("chromahint_installer.plugin_krita")
    desktop, package = root / f"{KRITA_PLUGIN}.desktop", root / KRITA_PLUGIN
    if not desktop.is_file() or not (package / "__init__.py").is_file():
        raise InstallError(
            f"the Krita plug-in is missing from this installation ({desktop}, {package}); "
            "reinstall chromahint"
        )
    dest = krita_plugin_dir(resources_dir)
    files = [PlannedFile(krita_desktop_path(resources_dir), desktop.read_bytes(), 0o644, "krita")]
    files += [PlannedFile(dest / rel, data, 0o644, "krita") for rel, data in _walk(package)]
    # In lib/, not beside our modules: Krita's plug-ins share one Python, so only the
    # client's package name may join its sys.path, never our module names.
    files += _client_files(dest / KRITA_LIB, "krita")
    files.append(PlannedFile(dest / SETTINGS_FILE, settings, 0o644, "krita"))
    return files


def krita_enable_key() -> str:
    """kritarc's `[python]` key: `enable_` + the desktop file's X-KDE-Library."""
    desktop = _source("chromahint_installer.plugin_krita") / f"{KRITA_PLUGIN}.desktop"
    library = KRITA_PLUGIN
    if desktop.is_file():
        for line in desktop.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "X-KDE-Library" and value.strip():
                library = value.strip()
    return f"enable_{library}"
