"""A colour picker for calendars: the palette's swatches (chosen to read in light and dark
themes), the current colour ringed, and "Other colour…" for any colour."""

from __future__ import annotations

from localfirst.calendar import CALENDAR_PALETTE
from ui.qt import (
    QColor,
    QColorDialog,
    QGridLayout,
    QIcon,
    QPixmap,
    QPushButton,
    QToolButton,
    QWidget,
    Signal,
    qconnect,
)

#: Swatch buttons' side, in pixels.
SWATCH = 26
#: Swatches per row.
COLUMNS = 5


def swatch_icon(colour: str, side: int = 14) -> QIcon:
    """A square of ``colour`` (the palette's first colour if it is empty)."""
    pixmap = QPixmap(side, side)
    pixmap.fill(QColor(colour or CALENDAR_PALETTE[0]))
    return QIcon(pixmap)


class SwatchPicker(QWidget):
    """Palette swatches plus "Other colour…"; emits ``picked`` with the colour clicked."""

    picked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.current = ""
        self.buttons: dict[str, QToolButton] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        for i, colour in enumerate(CALENDAR_PALETTE):
            button = QToolButton()
            button.setCheckable(True)
            button.setFixedSize(SWATCH, SWATCH)
            button.setToolTip(colour)
            button.setIcon(swatch_icon(colour, SWATCH - 8))
            # The chosen colour is ringed in the theme's highlight, visible in light and dark.
            button.setStyleSheet("QToolButton:checked { border: 2px solid palette(highlight); }")
            qconnect(button.clicked, lambda _=False, c=colour: self.picked.emit(c))
            self.buttons[colour] = button
            grid.addWidget(button, i // COLUMNS, i % COLUMNS)
        self.other = QPushButton("Other colour…")
        qconnect(self.other.clicked, self._pick_other)
        rows = (len(CALENDAR_PALETTE) + COLUMNS - 1) // COLUMNS
        grid.addWidget(self.other, rows, 0, 1, COLUMNS)

    def show_colour(self, colour: str) -> None:
        """Ring the swatch of ``colour`` (none if it is not in the palette)."""
        self.current = colour
        for swatch, button in self.buttons.items():
            button.setChecked(colour.lower() == swatch)

    def _pick_other(self) -> None:
        dialog = QColorDialog(QColor(self.current or CALENDAR_PALETTE[0]), self)
        qconnect(dialog.colorSelected, lambda c: self.picked.emit(c.name()))
        dialog.open()
