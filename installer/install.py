"""`chromahint install`: plan every file first, stop on conflicts, then write and record.

Nothing is written until the whole plan is known and no target belongs to the user, so
a failed install leaves the machine as it was.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chromahint_client import DEFAULT_ENDPOINT

from . import LEGACY_PLUGIN, engine_env, service
from .editors import EditorPython, gimp_python, given_python, krita_python
from .install_steps import KritarcAndServiceSteps
from .manifest import Manifest, sha256_file
from .paths import (
    Location,
    current_system,
    gimp_profile_candidates,
    krita_resource_candidates,
    kritarc_for,
    manifest_path,
    pick,
    systemd_unit_path,
)
from .plugins import (
    InstallError,
    PlannedFile,
    gimp_files,
    gimp_plugin_dir,
    krita_desktop_path,
    krita_enable_key,
    krita_files,
    krita_plugin_dir,
    settings_bytes,
)
from .vendor import download, pip_command, probe
from .writer import (
    CREATE,
    FOREIGN,
    MODIFIED,
    UNCHANGED,
    UPDATE,
    Report,
    classify,
    conflict_message,
    remove_empty_dirs,
    remove_file,
    under,
    write,
)


class EditorNotFound(InstallError):
    """The editor's profile is not there; skipped unless the editor was asked for."""


@dataclass
class Options:
    gimp: bool
    krita: bool
    engine: bool
    service: bool
    explicit: bool  # components were named; a missing editor is then an error
    dry_run: bool = False
    force: bool = False
    gimp_profile: Path | None = None
    krita_resources: Path | None = None
    kritarc: Path | None = None
    endpoint: str = DEFAULT_ENDPOINT
    engine_command: str | None = None
    editor_python: str | None = None
    vendor: bool = True
    pip: bool = False
    server_key: Path | None = None  # for an engine that requires CURVE: its server.key
    client_key: Path | None = None  # and this client's NAME.key_secret


def default_engine_command() -> str:
    """Our own Python by absolute path: editors started from a desktop menu rarely have the
    engine's virtualenv or pyenv shims on PATH."""
    return engine_env.command_text([sys.executable, "-m", "chromahint", "serve"])


@dataclass
class Plan:
    files: list[PlannedFile] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)  # what this run owns (for stale files)
    keep: list[Path] = field(default_factory=list)  # inside roots, but not to be cleaned up
    kritarc: list[tuple[Path, str]] = field(default_factory=list)
    vendor: dict[str, str] = field(default_factory=dict)  # vendor dir -> target tag
    service: bool = False


