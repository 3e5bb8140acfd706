"""CURVE key files for the engine and the rule for who must authenticate (docs/security.md).

The keys folder (`chromahint keys`, default `~/.config/chromahint/keys`):

    server.key            the engine's public key: give it to every client
    server.key_secret     the engine's key pair: stays on the engine's machine (0600)
    clients/NAME.key_secret   a client's key pair: give it to that client only (0600)
    clients/NAME.key      its public half
    allow/NAME.key        the client public keys the engine accepts

Keys are made with `zmq.auth.create_certificates` and checked by ZeroMQ's own ZAP handler
(`zmq.auth.thread.ThreadAuthenticator`); nothing here does cryptography.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import zmq.auth

from chromahint_client.curve import (
    ALLOW_DIR,
    CLIENTS_DIR,
    PUBLIC_SUFFIX,
    SECRET_SUFFIX,
    SERVER_NAME,
    KeyFileError,
    default_keys_dir,
    is_local_endpoint,
    read_certificate,
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class KeysError(Exception):
    """Keys are missing or unusable; str() says what to run."""


@dataclass(frozen=True, repr=False)
class ServerKeys:
    """What the engine needs to be a CURVE server: its key pair and the allow folder."""

    public: bytes
    secret: bytes
    allow_dir: Path
    secret_file: Path

    def __repr__(self) -> str:
        return f"ServerKeys(public={self.public!r}, allow_dir={str(self.allow_dir)!r})"


def server_public_file(keys_dir: Path) -> Path:
    return keys_dir / f"{SERVER_NAME}{PUBLIC_SUFFIX}"


def server_secret_file(keys_dir: Path) -> Path:
    return keys_dir / f"{SERVER_NAME}{SECRET_SUFFIX}"


def remote_endpoints(endpoints: Sequence[str]) -> list[str]:
    """The endpoints another machine could reach (see chromahint_client.curve)."""
    return [ep for ep in endpoints if not is_local_endpoint(ep)]


def keys_needed_message(remote: Sequence[str], keys_dir: Path, why: str) -> str:
    """What to do when serving needs CURVE keys (a non-loopback endpoint, or --curve)."""
    if remote:
        head = (
            f"{', '.join(remote)}: other machines can reach this endpoint, so the engine "
            f"serves it only with CURVE authentication, and {why}."
        )
        tail = (
            "To serve this machine only, bind a loopback address (tcp://127.0.0.1:5557) or ipc://."
        )
    else:
        head = f"--curve needs the engine's CURVE keys, and {why}."
        tail = ""
    return (
        f"{head}\n"
        "Make the keys (once), then start the engine again:\n"
        f"    chromahint keys server{_dir_arg(keys_dir)}\n"
        f"    chromahint keys client NAME{_dir_arg(keys_dir)}   (one per client)\n"
        f"{tail + ' ' if tail else ''}See docs/security.md."
    )


def _dir_arg(keys_dir: Path) -> str:
    return "" if keys_dir == default_keys_dir() else f" --keys {keys_dir}"


def load_server_keys(keys_dir: Path) -> ServerKeys:
    """The engine's key pair and allow folder from `keys_dir`, or KeysError."""
    secret_file = server_secret_file(keys_dir)
    if not secret_file.is_file():
        raise KeysError(f"there is no server key pair in {keys_dir} ({secret_file} is missing)")
    if os.name == "posix":
        mode = stat.S_IMODE(secret_file.stat().st_mode)
        if mode & 0o077:
            raise KeysError(
                f"{secret_file} can be read by other users (mode {mode:04o}); "
                f"run: chmod 600 {secret_file}"
            )
    try:
        public, secret = read_certificate(secret_file)
    except KeyFileError as e:
        raise KeysError(str(e)) from None
    if secret is None:
        raise KeysError(f"{secret_file} holds no secret key; make it with 'chromahint keys server'")
    allow = keys_dir / ALLOW_DIR
    if not allow.is_dir():
        raise KeysError(f"the allow folder {allow} is missing; 'chromahint keys server' makes it")
    return ServerKeys(public, secret, allow, secret_file)


