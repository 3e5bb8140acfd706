"""The `chromahint` command: serve, info, colorize (and the installer's commands)."""

from __future__ import annotations

import os

# Before torch loads: OpenMP threads that spin while waiting make 2-thread inference 10-25x
# slower whenever anything else (the editor, another job) uses a core.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json
import logging
import socket
import sys
from pathlib import Path

from chromahint_client import Client, CurveKeys, EngineAuthError, EngineError, KeyFileError
from chromahint_client import protocol as P
from chromahint_client.curve import default_keys_dir
from chromahint_client.hints import Hints, extract
from chromahint_client.launcher import is_running, start_engine

from . import __version__
from .jobs import DEFAULT_WORKERS

DEFAULT_BROKER_CLIENTS = "tcp://127.0.0.1:5570"
DEFAULT_BROKER_ENGINES = "tcp://127.0.0.1:5571"

# PIL mode -> protocol pixel format
_PIL_FORMATS = {"L": "gray8", "I;16": "gray16", "RGB": "rgb8", "RGBA": "rgba8"}


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
    engine = build_engine(args.device, limits, args.memory_mb)
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


def image_message(path: Path) -> P.Image:
    from PIL import Image

    img = Image.open(path)
    if img.mode == "I" or img.mode.startswith("I;16"):
        img = img.convert("I;16") if img.mode == "I" else img
        fmt = "gray16"
        data = img.tobytes("raw", "I;16")
    else:
        if img.mode not in _PIL_FORMATS:
            img = img.convert("RGBA" if "A" in img.mode or "transparency" in img.info else "RGB")
        fmt = _PIL_FORMATS[img.mode]
        data = img.tobytes()
    return P.Image(img.width, img.height, fmt, data)


def read_hints(path: Path, size: tuple[int, int]) -> Hints:
    from PIL import Image

    img = Image.open(path).convert("RGBA")
    if img.size != size:
        raise SystemExit(
            f"error: the hints image is {img.size[0]}x{img.size[1]}, "
            f"the photo {size[0]}x{size[1]}; they must match"
        )
    return extract(img.tobytes(), img.width, img.height)


def global_hints(palette: str | None, saturation: float | None) -> P.GlobalHints | None:
    """--palette "#rrggbb,…" and --saturation as the protocol's global hints."""
    entries = []
    for item in (palette or "").split(",") if palette else []:
        h = item.strip().lstrip("#")
        if len(h) != 6:
            raise SystemExit(f"error: palette colours are #rrggbb, got {item!r}")
        r, g, b = (float(int(h[i : i + 2], 16)) for i in (0, 2, 4))
        entries.append((r, g, b, 1.0))
    if not entries and saturation is None:
        return None
    return P.GlobalHints(tuple(entries), saturation)


def print_swatches(hints: Hints, rows: list[list[P.Swatch]]) -> None:
    """One row per painted blob, in reading order (top to bottom, then left to right)."""
    for i, (blob, row) in enumerate(zip(hints.blobs, rows, strict=True), start=1):
        colors = " ".join("#{:02x}{:02x}{:02x}({:.2f})".format(*s.rgb, s.p) for s in row)
        print(f"swatches at hint {i} ({blob.x:.0f}, {blob.y:.0f}): {colors}")


def _free_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _cmd_colorize(args: argparse.Namespace) -> int:
    from PIL import Image

    image = image_message(args.input)
    hints = read_hints(args.hints, (image.width, image.height)) if args.hints else Hints()
    mode = P.Mode(args.mode)
    glob = global_hints(args.palette, args.saturation)
    reference = image_message(args.reference) if args.reference else None
    if reference is not None and mode is not P.Mode.PHOTO:
        raise SystemExit("error: --reference is for photos (--mode photo)")
    request = P.ColorizeRequest(
        image,
        tuple(hints.points),
        mode,
        global_hints=glob,
        reference=reference,
        reference_mode=P.ReferenceMode(args.reference_mode),
    )

    keys = client_keys(args)
    endpoint, proc = args.endpoint, None
    try:
        running = is_running(endpoint, keys, auth_errors=True)
    except EngineAuthError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if running is None and keys is not None:
        print(f"error: no engine answers at {endpoint}", file=sys.stderr)
        return 1
    if running is None:
        # No resident engine: start a private one for this job and stop it afterwards.
        endpoint = _free_endpoint()
        print("no engine running; starting one for this job…", file=sys.stderr)
        proc, _ = start_engine(f"{sys.executable} -m chromahint serve", endpoint, detach=False)
    try:
        with Client(endpoint, timeout=args.timeout, keys=keys) as c:
            reply = c.colorize(request)
            rows = []
            if args.swatches and hints.blobs and mode is P.Mode.PHOTO:
                spots = tuple(P.Spot(b.x, b.y) for b in hints.blobs)
                ask = P.SwatchesRequest(
                    image, spots, args.swatches, tuple(hints.points), mode, glob
                )
                rows = c.swatches(ask).swatches
    except EngineError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    layer = reply.layer
    out = Image.frombytes("RGBA", (layer.width, layer.height), layer.data)
    if image.format in ("gray8", "gray16", "rgb8"):
        out = out.convert("RGB")
    out.save(args.output)
    print(
        f"wrote {args.output} ({len(hints.blobs)} hints as {len(hints.points)} points, "
        f"{sum(reply.timing_ms.values()):.0f} ms in the engine)"
    )
    if reply.reference_confidence is not None:
        print(f"reference fit {reply.reference_confidence:.2f} (0-1; low: it does not match)")
    print_swatches(hints, rows)
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

    c = sub.add_parser("colorize", help="colorize an image file")
    c.add_argument("input", type=Path)
    c.add_argument("-o", "--output", type=Path, required=True)
    c.add_argument("--hints", type=Path, help="transparent PNG of the same size with painted hints")
    c.add_argument("--mode", default="photo", choices=["photo", "lineart"])
    c.add_argument("--swatches", type=int, default=0, help="also print k swatches per hint")
    c.add_argument("--palette", help="global hint: comma-separated #rrggbb colours")
    c.add_argument("--saturation", type=float, help="global hint: saturation in 0-1")
    c.add_argument("--reference", type=Path, help="a colour picture whose colours to follow")
    c.add_argument(
        "--reference-mode",
        default=P.ReferenceMode.REGIONS.value,
        choices=[m.value for m in P.ReferenceMode],
        help="regions: match it part by part (default); palette: only its colours",
    )
    c.add_argument("--endpoint", default=P.default_endpoint())
    c.add_argument("--timeout", type=float, default=120.0)
    _client_key_options(c)
    c.set_defaults(func=_cmd_colorize)

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
