"""No pickle anywhere in the shipped code: weights are safetensors, messages msgpack.

Read from the syntax tree of every .py file the package ships (so comments and strings do
not count): no pickle-family module or function; every `torch.load(` says
`weights_only=True`; no `np.load(`/`np.save(` with `allow_pickle` other than False (the
training code's own .npz caches are loaded with the default, which refuses pickles).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.unit

SHIPPED = ("engine", "client", "plugin_gimp", "plugin_krita", "installer")
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "cloudpickle", "dill", "joblib", "shelve"}
PICKLE_NAMES = PICKLE_MODULES | {"read_pickle", "to_pickle", "pickle_module", "Unpickler"}
TORCH_LOADS = {"torch.load", "torch.serialization.load"}


def _dotted(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """`np.load` -> "numpy.load", through the file's import aliases."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id, node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_const(node: ast.expr | None, value: bool) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def pickle_uses(source: str, where: str = "<source>") -> list[str]:
    """Every use of pickle in `source`, as 'where:line: what'."""
    tree = ast.parse(source)
    aliases: dict[str, str] = {}
    hits: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                root = a.name.split(".")[0]
                aliases[a.asname or root] = a.name if a.asname else root
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import | ast.ImportFrom):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                mods = [node.module or ""] + [a.name for a in node.names]
            if any(m.split(".")[0] in PICKLE_NAMES for m in mods):
                hits.append(f"{where}:{line}: imports {', '.join(mods)}")
        elif isinstance(node, ast.Attribute) and node.attr in PICKLE_NAMES:
            hits.append(f"{where}:{line}: uses .{node.attr}")
        elif isinstance(node, ast.keyword) and node.arg == "pickle_module":
            hits.append(f"{where}: passes pickle_module=")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func, aliases)
            if name in TORCH_LOADS and not _is_const(_keyword(node, "weights_only"), True):
                hits.append(f"{where}:{line}: {name}( without weights_only=True")
            allow = _keyword(node, "allow_pickle")
            if allow is not None and not _is_const(allow, False):
                hits.append(f"{where}:{line}: {name}( with allow_pickle not False")
    return hits


def shipped_files() -> list[Path]:
    files = [p for top in SHIPPED for p in sorted((REPO / top).rglob("*.py"))]
    return [p for p in files if "__pycache__" not in p.parts]


@pytest.mark.parametrize(
    "source",
    [
        "import pickle",
        "import cPickle as p",
        "from pickle import loads",
        "import dill",
        "import pandas as pd\npd.read_pickle('x')",
        "import torch\ntorch.load('w.pt')",
        "import torch\ntorch.load('w.pt', weights_only=False)",
        "import torch as T\nT.load('w.pt', map_location='cpu')",
        "from torch import load\nload('w.pt')",
        "import numpy as np\nnp.load('c.npy', allow_pickle=True)",
        "import numpy\nnumpy.load('c.npy', allow_pickle=flag)",
        "import torch\ntorch.save(x, 'w.pt', pickle_module=m)",
    ],
)
def test_the_check_finds_pickle(source):
    assert pickle_uses(source)


@pytest.mark.parametrize(
    "source",
    [
        "# pickle is not used here\nx = 'pickle'",
        "import torch\ntorch.load('w.pt', map_location='cpu', weights_only=True)",
        "import numpy as np\nnp.load('c.npz')",
        "import numpy as np\nnp.load('c.npz', allow_pickle=False)",
        "from safetensors.torch import load_file\nload_file('w.safetensors')",
    ],
)
def test_the_check_passes_safe_loading(source):
    assert pickle_uses(source) == []


def test_no_pickle_in_the_shipped_code():
    files = shipped_files()
    assert len(files) > 50  # the walk found the packages
    hits = [h for p in files for h in pickle_uses(p.read_text(), str(p.relative_to(REPO)))]
    assert hits == [], "pickle in shipped code:\n" + "\n".join(hits)


def test_the_encoder_weights_load_without_pickle():
    path = REPO / "engine" / "models" / "effnet_lite.py"
    source = path.read_text()
    assert "torch.load(" in source and "weights_only=True" in source
    assert pickle_uses(source, path.name) == []
