"""`chromahint keys server | client NAME | allow FILE NAME | revoke NAME | list`."""

from __future__ import annotations

import argparse
import stat
import sys
from collections.abc import Callable
from pathlib import Path

from chromahint_client.curve import (
    ALLOW_DIR,
    CLIENTS_DIR,
    PUBLIC_SUFFIX,
    SECRET_SUFFIX,
    KeyFileError,
    default_keys_dir,
    read_certificate,
)

from . import security


def _dir(args: argparse.Namespace) -> Path:
    return args.keys or default_keys_dir()


def _mode(path: Path) -> str:
    return f"{stat.S_IMODE(path.stat().st_mode):04o}"


def _cmd_server(args: argparse.Namespace) -> int:
    keys_dir = _dir(args)
    public, secret = security.create_server_keys(keys_dir, args.force)
    print(f"Wrote the engine's key pair in {keys_dir}:")
    print(f"  {secret}  (mode {_mode(secret)}): stays on this machine; never copy it")
    print(f"  {public}  (mode {_mode(public)}): give this public key to every client")
    print(f"Accepted client keys go in {keys_dir / ALLOW_DIR}/ (empty for now).")
    print("Next: 'chromahint keys client NAME' for each client, then for example")
    print("  chromahint serve --endpoint tcp://0.0.0.0:5557")
    return 0


def _cmd_client(args: argparse.Namespace) -> int:
    keys_dir = _dir(args)
    public, secret, allowed = security.create_client_keys(keys_dir, args.name, args.force)
    server_public = security.server_public_file(keys_dir)
    print(f"Wrote the key pair of client '{args.name}':")
    print(f"  {secret}  (mode {_mode(secret)}): the client's key pair")
    print(f"  {public}  (mode {_mode(public)}): its public half")
    print(f"and allowed it: {allowed}")
    print("  (a running engine accepts it after 'kill -HUP <engine pid>' or a restart)")
    print(f"Give '{args.name}' these two files, over a channel only you and they can read:")
    print(f"  {server_public}  -> its 'server_key' (or --server-key)")
    print(f"  {secret}  -> its 'client_key' (or --client-key); keep it 0600 there")
    print(
        f"e.g. chromahint info --endpoint tcp://ENGINE-HOST:5557 "
        f"--server-key {server_public.name} --client-key {secret.name}"
    )
    if not server_public.is_file():
        print(
            f"warning: there is no server key in {keys_dir} yet; run 'chromahint keys server'",
            file=sys.stderr,
        )
    return 0


def _cmd_allow(args: argparse.Namespace) -> int:
    dest = security.allow_public_key(_dir(args), args.file, args.name, args.force)
    print(f"Allowed {args.file} as '{args.name}': {dest}")
    print("(a running engine accepts it after 'kill -HUP <engine pid>' or a restart)")
    return 0


def _cmd_revoke(args: argparse.Namespace) -> int:
    dest = security.revoke(_dir(args), args.name)
    print(f"Removed {dest}; the engine refuses '{args.name}' after 'kill -HUP <engine pid>' or ")
    print(f"a restart. Delete {_dir(args) / CLIENTS_DIR / (args.name + SECRET_SUFFIX)} too.")
    return 0


def _key(path: Path) -> str:
    try:
        return read_certificate(path)[0].decode()
    except KeyFileError as e:
        return f"unreadable ({e})"


def _cmd_list(args: argparse.Namespace) -> int:
    keys_dir = _dir(args)
    print(f"Keys folder: {keys_dir}")
    secret = security.server_secret_file(keys_dir)
    public = security.server_public_file(keys_dir)
    if secret.is_file():
        print(f"server: {_key(secret)}")
        print(f"  {secret}  (mode {_mode(secret)}, stays here)")
        if public.is_file():
            print(f"  {public}  (give to clients)")
    else:
        print("server: none ('chromahint keys server' makes it)")
    allow = keys_dir / ALLOW_DIR
    allowed = security.allowed_keys(allow) if allow.is_dir() else {}
    print(f"allowed clients ({allow}): {len(allowed) or 'none'}")
    for name, key in allowed.items():
        print(f"  {name.removesuffix(PUBLIC_SUFFIX)}: {key.decode()}")
    clients = keys_dir / CLIENTS_DIR
    pairs = sorted(clients.glob(f"*{SECRET_SUFFIX}")) if clients.is_dir() else []
    if pairs:
        allowed_set = set(allowed.values())
        print(f"client key pairs made here ({clients}):")
        for pair in pairs:
            key = _key(pair)
            state = "allowed" if key.encode() in allowed_set else "NOT allowed"
            print(f"  {pair.name} (mode {_mode(pair)}): {state}")
    return 0


def _run(cmd: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return cmd(args)
        except security.KeysError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1

    return run


def register(
    subparsers: argparse._SubParsersAction,
    keys_dir_option: Callable[[argparse.ArgumentParser], None],
) -> None:
    k = subparsers.add_parser(
        "keys",
        help="make and list the CURVE keys for an engine other machines can reach",
        description="CURVE keys (ZeroMQ certificates) for serving beyond loopback; see "
        "docs/security.md. Secret key files are written with mode 0600.",
    )
    ks = k.add_subparsers(dest="keys_command", required=True)

    s = ks.add_parser("server", help="make the engine's key pair and the allow folder")
    s.add_argument("--force", action="store_true", help="replace an existing server key pair")
    keys_dir_option(s)
    s.set_defaults(func=_run(_cmd_server))

    c = ks.add_parser("client", help="make a client key pair and allow its public key")
    c.add_argument("name", help="who or which machine the keys are for (letters, digits, .-_)")
    c.add_argument("--force", action="store_true", help="replace an existing pair of that name")
    keys_dir_option(c)
    c.set_defaults(func=_run(_cmd_client))

    a = ks.add_parser("allow", help="allow a client public key made elsewhere (NAME.key)")
    a.add_argument("file", type=Path, help="the client's public key file")
    a.add_argument("name", help="the name to allow it under")
    a.add_argument("--force", action="store_true", help="replace an allowed key of that name")
    keys_dir_option(a)
    a.set_defaults(func=_run(_cmd_allow))

    r = ks.add_parser("revoke", help="stop accepting a client (removes allow/NAME.key)")
    r.add_argument("name")
    keys_dir_option(r)
    r.set_defaults(func=_run(_cmd_revoke))

    li = ks.add_parser("list", help="show the server key and the allowed clients")
    keys_dir_option(li)
    li.set_defaults(func=_run(_cmd_list))
