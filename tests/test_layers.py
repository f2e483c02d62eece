"""The layers point down only: importing a layer never loads what lies above it (DESIGN.md)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# For each package: the modules it imports, and the ones it must never load.
LAYERS = {
    "localfirst": ["sqlite3", "sqlalchemy", "PySide6", "socket", "ssl", "asyncio", "zeroconf", "watchdog"],
    "storage": ["PySide6", "zeroconf", "sync", "ui"],  # (SQLAlchemy itself loads ssl)
    "sync": ["PySide6", "ui"],
}


def loaded_after_import(package: str) -> set[str]:
    code = (
        "import importlib, json, pkgutil, sys\n"
        f"pkg = importlib.import_module({package!r})\n"
        "for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "    importlib.import_module(info.name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_a_layer_never_loads_the_layers_above_it(package: str) -> None:
    loaded = loaded_after_import(package)
    assert package in loaded
    assert loaded.isdisjoint(LAYERS[package]), sorted(loaded & set(LAYERS[package]))


# Layers that may not even name another in an import line (lazy imports included).
FORBIDDEN_IMPORTS = {
    "ui": ["storage"],
    "sync": ["ui"],
    "storage": ["sync", "ui"],
    "localfirst": ["storage", "sync", "ui"],
}


def imported_packages(path: Path) -> set[str]:
    """Top-level packages every import statement of a module names (TYPE_CHECKING ones too)."""
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN_IMPORTS))
def test_no_module_imports_a_layer_it_must_not_reach(package: str) -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & set(FORBIDDEN_IMPORTS[package]))
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {k: v for k, v in offending.items() if v} == {}


def test_the_command_line_loads_no_qt() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import ui.cli, sys; print('PySide6' in sys.modules)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"
