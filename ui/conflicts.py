"""Resolving conflicts: the sibling versions of each field side by side, pick one or merge;
an entity deleted concurrently with edits offers Keep or Delete. Every choice is an ordinary
write (it supersedes the versions this replica holds) and syncs like any other."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Protocol

from localfirst import DELETED, Replica, calendar, edits
from localfirst.calendar_ops import booking_slot
from localfirst.edits import QUIET_FIELDS
from localfirst.recurrence import Occurrence
from localfirst.write import Value
from ui.backend import Backend
from ui.qt import (
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPalette,
    QPushButton,
    QScrollArea,
    Qt,
    QUndoStack,
    QVBoxLayout,
    QWidget,
    Signal,
    qconnect,
)
from ui.undo import EditRunner

__all__ = [
    "QUIET_FIELDS",
    "ConflictDialog",
    "EntityConflicts",
    "Version",
    "conflicted_entities",
    "event_conflicts_dialog",
    "marks",
    "read_conflicts",
]

#: Fields a typed merge makes no sense for (a time, a zone, a calendar): pick a version.
MERGE_NEVER = frozenset({"start", "end", "tz", "calendar", "colour", "rrule", "series", "recurrence_id"})
#: Field names as the dialog shows them.
FIELD_NAMES = {"rrule": "Repeats", "all_day": "All day", "tz": "Time zone", "colour": "Colour"}


@dataclass(frozen=True, slots=True)
class Version:
    """One sibling of a field: who wrote it and what."""

    stamp: int
    origin: str
    device_name: str
    value: Value


@dataclass(frozen=True, slots=True)
class EntityConflicts:
    """An entity's unresolved fields, read on the replica's thread."""

    entity: str
    kind: str
    fields: dict[str, list[Version]]
    deleted: bool  # deleted concurrently with an edit (Keep / Delete)
    exists: bool
    values: dict[str, Value]
    #: Calendar ids -> names, to show an event's calendar by name.
    calendars: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """What the entity is called (its title, or a calendar's name)."""
        value = self.values.get("name" if self.kind == "calendar" else "title")
        return value if isinstance(value, str) and value.strip() else "Untitled"


def conflicted_entities(r: Replica) -> set[str]:
    """Entities with versions a user should resolve (timestamps alone do not count)."""
    return {e for e, names in r.conflicts().items() if any(n not in QUIET_FIELDS for n in names)}


def marks(
    r: Replica, shown: Iterable[Occurrence], status: Mapping[str, str], tz: tzinfo
) -> tuple[set[str], dict[str, str]]:
    """On the replica's thread: the keys of shown occurrences and the ids of calendars with
    conflicting versions, and why each booking not at the time asked for was rejected or moved."""
    conflicted = conflicted_entities(r)
    # Calendars with versions to resolve are marked in the calendar list by their ids.
    keys = {e for e in conflicted if (doc := r.get(e)) is not None and doc.kind == "calendar"}
    notes: dict[str, str] = {}
    for occ in shown:
        if occ.key in conflicted or occ.event in conflicted:
            keys.add(occ.key)
        if status.get(occ.key) and occ.series is None and _not_as_asked(r, occ, tz):
            note = calendar.booking_explanation(r, occ.event, tz)
            if note:
                notes[occ.key] = note
    return keys, notes


def _not_as_asked(r: Replica, occ: Occurrence, tz: tzinfo) -> bool:
    """Whether a booking holds no slot, or another than its event asks for (only those need
    the log read that explains why)."""
    booking = r.booking(occ.event)
    if booking is None or booking.slot is None:
        return True
    asked = edits.current(r, occ.event) or {}  # the event's own fields (the shown ones are moved)
    return booking_slot(asked, tz) != (booking.slot.start, booking.slot.end)


class _Pane(Protocol):
    backend: Any
    edits: EditRunner
    undo_stack: QUndoStack

    def refresh(self) -> None: ...


def event_conflicts_dialog(pane: _Pane, occ: Occurrence) -> ConflictDialog:
    """The resolve dialog for an occurrence's conflicts (its own override's, else its event's),
    each choice one undoable action on the pane's stack."""
    backend = pane.backend
    entity = occ.key if occ.key != occ.event else occ.event
    dialog = ConflictDialog(backend, entity, edits=pane.edits, undo_stack=pane.undo_stack, fallback=occ.event)
    qconnect(dialog.conflict_did_resolve, lambda _e: pane.refresh())
    return dialog


def read_conflicts(replica: Replica, entity: str) -> EntityConflicts | None:
    doc = replica.get(entity)
    if doc is None:
        return None
    names = replica.members()
    fields = {
        name: [Version(s, o, names.get(o, "") or o[:8], v) for s, o, v in doc.versions(name)]
        for name in doc.conflicts()
        if name != DELETED and name not in QUIET_FIELDS
    }
    calendars = {}
    if doc.kind == "event":
        calendars = {k: str(d.value("name") or "Untitled") for k, d in replica.entities("calendar").items()}
    return EntityConflicts(
        entity, doc.kind, fields, DELETED in doc.conflicts(), doc.exists, doc.values(), calendars
    )


def show_field(name: str, value: Value, calendars: Mapping[str, str] | None = None) -> str:
    """A field's value as a user reads it: times as dates, a calendar by its name."""
    if name == "calendar" and isinstance(value, str) and calendars:
        return calendars.get(value, value)
    if name in ("start", "end") and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return f"{moment:%a %d %b %Y}" if len(value) == 10 else f"{moment:%a %d %b %Y %H:%M}"
    if name == "reminders" and isinstance(value, list):
        return ", ".join(f"{v} min before" for v in value) or "(none)"
    return show_value(value)


def show_value(value: Value) -> str:
    """A field value as plain text (a list of tags joined by commas)."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if value is None:
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def merge_value(current: Value, text: str) -> Value:
    """The user's merge typed as text, as a value of the field's type."""
    if isinstance(current, list):
        out: list[Value] = []
        for part in text.split(","):
            if part.strip() and part.strip() not in out:
                out.append(part.strip())
        return out
    return text


class ConflictDialog(QDialog):
    """Shows one entity's conflicts; each choice writes at once and the dialog refreshes."""

    #: A resolution was written (the entity id).
    conflict_did_resolve = Signal(str)

    def __init__(
        self,
        backend: Backend,
        entity: str,
        parent: QWidget | None = None,
        *,
        edits: EditRunner | None = None,
        undo_stack: QUndoStack | None = None,
        fallback: str | None = None,
    ) -> None:
        """With ``edits`` and ``undo_stack`` each choice is one undoable action there;
        ``fallback`` is shown instead when ``entity`` has no conflicts (an occurrence's series)."""
        super().__init__(parent)
        self.backend = backend
        self.edits, self.undo_stack = edits, undo_stack
        self.entity = entity
        self.fallback = fallback if fallback != entity else None
        self.state: EntityConflicts | None = None
        self.setWindowTitle("Resolve conflicts")
        self.resize(720, 420)
        self._body = QWidget()
        self._layout = QVBoxLayout(self._body)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self._body)
        intro = QLabel(
            "These changes were made on different devices at the same time. "
            "Pick the version to keep, or type a merge. Your choice syncs to all devices."
        )
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        qconnect(buttons.rejected, self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self.buttons: dict[tuple[str, int], QPushButton] = {}
        self.merges: dict[str, QLineEdit] = {}
        self.keep: QPushButton | None = None
        self.remove: QPushButton | None = None
        self.reload()

    def reload(self) -> None:
        entity = self.entity
        self.backend.op(lambda r: read_conflicts(r, entity)).success(self._show).run_in_background()

    @property
    def resolved(self) -> bool:
        return self.state is not None and not self.state.fields and not self.state.deleted

    def _clear(self) -> None:
        while self._layout.count():
            item = self._layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.buttons.clear()
        self.merges.clear()
        self.keep = self.remove = None

    def _show(self, state: EntityConflicts | None) -> None:
        fallback = self.fallback
        if fallback is not None and (state is None or (not state.fields and not state.deleted)):
            self.entity, self.fallback = fallback, None  # the occurrence's own override had none
            self.reload()
            return
        self.state = state
        self._clear()
        if state is not None:
            self.setWindowTitle(f"Resolve conflicts in “{state.name}”")
        if state is None or (not state.fields and not state.deleted):
            done = QLabel("No conflicts left.")
            self._layout.addWidget(done)
            self._layout.addStretch(1)
            return
        if state.deleted:
            box = QGroupBox("Deleted on one device while edited on another")
            row = QHBoxLayout(box)
            text = QLabel("Keep the item with the edits, or delete it everywhere?")
            text.setTextFormat(Qt.TextFormat.PlainText)
            row.addWidget(text, 1)
            self.keep = QPushButton("Keep")
            self.remove = QPushButton("Delete")
            qconnect(self.keep.clicked, self._on_keep)
            qconnect(self.remove.clicked, self._on_delete)
            row.addWidget(self.keep)
            row.addWidget(self.remove)
            self._layout.addWidget(box)
        for name, versions in state.fields.items():
            self._layout.addWidget(self._field_box(name, versions, state.calendars))
        self._layout.addStretch(1)

    def _field_box(self, name: str, versions: list[Version], calendars: Mapping[str, str]) -> QGroupBox:
        label = FIELD_NAMES.get(name, name.capitalize())
        box = QGroupBox(f"{label}: {len(versions)} versions")
        grid = QGridLayout(box)
        for column, version in enumerate(versions):
            who = QLabel(f"From {version.device_name}")
            who.setTextFormat(Qt.TextFormat.PlainText)
            who.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # muted in light and dark
            value = QLabel(show_field(name, version.value, calendars))
            value.setTextFormat(Qt.TextFormat.PlainText)  # synced text is never rich text
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setFrameShape(QLabel.Shape.StyledPanel)
            value.setMinimumWidth(180)
            use = QPushButton("Use this")
            qconnect(use.clicked, lambda _=False, n=name, v=version.value: self.choose(n, v))
            self.buttons[(name, column)] = use
            grid.setColumnStretch(column, 1)  # versions side by side, equally wide
            grid.addWidget(who, 0, column)
            grid.addWidget(value, 1, column)
            grid.addWidget(use, 2, column)
        if name not in MERGE_NEVER and all(isinstance(v.value, str | list) for v in versions):
            merge = QLineEdit(" / ".join(dict.fromkeys(show_value(v.value) for v in versions)))
            merge.setObjectName(f"merge_{name}")
            save = QPushButton("Save merge")
            first = versions[0].value
            qconnect(
                save.clicked,
                lambda _=False, n=name, e=merge, f=first: self.choose(n, merge_value(f, e.text())),
            )
            self.merges[name] = merge
            row = len(versions)
            grid.addWidget(QLabel("Merge:"), 3, 0)
            grid.addWidget(merge, 4, 0, 1, max(1, row - 1))
            grid.addWidget(save, 4, max(1, row - 1))
        return box

    # -- choices -------------------------------------------------------------------------------

    def choose(self, field: str, value: Value) -> None:
        """Keep ``value`` for ``field``: a put superseding every sibling held here."""
        if self.state is not None:
            entity = self.entity
            self._resolve(lambda r: edits.resolve_field(r, entity, field, value))

    def _on_keep(self) -> None:
        entity = self.entity
        self._resolve(lambda r: edits.resolve_deleted(r, entity, keep=True))

    def _on_delete(self) -> None:
        entity = self.entity
        self._resolve(lambda r: edits.resolve_deleted(r, entity, keep=False))

    def _resolve(self, fn: Callable[[Replica], edits.Edit]) -> None:
        if self.edits is not None and self.undo_stack is not None:
            self.edits.do(fn, self.undo_stack, "Resolve conflict", lambda _e: self._written())
        else:
            self.backend.op(fn).success(lambda _e: self._written()).run_in_background()

    def _written(self) -> None:
        self.conflict_did_resolve.emit(self.entity)
        self.reload()
