"""`chromahint doctor`: check the engine, its weights and both plug-ins; say how to fix each.

Statuses: OK, FAIL (something is broken; the exit code is non-zero), WARN (works, but
worse than it could, e.g. a CPU torch on a GPU machine), SKIP (not applicable here).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from chromahint_client.settings import FILE_NAME as SETTINGS_FILE

from . import GIMP_PLUGIN, engine_env, kritarc
from .editors import (
    EditorPython,
    Found,
    find_gimp,
    find_krita,
    gimp_python,
    given_python,
    krita_python,
)
from .install_steps import KRITARC_GROUP
from .manifest import Manifest, sha256_file
from .paths import (
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
    gimp_plugin_dir,
    krita_desktop_path,
    krita_enable_key,
    krita_plugin_dir,
)
from .vendor import MODULES, probe

OK, FAIL, WARN, SKIP = "OK", "FAIL", "WARN", "SKIP"


@dataclass
class Doctor:
    env: Mapping[str, str]
    system: str
    out: Callable[[str], None]
    manifest: Manifest
    failures: int = 0

    def check(self, status: str, what: str, fix: str = "") -> None:
        self.failures += status == FAIL
        self.out(f"[{status:^4}] {what}")
        if fix and status != OK:
            self.out(f"       fix: {fix}")

    # -- engine ------------------------------------------------------------------------
    def engine(self) -> None:
        self.out("Engine")
        env = engine_env.check()
        fixes = " && ".join(engine_env.command_text(c) for c in env.fixes)
        try:
            import chromahint
            from chromahint.server import describe_device, pick_device

            device = describe_device(pick_device("auto"))
        except ImportError as e:
            self.check(FAIL, f"engine not importable in {env.python}: {e}", fixes)
            return
        self.check(
            OK,
            f"engine importable: chromahint {chromahint.__version__} in {env.python}, torch "
            f"{env.torch_build} build, device {device}",
        )
        if env.missing:
            self.check(FAIL, f"requirements missing or too old: {', '.join(env.missing)}", fixes)
        if env.wanted == "cuda" and env.torch_build == "cpu":
            self.check(WARN, f"a CPU-only torch on a machine with a GPU ({env.gpu.why})", fixes)
        self.weights()

    def weights(self) -> None:
        from chromahint.models.registry import SPECS, WEIGHTS_ENV, weights_dir

        folder = weights_dir()
        files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
        for f in files:
            self.check(OK, f"weights {f.name}: sha256 {sha256_file(f)} ({f.stat().st_size} bytes)")
        for spec in SPECS:
            names = [name for name, _loader in spec.weights]  # candidates, best first
            if any((folder / name).is_file() for name in names):
                continue
            where = " or ".join(str(folder / name) for name in names)
            get = (
                f"reinstall a chromahint release that ships {' or '.join(names)}, or point "
                f"{WEIGHTS_ENV} at a folder holding it"
            )
            if spec.fallback:
                self.check(
                    FAIL,
                    f"{spec.mode} model weights missing ({where}); the engine "
                    f"serves the non-learned Levin baseline for {spec.mode} instead",
                    get,
                )
            else:
                self.check(
                    WARN,
                    f"{spec.mode} model weights missing ({where}); {spec.mode} mode is unavailable",
                    get,
                )

    def reachable(self, endpoint: str | None) -> None:
        from chromahint_client import DEFAULT_ENDPOINT, CurveKeys, EngineAuthError, KeyFileError
        from chromahint_client.launcher import is_running
        from chromahint_client.settings import DEFAULT_COMMAND

        settings = self.installed_settings()
        endpoint = endpoint or settings.get("endpoint") or DEFAULT_ENDPOINT
        command = settings.get("engine_command") or DEFAULT_COMMAND
        keys = None
        if settings.get("server_key") or settings.get("client_key"):
            try:
                keys = CurveKeys.from_files(
                    str(settings.get("server_key")), str(settings.get("client_key"))
                )
            except KeyFileError as e:
                self.check(
                    FAIL,
                    f"the plug-ins' CURVE keys are not usable: {e}",
                    "rerun chromahint install with --server-key FILE --client-key FILE",
                )
                return
        try:
            info = is_running(endpoint, keys, auth_errors=True)
        except EngineAuthError as e:
            self.check(
                FAIL, f"the engine at {endpoint} refused this client: {e}", "see docs/security.md"
            )
            return
        if info is not None:
            models = ", ".join(
                f"{m.mode}: {m.name}{'' if m.learned else ' (baseline)'}" for m in info.models
            )
            self.check(
                OK,
                f"engine answers at {endpoint}: {info.engine}, device {info.device}, "
                f"models {models}",
            )
            return
        unit = systemd_unit_path(self.env)
        if str(unit) in self.manifest.files:
            self.check(
                FAIL,
                f"no engine answers at {endpoint}, though the login service is installed",
                "systemctl --user start chromahint; journalctl --user -u chromahint for its log",
            )
            return
        argv = shlex.split(command) if command else []
        runnable = bool(argv) and (shutil.which(argv[0]) or Path(argv[0]).is_file())
        if argv[:2] == ["flatpak-spawn", "--host"]:
            runnable = True  # runs on the host; cannot be checked from here
        if not runnable:
            self.check(
                FAIL,
                f"no engine answers at {endpoint}, and the plug-ins' start "
                f"command {command!r} cannot run here",
                "rerun chromahint install (or pass --engine-command)",
            )
            return
        self.check(
            WARN,
            f"no engine answers at {endpoint} now; the plug-ins start it on "
            f"demand with {command!r}",
            f"to keep it warm: {command} --endpoint {endpoint} (or install --service)",
        )

    def installed_settings(self) -> dict:
        for path in sorted(self.manifest.files):
            if Path(path).name == SETTINGS_FILE and Path(path).is_file():
                try:
                    return json.loads(Path(path).read_text(encoding="utf-8"))
                except ValueError:
                    continue
        return {}

    # -- editors -----------------------------------------------------------------------
    def editor_found(self, name: str, found: list[Found], major: str) -> bool:
        if not found:
            return False
        for f in found:
            version = f.version or "unknown version"
            where = " ".join(f.argv)
            if f.version and f.version.split(".")[0] != major:
                self.check(
                    FAIL,
                    f"{name} {version} at {where}; Chromahint needs {name} {major}",
                    f"install {name} {major}",
                )
            else:
                self.check(OK, f"{name} found: {version} at {where}")
        return True

    def manifest_integrity(self, name: str, roots: list[Path], fix: str) -> None:
        changed = [
            p
            for p, r in self.manifest.files.items()
            if any(Path(p) == root or root in Path(p).parents for root in roots)
            and (not Path(p).is_file() or sha256_file(Path(p)) != r.sha256)
        ]
        if changed:
            self.check(
                WARN,
                f"{name} plug-in: {len(changed)} installed file(s) missing or "
                f"changed since install, e.g. {changed[0]}",
                fix,
            )

    def editor_python(self, name: str, python: EditorPython, plugin_dir: Path, fix: str) -> None:
        if python.argv is None:
            self.check(
                WARN,
                f"{name}'s Python: cannot check ({python.how})",
                "pass --editor-python PATH to check it",
            )
            return
        vendor = plugin_dir / "vendor"
        try:
            info = probe(python.argv, vendor if vendor.is_dir() else None)
        except InstallError as e:
            self.check(FAIL, f"{name}'s Python: {e}", "pass the right one with --editor-python")
            return
        if info.missing:
            self.check(
                FAIL,
                f"{name}'s Python {info.full_version} ({' '.join(info.argv)}) "
                f"cannot import {', '.join(info.missing)}",
                fix,
            )
            return
        parts = []
        for m in MODULES:
            origin = info.origins.get(m) or ""
            src = "vendor/" if origin.startswith(str(vendor)) else "its own"
            parts.append(f"{m} {info.modules[m]} ({src})")
        self.check(
            OK,
            f"{name}'s Python {info.full_version} ({' '.join(info.argv)}) imports "
            + ", ".join(parts),
        )

    def gimp(self, override: Path | None, editor_python: str | None) -> None:
        self.out("GIMP 3")
        fix = "chromahint install --gimp" + (f" --gimp-profile {override}" if override else "")
        found = self.editor_found("GIMP", find_gimp(), "3")
        location = pick(gimp_profile_candidates(self.env, self.system), override, "--gimp-profile")
        main = gimp_plugin_dir(location.path) / f"{GIMP_PLUGIN}.py" if location else None
        if not found:
            if main is None or not main.is_file():
                self.check(
                    SKIP,
                    "GIMP 3 not found (no gimp-console-3.0/gimp-3.0/gimp on PATH, "
                    "no Flatpak) and the plug-in is not installed",
                )
                return
            self.check(
                WARN,
                "GIMP 3 not found on PATH or as a Flatpak, but the plug-in is installed",
                "install GIMP 3 (https://www.gimp.org/downloads/)",
            )
        if location is None or main is None:
            self.check(FAIL, "GIMP 3 profile not found", "start GIMP 3 once, then " + fix)
            return
        if not main.is_file():
            self.check(FAIL, f"GIMP plug-in not installed ({main} missing)", fix)
            return
        if not stat.S_IMODE(main.stat().st_mode) & stat.S_IXUSR:
            self.check(
                FAIL,
                f"GIMP plug-in installed but not executable, so GIMP ignores it ({main})",
                f"chmod +x {shlex.quote(str(main))}",
            )
        else:
            self.check(OK, f"GIMP plug-in installed and enabled (executable): {main}")
        self.manifest_integrity("GIMP", [main.parent], fix + " --force")
        python = (
            given_python(editor_python)
            if editor_python
            else gimp_python(location, self.env, self.system)
        )
        self.editor_python("GIMP", python, main.parent, fix)

    def krita(
        self, override: Path | None, rc_override: Path | None, editor_python: str | None
    ) -> None:
        self.out("Krita 5")
        fix = (
            "chromahint install --krita"
            + (f" --krita-resources {override}" if override else "")
            + (f" --kritarc {rc_override}" if rc_override else "")
        )
        found = self.editor_found("Krita", find_krita(), "5")
        location = pick(
            krita_resource_candidates(self.env, self.system), override, "--krita-resources"
        )
        desktop = krita_desktop_path(location.path) if location else None
        if not found:
            if desktop is None or not desktop.is_file():
                self.check(
                    SKIP,
                    "Krita not found (no krita on PATH, no Flatpak) and the "
                    "plug-in is not installed",
                )
                return
            self.check(
                WARN,
                "Krita not found on PATH or as a Flatpak, but the plug-in is installed",
                "install Krita 5 (https://krita.org/en/download/)",
            )
        if location is None or desktop is None:
            self.check(FAIL, "Krita resources folder not found", "start Krita once, then " + fix)
            return
        package = krita_plugin_dir(location.path)
        if not desktop.is_file() or not (package / "__init__.py").is_file():
            self.check(FAIL, f"Krita plug-in not installed ({desktop}, {package})", fix)
            return
        self.check(OK, f"Krita plug-in installed: {desktop}")
        rc = rc_override or kritarc_for(location, self.env, self.system)
        text = kritarc.decode(rc.read_bytes()) if rc.is_file() else ""
        key = krita_enable_key()
        if kritarc.get(text, KRITARC_GROUP, key) == "true":
            self.check(OK, f"Krita plug-in enabled in {rc} ([{KRITARC_GROUP}] {key}=true)")
        else:
            self.check(
                FAIL,
                f"Krita plug-in not enabled in {rc}",
                f"quit Krita and run {fix}, or tick Chromahint in Settings > Configure "
                "Krita > Python Plugin Manager and restart Krita",
            )
        self.manifest_integrity("Krita", [package, desktop], fix + " --force")
        python = (
            given_python(editor_python)
            if editor_python
            else krita_python(location, self.env, self.system)
        )
        self.editor_python("Krita", python, package, fix)


def doctor(
    engine: bool = True,
    gimp: bool = True,
    krita: bool = True,
    endpoint: str | None = None,
    gimp_profile: Path | None = None,
    krita_resources: Path | None = None,
    kritarc: Path | None = None,
    editor_python: str | None = None,
    env: Mapping[str, str] | None = None,
    system: str | None = None,
    out: Callable[[str], None] = print,
) -> int:
    env = os.environ if env is None else env
    system = system or current_system()
    try:
        manifest = Manifest.load(manifest_path(env, system))
    except ValueError as e:
        out(f"[FAIL] {e}")
        return 1
    d = Doctor(env, system, out, manifest)
    if engine:
        d.engine()
        d.reachable(endpoint)
    if gimp:
        d.gimp(gimp_profile, editor_python)
    if krita:
        d.krita(krita_resources, kritarc, editor_python)
    out(f"{d.failures} problem(s) found" if d.failures else "no problems found")
    return 1 if d.failures else 0
