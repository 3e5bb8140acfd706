"""How much memory a request may use, so that one that cannot fit is refused with an error
instead of the kernel killing the engine (or an allocation failing halfway).

The estimate is per pixel of the request's image, measured on the CPU path at 2048x1536 and
4096x2731 (peak RSS growth 21-34 bytes per pixel, the decoded input, the lightness at full
size, the upsampled chroma and the rgba8 layer), with a margin. What is free is the
smallest of: the address space left under `ulimit -v` (RLIMIT_AS counts mappings, not RSS),
what the engine's memory cgroup allows beyond its usage (systemd's MemoryMax=, a
container's limit; cgroup v2 or v1), the machine's MemAvailable, and `serve --memory-mb`.
"""

from __future__ import annotations

import resource
from pathlib import Path

BYTES_PER_PIXEL = 48
# A colour reference is read one channel at a time as float32 and resized (exemplar.py).
REFERENCE_BYTES_PER_PIXEL = 12
RESERVE = 128 << 20  # interpreter, ZeroMQ buffers, the reply's packing


def _status_kib(field: str, path: Path = Path("/proc/self/status")) -> int | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _meminfo_kib(field: str) -> int | None:
    return _status_kib(field, Path("/proc/meminfo"))


def address_space_left() -> int | None:
    """Bytes of address space left under RLIMIT_AS, or None without a limit."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    used = _status_kib("VmSize")
    return max(0, soft - (used or 0) * 1024)


CGROUP_ROOT = Path("/sys/fs/cgroup")
_UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a huge number


def cgroup_left(root: Path = CGROUP_ROOT, table: Path = Path("/proc/self/cgroup")) -> int | None:
    """Bytes this process's memory cgroup still allows, or None without a limit."""
    try:
        lines = table.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        rel = path.lstrip("/")
        if controllers == "":  # v2: one unified hierarchy
            limit_file, usage_file = root / rel / "memory.max", root / rel / "memory.current"
        elif "memory" in controllers.split(","):
            folder = root / "memory" / rel
            limit_file = folder / "memory.limit_in_bytes"
            usage_file = folder / "memory.usage_in_bytes"
        else:
            continue
        try:
            limit_text = limit_file.read_text().strip()
            if limit_text == "max" or int(limit_text) >= _UNLIMITED:
                continue
            # Usage counts the page cache; its inactive part is dropped before anything is killed.
            used = int(usage_file.read_text()) - _reclaimable(limit_file.parent / "memory.stat")
            return max(0, int(limit_text) - used)
        except (OSError, ValueError):
            continue
    return None


def _reclaimable(stat: Path) -> int:
    try:
        for line in stat.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key in ("inactive_file", "total_inactive_file"):
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def free_bytes(cap_bytes: int | None, in_use: int = 0) -> tuple[int | None, str]:
    """(bytes a request may use now, what bounds it); None when nothing is known.

    `in_use`: what requests already admitted reserved. It is taken off every bound, also
    the measured ones, which may already show part of it: conservative, so two large
    requests can never both start when only one fits.
    """
    bounds: list[tuple[int, str]] = []
    if (left := address_space_left()) is not None:
        bounds.append((left, "the engine's address-space limit (ulimit -v)"))
    if (left := cgroup_left()) is not None:
        bounds.append((left, "the engine's memory cgroup limit"))
    if (avail := _meminfo_kib("MemAvailable")) is not None:
        bounds.append((avail * 1024, "the memory this machine has free"))
    if cap_bytes is not None:
        bounds.append((cap_bytes, "the engine's --memory-mb"))
    if not bounds:
        return None, ""
    free, why = min(bounds)
    return max(0, free - RESERVE - in_use), why


def request_bytes(pixels: int, reference_pixels: int = 0) -> int:
    return BYTES_PER_PIXEL * pixels + REFERENCE_BYTES_PER_PIXEL * reference_pixels
