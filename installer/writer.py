"""Writing planned files safely: never over a file we did not write, never when unchanged.

Every target is classified before anything is written, so a conflict stops the install
with nothing touched. Each write and removal is recorded in the manifest as it happens.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .manifest import FileRecord, Manifest, missing_parents, sha256_bytes, sha256_file
from .plugins import PlannedFile

CREATE, UPDATE, UNCHANGED = "create", "update", "unchanged"
FOREIGN, MODIFIED = "foreign", "modified"  # conflicts: the user's file / ours, edited since


@dataclass
class Report:
    """What happened, one line per path, plus counts for the summary."""

    dry_run: bool
    out: Callable[[str], None] = print
    counts: dict[str, int] = field(default_factory=dict)

    def path(self, action: str, path: Path | str, note: str = "") -> None:
        self.counts[action] = self.counts.get(action, 0) + 1
        shown = f"would {action}" if self.dry_run and action != UNCHANGED else action
        self.out(f"  {shown:<16} {path}{'  (' + note + ')' if note else ''}")

    def summary(self) -> str:
        order = [CREATE, UPDATE, "remove", "restore", UNCHANGED, "kept"]
        parts = [f"{self.counts[a]} {a}" for a in order if self.counts.get(a)]
        return ", ".join(parts) or "nothing to do"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def classify(pf: PlannedFile, manifest: Manifest) -> str:
    if not os.path.lexists(pf.path):
        return CREATE
    if pf.path.is_symlink() or not pf.path.is_file():
        return FOREIGN
    record = manifest.files.get(str(pf.path))
    if record is None:
        return FOREIGN
    current = sha256_file(pf.path)
    if current != record.sha256:
        return MODIFIED
    # Windows has no permission bits to speak of; its modes never match ours.
    mode_ok = os.name == "nt" or mode_of(pf.path) == pf.mode
    if current == sha256_bytes(pf.data) and mode_ok:
        return UNCHANGED
    return UPDATE


def conflict_message(conflicts: list[tuple[PlannedFile, str]]) -> str:
    lines = ["install stopped before writing anything; these targets are not ours to overwrite:"]
    for pf, kind in conflicts:
        why = (
            "exists and was not written by chromahint install"
            if kind == FOREIGN
            else "was changed since chromahint installed it"
        )
        lines.append(f"  {pf.path}: {why}")
    lines.append(
        "Move them away, or rerun with --force to replace them (a file that was not ours "
        "is kept as a backup and put back by uninstall)."
    )
    return "\n".join(lines)


def backup_path(backup_dir: Path, target: Path) -> Path:
    tag = hashlib.sha256(str(target).encode()).hexdigest()[:16]
    return backup_dir / f"{tag}-{target.name}"


def make_dirs(path: Path, manifest: Manifest, component: str) -> None:
    for d in missing_parents(path):
        d.mkdir()
        manifest.dirs[str(d)] = component


def write(pf: PlannedFile, kind: str, manifest: Manifest, backup_dir: Path, report: Report) -> None:
    """Write one classified file (dry runs only report)."""
    if kind == UNCHANGED:
        report.path(UNCHANGED, pf.path)
        return
    action = CREATE if kind in (CREATE, FOREIGN) else UPDATE
    note = "replacing a file that was not ours; backed up" if kind == FOREIGN else ""
    note = "replacing your changes (--force)" if kind == MODIFIED else note
    report.path(action, pf.path, note)
    if report.dry_run:
        return
    previous = manifest.files.get(str(pf.path))
    backup = previous.backup if previous else None
    if kind == FOREIGN:
        dest = backup_path(backup_dir, pf.path)
        make_dirs(dest, manifest, "manifest")
        shutil.move(str(pf.path), dest)
        backup = str(dest)
    make_dirs(pf.path, manifest, pf.component)
    tmp = pf.path.with_name(f".{pf.path.name}.chromahint-tmp")
    tmp.write_bytes(pf.data)
    os.chmod(tmp, pf.mode)
    os.replace(tmp, pf.path)
    manifest.files[str(pf.path)] = FileRecord(sha256_bytes(pf.data), pf.mode, pf.component, backup)


def remove_file(path_key: str, manifest: Manifest, report: Report) -> None:
    """Remove a file we wrote, unless the user changed it; put back what it replaced."""
    record = manifest.files[path_key]
    path = Path(path_key)
    if not os.path.lexists(path):
        report.path("remove", path, "already gone")
    elif not path.is_file() or path.is_symlink() or sha256_file(path) != record.sha256:
        note = "changed since install; it is yours now"
        if record.backup:
            note += f"; the file it replaced is at {record.backup}"
        report.path("kept", path, note)
    else:
        report.path("remove", path)
        if not report.dry_run:
            path.unlink()
    if report.dry_run:
        return
    if record.backup and os.path.lexists(record.backup) and not os.path.lexists(path):
        shutil.move(record.backup, path)
        report.path("restore", path, "the file that was there before install")
    del manifest.files[path_key]


def remove_empty_dirs(
    manifest: Manifest, selected: Callable[[str, str], bool], report: Report, uninstall: bool
) -> None:
    """Remove recorded folders (deepest first) that are empty now. Install keeps non-empty
    ones quietly; uninstall gives them up, since what is left in them is the user's."""
    for d in sorted(manifest.dirs, key=lambda p: p.count(os.sep), reverse=True):
        if not selected(d, manifest.dirs[d]):
            continue
        path = Path(d)
        if report.dry_run:
            if uninstall:
                report.path("remove", path, "if empty")
            continue
        if not path.is_dir():
            del manifest.dirs[d]
        elif not any(path.iterdir()):
            report.path("remove", path)
            path.rmdir()
            del manifest.dirs[d]
        elif uninstall:
            report.path("kept", path, "not empty")
            del manifest.dirs[d]


def under(path: str, roots: Iterable[Path]) -> bool:
    p = Path(path)
    return any(p == r or r in p.parents for r in roots)
