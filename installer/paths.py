"""Where things live on each OS: editor profiles, kritarc, the manifest, the systemd unit.

Every function takes the environment and the OS name explicitly so tests can point them at
a fake HOME and so the rules for other OSes stay readable next to Linux's.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

GIMP_FLATPAK_ID = "org.gimp.GIMP"
KRITA_FLATPAK_ID = "org.kde.krita"


def current_system() -> str:
    """'linux', 'windows' or 'darwin'."""
    return platform.system().lower()


def home(env: Mapping[str, str]) -> Path:
    return Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())


def data_home(env: Mapping[str, str], system: str) -> Path:
    if system == "windows":
        return Path(env.get("LOCALAPPDATA") or home(env) / "AppData" / "Local")
    if system == "darwin":
        return home(env) / "Library" / "Application Support"
    return Path(env.get("XDG_DATA_HOME") or home(env) / ".local" / "share")


def config_home(env: Mapping[str, str], system: str) -> Path:
    if system == "windows":
        return Path(env.get("APPDATA") or home(env) / "AppData" / "Roaming")
    if system == "darwin":
        return home(env) / "Library" / "Preferences"
    return Path(env.get("XDG_CONFIG_HOME") or home(env) / ".config")


def manifest_path(env: Mapping[str, str], system: str) -> Path:
    return data_home(env, system) / "chromahint" / "install-manifest.json"


def systemd_unit_path(env: Mapping[str, str]) -> Path:
    return config_home(env, "linux") / "systemd" / "user" / "chromahint.service"


@dataclass(frozen=True)
class Location:
    """A detected (or given) editor folder and how it was found."""

    path: Path
    how: str  # for people: "--gimp-profile", "GIMP3_DIRECTORY", "default", "Flatpak"
    flatpak: bool = False


def gimp_profile_candidates(env: Mapping[str, str], system: str) -> list[Location]:
    """GIMP 3 profiles in the order GIMP itself would use them."""
    out: list[Location] = []
    if env.get("GIMP3_DIRECTORY"):
        out.append(Location(Path(env["GIMP3_DIRECTORY"]), "GIMP3_DIRECTORY"))
    if system == "windows":
        out.append(Location(config_home(env, system) / "GIMP" / "3.0", "default"))
    elif system == "darwin":
        out.append(
            Location(home(env) / "Library" / "Application Support" / "GIMP" / "3.0", "default")
        )
    else:
        out.append(Location(config_home(env, system) / "GIMP" / "3.0", "default"))
        flatpak = home(env) / ".var" / "app" / GIMP_FLATPAK_ID / "config" / "GIMP" / "3.0"
        out.append(Location(flatpak, "Flatpak", flatpak=True))
    return out


def krita_resource_candidates(env: Mapping[str, str], system: str) -> list[Location]:
    if system == "windows":
        return [Location(config_home(env, system) / "krita", "default")]
    if system == "darwin":
        return [Location(home(env) / "Library" / "Application Support" / "krita", "default")]
    flatpak = home(env) / ".var" / "app" / KRITA_FLATPAK_ID / "data" / "krita"
    return [
        Location(data_home(env, system) / "krita", "default"),
        Location(flatpak, "Flatpak", flatpak=True),
    ]


def kritarc_for(resources: Location, env: Mapping[str, str], system: str) -> Path:
    """The kritarc that belongs with a resources folder (Flatpak keeps its own)."""
    if system == "windows":
        return Path(env.get("LOCALAPPDATA") or home(env) / "AppData" / "Local") / "kritarc"
    if system == "darwin":
        return home(env) / "Library" / "Preferences" / "kritarc"
    if resources.flatpak:
        return home(env) / ".var" / "app" / KRITA_FLATPAK_ID / "config" / "kritarc"
    return config_home(env, system) / "kritarc"


def pick(candidates: list[Location], override: Path | None, flag: str) -> Location | None:
    """The override if given, else the first existing candidate (GIMP3_DIRECTORY wins even
    when it does not exist yet, since GIMP would create it there)."""
    if override is not None:
        return Location(override.expanduser().absolute(), flag, flatpak=_is_flatpak(override))
    for loc in candidates:
        if loc.how == "GIMP3_DIRECTORY" or loc.path.is_dir():
            return loc
    return None


def _is_flatpak(path: Path) -> bool:
    parts = path.expanduser().absolute().parts
    return any(a == ".var" and b == "app" for a, b in zip(parts, parts[1:], strict=False))
