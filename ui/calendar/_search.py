"""Event search: a box in the calendar's toolbar and the list of what it found (title,
location and description, every word); activating a result opens that event."""

from __future__ import annotations

from datetime import tzinfo

from localfirst.recurrence import Occurrence
from ui.qt import (
    QKeyEvent,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    Qt,
    QTimer,
    QWidget,
    Signal,
)

#: Search once typing pauses this long (milliseconds).
SEARCH_DELAY_MS = 150
OCC_ROLE = Qt.ItemDataRole.UserRole


class SearchBox(QLineEdit):
    """The query; Down moves into the results, Escape clears."""

    query_changed = Signal(str)  # after a pause in typing
    down_pressed = Signal()
    submitted = Signal()  # Return: open the result chosen

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("Search events")
        self.setClearButtonEnabled(True)
        self.setMaximumWidth(260)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SEARCH_DELAY_MS)
        self._timer.timeout.connect(lambda: self.query_changed.emit(self.text().strip()))
        self.textChanged.connect(lambda _t: self._timer.start())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Down:
            self.down_pressed.emit()
            return
        if event.key() == Qt.Key.Key_Escape:
            self.clear()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.submitted.emit()  # kept here: the pane would open a new event
            return
        super().keyPressEvent(event)


class SearchResults(QListWidget):
    """What a search found, one row per event ("Wed 18 Nov 2026 10:00  Title · Place")."""

    occurrence_chosen = Signal(object)  # Occurrence

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMaximumHeight(160)
        self.itemActivated.connect(self._chosen)
        self.hide()

    def show_results(self, query: str, found: list[Occurrence], tz: tzinfo) -> None:
        self.clear()
        if not query:
            self.hide()
            return
        if not found:
            empty = QListWidgetItem(f"No event matches “{query}”.")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.addItem(empty)
        for occ in found:
            start = occ.start.astimezone(tz)
            when = f"{start:%a %d %b %Y}" + ("" if occ.all_day else f" {start:%H:%M}")
            place = occ.values.get("location")
            where = f"  · {place.strip()}" if isinstance(place, str) and place.strip() else ""
            item = QListWidgetItem(f"{when}   {occ.title or '(untitled)'}{where}")
            item.setData(OCC_ROLE, occ)
            self.addItem(item)
        self.setCurrentRow(0)
        self.show()

    def texts(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]

    def choose_current(self) -> None:
        item = self.currentItem()
        if item is not None and self.isVisible():
            self._chosen(item)

    def _chosen(self, item: QListWidgetItem) -> None:
        occ = item.data(OCC_ROLE)
        if isinstance(occ, Occurrence):
            self.occurrence_chosen.emit(occ)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        item = self.currentItem()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and item is not None:
            self._chosen(item)  # not passed on: the pane would open a new event too
            return
        super().keyPressEvent(event)
