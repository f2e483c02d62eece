"""Draw the app icon (``packaging/icon.png``, 256x256) with Qt, offscreen; no display needed.

    QT_QPA_PLATFORM=offscreen python packaging/make_icon.py [OUT.png]

The PNG is committed; rerun this only to change the design.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SIZE = 256


def draw(out: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPen

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    image = QImage(SIZE, SIZE, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    # The tile: a rounded square.
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#2f6fdb"))
    painter.drawRoundedRect(QRectF(8, 8, 240, 240), 44, 44)
    # A calendar page with a header strip and two binder rings.
    page = QRectF(48, 60, 160, 148)
    painter.setBrush(QColor("#ffffff"))
    painter.drawRoundedRect(page, 16, 16)
    painter.setBrush(QColor("#e5484d"))
    painter.drawRoundedRect(QRectF(48, 60, 160, 40), 16, 16)
    painter.drawRect(QRectF(48, 84, 160, 16))
    painter.setBrush(QColor("#1b3f80"))
    for x in (88, 160):
        painter.drawRoundedRect(QRectF(x, 44, 12, 32), 6, 6)
    # Lines of a note on the page, the last one shorter.
    painter.setPen(QPen(QColor("#9bb4e0"), 8, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    for y, end in ((128, 184), (152, 184), (176, 140)):
        painter.drawLine(72, y, end, y)
    # Two linked dots: devices syncing directly.
    painter.setPen(QPen(QColor("#ffffff"), 6))
    painter.drawLine(166, 204, 222, 204)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor("#22a06b"))
    for x in (166, 222):
        painter.drawEllipse(QRectF(x - 13, 191, 26, 26))
    painter.end()
    if not image.save(str(out)):
        raise OSError(f"cannot write {out}")
    del app


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).with_name("icon.png")
    draw(out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
