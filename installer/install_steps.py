"""Install steps that write outside the plug-in folders: the kritarc line, the user
service, the CURVE key check. A mixin of `install.Installer` (same state, `self`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from chromahint_client import CurveKeys, KeyFileError

from . import kritarc, service
from .manifest import Manifest
from .plugins import InstallError
from .writer import CREATE, UNCHANGED, UPDATE, Report, make_dirs

if TYPE_CHECKING:
    from .install import Options, Plan

KRITARC_GROUP = "python"


class KritarcAndServiceSteps:
    """Methods of Installer; they use its plan, manifest, report and options."""

    opts: Options
    plan: Plan
    manifest: Manifest
    report: Report
    env: Mapping[str, str]
    failed: bool
    out: Callable[[str], None]

    def enable_kritarc(self, path: Path, key: str) -> None:
        exists = path.is_file()
        data = path.read_bytes() if exists else b""
        label = f"{path} [{KRITARC_GROUP}] {key}=true"
        if kritarc.get(kritarc.decode(data), KRITARC_GROUP, key) == "true":
            self.report.path(UNCHANGED, label)
            return
        new, edit = kritarc.enable(data, KRITARC_GROUP, key, created_file=not exists)
        prior = self.manifest.kritarc.get(str(path))
        if prior is not None:
            # Enabled again after being switched off since install: the state to restore
            # on uninstall is still the one from before the first install.
            edit.previous, edit.created_file, edit.added_group = (
                prior.previous,
                prior.created_file,
                prior.added_group,
            )
            edit.splice = edit.written_sha256 = None
        self.report.path(UPDATE if exists else CREATE, label)
        if krita_running():
            self.out(
                "  Krita is running: quit it now, or it may overwrite kritarc when it "
                "exits (then enable Chromahint in Settings > Configure Krita > "
                "Python Plugin Manager)"
            )
        if self.opts.dry_run:
            return
        make_dirs(path, self.manifest, "krita")
        path.write_bytes(new)  # in place: keeps the file's owner and mode
        self.manifest.kritarc[str(path)] = edit

    def start_service(self, changed: bool) -> None:
        if not changed and self.manifest.service_enabled:
            return
        steps = [("daemon-reload",), ("enable", service.UNIT_NAME)]
        if self.opts.dry_run:
            self.out("  would run: " + " && ".join(service.command_text(*s) for s in steps))
            return
        if not service.systemctl_works():
            self.out(
                "systemctl --user is not available in this session; to run the engine at "
                "login, run: " + " && ".join(service.command_text(*s) for s in steps)
            )
            return
        for step in steps:
            ok, msg = service.systemctl(*step)
            if not ok:
                self.out(f"FAILED: {service.command_text(*step)}: {msg}")
                self.failed = True
                return
        self.manifest.service_enabled = True
        self.out(
            f"the engine now starts at login; start it now with: "
            f"{service.command_text('start', service.UNIT_NAME)}"
        )

    def check_keys(self) -> None:
        """--server-key and --client-key: both or neither, and files the plug-ins can use."""
        opts = self.opts
        if opts.server_key is None and opts.client_key is None:
            return
        if opts.server_key is None or opts.client_key is None:
            raise InstallError(
                "--server-key (the engine's server.key) and --client-key (this client's "
                "NAME.key_secret) go together"
            )
        try:
            CurveKeys.from_files(opts.server_key, opts.client_key)
        except KeyFileError as e:
            raise InstallError(str(e)) from None
        self.out(
            f"CURVE keys for the plug-ins: server {opts.server_key.absolute()}, "
            f"client {opts.client_key.absolute()}"
        )


def krita_running() -> bool:
    proc = Path("/proc")
    if not proc.is_dir():
        return False
    for comm in proc.glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "krita":
                return True
        except OSError:
            continue
    return False
