"""The agenda: the coming weeks as a list, a heading per day, one row per event."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

from localfirst.recurrence import Occurrence
from ui.qt import (
    QColor,
    QFont,
    QIcon,
    QKeyEvent,
    QListWidget,
    QListWidgetItem,
    QPixmap,
    QShowEvent,
    Qt,
    QWidget,
    Signal,
)
from ui.theme import DEFAULT_EVENT_COLOUR

from ._paint import CONFLICT_MARK, STATUS_LABEL, Shown, occurrence_key

#: How many days the agenda lists from its first day.
AGENDA_DAYS = 28
OCC_ROLE = Qt.ItemDataRole.UserRole
EMPTY = "Nothing planned in these four weeks. Press N or double-click in a view to add an event."


class AgendaView(QListWidget):
    """A list of the occurrences in ``AGENDA_DAYS`` days from ``first_day``; Enter or a
    double-click opens one, Delete deletes it. Same signals as the grid views."""

    create_requested = Signal(object, object, bool)  # start, end, all day
    edit_requested = Signal(object)  # Occurrence
    move_requested = Signal(object, object, object)  # unused here: no dragging in a list
    delete_requested = Signal(object)  # Occurrence

    def __init__(self, tz: tzinfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tz = tz
        self.first_day = date.today()
        self.week_start = 0
        self.shown: list[Shown] = []
        self.calendar_names: dict[str, str] = {}
        self._stale = False
        self.itemActivated.connect(self._activated)
        self.setAlternatingRowColors(False)

    def set_first_day(self, day: date) -> None:
        self.first_day = day

    def time_window(self) -> tuple[datetime, datetime]:
        start = datetime.combine(self.first_day, time(), tzinfo=self.tz)
        return start, start + timedelta(days=AGENDA_DAYS)

    def set_items(self, shown: list[Shown]) -> None:
        """Take these occurrences; the rows are built when the list is next shown or read."""
        self.shown = shown
        self._stale = True
        if self.isVisible():
            self._fill()

    def showEvent(self, event: QShowEvent) -> None:
        if self._stale:
            self._fill()
        super().showEvent(event)

    def _fill(self) -> None:
        self._stale = False
        shown = self.shown
        self.clear()
        bold = QFont(self.font())
        bold.setBold(True)
        by_day: dict[date, list[Shown]] = {}
        last = self.first_day + timedelta(days=AGENDA_DAYS)
        for item in shown:
            day = max(item.occ.start.astimezone(self.tz).date(), self.first_day)
            if day < last:
                by_day.setdefault(day, []).append(item)
        if not by_day:
            hint = QListWidgetItem(EMPTY)
            hint.setFlags(Qt.ItemFlag.NoItemFlags)
            self.addItem(hint)
            return
        for day in sorted(by_day):
            heading = QListWidgetItem(f"{day:%A %d %B}")
            heading.setFont(bold)
            heading.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.addItem(heading)
            for item in sorted(by_day[day], key=lambda s: (not s.occ.all_day, s.occ.start, s.key)):
                self.addItem(self._row(item))

    def _row(self, shown: Shown) -> QListWidgetItem:
        occ = shown.occ
        if occ.all_day:
            when = "all day"
        else:
            start, end = occ.start.astimezone(self.tz), occ.end.astimezone(self.tz)
            when = f"{start:%H:%M}-{end:%H:%M}"
        place = occ.values.get("location")
        where = f"  · {place.strip()}" if isinstance(place, str) and place.strip() else ""
        mark = CONFLICT_MARK if shown.conflicted else ""
        text = f"{when:<12}  {mark}{STATUS_LABEL.get(shown.status, '')}{occ.title or '(untitled)'}{where}"
        row = QListWidgetItem(text)
        row.setData(OCC_ROLE, occ)
        swatch = QPixmap(10, 10)
        colour = (
            QColor(shown.colour) if QColor.isValidColorName(shown.colour) else QColor(DEFAULT_EVENT_COLOUR)
        )
        swatch.fill(colour)
        row.setIcon(QIcon(swatch))
        row.setToolTip(self.calendar_names.get(occ.calendar, ""))
        return row

    def occurrence_keys(self) -> list[str]:
        return [occ.key for occ in self._occurrences()]

    def texts(self) -> list[str]:
        """Every row as shown (day headings and events)."""
        if self._stale:
            self._fill()
        return [self.item(i).text() for i in range(self.count())]

    def _occurrences(self) -> list[Occurrence]:
        if self._stale:
            self._fill()
        found = (self.item(i).data(OCC_ROLE) for i in range(self.count()))
        return [occ for occ in found if isinstance(occ, Occurrence)]

    def selected_occurrence(self) -> Occurrence | None:
        item = self.currentItem()
        occ = item.data(OCC_ROLE) if item is not None else None
        return occ if isinstance(occ, Occurrence) else None

    def _activated(self, item: QListWidgetItem) -> None:
        occ = item.data(OCC_ROLE)
        if isinstance(occ, Occurrence):
            self.edit_requested.emit(occ)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        occ = self.selected_occurrence()
        if occurrence_key(occ, event.key(), self.edit_requested, self.delete_requested):
            return
        if event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Home, Qt.Key.Key_End):
            super().keyPressEvent(event)  # move between rows
            return
        event.ignore()  # T, 1-4, Left/Right...: the pane's
