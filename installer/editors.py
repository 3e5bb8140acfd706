"""Finding GIMP 3 and Krita, their versions, and the Python each runs its plug-ins with."""

from __future__ import annotations

import glob
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .paths import GIMP_FLATPAK_ID, KRITA_FLATPAK_ID, Location

GIMP_COMMANDS = ("gimp-console-3.0", "gimp-3.0", "gimp")


@dataclass(frozen=True)
class Found:
    """An editor installation: how to run it and what version it says it is."""

    argv: tuple[str, ...]
    version: str | None
    flatpak: bool = False


def _run(argv: list[str], timeout: float = 30) -> str | None:
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (res.stdout + res.stderr) if res.returncode == 0 else None


def _version(text: str | None) -> str | None:
    m = re.search(r"(\d+\.\d+(?:\.\d+)?)", text or "")
    return m.group(1) if m else None


def package_version(path: str) -> str | None:
    """The distribution package's version for a binary (Krita's --version needs a display)."""
    if shutil.which("dpkg-query"):
        owner = _run(["dpkg-query", "-S", os.path.realpath(path)])
        if owner:
            package = owner.split(":", 1)[0].strip()
            return _version(_run(["dpkg-query", "-W", "-f=${Version}", package]))
    if shutil.which("rpm"):
        return _version(_run(["rpm", "-qf", "--qf", "%{VERSION}", os.path.realpath(path)]))
    return None


def binary_version(path: str, timeout: float = 30) -> str | None:
    return _version(_run([path, "--version"], timeout)) or package_version(path)


def flatpak_version(app_id: str) -> str | None:
    if not shutil.which("flatpak"):
        return None
    out = _run(["flatpak", "info", app_id])
    if out is None:
        return None
    m = re.search(r"^\s*Version:\s*(\S+)", out, re.MULTILINE)
    return m.group(1) if m else "?"


def find_gimp() -> list[Found]:
    found = []
    for name in GIMP_COMMANDS:
        path = shutil.which(name)
        if path:
            found.append(Found((path,), binary_version(path)))
            break
    version = flatpak_version(GIMP_FLATPAK_ID)
    if version:
        found.append(Found(("flatpak", "run", GIMP_FLATPAK_ID), version, flatpak=True))
    return found


def find_krita() -> list[Found]:
    found = []
    path = shutil.which("krita")
    if path:
        found.append(Found((path,), binary_version(path, timeout=60)))
    version = flatpak_version(KRITA_FLATPAK_ID)
    if version:
        found.append(Found(("flatpak", "run", KRITA_FLATPAK_ID), version, flatpak=True))
    return found


@dataclass(frozen=True)
class EditorPython:
    argv: tuple[str, ...] | None  # None: not found
    how: str  # why this one, or why none


def given_python(value: str) -> EditorPython:
    """--editor-python: a path, or a command such as `flatpak run --command=python3 ID`
    (a path with spaces that exists is taken whole)."""
    argv = (value,) if os.path.isfile(value) else tuple(shlex.split(value))
    return EditorPython(argv, "given with --editor-python")


def _first_file(patterns: list[str]) -> Path | None:
    for pattern in patterns:
        for hit in sorted(glob.glob(pattern)):
            if os.path.isfile(hit):
                return Path(hit)
    return None


def _gimp_interp_python() -> Path | None:
    """GIMP runs .py plug-ins with the interpreter its pygimp.interp names."""
    patterns = (
        "/usr/lib*/gimp/3.0/interpreters/*.interp",
        "/usr/lib/*/gimp/3.0/interpreters/*.interp",
    )
    for interp in sorted(hit for pattern in patterns for hit in glob.glob(pattern)):
        for line in Path(interp).read_text(errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("python3", "python") and value.strip().startswith("/"):
                return Path(value.strip())
    return None


def gimp_python(location: Location, env: Mapping[str, str], system: str) -> EditorPython:
    if location.flatpak:
        if shutil.which("flatpak"):
            return EditorPython(
                ("flatpak", "run", "--command=python3", GIMP_FLATPAK_ID), "the GIMP Flatpak's"
            )
        return EditorPython(None, "GIMP is a Flatpak but the flatpak command is not on PATH")
    if system == "linux":
        interp = _gimp_interp_python()
        if interp and interp.is_file():
            return EditorPython((str(interp),), "named in GIMP's pygimp.interp")
        if Path("/usr/bin/python3").is_file():
            return EditorPython(("/usr/bin/python3",), "GIMP 3 on Linux runs /usr/bin/python3")
        return EditorPython(None, "no /usr/bin/python3 (GIMP 3 on Linux runs plug-ins with it)")
    if system == "windows":
        roots = [env.get("ProgramFiles", r"C:\Program Files"), env.get("LOCALAPPDATA", "")]
        patterns = [os.path.join(r, "Programs", "GIMP 3*", "bin", "python.exe") for r in roots]
        patterns += [os.path.join(r, "GIMP 3*", "bin", "python.exe") for r in roots]
        gimp = shutil.which("gimp-3.0") or shutil.which("gimp")
        if gimp:
            patterns.insert(0, os.path.join(os.path.dirname(gimp), "python*.exe"))
        hit = _first_file(patterns)
        if hit:
            return EditorPython((str(hit),), "bundled with GIMP")
        return EditorPython(None, "could not find the python.exe bundled with GIMP 3")
    hit = _first_file(
        [
            f"{root}/GIMP*.app/Contents/MacOS/python3*"
            for root in ("/Applications", str(Path(env.get("HOME", "~")) / "Applications"))
        ]
    )
    if hit:
        return EditorPython((str(hit),), "bundled with GIMP.app")
    return EditorPython(None, "could not find the Python inside GIMP.app")


def krita_python(location: Location, env: Mapping[str, str], system: str) -> EditorPython:
    if location.flatpak:
        if shutil.which("flatpak"):
            return EditorPython(
                ("flatpak", "run", "--command=python3", KRITA_FLATPAK_ID), "the Krita Flatpak's"
            )
        return EditorPython(None, "Krita is a Flatpak but the flatpak command is not on PATH")
    if system == "linux":
        krita = shutil.which("krita")
        if krita is None:
            return EditorPython(None, "Krita is not on PATH, so its Python is unknown")
        real = os.path.realpath(krita)
        if real.startswith("/usr/") and Path("/usr/bin/python3").is_file():
            return EditorPython(("/usr/bin/python3",), "a distribution's Krita embeds python3")
        return EditorPython(
            None, f"{krita} looks like an AppImage or own build, whose Python cannot be run"
        )
    if system == "windows":
        root = env.get("ProgramFiles", r"C:\Program Files")
        hit = _first_file([os.path.join(root, "Krita*", "python", "python.exe")])
        if hit:
            return EditorPython((str(hit),), "bundled with Krita")
        return EditorPython(None, "Krita's bundled Python has no python.exe to run")
    hit = _first_file(
        [
            "/Applications/krita.app/Contents/Frameworks/Python.framework/Versions/*/bin/python3",
            "/Applications/krita.app/Contents/MacOS/python3*",
        ]
    )
    if hit:
        return EditorPython((str(hit),), "bundled with krita.app")
    return EditorPython(None, "could not find the Python inside krita.app")
