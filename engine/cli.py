"""The `chromahint` command: serve, broker, info, keys (jobs_cli.py: colorize, recommend;
and the installer's commands)."""

from __future__ import annotations

import os

# Before torch loads: OpenMP threads that spin while waiting make 2-thread inference 10-25x
# slower whenever anything else (the editor, another job) uses a core.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json
import logging
import sys
from pathlib import Path

from chromahint_client import Client, CurveKeys, EngineError, KeyFileError
from chromahint_client import protocol as P
from chromahint_client.curve import default_keys_dir

from . import __version__
from .jobs import DEFAULT_WORKERS

DEFAULT_BROKER_CLIENTS = "tcp://127.0.0.1:5570"
DEFAULT_BROKER_ENGINES = "tcp://127.0.0.1:5571"


def _cmd_serve(args: argparse.Namespace) -> int:
    from . import security
    from .serving import BrokerLink, InsecureEndpoint, check_brokers

    # With --broker only, the engine binds nothing of its own: the broker is its front door.
    endpoints = args.endpoint or ([] if args.broker else [P.default_endpoint()])
    broker_keys = key_pair(args.broker_server_key, args.broker_client_key, "--broker-")
    brokers = [BrokerLink(ep, broker_keys) for ep in args.broker or []]
    try:
        check_brokers(brokers)
    except InsecureEndpoint as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    keys = None
    remote = security.remote_endpoints(endpoints)
    # Checked before the models load: a refused endpoint fails at once.
    if args.curve or remote:
        keys_dir = args.keys or default_keys_dir()
        try:
            keys = security.load_server_keys(keys_dir)
        except security.KeysError as e:
            message = security.keys_needed_message(remote, keys_dir, str(e))
            print(f"error: {message}", file=sys.stderr)
            return 2
    from .server import build_engine
    from .serving import serve

    limits = P.Limits(
        max_pixels=args.max_pixels,
        max_points=args.max_points,
        max_message_bytes=args.max_message_bytes,
        cache_mb=args.cache_mb,
    )
    import torch

    # Measured here: on 2 vCPUs one thread beats two (51 vs 72 ms forward, 54 vs 104 ms
    # upsampling at 1024²); SMT siblings share one core's vector units.
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 2) // 2))
    engine = build_engine(args.device, limits, args.memory_mb, args.reference_root)
    log = logging.getLogger("chromahint.engine")
    log.info(
        "chromahint %s, protocol v1, device %s, %d CPU threads",
        __version__,
        engine.device,
        torch.get_num_threads(),
    )
    for mode, m in engine.models.served():
        kind = "learned" if m.learned else "non-learned baseline"
        log.info("model for %s: %s (%s, working size %d)", mode.value, m.name, kind, m.working_size)
    if keys is not None:
        log.info("CURVE server key %s (%s)", keys.public.decode(), keys.secret_file)
    serve(engine, endpoints, keys=keys, brokers=brokers, workers=args.workers)
    return 0


def _cmd_broker(args: argparse.Namespace) -> int:
    from . import security
    from .broker import run_broker

    frontends = args.clients or [DEFAULT_BROKER_CLIENTS]
    backends = args.engines or [DEFAULT_BROKER_ENGINES]
    keys = None
    remote = security.remote_endpoints([*frontends, *backends])
    if args.curve or remote:
        keys_dir = args.keys or default_keys_dir()
        try:
            keys = security.load_server_keys(keys_dir)
        except security.KeysError as e:
            print(
                f"error: {security.keys_needed_message(remote, keys_dir, str(e))}", file=sys.stderr
            )
            return 2
    run_broker(frontends, backends, keys, 2 * args.max_message_bytes)
    return 0


def key_pair(
    server_key: str | None, client_key: str | None, prefix: str = "--"
) -> CurveKeys | None:
    """A server public key file and a client key pair file (both or neither) as CURVE keys."""
    if not server_key and not client_key:
        return None
    if not (server_key and client_key):
        raise SystemExit(
            f"error: {prefix}server-key (the server's server.key) and {prefix}client-key "
            "(your NAME.key_secret) go together"
        )
    try:
        return CurveKeys.from_files(server_key, client_key)
    except KeyFileError as e:
        raise SystemExit(f"error: {e}") from None