def allowed_keys(allow_dir: Path) -> dict[str, bytes]:
    """file name -> public key, for every certificate in the allow folder."""
    out = {}
    for path in sorted(allow_dir.glob(f"*{PUBLIC_SUFFIX}")):
        try:
            out[path.name] = read_certificate(path)[0]
        except KeyFileError:
            continue
    return out


# -- making keys ---------------------------------------------------------------------------
def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        path.chmod(0o700)


def _create_pair(folder: Path, name: str, force: bool) -> tuple[Path, Path]:
    """`name.key` (0644) and `name.key_secret` (0600) in `folder`. The files are written in
    a fresh 0700 folder beside it and moved in, so a secret is never readable by others."""
    _private_dir(folder)
    public, secret = folder / f"{name}{PUBLIC_SUFFIX}", folder / f"{name}{SECRET_SUFFIX}"
    if not force and (public.exists() or secret.exists()):
        raise KeysError(
            f"{secret} already exists; --force replaces it (whoever holds the old keys "
            "must then get the new ones)"
        )
    tmp = Path(tempfile.mkdtemp(prefix=".new-", dir=folder))
    try:
        made_public, made_secret = (Path(p) for p in zmq.auth.create_certificates(tmp, name))
        made_secret.chmod(0o600)
        made_public.chmod(0o644)
        os.replace(made_secret, secret)
        os.replace(made_public, public)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return public, secret


def check_name(name: str) -> str:
    if not _NAME.match(name) or name == SERVER_NAME:
        raise KeysError(
            f"a client name is 1-64 letters, digits, '.', '_' or '-' (not '{SERVER_NAME}'), "
            f"got {name!r}"
        )
    return name


def create_server_keys(keys_dir: Path, force: bool = False) -> tuple[Path, Path]:
    """The engine's pair and an (empty) allow folder; returns (public, secret) files."""
    _private_dir(keys_dir)
    pair = _create_pair(keys_dir, SERVER_NAME, force)
    _private_dir(keys_dir / ALLOW_DIR)
    return pair


def create_client_keys(keys_dir: Path, name: str, force: bool = False) -> tuple[Path, Path, Path]:
    """A client pair in clients/ and its public key in allow/; returns (public, secret,
    allowed) files."""
    check_name(name)
    public, secret = _create_pair(keys_dir / CLIENTS_DIR, name, force)
    allowed = allow_public_key(keys_dir, public, name, force=True)
    return public, secret, allowed


def allow_public_key(keys_dir: Path, source: Path, name: str, force: bool = False) -> Path:
    """Copy a client's public key file (made anywhere with ZeroMQ's certificate format)
    into allow/NAME.key. A file holding a secret key is refused: only public halves travel."""
    check_name(name)
    try:
        _, secret = read_certificate(source)
    except KeyFileError as e:
        raise KeysError(str(e)) from None
    if secret is not None:
        raise KeysError(
            f"{source} holds a secret key; the allow folder takes public keys only "
            f"(the {PUBLIC_SUFFIX} file)"
        )
    allow = keys_dir / ALLOW_DIR
    _private_dir(allow)
    dest = allow / f"{name}{PUBLIC_SUFFIX}"
    if dest.exists() and not force:
        raise KeysError(f"{dest} already exists; --force replaces it")
    shutil.copyfile(source, dest)
    dest.chmod(0o644)
    return dest


def revoke(keys_dir: Path, name: str) -> Path:
    """Remove allow/NAME.key; the engine stops accepting that client once it reloads the
    allow folder (SIGHUP) or restarts."""
    check_name(name)
    dest = keys_dir / ALLOW_DIR / f"{name}{PUBLIC_SUFFIX}"
    if not dest.is_file():
        raise KeysError(f"{dest} does not exist ('chromahint keys list' shows the allowed keys)")
    dest.unlink()
    return dest
