"""`chromahint uninstall`: remove exactly what the manifest lists, keep what the user changed."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from . import kritarc, service
from .manifest import Manifest
from .paths import current_system, manifest_path
from .writer import Report, remove_empty_dirs, remove_file, under


def _disable_service(manifest: Manifest, report: Report) -> None:
    steps = [("disable", "--now", service.UNIT_NAME)]
    if report.dry_run:
        report.out(f"  would run: {service.command_text(*steps[0])}")
        return
    if service.systemctl_works():
        ok, msg = service.systemctl(*steps[0])
        if not ok:
            report.out(f"  warning: {service.command_text(*steps[0])} failed: {msg}")
    else:
        report.out(
            "  systemctl --user is not available in this session; run "
            f"`{service.command_text(*steps[0])}` in your desktop session"
        )
    manifest.service_enabled = False


def _reload_services(report: Report) -> None:
    if not report.dry_run and service.systemctl_works():
        service.systemctl("daemon-reload")


def _revert_kritarc(key: str, manifest: Manifest, report: Report) -> None:
    edit = manifest.kritarc[key]
    path = Path(key)
    label = f"{path} [{edit.group}] {edit.key}"
    if not path.is_file():
        report.path("remove", label, "kritarc is gone already")
    else:
        data = path.read_bytes()
        new = kritarc.revert(data, edit)
        if edit.created_file and not new.strip():
            report.path("remove", path, "install created it")
            if not report.dry_run:
                path.unlink()
        elif new != data:
            what = f"back to {edit.previous}" if edit.previous is not None else "line removed"
            report.path("restore", label, what)
            if not report.dry_run:
                path.write_bytes(new)  # in place: keeps the file's owner and mode
        else:
            report.path("kept", label, "our line is no longer there")
    if not report.dry_run:
        del manifest.kritarc[key]


def _remove_bytecode(manifest: Manifest, chosen: set[str], report: Report) -> None:
    """The editors compile our modules into __pycache__ inside folders we created; those
    caches are ours too, and would otherwise keep the folders from being removed."""
    for d, component in manifest.dirs.items():
        cache = Path(d) / "__pycache__"
        if component not in chosen or not cache.is_dir():
            continue
        files = list(cache.iterdir())
        if all(f.is_file() and f.suffix == ".pyc" for f in files):
            report.path("remove", cache, "bytecode")
            if not report.dry_run:
                for f in files:
                    f.unlink()
                cache.rmdir()


def uninstall(
    gimp: bool = True,
    krita: bool = True,
    service: bool = True,
    dry_run: bool = False,
    env: Mapping[str, str] | None = None,
    system: str | None = None,
    out: Callable[[str], None] = print,
) -> int:
    env = os.environ if env is None else env
    try:
        manifest = Manifest.load(manifest_path(env, system or current_system()))
    except ValueError as e:
        out(f"error: cannot read the install manifest: {e}")
        return 1
    if not manifest.path.is_file():
        out(f"nothing to uninstall: there is no install manifest at {manifest.path}")
        return 0
    chosen = {c for c, on in (("gimp", gimp), ("krita", krita), ("service", service)) if on}
    report = Report(dry_run, out)
    if dry_run:
        out("dry run: nothing will be removed")
    out(f"manifest: {manifest.path}")

    has_unit = any(r.component == "service" for r in manifest.files.values())
    if "service" in chosen and manifest.service_enabled:
        _disable_service(manifest, report)
    for path, record in sorted(manifest.files.items()):
        if record.component in chosen:
            remove_file(path, manifest, report)
    if "service" in chosen and has_unit:
        _reload_services(report)
    if "krita" in chosen:
        for key in sorted(manifest.kritarc):
            _revert_kritarc(key, manifest, report)
    if not dry_run:
        for vendor_dir in list(manifest.vendor):
            if not any(under(p, [Path(vendor_dir)]) for p in manifest.files):
                del manifest.vendor[vendor_dir]
    _remove_bytecode(manifest, chosen, report)
    remove_empty_dirs(manifest, lambda _d, c: c in chosen, report, uninstall=True)

    if dry_run:
        out(f"dry run: {report.summary()}")
        return 0
    if manifest.is_empty():
        manifest.path.unlink()
        report.path("remove", manifest.path)
        remove_empty_dirs(manifest, lambda _d, c: c == "manifest", report, uninstall=True)
    else:
        manifest.save()
        out(f"manifest kept for what is still installed: {manifest.path}")
    out(f"uninstalled: {report.summary()}")
    return 0
