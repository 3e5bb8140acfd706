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

from .curve import CurveKeys, KeyFileError, read_certificate
from .protocol import DEFAULT_ENDPOINT

FILE_NAME = "chromahint.json"
DEFAULT_COMMAND = "chromahint serve"
# A colorize request is not retried: a resend would queue the same work again behind the
# first. One long wait covers a large image on a CPU.
DEFAULT_TIMEOUT = 300.0
DEFAULT_REFERENCE_FOLDER = "~"


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
    # For an engine that requires CURVE (docs/security.md): the engine's public key file
    # (server.key) and this client's key pair file (NAME.key_secret); both or neither.
    server_key: str = ""
    client_key: str = ""
    path: str = ""  # where they were read from, to point people at it
    curve: CurveKeys | None = None  # the keys read from server_key and client_key
    # Folders an engine the plug-in starts may read references from (`serve
    # --reference-root`): it runs as this user on loopback, so the home folder by default.
    reference_folders: tuple[str, ...] = (DEFAULT_REFERENCE_FOLDER,)


def _key_files(doc: dict, folder: str, path: str) -> tuple[str, str, CurveKeys | None]:
    """'server_key' and 'client_key': both or neither; relative paths are read from the
    settings' folder; the files must hold usable keys."""
    files = {}
    for key in ("server_key", "client_key"):
        value = doc.get(key) or ""
        if not isinstance(value, str):
            raise SettingsError(f"'{key}' in {path} must be a string (a key file's path)")
        files[key] = os.path.join(folder, os.path.expanduser(value)) if value else ""
    server, client = files["server_key"], files["client_key"]
    if bool(server) != bool(client):
        missing = "client_key" if server else "server_key"
        raise SettingsError(
            f"'{missing}' in {path} is missing: 'server_key' (the engine's server.key) and "
            "'client_key' (this client's NAME.key_secret) go together"
        )
    if not server:
        return "", "", None
    server_public, server_secret = _read(server, "server_key", path)
    if server_secret is not None:
        raise SettingsError(
            f"'server_key' in {path} names {server}, which holds the engine's secret key; "
            "clients get the public half only (server.key)"
        )
    public, secret = _read(client, "client_key", path)
    if secret is None:
        raise SettingsError(
            f"'client_key' in {path} names {client}, which holds only a public key; it must "
            "name this client's key pair file (NAME.key_secret from 'chromahint keys client')"
        )
    return server, client, CurveKeys(server_public, public, secret)


def _read(file: str, key: str, path: str) -> tuple[bytes, bytes | None]:
    try:
        return read_certificate(file)
    except KeyFileError as e:
        raise SettingsError(f"'{key}' in {path}: {e}") from None


def _positive(
    doc: dict, key: str, default: float, path: str, kind: Callable[[float], _Num]
) -> _Num:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise SettingsError(f"'{key}' in {path} must be a positive number, got {value!r}")
    if kind is int and int(value) != value:
        raise SettingsError(f"'{key}' in {path} must be a whole number, got {value!r}")
    return kind(value)


def _folders(doc: dict, path: str) -> tuple[str, ...]:
    value = doc.get("reference_folders", [DEFAULT_REFERENCE_FOLDER])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SettingsError(f"'reference_folders' in {path} must be a list of folder paths")
    return tuple(value)


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
    server_key, client_key, curve = _key_files(doc, folder, path)
    return Settings(
        endpoint=doc.get("endpoint") or DEFAULT_ENDPOINT,
        engine_command=doc.get("engine_command") or DEFAULT_COMMAND,
        timeout=_positive(doc, "timeout", DEFAULT_TIMEOUT, path, float),
        swatch_count=_positive(doc, "swatch_count", 5, path, int),
        regions_shown=_positive(doc, "regions_shown", 6, path, int),
        server_key=server_key,
        client_key=client_key,
        path=path,
        curve=curve,
        reference_folders=_folders(doc, path),
    )
