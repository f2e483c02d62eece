"""`python -m ui.render OUTDIR` draws every main view with sample data, without a screen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QColor, QImage

ROOT = Path(__file__).resolve().parents[2]
VIEWS = [
    "calendar-month",
    "calendar-week",
    "calendar-day",
    "calendar-agenda",
    "notes",
    "notes-preview",
    "conflicts",
    "devices",
]


def colours(path: Path) -> int:
    image = QImage(str(path))
    assert not image.isNull(), path
    seen = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    return len(seen)


def test_render_writes_a_picture_of_each_view(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-m", "ui.render", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    names = [f"{view}-{theme}" for theme in ("light", "dark") for view in VIEWS]
    assert out.stdout.split() == [str(tmp_path / f"{name}.png") for name in names]
    for name in names:
        # Drawn views, not blank windows: text, colours of calendars, highlighting.
        assert colours(tmp_path / f"{name}.png") > 20, name
    for view in ("calendar-week", "calendar-month", "notes"):
        # The dark pictures are dark: the grid and the editor follow the palette.
        light, dark = (QImage(str(tmp_path / f"{view}-{t}.png")) for t in ("light", "dark"))
        assert mean_lightness(dark) < 80 < mean_lightness(light), view


def mean_lightness(image: QImage) -> float:
    seen = [
        QColor(image.pixel(x, y)).lightness()
        for x in range(0, image.width(), 11)
        for y in range(0, image.height(), 11)
    ]
    return sum(seen) / len(seen)
