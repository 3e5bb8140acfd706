"""The engine's Python environment: which torch build this machine wants, and what is missing.

The installer runs inside the engine's environment (it is the same `chromahint` command),
so it checks that environment and says what pip command would fix it; torch is never
fetched unless the user asks with --pip.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

TORCH_INDEX = "https://download.pytorch.org/whl"
# CUDA builds PyTorch publishes wheels for, newest first: (tag, minimum driver CUDA version)
CUDA_BUILDS = (
    ("cu128", (12, 8)),
    ("cu126", (12, 6)),
    ("cu124", (12, 4)),
    ("cu121", (12, 1)),
    ("cu118", (11, 8)),
)


@dataclass(frozen=True)
class Gpu:
    present: bool
    why: str
    driver_cuda: tuple[int, int] | None = None  # the CUDA version the driver supports


def detect_gpu(proc_version: Path = Path("/proc/driver/nvidia/version")) -> Gpu:
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            res = subprocess.run([smi], capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired):
            res = None
        if res is not None and res.returncode == 0:
            m = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", res.stdout)
            cuda = (int(m.group(1)), int(m.group(2))) if m else None
            names = re.findall(r"\|\s+\d+\s+(NVIDIA [^|]*?)\s{2,}", res.stdout)
            what = names[0] if names else "an NVIDIA GPU"
            return Gpu(True, f"nvidia-smi works and reports {what}", cuda)
    if proc_version.is_file():
        first = proc_version.read_text(errors="replace").splitlines()[:1]
        return Gpu(True, f"the NVIDIA driver is loaded ({' '.join(first).strip()[:80]})")
    return Gpu(
        False, f"no NVIDIA GPU found: nvidia-smi does not run and there is no {proc_version}"
    )


def torch_index(gpu: Gpu) -> str:
    if not gpu.present:
        return f"{TORCH_INDEX}/cpu"
    for tag, needs in CUDA_BUILDS:
        if gpu.driver_cuda is None or gpu.driver_cuda >= needs:
            return f"{TORCH_INDEX}/{tag}"
    return f"{TORCH_INDEX}/{CUDA_BUILDS[-1][0]}"


@dataclass
class EngineEnv:
    python: str
    gpu: Gpu
    wanted: str  # "cuda" or "cpu"
    torch_build: str | None  # "cuda 12.1", "cpu", None when torch is missing
    missing: list[str] = field(default_factory=list)  # requirement strings not satisfied
    fixes: list[list[str]] = field(default_factory=list)  # pip commands that would fix it

    @property
    def ok(self) -> bool:
        return not self.fixes


def _requirement_ok(req: str) -> bool:
    name = re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0]
    try:
        installed = md.version(name)
    except md.PackageNotFoundError:
        return False
    try:
        from packaging.requirements import Requirement
    except ImportError:  # no packaging: presence is all we can check
        return True
    return Requirement(req).specifier.contains(installed, prereleases=True)


def check(gpu: Gpu | None = None) -> EngineEnv:
    gpu = gpu or detect_gpu()
    wanted = "cuda" if gpu.present else "cpu"
    try:
        requires = md.requires("chromahint") or []
    except md.PackageNotFoundError:
        requires = []
    requires = [r for r in requires if "extra ==" not in r]
    missing = [r for r in requires if not _requirement_ok(r)]
    try:
        import torch

        build = f"cuda {torch.version.cuda}" if torch.version.cuda else "cpu"
    except ImportError:
        build = None
    env = EngineEnv(sys.executable, gpu, wanted, build, missing)
    pip = [sys.executable, "-m", "pip", "install"]
    torch_old = any(re.match(r"torch\b", r) for r in missing)
    torch_wrong = build is None or torch_old or (wanted == "cuda" and build == "cpu")
    if torch_wrong:
        env.fixes.append([*pip, "--force-reinstall", "torch", "--index-url", torch_index(gpu)])
    others = [r for r in missing if not re.match(r"torch\b", r)]
    if others:
        env.fixes.append([*pip, *others])
    return env


def describe(env: EngineEnv) -> list[str]:
    lines = [f"engine Python: {env.python}"]
    lines.append(f"torch build for this machine: {env.wanted.upper()} ({env.gpu.why})")
    if env.torch_build is None:
        lines.append("torch: not installed")
    else:
        lines.append(f"torch installed: {env.torch_build} build")
    if env.wanted == "cpu" and env.torch_build and env.torch_build != "cpu":
        lines.append("  (a CUDA build runs fine on CPU; the CPU build is just smaller)")
    for req in env.missing:
        lines.append(f"missing or too old: {req}")
    return lines


def command_text(cmd: list[str]) -> str:
    return shlex.join(cmd) if sys.platform != "win32" else subprocess.list2cmdline(cmd)
