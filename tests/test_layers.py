"""The layers point down only: importing a layer never loads what lies above it (DESIGN.md)."""

from __future__ import annotations

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
