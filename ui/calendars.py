"""The calendar manager: every calendar with its colour, shown or hidden; rename, recolour from
palette swatches (or any colour), delete with its events, resolve a calendar's conflicts.

Each change is one undoable action on the calendar pane's stack, named in the Edit menu
(“Recolour “Work””); what it means is decided in ``localfirst.calendar``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from localfirst import Replica, calendar
from localfirst.edits import QUIET_FIELDS, Edit
from ui.conflicts import ConflictDialog
from ui.qt import (
    QColor,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    Qt,
    QTimer,
    QUndoStack,
    QVBoxLayout,
    QWidget,
    qconnect,
)
from ui.swatches import SwatchPicker, swatch_icon
from ui.undo import EditRunner


class CalendarHost(Protocol):
    """What the manager needs of the calendar pane: its calendars, which are hidden, and where
    its undoable actions go."""

    hidden: set[str]
    backend: Any  # the app's Backend: its ``changed`` signal tells of every write
    edits: EditRunner
    undo_stack: QUndoStack

    def refresh(self) -> None: ...


@dataclass(frozen=True, slots=True)
class CalendarRow:
    """A calendar as the manager lists it."""

    entity: str
    name: str
    colour: str
    events: int
    conflicted: bool


def read_calendars(r: Replica) -> list[CalendarRow]:
    """Every live calendar with how many events it holds and whether it has conflicts."""
    counts: dict[str, int] = {}
    for doc in r.entities("event").values():
        owner = doc.value("calendar")
        if isinstance(owner, str) and doc.value("series") is None:
            counts[owner] = counts.get(owner, 0) + 1
    rows = []
    for entity, doc in r.entities("calendar").items():
        colour = doc.value("colour")
        conflicted = any(f not in QUIET_FIELDS for f in doc.conflicts())
        rows.append(
            CalendarRow(
                entity,
                str(doc.value("name") or "") or "Untitled",
                colour if isinstance(colour, str) and QColor.isValidColorName(colour) else "",
                counts.get(entity, 0),
                conflicted,
            )
        )
    return sorted(rows, key=lambda c: (c.name.casefold(), c.entity))


class CalendarManager(QDialog):
    """Manage the library's calendars; opened from Calendar > Manage calendars…."""

    def __init__(self, host: CalendarHost, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.host = host
        self.rows: list[CalendarRow] = []
        self.confirm: QMessageBox | None = None
        self._closed = False
        self.setWindowTitle("Calendars")
        self.resize(620, 380)
        self.list = QListWidget()
        self.list.setMinimumWidth(220)
        qconnect(self.list.currentRowChanged, lambda _row: self._show_selected())
        qconnect(self.list.itemChanged, self._toggled)
        self.name = QLineEdit()
        self.name.setPlaceholderText("Calendar name")
        self.rename_button = QPushButton("Rename")
        qconnect(self.rename_button.clicked, self.rename_selected)
        qconnect(self.name.returnPressed, self.rename_selected)
        self.picker = SwatchPicker()
        qconnect(self.picker.picked, self.recolour_selected)
        self.swatches = self.picker.buttons
        self.other_colour = self.picker.other
        self.count = QLabel("")
        self.delete_button = QPushButton("Delete calendar…")
        qconnect(self.delete_button.clicked, self.ask_delete)
        self.resolve_button = QPushButton("⚠ Resolve conflict…")
        qconnect(self.resolve_button.clicked, self.resolve_selected)
        self.new_button = QPushButton("New calendar")
        qconnect(self.new_button.clicked, self.new_calendar)
        self.hint = QLabel("Tick a calendar to show its events, untick to hide them.")
        self.hint.setWordWrap(True)
        self._layout()
        # Changes from anywhere (this window, a peer, the mirror folder) refresh the list.
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(50)
        qconnect(self._reload_timer.timeout, self.reload)
        qconnect(host.backend.changed, lambda _c: self._reload_timer.start())
        self.reload()

    def _layout(self) -> None:
        details = QGroupBox("Selected calendar")
        form = QVBoxLayout(details)
        name_row = QHBoxLayout()
        name_row.addWidget(self.name, 1)
        name_row.addWidget(self.rename_button)
        form.addLayout(name_row)
        form.addWidget(QLabel("Colour"))
        form.addWidget(self.picker)
        form.addWidget(self.count)
        form.addWidget(self.resolve_button)
        form.addStretch(1)
        form.addWidget(self.delete_button)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        left.addWidget(self.new_button)
        left.addWidget(self.hint)
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addWidget(details, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        qconnect(buttons.rejected, self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(buttons)

    # -- reading -------------------------------------------------------------------------------

    def done(self, result: int) -> None:
        """Closed: stop following changes (the library may close next)."""
        self._closed = True
        self._reload_timer.stop()
        super().done(result)

    def reload(self) -> None:
        """Read the calendars on the replica's thread and show them."""
        if self._closed:
            return
        job = self.host.edits.backend.submit(read_calendars)
        job.add_done_callback(lambda f: self.host.edits.on_gui(lambda: self._loaded(f.result())))

    def _loaded(self, rows: list[CalendarRow]) -> None:
        selected = self.selected()
        self.rows = rows
        self.list.blockSignals(True)
        self.list.clear()
        for row in rows:
            mark = "⚠ " if row.conflicted else ""
            item = QListWidgetItem(swatch_icon(row.colour), f"{mark}{row.name}")
            item.setData(Qt.ItemDataRole.UserRole, row.entity)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            hidden = row.entity in self.host.hidden
            item.setCheckState(Qt.CheckState.Unchecked if hidden else Qt.CheckState.Checked)
            item.setToolTip("Hidden: its events are not shown" if hidden else "Shown")
            self.list.addItem(item)
        self.list.blockSignals(False)
        at = next((i for i, r in enumerate(rows) if r.entity == selected), 0 if rows else -1)
        self.list.setCurrentRow(at)
        self._show_selected()

    def selected(self) -> str | None:
        item = self.list.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None

    def row(self, entity: str | None) -> CalendarRow | None:
        return next((r for r in self.rows if r.entity == entity), None)

    def _show_selected(self) -> None:
        row = self.row(self.selected())
        for widget in (self.name, self.rename_button, self.other_colour, self.delete_button):
            widget.setEnabled(row is not None)
        self.name.setText(row.name if row is not None else "")
        self.picker.setEnabled(row is not None)
        self.picker.show_colour(row.colour if row is not None else "")
        self.resolve_button.setVisible(row is not None and row.conflicted)
        if row is None:
            self.count.setText("No calendars yet: add one with New calendar.")
        else:
            self.count.setText("No events" if row.events == 0 else f"{row.events} event(s)")

    # -- actions -------------------------------------------------------------------------------

    def _do(self, text: str, fn: Callable[[Replica], Edit]) -> None:
        self.host.edits.do(fn, self.host.undo_stack, text)

    def _toggled(self, item: QListWidgetItem) -> None:
        entity = str(item.data(Qt.ItemDataRole.UserRole))
        if item.checkState() == Qt.CheckState.Checked:
            self.host.hidden.discard(entity)
        else:
            self.host.hidden.add(entity)
        self.host.refresh()

    def rename_selected(self) -> None:
        entity, name = self.selected(), self.name.text().strip()
        row = self.row(entity)
        if entity is None or row is None or not name or name == row.name:
            return
        self._do("Rename calendar", lambda r: calendar.rename_calendar(r, entity, name[:200]))

    def recolour_selected(self, colour: str) -> None:
        entity = self.selected()
        row = self.row(entity)
        if entity is None or row is None or row.colour.lower() == colour.lower():
            self._show_selected()  # a click on the current swatch keeps it checked
            return
        self._do("Recolour calendar", lambda r: calendar.recolour_calendar(r, entity, colour))

    def ask_delete(self) -> None:
        """Ask, then delete the selected calendar with its events (one undo brings all back)."""
        row = self.row(self.selected())
        if row is None:
            return
        box = QMessageBox(self)
        box.setWindowTitle("Delete calendar")
        what = "" if row.events == 0 else f" and its {row.events} event(s)"
        box.setText(f"Delete “{row.name}”{what} on all your devices? Edit > Undo brings them back.")
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        entity = row.entity

        def clicked(button: Any) -> None:
            if button is delete:
                self.delete(entity)

        qconnect(box.buttonClicked, clicked)
        self.confirm = box
        box.open()

    def delete(self, entity: str) -> None:
        tz = self.host.edits.tz
        self._do("Delete calendar", lambda r: calendar.delete_calendar(r, entity, tz))

    def new_calendar(self) -> None:
        """A new calendar named “New calendar” in the next palette colour, selected to rename."""
        self._do("New calendar", lambda r: calendar.create_calendar(r, {"name": "New calendar"}))

    def resolve_selected(self) -> ConflictDialog | None:
        entity = self.selected()
        if entity is None:
            return None
        dialog = ConflictDialog(
            self.host.backend, entity, self, edits=self.host.edits, undo_stack=self.host.undo_stack
        )
        qconnect(dialog.conflict_did_resolve, lambda _e: self.reload())
        dialog.open()
        return dialog