class Installer(KritarcAndServiceSteps):
    def __init__(
        self,
        opts: Options,
        env: Mapping[str, str],
        system: str,
        out: Callable[[str], None] = print,
    ) -> None:
        self.opts, self.env, self.system, self.out = opts, env, system, out
        self.manifest = Manifest.load(manifest_path(env, system))
        self.report = Report(opts.dry_run, out)
        self.plan = Plan()
        self.failed = False

    # -- planning ----------------------------------------------------------------------
    def _engine_command_for(self, location: Location) -> str:
        if self.opts.engine_command:
            return self.opts.engine_command
        if location.flatpak:
            # Inside the sandbox the engine must be started on the host.
            return f"flatpak-spawn --host {default_engine_command()}"
        return default_engine_command()

    def _mention_others(
        self, candidates: list[Location], chosen: Location, what: str, flag: str
    ) -> None:
        """Both a native and a Flatpak editor may be set up; say which one was not used."""
        for c in candidates:
            if c.path != chosen.path and c.path.is_dir():
                self.out(f"  (there is also a {what} at {c.path}; use {flag} to install there)")

    def _editor_python(self, found: EditorPython) -> EditorPython:
        return given_python(self.opts.editor_python) if self.opts.editor_python else found

    def _existing_vendor(self, vendor_dir: Path) -> list[PlannedFile] | None:
        """The vendored files as install left them, or None if any is gone or changed."""
        files = []
        for p, rec in self.manifest.files.items():
            if under(p, [vendor_dir]):
                path = Path(p)
                if not path.is_file() or sha256_file(path) != rec.sha256:
                    return None
                files.append(PlannedFile(path, path.read_bytes(), rec.mode, rec.component))
        return files or None

    def _keep_vendor(self, vendor_dir: Path) -> None:
        """Leave what an earlier install vendored as it is (nothing to decide it anew with)."""
        kept = self._existing_vendor(vendor_dir) or []
        self.plan.files += kept
        if kept:
            self.plan.vendor[str(vendor_dir)] = self.manifest.vendor.get(str(vendor_dir), "")

    def _plan_vendor(
        self, editor: str, plugin_dir: Path, python: EditorPython, component: str
    ) -> None:
        vendor_dir = plugin_dir / "vendor"
        key = str(vendor_dir)
        if not self.opts.vendor:
            self.out(f"{editor}: not checking the editor's Python for pyzmq/msgpack (--no-vendor)")
            self._keep_vendor(vendor_dir)
            return
        if python.argv is None:
            self.out(
                f"{editor}: skipped vendoring pyzmq/msgpack: {python.how}. If the plug-in says "
                "it cannot import zmq or msgpack, rerun with --editor-python PATH."
            )
            self._keep_vendor(vendor_dir)
            return
        info = probe(python.argv)
        self.out(f"{editor}: plug-ins run with {info.describe()} ({python.how})")
        if not info.missing:
            versions = ", ".join(f"{m} {v}" for m, v in info.modules.items())
            self.out(f"  it imports {versions} itself; nothing to vendor")
            return
        self.out(
            f"  it cannot import {' or '.join(info.missing)}: vendoring pyzmq and msgpack "
            f"wheels for Python {info.version} ({info.abi}, {info.platforms[0]}) into {vendor_dir}"
        )
        self.plan.vendor[key] = info.tag
        if self.manifest.vendor.get(key) == info.tag:
            existing = self._existing_vendor(vendor_dir)
            if existing:
                self.plan.files += existing
                return
        if self.opts.dry_run:
            self.out(f"  would run: {engine_env.command_text(pip_command(info, Path('TMP')))}")
            self.out(f"  and unpack the wheels into {vendor_dir}")
            self.plan.keep.append(vendor_dir)  # not stale: its new files are just unknown yet
            return
        self.out("  downloading with pip…")
        for rel, (data, mode) in sorted(download(info).items()):
            self.plan.files.append(PlannedFile(vendor_dir / rel, data, mode, component))

    def plan_gimp(self) -> None:
        candidates = gimp_profile_candidates(self.env, self.system)
        location = pick(candidates, self.opts.gimp_profile, "--gimp-profile")
        if location is None:
            looked = ", ".join(str(c.path) for c in candidates)
            raise EditorNotFound(
                f"GIMP 3 profile not found (looked in {looked}). Start GIMP 3 once so it "
                "creates its profile, or pass --gimp-profile DIR."
            )
        self.out(f"GIMP 3 profile: {location.path} ({location.how})")
        self._mention_others(candidates, location, "GIMP 3 profile", "--gimp-profile")
        settings = settings_bytes(
            self.opts.endpoint,
            self._engine_command_for(location),
            self.opts.server_key,
            self.opts.client_key,
        )
        self.plan.files += gimp_files(location.path, settings)
        plugin_dir = gimp_plugin_dir(location.path)
        self.plan.roots += [plugin_dir, location.path / "plug-ins" / LEGACY_PLUGIN]
        python = self._editor_python(gimp_python(location, self.env, self.system))
        self._plan_vendor("GIMP", plugin_dir, python, "gimp")

    def plan_krita(self) -> None:
        candidates = krita_resource_candidates(self.env, self.system)
        location = pick(candidates, self.opts.krita_resources, "--krita-resources")
        if location is None:
            looked = ", ".join(str(c.path) for c in candidates)
            raise EditorNotFound(
                f"Krita resources folder not found (looked in {looked}). Start Krita once so "
                "it creates it, or pass --krita-resources DIR."
            )
        rc = (self.opts.kritarc or kritarc_for(location, self.env, self.system)).absolute()
        self.out(f"Krita resources: {location.path} ({location.how}); kritarc: {rc}")
        self._mention_others(candidates, location, "Krita resources folder", "--krita-resources")
        settings = settings_bytes(
            self.opts.endpoint,
            self._engine_command_for(location),
            self.opts.server_key,
            self.opts.client_key,
        )
        self.plan.files += krita_files(location.path, settings)
        plugin_dir = krita_plugin_dir(location.path)
        pykrita = location.path / "pykrita"
        self.plan.roots += [plugin_dir, krita_desktop_path(location.path)]
        self.plan.roots += [pykrita / LEGACY_PLUGIN, pykrita / f"{LEGACY_PLUGIN}.desktop"]
        self.plan.kritarc.append((rc, krita_enable_key()))
        python = self._editor_python(krita_python(location, self.env, self.system))
        self._plan_vendor("Krita", plugin_dir, python, "krita")

    def plan_service(self) -> None:
        if self.system != "linux":
            self.out(
                f"--service is for Linux (systemd); on {self.system} the plug-ins start "
                "the engine on demand"
            )
            return
        unit = systemd_unit_path(self.env)
        command = self.opts.engine_command or default_engine_command()
        data = service.unit_text(command, self.opts.endpoint)
        self.plan.files.append(PlannedFile(unit, data, 0o644, "service"))
        self.plan.roots.append(unit)
        self.plan.service = True

    # -- doing -------------------------------------------------------------------------
    def check_engine(self) -> None:
        env = engine_env.check()
        self.out("Engine:")
        for line in engine_env.describe(env):
            self.out(f"  {line}")
        if env.ok:
            self.out("  OK: the engine's environment has what it needs")
            return
        for cmd in env.fixes:
            text = engine_env.command_text(cmd)
            if self.opts.pip and not self.opts.dry_run:
                self.out(f"  running: {text}")
                if subprocess.run(cmd, check=False).returncode != 0:
                    self.out("  FAILED: pip could not fix the engine's environment")
                    self.failed = True
            else:
                self.out(f"  to fix it, run: {text}   (or rerun install with --pip)")
        if env.missing and not self.opts.pip:
            self.failed = True  # the engine cannot start without its requirements

    def run(self) -> int:
        opts = self.opts
        if opts.dry_run:
            self.out("dry run: nothing will be written")
        try:
            self.check_keys()
        except InstallError as e:
            self.out(f"error: {e}\nNothing was written.")
            return 1
        if opts.engine:
            self.check_engine()
        steps = [(opts.gimp, "GIMP", self.plan_gimp), (opts.krita, "Krita", self.plan_krita)]
        for wanted, name, step in steps:
            if not wanted:
                continue
            try:
                step()
            except InstallError as e:
                if opts.explicit or not isinstance(e, EditorNotFound):
                    self.out(f"error: {e}\nNothing was written.")
                    return 1
                self.out(f"{name}: skipped: {e}")
        if opts.service:
            self.plan_service()

        classified = [(pf, classify(pf, self.manifest)) for pf in self.plan.files]
        conflicts = [(pf, k) for pf, k in classified if k in (FOREIGN, MODIFIED)]
        if conflicts and not opts.force:
            self.out(conflict_message(conflicts))
            return 2

        if classified or self.plan.kritarc:
            self.out("Files:")
        backups = self.manifest.path.parent / "backup"
        service_changed = False
        for pf, kind in classified:
            write(pf, kind, self.manifest, backups, self.report)
            service_changed |= pf.component == "service" and kind != UNCHANGED
        planned = {str(pf.path) for pf in self.plan.files}
        owned = [p for p in self.manifest.files if under(p, self.plan.roots)]
        for stale in [p for p in owned if not under(p, self.plan.keep)]:
            if stale not in planned:
                remove_file(stale, self.manifest, self.report)
        remove_empty_dirs(
            self.manifest, lambda d, _c: under(d, self.plan.roots), self.report, uninstall=False
        )
        for path, key in self.plan.kritarc:
            self.enable_kritarc(path, key)
        if self.plan.service:
            self.start_service(service_changed)
        if not opts.dry_run:
            for vendor_dir in [d for d in self.manifest.vendor if under(d, self.plan.roots)]:
                if vendor_dir not in self.plan.vendor:
                    del self.manifest.vendor[vendor_dir]
            self.manifest.vendor.update(self.plan.vendor)
            if self.manifest.save():
                self.out(f"manifest: {self.manifest.path}")
        changed = any(self.report.counts.get(a) for a in (CREATE, UPDATE, "remove"))
        if opts.dry_run:
            self.out(f"dry run: {self.report.summary()}")
        elif changed:
            self.out(f"installed: {self.report.summary()}")
        else:
            self.out(f"already installed; everything unchanged ({self.report.summary()})")
        if not opts.dry_run and not opts.service and (opts.gimp or opts.krita):
            self.out(
                "The plug-ins start the engine on demand (or install with --service to "
                "run it at login)."
            )
        return 1 if self.failed else 0


def install(
    opts: Options,
    env: Mapping[str, str] | None = None,
    system: str | None = None,
    out: Callable[[str], None] = print,
) -> int:
    try:
        installer = Installer(
            opts, os.environ if env is None else env, system or current_system(), out
        )
    except ValueError as e:
        out(f"error: cannot read the install manifest: {e}\nMove it away to start over.")
        return 1
    return installer.run()
