"""Run a scenario inside a real Krita under Xvfb, with fresh XDG folders, for the tests.

The plug-in goes in through the real installer (`chromahint install --krita ...`), next to
a small driver plug-in (tests/krita_driver.py) that runs the scenario's steps on Krita's
event loop and writes the results as JSON. Every run is wrapped in `timeout`, and Krita
leaves with os._exit once the results are written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
ARTIFACTS = REPO / "artifacts"
PLUGIN = "chromahint_krita"  # pykrita/<PLUGIN>/ and <PLUGIN>.desktop, as the installer writes
DRIVER = "chromahint_testdriver"
EDITOR_PYTHON = "/usr/bin/python3"  # Krita's embedded Python is the system one

DRIVER_DESKTOP = f"""[Desktop Entry]
Type=Service
ServiceTypes=Krita/PythonPlugin
X-KDE-Library={DRIVER}
X-Python-2-Compatible=false
Name=Chromahint test driver
Comment=Runs a test scenario and quits (tests only)
"""


class KritaRunError(RuntimeError):
    """Krita did not produce results; the message carries the end of its log."""


@dataclass
class KritaRun:
    results: dict
    log: Path
    seconds: float

    @property
    def checks(self) -> dict[str, dict]:
        return self.results.get("checks", {})

    def failed(self) -> dict[str, dict]:
        return {k: v for k, v in self.checks.items() if not v.get("ok")}


def krita_installed() -> bool:
    return shutil.which("krita") is not None and shutil.which("xvfb-run") is not None


def _enable_in_kritarc(kritarc: Path, key: str) -> None:
    """Add `key=true` to kritarc's [python] group (the installer has created the file)."""
    lines = kritarc.read_text(encoding="utf-8").splitlines() if kritarc.exists() else []
    if f"{key}=true" in lines:
        return
    if "[python]" in lines:
        lines.insert(lines.index("[python]") + 1, f"{key}=true")
    else:
        lines += ["", "[python]", f"{key}=true"]
    kritarc.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run_installer(
    resources: Path,
    kritarc: Path,
    endpoint: str,
    engine_command: str | None = None,
    dirs: dict[str, Path] | None = None,
) -> None:
    """Install the plug-in the way users do: `chromahint install --krita ...`."""
    cmd = [
        sys.executable, "-m", "chromahint", "install", "--krita",
        "--krita-resources", str(resources), "--kritarc", str(kritarc),
        "--endpoint", endpoint, "--editor-python", EDITOR_PYTHON,
    ]  # fmt: skip
    if engine_command:
        cmd += ["--engine-command", engine_command]
    env = dict(os.environ)
    if dirs:  # the installer's manifest stays in the test's own folders
        env.update(HOME=str(dirs["home"]), XDG_DATA_HOME=str(dirs["data"]))
        env.update(XDG_CONFIG_HOME=str(dirs["config"]))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    if proc.returncode != 0:
        raise KritaRunError(
            f"chromahint install failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )


def install(root: Path, endpoint: str, engine_command: str | None = None) -> dict[str, Path]:
    """Fresh XDG folders under root with the plug-in (via the installer) and the driver."""
    dirs = {name: root / name for name in ("home", "data", "config", "cache", "runtime")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    dirs["runtime"].chmod(0o700)
    resources, kritarc = dirs["data"] / "krita", dirs["config"] / "kritarc"
    run_installer(resources, kritarc, endpoint, engine_command, dirs)
    pykrita = resources / "pykrita"
    installed = [
        pykrita / PLUGIN / "__init__.py",
        pykrita / PLUGIN / "chromahint.json",
        pykrita / PLUGIN / "lib" / "chromahint_client" / "protocol" / "__init__.py",
        pykrita / f"{PLUGIN}.desktop",
    ]
    missing = [str(p) for p in installed if not p.is_file()]
    if missing or f"enable_{PLUGIN}=true" not in kritarc.read_text(encoding="utf-8"):
        raise KritaRunError(f"the installer did not install the plug-in as {PLUGIN}: {missing}")
    (pykrita / DRIVER).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(TESTS / "krita_driver.py", pykrita / DRIVER / "__init__.py")
    (pykrita / f"{DRIVER}.desktop").write_text(DRIVER_DESKTOP, encoding="utf-8")
    _enable_in_kritarc(kritarc, f"enable_{DRIVER}")
    return dirs | {"resources": resources, "kritarc": kritarc, "pykrita": pykrita}


def run_scenario(
    scenario: Path,
    root: Path,
    endpoint: str,
    timeout: float = 240,
    env: dict[str, str] | None = None,
    engine_command: str | None = None,
) -> KritaRun:
    """Install into fresh folders under root, run the scenario in Krita, return its results."""
    dirs = install(root, endpoint, engine_command)
    results, log = root / "results.json", root / "krita.log"
    ARTIFACTS.mkdir(exist_ok=True)
    # Krita's embedded Python must not take pytest's interpreter settings (PYTHONHOME,
    # PYTHONPATH into another Python's site-packages), nor Qt's and Krita's of the session.
    run_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("QT_", "XDG_", "PYTHON", "KRITA"))
    }
    run_env.update(
        # Krita's embedded Python looks `python3` up on PATH to find its standard library;
        # under pytest PATH starts with pyenv's, which lacks the system's PyQt5.
        PATH=f"/usr/bin:/bin:{os.environ.get('PATH', '')}",
        HOME=str(dirs["home"]),
        XDG_DATA_HOME=str(dirs["data"]),
        XDG_CONFIG_HOME=str(dirs["config"]),
        XDG_CACHE_HOME=str(dirs["cache"]),
        XDG_RUNTIME_DIR=str(dirs["runtime"]),
        CHROMAHINT_KRITA_SCENARIO=str(scenario),
        CHROMAHINT_KRITA_RESULTS=str(results),
        CHROMAHINT_KRITA_ARTIFACTS=str(ARTIFACTS),
        CHROMAHINT_KRITA_WATCHDOG=str(max(30, timeout - 15)),
        LIBGL_ALWAYS_SOFTWARE="1",
        **(env or {}),
    )
    cmd = [
        "timeout", "-k", "10", str(int(timeout)),
        "xvfb-run", "-a", "-s", "-screen 0 1600x1000x24 -nolisten tcp",
        "krita", "--nosplash",
    ]  # fmt: skip
    start = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.run(cmd, env=run_env, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - start
    if not results.exists():
        tail = log.read_text(errors="replace")[-4000:]
        raise KritaRunError(
            f"Krita exited with {proc.returncode} and no results; log tail:\n{tail}"
        )
    data = json.loads(results.read_text(encoding="utf-8"))
    if data.get("error"):
        raise KritaRunError(
            f"the scenario failed inside Krita:\n{data['error']}\n"
            f"docker messages: {data.get('messages')}\n"
            f"checks so far: {json.dumps(data.get('checks'), indent=1)[:4000]}"
        )
    return KritaRun(data, log, seconds)
