"""pyzmq and msgpack for an editor's Python that lacks them: wheels unpacked into vendor/.

The editor's Python is asked what it is (version, ABI, platform, libc) and whether it can
import the modules; wheels for exactly that interpreter are fetched with `pip download` run
by our own Python, then unpacked. Nothing is installed into the editor's Python itself.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .plugins import InstallError

MODULES = ("zmq", "msgpack")
PACKAGES = ("pyzmq", "msgpack")
OLDEST_GLIBC_MINOR = 17  # manylinux2014, the oldest tag current wheels use

# Runs inside the editor's Python, whatever its version: keep it plain and old-fashioned.
_PROBE = r"""
import json, platform, sys, sysconfig
extra = sys.argv[1:]
sys.path[0:0] = extra
mods, origins = {}, {}
for name in ("zmq", "msgpack"):
    try:
        mod = __import__(name)
        version = getattr(mod, "__version__", None) or getattr(mod, "version", "?")
        if isinstance(version, tuple):
            version = ".".join(str(v) for v in version)
        mods[name] = str(version)
        origins[name] = getattr(mod, "__file__", None)
    except Exception:
        mods[name] = None
print(json.dumps({
    "version": "%d.%d" % sys.version_info[:2],
    "full_version": platform.python_version(),
    "implementation": sys.implementation.name,
    "abiflags": getattr(sys, "abiflags", ""),
    "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "platform": sysconfig.get_platform(),
    "machine": platform.machine(),
    "libc": list(platform.libc_ver()),
    "mac_ver": platform.mac_ver()[0],
    "modules": mods,
    "origins": origins,
}))
"""


@dataclass(frozen=True)
class PythonInfo:
    argv: tuple[str, ...]  # how to run it (a path, or e.g. `flatpak run --command=python3 ID`)
    version: str  # "3.11"
    full_version: str
    implementation: str
    abi: str  # "cp311", "cp313t"
    platforms: tuple[str, ...]  # wheel platform tags, most specific first
    modules: dict[str, str | None]
    origins: dict[str, str | None]

    @property
    def missing(self) -> list[str]:
        return [m for m in MODULES if not self.modules.get(m)]

    @property
    def tag(self) -> str:
        """Identifies the wheels this interpreter needs; a change means re-vendoring."""
        return f"{self.abi}-{self.platforms[0] if self.platforms else 'unknown'}"

    def describe(self) -> str:
        where = " ".join(self.argv)
        return f"Python {self.full_version} ({self.abi}, {self.platforms[0]}) at {where}"


def _clean_env() -> dict[str, str]:
    """Our environment minus what would make another Python look like ours."""
    env = dict(os.environ)
    for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONNOUSERSITE"):
        env.pop(var, None)
    return env


def probe(argv: tuple[str, ...], extra_path: Path | None = None) -> PythonInfo:
    """Run the editor's Python and ask it; `extra_path` is tried first on sys.path."""
    cmd = [*argv, "-c", _PROBE] + ([str(extra_path)] if extra_path else [])
    try:
        res = subprocess.run(
            cmd, capture_output=True, text=True, timeout=120, env=_clean_env(), check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise InstallError(f"could not run the editor's Python {' '.join(argv)}: {e}") from None
    try:
        raw = json.loads(res.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        detail = (res.stderr or res.stdout).strip()[-500:]
        raise InstallError(
            f"could not run the editor's Python {' '.join(argv)} (exit {res.returncode}): {detail}"
        ) from None
    impl = "cp" if raw["implementation"] == "cpython" else raw["implementation"]
    nodot = raw["version"].replace(".", "")
    abi = f"{impl}{nodot}{'t' if raw['gil_disabled'] else ''}"
    return PythonInfo(
        argv=tuple(argv),
        version=raw["version"],
        full_version=raw["full_version"],
        implementation=impl,
        abi=abi,
        platforms=tuple(platform_tags(raw)),
        modules=raw["modules"],
        origins=raw["origins"],
    )


def platform_tags(raw: dict) -> list[str]:
    """Wheel platform tags the interpreter accepts, newest first (like packaging.tags)."""
    plat: str = raw["platform"]
    machine: str = raw["machine"]
    if plat.startswith("win"):
        return {"win32": ["win32"], "win-amd64": ["win_amd64"], "win-arm64": ["win_arm64"]}.get(
            plat, [plat.replace("-", "_")]
        )
    if plat.startswith("macosx"):
        arch = "arm64" if machine == "arm64" else "x86_64"
        parts = (raw.get("mac_ver") or "10.9").split(".") + ["0"]
        major, minor = int(parts[0]), int(parts[1])
        # macOS 11+ tags carry minor 0; pip expands a macOS tag to every older version and
        # to universal2 by itself.
        return [f"macosx_{major}_{0 if major >= 11 else minor}_{arch}"]
    # "linux-x86_64": the interpreter's own architecture (a 32-bit Python says i686 here)
    arch = plat.split("-", 1)[1] if "-" in plat else machine
    libc, version = raw.get("libc") or ["", ""]
    if libc == "glibc" and version:
        _, glibc_minor = (int(v) for v in version.split(".")[:2])
        tags = [f"manylinux_2_{m}_{arch}" for m in range(glibc_minor, OLDEST_GLIBC_MINOR - 1, -1)]
        tags.append(f"manylinux2014_{arch}")
        return tags
    # musl: sysconfig says linux, libc_ver says nothing; musllinux wheels need 1.1 or 1.2
    return [f"musllinux_1_2_{arch}", f"musllinux_1_1_{arch}", f"linux_{arch}"]


def pip_command(info: PythonInfo, dest: Path) -> list[str]:
    # --no-cache-dir: the install leaves nothing behind that the manifest does not list
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--no-deps"]
    cmd += ["--no-cache-dir"]
    cmd += ["--disable-pip-version-check", "--python-version", info.version]
    cmd += ["--implementation", info.implementation, "--abi", info.abi]
    for plat in info.platforms:
        cmd += ["--platform", plat]
    return [*cmd, "-d", str(dest), *PACKAGES]


def download(info: PythonInfo) -> dict[str, tuple[bytes, int]]:
    """Fetch and unpack the wheels: relative path -> (content, mode)."""
    with tempfile.TemporaryDirectory(prefix="chromahint-wheels-") as tmp:
        cmd = pip_command(info, Path(tmp))
        res = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
        if res.returncode != 0:
            raise InstallError(
                f"could not download pyzmq/msgpack wheels for {info.describe()}:\n"
                f"{(res.stderr or res.stdout).strip()[-1500:]}\n"
                f"command: {' '.join(cmd)}"
            )
        wheels = sorted(Path(tmp).glob("*.whl"))
        got = {w.name.split("-")[0].lower() for w in wheels}
        if not {"pyzmq", "msgpack"} <= got:
            raise InstallError(f"pip downloaded {sorted(got)}, expected pyzmq and msgpack")
        files: dict[str, tuple[bytes, int]] = {}
        for wheel in wheels:
            files.update(unpack(wheel.read_bytes()))
        return files


def unpack(wheel: bytes) -> dict[str, tuple[bytes, int]]:
    """A wheel's importable files (not its .data/ scripts or headers)."""
    out: dict[str, tuple[bytes, int]] = {}
    with zipfile.ZipFile(io.BytesIO(wheel)) as zf:
        for item in zf.infolist():
            name = PurePosixPath(item.filename)
            if item.is_dir() or name.parts[0].endswith(".data") or ".." in name.parts:
                continue
            executable = (item.external_attr >> 16) & 0o111
            out[str(name)] = (zf.read(item), 0o755 if executable else 0o644)
    return out
