"""What a plug-in module imports, read from its source with `ast` (no import runs): the one
walker behind both plug-in test files' import-discipline tests."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path


def imports(
    path: Path, skip_body_of: Callable[[ast.AST], bool] | None = None
) -> list[tuple[int, str, list[str]]]:
    """(level, module, names) for every import in a file, in `ast.walk` order: `import a, b`
    gives (0, "a", []) and (0, "b", []); `from ..m import x` gives (2, "m", ["x"]) (module ""
    for `from . import x`). Imports inside the body of a node that `skip_body_of` accepts
    (a guard block, say) are left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skip: set[int] = set()
    if skip_body_of is not None:
        skip = {
            id(n)
            for node in ast.walk(tree)
            if skip_body_of(node)
            for stmt in getattr(node, "body", [])
            for n in ast.walk(stmt)
        }
    out: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out += [(0, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.level, node.module or "", [alias.name for alias in node.names]))
    return out
