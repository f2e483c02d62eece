"""The notes list: rows read on the replica's thread, a list model ordered pinned first."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from localfirst import DELETED, Doc, Replica
from localfirst.edits import QUIET_FIELDS
from localfirst.notes import display_name
from ui.qt import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt

#: Characters of the body shown under a note's title in the list.
PREVIEW_CHARS = 120

ID_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2

_Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class NoteRow:
    """What the list shows of one note."""

    id: str
    title: str
    preview: str
    pinned: bool
    tags: tuple[str, ...]
    modified: int
    conflicts: tuple[str, ...] = ()  # fields with siblings; "_deleted": edited while deleted
    deleted: bool = False  # deleted, but a concurrent edit survives (offer Keep / Delete)

    @property
    def label(self) -> str:
        return display_name(self.title, self.preview) or "Untitled"

    def sort_key(self) -> tuple[bool, int, str]:
        return (not self.pinned, -self.modified, self.id)


def note_conflicts(doc: Doc) -> tuple[str, ...]:
    return tuple(f for f in doc.conflicts() if f not in QUIET_FIELDS)


def note_row(replica: Replica, entity: str, doc: Doc | None) -> NoteRow | None:
    """On the replica's thread: the row of a note, or None if it is gone (or not a note)."""
    if doc is None or doc.kind != "note":
        return None
    conflicts = note_conflicts(doc)
    if not doc.exists and DELETED not in conflicts:
        return None
    values = doc.values()
    tags = values.get("tags")
    title = values.get("title")
    modified = max((v[0] for v in doc.versions("modified")), default=0)
    created = values.get("created")
    body = replica.text(entity)
    return NoteRow(
        entity,
        title if isinstance(title, str) else "",
        body[:PREVIEW_CHARS].strip(),
        values.get("pinned") is True,
        tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        modified or (created if isinstance(created, int) else 0),
        conflicts,
        not doc.exists,
    )


def load_rows(replica: Replica) -> list[NoteRow]:
    """On the replica's thread: every note, live or deleted-with-a-surviving-edit."""
    docs = dict(replica.entities("note"))
    for entity, fields in replica.conflicts().items():
        if DELETED in fields and entity not in docs:
            doc = replica.get(entity)
            if doc is not None and doc.kind == "note":
                docs[entity] = doc
    rows = (note_row(replica, entity, doc) for entity, doc in docs.items())
    return [row for row in rows if row is not None]


def rows_for(replica: Replica, ids: Iterable[str]) -> dict[str, NoteRow | None]:
    """On the replica's thread: fresh rows of changed entities (None: no longer a listed note)."""
    wanted = list(ids)
    docs = {e: replica.get(e) for e in wanted}
    return {e: note_row(replica, e, d) for e, d in docs.items() if d is None or d.kind == "note"}


class NotesModel(QAbstractListModel):
    """Notes in display order (pinned first, then most recently modified), filtered."""

    def __init__(self) -> None:
        super().__init__()
        self._rows: dict[str, NoteRow] = {}
        self._order: list[str] = []
        self._matches: list[str] | None = None  # search hits, best first (None: no search)
        self._tag = ""

    # -- Qt model ------------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._order)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or index.row() >= len(self._order):
            return None
        row = self._rows[self._order[index.row()]]
        if role == Qt.ItemDataRole.DisplayRole:
            marks = ("★ " if row.pinned else "") + ("⚠ " if row.conflicts else "")
            tags = ("  #" + " #".join(row.tags)) if row.tags else ""
            return f"{marks}{row.label}{tags}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.preview or None
        if role == ID_ROLE:
            return row.id
        if role == ROW_ROLE:
            return row
        return None

    # -- content -------------------------------------------------------------------------------

    def row(self, entity: str) -> NoteRow | None:
        return self._rows.get(entity)

    def ids(self) -> list[str]:
        """Visible note ids in display order."""
        return list(self._order)

    def index_of(self, entity: str) -> QModelIndex:
        try:
            return self.index(self._order.index(entity), 0)
        except ValueError:
            return QModelIndex()

    def tags(self) -> list[str]:
        return sorted({t for row in self._rows.values() for t in row.tags}, key=str.casefold)

    def set_rows(self, rows: Collection[NoteRow]) -> None:
        self._rows = {row.id: row for row in rows}
        self._refresh()

    def update_rows(self, rows: dict[str, NoteRow | None]) -> None:
        for entity, row in rows.items():
            if row is None:
                self._rows.pop(entity, None)
            else:
                self._rows[entity] = row
        self._refresh()

    def set_matches(self, matches: list[str] | None) -> None:
        self._matches = matches
        self._refresh()

    def set_tag(self, tag: str) -> None:
        self._tag = tag
        self._refresh()

    def _refresh(self) -> None:
        rows = self._rows
        if self._matches is None:
            ordered = sorted(rows.values(), key=NoteRow.sort_key)
        else:
            rank = {e: i for i, e in enumerate(self._matches)}
            hits = [rows[e] for e in self._matches if e in rows]
            ordered = sorted(hits, key=lambda r: (not r.pinned, rank[r.id]))
        if self._tag:
            ordered = [r for r in ordered if self._tag in r.tags]
        order = [r.id for r in ordered]
        if order == self._order:
            if order:
                self.dataChanged.emit(self.index(0, 0), self.index(len(order) - 1, 0))
            return
        self.beginResetModel()
        self._order = order
        self.endResetModel()
