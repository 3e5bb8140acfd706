"""The install manifest: every file and folder install wrote, with hashes, and its kritarc edits.

Uninstall trusts only this record, so it never removes a file the user made or changed.
The JSON is written deterministically (sorted, no timestamps) so an install that changes
nothing leaves it byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

FORMAT = 1


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class FileRecord:
    sha256: str
    mode: int
    component: str
    backup: str | None = None  # where a user file replaced under --force was moved


@dataclass
class KritarcEdit:
    group: str
    key: str
    previous: str | None  # the user's line for the key before install, None if absent
    created_file: bool
    added_group: bool
    # The exact change (offset, removed, inserted), valid while the file still has
    # `written_sha256`: reversing it restores the user's bytes exactly.
    splice: tuple[int, str, str] | None
    written_sha256: str | None


@dataclass
class Manifest:
    path: Path
    files: dict[str, FileRecord] = field(default_factory=dict)
    dirs: dict[str, str] = field(default_factory=dict)  # created folder -> component
    kritarc: dict[str, KritarcEdit] = field(default_factory=dict)
    vendor: dict[str, str] = field(default_factory=dict)  # vendor folder -> target tag
    service_enabled: bool = False

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.is_file():
            return cls(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError(f"{path}: not a manifest this version of chromahint can read")
        kritarc = {}
        for p, e in raw.get("kritarc", {}).items():
            splice = tuple(e["splice"]) if e.get("splice") else None
            kritarc[p] = KritarcEdit(**{**e, "splice": splice})
        return cls(
            path,
            files={p: FileRecord(**r) for p, r in raw.get("files", {}).items()},
            dirs=dict(raw.get("dirs", {})),
            kritarc=kritarc,
            vendor=dict(raw.get("vendor", {})),
            service_enabled=bool(raw.get("service_enabled", False)),
        )

    def is_empty(self) -> bool:
        owned = {p for p, c in self.dirs.items() if c != "manifest"}
        return not (self.files or owned or self.kritarc or self.vendor or self.service_enabled)

    def to_json(self) -> str:
        doc = {
            "format": FORMAT,
            "files": {p: asdict(r) for p, r in sorted(self.files.items())},
            "dirs": dict(sorted(self.dirs.items())),
            "kritarc": {p: asdict(e) for p, e in sorted(self.kritarc.items())},
            "vendor": dict(sorted(self.vendor.items())),
            "service_enabled": self.service_enabled,
        }
        return json.dumps(doc, indent=2, sort_keys=True) + "\n"

    def save(self) -> bool:
        """Write if the content changed; True when it did."""
        text = self.to_json()
        if self.path.is_file() and self.path.read_text(encoding="utf-8") == text:
            return False
        for d in missing_parents(self.path):
            d.mkdir()
            self.dirs.setdefault(str(d), "manifest")
        text = self.to_json()  # may now list the folders just made
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)
        return True


def missing_parents(path: Path) -> list[Path]:
    """The ancestors of `path` that do not exist yet, outermost first."""
    out = []
    for parent in path.parents:
        if parent.exists():
            break
        out.append(parent)
    return out[::-1]
