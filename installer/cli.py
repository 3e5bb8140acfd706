"""`chromahint install | doctor | uninstall`, registered on the main CLI's subparsers."""

from __future__ import annotations

import argparse
from pathlib import Path

from chromahint_client import DEFAULT_ENDPOINT

from .doctor import doctor
from .install import Options, install
from .uninstall import uninstall


def _components(p: argparse.ArgumentParser, verb: str) -> None:
    p.add_argument("--gimp", action="store_true", help=f"{verb} the GIMP 3 plug-in")
    p.add_argument("--krita", action="store_true", help=f"{verb} the Krita 5 plug-in")


def _locations(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--gimp-profile",
        type=Path,
        metavar="DIR",
        help="GIMP 3 profile folder (default: GIMP3_DIRECTORY or the usual place)",
    )
    p.add_argument(
        "--krita-resources",
        type=Path,
        metavar="DIR",
        help="Krita resources folder (default: the usual place, or Flatpak's)",
    )
    p.add_argument(
        "--kritarc",
        type=Path,
        metavar="FILE",
        help="Krita's kritarc (default: the one that goes with the resources)",
    )


def _cmd_install(args: argparse.Namespace) -> int:
    named = args.gimp or args.krita or args.engine
    opts = Options(
        gimp=args.gimp or not named,
        krita=args.krita or not named,
        engine=args.engine or not named,
        service=args.service,
        explicit=bool(named),
        dry_run=args.dry_run,
        force=args.force,
        gimp_profile=args.gimp_profile,
        krita_resources=args.krita_resources,
        kritarc=args.kritarc,
        endpoint=args.endpoint,
        engine_command=args.engine_command,
        editor_python=args.editor_python,
        vendor=not args.no_vendor,
        pip=args.pip,
        server_key=args.server_key,
        client_key=args.client_key,
    )
    return install(opts)


def _cmd_uninstall(args: argparse.Namespace) -> int:
    named = args.gimp or args.krita or args.service
    return uninstall(
        gimp=args.gimp or not named,
        krita=args.krita or not named,
        service=args.service or not named,
        dry_run=args.dry_run,
    )


def _cmd_doctor(args: argparse.Namespace) -> int:
    named = args.gimp or args.krita or args.engine
    return doctor(
        engine=args.engine or not named,
        gimp=args.gimp or not named,
        krita=args.krita or not named,
        endpoint=args.endpoint,
        gimp_profile=args.gimp_profile,
        krita_resources=args.krita_resources,
        kritarc=args.kritarc,
        editor_python=args.editor_python,
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    i = subparsers.add_parser(
        "install",
        help="install the plug-ins into GIMP 3 / Krita 5 and check the engine",
        description="Install Chromahint's GIMP 3 and Krita 5 plug-ins and check the engine's "
        "environment. With none of --gimp/--krita/--engine, does all three (skipping an "
        "editor that is not installed). Running it again changes nothing.",
    )
    _components(i, "install")
    i.add_argument(
        "--engine",
        action="store_true",
        help="check the engine's Python environment and torch build",
    )
    i.add_argument(
        "--service",
        action="store_true",
        help="Linux: also install a systemd --user unit that runs the engine at login",
    )
    i.add_argument(
        "--dry-run", action="store_true", help="print what would be written; write nothing"
    )
    i.add_argument(
        "--force",
        action="store_true",
        help="replace files at the targets that install did not write (kept as backups)",
    )
    _locations(i)
    i.add_argument(
        "--endpoint",
        default=DEFAULT_ENDPOINT,
        help=f"where the plug-ins reach the engine (default {DEFAULT_ENDPOINT})",
    )
    i.add_argument(
        "--engine-command",
        metavar="CMD",
        help="command the plug-ins run to start the engine (default: this Python "
        "-m chromahint serve)",
    )
    i.add_argument(
        "--editor-python",
        metavar="PATH",
        help="the Python the editor runs plug-ins with (to check/vendor pyzmq, msgpack)",
    )
    i.add_argument(
        "--server-key",
        type=Path,
        metavar="FILE",
        help="for an engine that requires CURVE (docs/security.md): its public key file "
        "(server.key), written into the plug-ins' settings",
    )
    i.add_argument(
        "--client-key",
        type=Path,
        metavar="FILE",
        help="with --server-key: this client's key pair file (NAME.key_secret)",
    )
    i.add_argument(
        "--no-vendor",
        action="store_true",
        help="do not check the editor's Python or vendor pyzmq/msgpack",
    )
    i.add_argument(
        "--pip",
        action="store_true",
        help="run the pip commands that fix the engine's environment (may fetch torch)",
    )
    i.set_defaults(func=_cmd_install)

    d = subparsers.add_parser(
        "doctor",
        help="check the engine, weights and plug-ins; print fixes",
        description="Check everything Chromahint needs; exit non-zero if anything FAILs.",
    )
    _components(d, "check")
    d.add_argument("--engine", action="store_true", help="check the engine and its weights")
    _locations(d)
    d.add_argument("--endpoint", help="engine endpoint (default: the installed plug-ins' setting)")
    d.add_argument("--editor-python", metavar="PATH", help="the editor's Python to check")
    d.set_defaults(func=_cmd_doctor)

    u = subparsers.add_parser(
        "uninstall",
        help="remove exactly what install wrote",
        description="Remove what `chromahint install` wrote (per its manifest) and undo its "
        "kritarc edit. Files changed since install are kept.",
    )
    _components(u, "uninstall")
    u.add_argument("--service", action="store_true", help="uninstall the systemd --user unit")
    u.add_argument("--dry-run", action="store_true", help="print what would be removed")
    u.set_defaults(func=_cmd_uninstall)
