"""CURVE keys on the client side, and which endpoints count as this machine only.

An engine bound to anything but loopback or `ipc://` runs as a ZeroMQ CURVE server and
accepts only the client public keys in its allow folder (docs/security.md). A client then
needs the engine's public key (`server.key`) and a key pair of its own (`NAME.key_secret`,
made by `chromahint keys client NAME`). The files are ZeroMQ's own certificate format,
read with `zmq.auth.load_certificate`.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import zmq
from zmq.auth.certs import load_certificate

SERVER_NAME = "server"  # server.key (public, for clients) and server.key_secret (stays)
PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"
ALLOW_DIR = "allow"  # the accepted clients' public keys
CLIENTS_DIR = "clients"  # key pairs made for clients, to hand out


class KeyFileError(ValueError):
    """A key file is missing or is not a usable ZeroMQ certificate; str() names it."""


@dataclass(frozen=True, repr=False)
class CurveKeys:
    """What a client needs for a CURVE engine: its public key and its own key pair (Z85)."""

    server_public: bytes
    public: bytes
    secret: bytes

    def __repr__(self) -> str:  # never print a secret key into a log
        return f"CurveKeys(server_public={self.server_public!r}, public={self.public!r})"

    def apply(self, sock: zmq.Socket) -> None:
        """Make `sock` a CURVE client of the server (before it connects)."""
        sock.curve_serverkey = self.server_public
        sock.curve_publickey = self.public
        sock.curve_secretkey = self.secret

    @classmethod
    def from_files(cls, server_key: str | os.PathLike, client_key: str | os.PathLike) -> CurveKeys:
        """`server_key`: the engine's public key file; `client_key`: a client key pair file
        (the `.key_secret` one, which holds both halves)."""
        server_public, server_secret = read_certificate(server_key)
        if server_secret is not None:
            raise KeyFileError(
                f"{server_key} holds the engine's secret key; clients get the public half "
                f"only ({SERVER_NAME}{PUBLIC_SUFFIX})"
            )
        public, secret = read_certificate(client_key)
        if secret is None:
            raise KeyFileError(
                f"{client_key} holds only a public key; the client needs its key pair file "
                f"(NAME{SECRET_SUFFIX}, made by 'chromahint keys client NAME')"
            )
        return cls(server_public, public, secret)


def read_certificate(path: str | os.PathLike) -> tuple[bytes, bytes | None]:
    """(public, secret or None) from a ZeroMQ certificate file, or KeyFileError."""
    try:
        public, secret = load_certificate(path)
    except (OSError, ValueError) as e:
        raise KeyFileError(f"cannot read the key file {path}: {e}") from None
    for key in (public, secret):
        if key is not None and len(key) != 40:
            raise KeyFileError(f"{path} does not hold a Z85 CURVE key (40 characters)")
    return public, secret


def default_keys_dir(env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/chromahint/keys` (default `~/.config/chromahint/keys`; on Windows
    `%APPDATA%\\chromahint\\keys`)."""
    env = os.environ if env is None else env
    if os.name == "nt" and env.get("APPDATA"):
        return Path(env["APPDATA"]) / "chromahint" / "keys"
    config = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(config) / "chromahint" / "keys"


def is_local_endpoint(endpoint: str) -> bool:
    """True when only this machine can reach `endpoint`: `ipc://`, `inproc://`, or TCP on
    a loopback address (127.0.0.0/8, [::1], localhost). Everything else (`*`, 0.0.0.0, an
    interface name, a host name, another transport) counts as reachable from outside."""
    transport, sep, address = endpoint.partition("://")
    if not sep:
        return False
    transport = transport.lower()
    if transport in ("ipc", "inproc"):
        return True
    if transport not in ("tcp", "ws", "wss"):
        return False
    host = address.split("/", 1)[0]
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else ""
    else:
        host = host.rpartition(":")[0] if ":" in host else host
    if host.lower() == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback
