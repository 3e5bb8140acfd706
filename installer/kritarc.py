"""Line-wise edits of kritarc (Qt's INI format) that leave every other byte alone.

configparser would rewrite the whole file (reordering, case-folding keys, dropping Qt's
escapes), so the edits here touch exactly one key line, plus a group header when the group
is new. Text is decoded with surrogateescape so undecodable bytes survive unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .manifest import KritarcEdit, sha256_bytes

_LINE = re.compile(r"[^\n]*\n|[^\n]+\Z")


def decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _lines(text: str) -> list[str]:
    return _LINE.findall(text)


def _newline(text: str) -> str:
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def _group_of(line: str) -> str | None:
    s = line.strip()
    return s[1:-1] if len(s) >= 2 and s[0] == "[" and s[-1] == "]" else None


def _key_of(line: str) -> str | None:
    s = line.strip()
    if not s or s[0] in ";#[" or "=" not in s:
        return None
    return s.split("=", 1)[0].strip()


@dataclass(frozen=True)
class _Found:
    group_at: int | None  # index of the group header line
    key_at: int | None  # index of the key's line inside that group
    last_at: int | None  # last non-blank line of the group


def _find(lines: list[str], group: str, key: str) -> _Found:
    group_at = key_at = last_at = None
    inside = False
    for i, line in enumerate(lines):
        g = _group_of(line)
        if g is not None:
            inside = g == group and group_at is None
            if inside:
                group_at = last_at = i
            continue
        if inside:
            if line.strip():
                last_at = i
            if key_at is None and _key_of(line) == key:
                key_at = i
    return _Found(group_at, key_at, last_at)


def get(text: str, group: str, key: str) -> str | None:
    """The key's value in the group (first occurrence), or None."""
    lines = _lines(text)
    found = _find(lines, group, key)
    if found.key_at is None:
        return None
    return lines[found.key_at].split("=", 1)[1].strip()


def _splice(old: str, new: str) -> tuple[int, str, str]:
    """(offset, removed, inserted): new is old with `removed` at `offset` replaced by `inserted`."""
    n = min(len(old), len(new))
    start = 0
    while start < n and old[start] == new[start]:
        start += 1
    end = 0
    while end < n - start and old[-1 - end] == new[-1 - end]:
        end += 1
    return start, old[start : len(old) - end], new[start : len(new) - end]


def set_value(text: str, group: str, key: str, value: str) -> tuple[str, str | None, bool]:
    """Set `key=value` in `[group]`; returns (new text, previous line or None, group added)."""
    lines = _lines(text)
    nl = _newline(text)
    found = _find(lines, group, key)
    wanted = f"{key}={value}"
    if found.key_at is not None:
        old = lines[found.key_at]
        ending = old[len(old.rstrip("\r\n")) :]
        lines[found.key_at] = wanted + ending
        return "".join(lines), old.rstrip("\r\n"), False
    if found.group_at is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += nl
        sep = nl if lines and lines[-1].strip() else ""
        return "".join(lines) + f"{sep}[{group}]{nl}{wanted}{nl}", None, True
    last = found.group_at if found.last_at is None else found.last_at  # set with group_at
    if not lines[last].endswith("\n"):
        lines[last] += nl
    lines.insert(last + 1, wanted + nl)
    return "".join(lines), None, False


def enable(data: bytes, group: str, key: str, created_file: bool) -> tuple[bytes, KritarcEdit]:
    """Turn the key on; the returned edit is what uninstall needs to undo it."""
    old = decode(data)
    new, previous, added_group = set_value(old, group, key, "true")
    new_bytes = encode(new)
    return new_bytes, KritarcEdit(
        group=group,
        key=key,
        previous=previous,
        created_file=created_file,
        added_group=added_group,
        splice=_splice(old, new),
        written_sha256=sha256_bytes(new_bytes),
    )


def revert(data: bytes, edit: KritarcEdit) -> bytes:
    """Undo `edit`: exactly when the file is as install left it, else line-wise (Krita
    rewrites kritarc on exit, so the key line is found again and restored or dropped)."""
    text = decode(data)
    if edit.splice and edit.written_sha256 == sha256_bytes(data):
        at, removed, inserted = edit.splice
        if text[at : at + len(inserted)] == inserted:
            return encode(text[:at] + removed + text[at + len(inserted) :])
    lines = _lines(text)
    found = _find(lines, edit.group, edit.key)
    if found.key_at is None:
        return data
    if edit.previous is not None:
        old = lines[found.key_at]
        lines[found.key_at] = edit.previous + old[len(old.rstrip("\r\n")) :]
        return encode("".join(lines))
    del lines[found.key_at]
    if edit.added_group and found.group_at is not None:
        rest = _find(lines, edit.group, edit.key)
        if rest.last_at == rest.group_at:  # nothing else was put in the group since
            del lines[found.group_at]
            if found.group_at > 0 and not lines[found.group_at - 1].strip():
                del lines[found.group_at - 1]  # the blank line that separated it
    return encode("".join(lines))