def client_keys(args: argparse.Namespace) -> CurveKeys | None:
    """--server-key and --client-key as the client's CURVE keys."""
    return key_pair(args.server_key, args.client_key)


def _cmd_info(args: argparse.Namespace) -> int:
    keys = client_keys(args)
    with Client(args.endpoint, timeout=args.timeout, retries=0, keys=keys) as c:
        try:
            info = c.info()
        except EngineError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    print(json.dumps(info.to_map(), indent=2))
    return 0


def _keys_dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--keys",
        type=Path,
        metavar="DIR",
        help=f"the CURVE keys folder (default {default_keys_dir()})",
    )


def _client_key_options(p: argparse.ArgumentParser) -> None:
    for flag, what in (
        ("--server-key", "its public key file (server.key)"),
        ("--client-key", "your key pair file (NAME.key_secret)"),
    ):
        p.add_argument(flag, type=Path, metavar="FILE", help=f"for a CURVE engine: {what}")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="chromahint", description="User-guided image colorization engine"
    )
    p.add_argument("--version", action="version", version=f"chromahint {__version__}")
    p.add_argument("--log-level", default="INFO")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the resident engine")
    s.add_argument(
        "--endpoint", action="append", help=f"bind here (repeatable; default {P.DEFAULT_ENDPOINT})"
    )
    s.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    s.add_argument(
        "--reference-root",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="a folder whose pictures recommend_references may read (repeatable)",
    )
    s.add_argument("--threads", type=int, default=0, help="CPU threads (default: cores / 2)")
    d = P.Limits()
    s.add_argument("--max-pixels", type=int, default=d.max_pixels)
    s.add_argument("--max-points", type=int, default=d.max_points)
    s.add_argument("--max-message-bytes", type=int, default=d.max_message_bytes)
    s.add_argument(
        "--cache-mb",
        type=int,
        default=d.cache_mb,
        help="memory for images kept by id and what was derived from them (0: none)",
    )
    s.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help="threads serving requests; with 2 or more, one serves small (interactive) "
        "requests only, so they never wait behind a big job",
    )
    s.add_argument(
        "--curve",
        action="store_true",
        help="require CURVE authentication on every endpoint, loopback too (always on when "
        "an endpoint is not loopback or ipc://; see docs/security.md)",
    )
    s.add_argument(
        "--memory-mb",
        type=int,
        help="refuse requests that would take the engine past this much memory (default: "
        "what the machine has free, and any ulimit -v)",
    )
    s.add_argument(
        "--broker",
        action="append",
        metavar="ENDPOINT",
        help="also serve the engines' end of this 'chromahint broker' (repeatable); with "
        "--broker and no --endpoint the engine binds nothing itself",
    )
    s.add_argument("--broker-server-key", help="the broker's server.key, for a CURVE broker")
    s.add_argument("--broker-client-key", help="this engine's NAME.key_secret for the broker")
    _keys_dir_option(s)
    s.set_defaults(func=_cmd_serve)

    b = sub.add_parser(
        "broker", help="one front door for several engines (a studio; docs/studio.md)"
    )
    b.add_argument(
        "--clients",
        action="append",
        metavar="ENDPOINT",
        help=f"bind for clients (repeatable; default {DEFAULT_BROKER_CLIENTS})",
    )
    b.add_argument(
        "--engines",
        action="append",
        metavar="ENDPOINT",
        help=f"bind for engines (repeatable; default {DEFAULT_BROKER_ENGINES})",
    )
    b.add_argument("--max-message-bytes", type=int, default=d.max_message_bytes)
    b.add_argument(
        "--curve",
        action="store_true",
        help="require CURVE on loopback too (always on for other addresses)",
    )
    _keys_dir_option(b)
    b.set_defaults(func=_cmd_broker)

    i = sub.add_parser("info", help="print what a running engine reports")
    i.add_argument("--endpoint", default=P.default_endpoint())
    i.add_argument("--timeout", type=float, default=3.0)
    _client_key_options(i)
    i.set_defaults(func=_cmd_info)

    from .jobs_cli import register as register_jobs

    register_jobs(sub, _client_key_options)

    from .keys_cli import register as register_keys

    register_keys(sub, _keys_dir_option)

    try:
        from chromahint_installer.cli import register
    except ImportError:
        pass
    else:
        register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    return args.func(args)
