"""The notes pane: search (FTS5), tag filter and new-note button over the list, the editor beside."""

from __future__ import annotations

from localfirst import Changes, Replica, notes
from localfirst.edits import Edit
from ui.backend import Backend
from ui.conflicts import ConflictDialog
from ui.notes.editor import NoteEditor
from ui.notes.model import ID_ROLE, NoteRow, NotesModel, load_rows, rows_for
from ui.qt import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QItemSelectionModel,
    QLineEdit,
    QListView,
    QModelIndex,
    QPushButton,
    QSplitter,
    Qt,
    QTimer,
    QUndoStack,
    QVBoxLayout,
    QWidget,
    Signal,
    qconnect,
)

#: Run the search once typing in the search box pauses this long (milliseconds).
SEARCH_DELAY_MS = 120
ALL_TAGS = "All tags"


class NotesPane(QWidget):
    """List and editor of the library's notes."""

    #: The list shows what the replica holds (after the first load and after each refresh).
    notes_did_load = Signal()
    #: A note was selected (its id, or "" for none).
    note_did_open = Signal(str)

    def __init__(self, backend: Backend, undo_stack: QUndoStack | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.model = NotesModel()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search notes")
        self.search.setClearButtonEnabled(True)
        self.tag_filter = QComboBox()
        self.tag_filter.addItem(ALL_TAGS)
        self.new_button = QPushButton("New note")
        self.list = QListView()
        self.list.setModel(self.model)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setUniformItemSizes(True)
        self.editor = NoteEditor(backend, undo_stack)
        #: Every undoable note action (fields, create, delete, resolve) goes on this stack.
        self.undo_stack = self.editor.undo_stack
        self.loaded = False
        self._dialogs: list[ConflictDialog] = []

        left = QWidget()
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.search)
        row = QHBoxLayout()
        row.addWidget(self.tag_filter, 1)
        row.addWidget(self.new_button)
        column.addLayout(row)
        column.addWidget(self.list, 1)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.editor)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        qconnect(self._search_timer.timeout, self.run_search)
        qconnect(self.search.textChanged, lambda _t: self._search_timer.start())
        qconnect(self.tag_filter.currentTextChanged, self._on_tag_chosen)
        qconnect(self.new_button.clicked, self.new_note)
        sel = self.list.selectionModel()
        qconnect(sel.currentChanged, self._on_current_changed)
        qconnect(self.model.modelReset, self._reselect)
        qconnect(backend.changed, self._on_changed)
        qconnect(self.editor.conflicts_were_requested, self.show_conflicts)
        qconnect(self.editor.preview.note_link_clicked, self.open_titled)

    # -- loading -------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read every note in the background; the list fills when they arrive."""
        self.backend.op(load_rows).success(self._on_loaded).run_in_background()

    def _on_loaded(self, rows: list[NoteRow]) -> None:
        self.model.set_rows(rows)
        self._refresh_tags()
        self.loaded = True
        self.notes_did_load.emit()

    def _on_changed(self, changes: object) -> None:
        if not isinstance(changes, Changes) or not self.loaded:
            return
        if changes.snapshot:
            self.reload()
            return
        if not changes.entities:
            return
        entities = list(changes.entities)
        self.backend.op(lambda r: rows_for(r, entities)).success(self._on_rows).run_in_background()
        if self.search.text().strip():
            self._search_timer.start()

    def _on_rows(self, rows: dict[str, NoteRow | None]) -> None:
        if rows:
            self.model.update_rows(rows)
            self._refresh_tags()
        self.notes_did_load.emit()

    def _refresh_tags(self) -> None:
        current = self.tag_filter.currentText()
        tags = self.model.tags()
        if [self.tag_filter.itemText(i) for i in range(1, self.tag_filter.count())] == tags:
            return
        self.tag_filter.blockSignals(True)
        self.tag_filter.clear()
        self.tag_filter.addItem(ALL_TAGS)
        self.tag_filter.addItems(tags)
        index = self.tag_filter.findText(current)
        self.tag_filter.setCurrentIndex(max(index, 0))
        self.tag_filter.blockSignals(False)
        if index < 0 and current != ALL_TAGS:
            self.model.set_tag("")

    # -- filtering -----------------------------------------------------------------------------

    def run_search(self) -> None:
        query = self.search.text().strip()
        if not query:
            self.model.set_matches(None)
            self.notes_did_load.emit()
            return
        backend = self.backend

        def search(replica: Replica) -> tuple[str, list[str]]:
            return query, backend.search_notes(replica, query)

        backend.op(search).success(self._on_matches).run_in_background()

    def _on_matches(self, result: tuple[str, list[str]]) -> None:
        query, matches = result
        if query == self.search.text().strip():
            self.model.set_matches(matches)
            self.notes_did_load.emit()

    def _on_tag_chosen(self, tag: str) -> None:
        self.model.set_tag("" if tag == ALL_TAGS else tag)

    # -- selection -----------------------------------------------------------------------------

    def select(self, entity: str) -> None:
        index = self.model.index_of(entity)
        if index.isValid():
            self.list.selectionModel().setCurrentIndex(
                index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            )
        else:
            self.editor.open_note(entity)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            entity = str(current.data(ID_ROLE))
            self.editor.open_note(entity)
            self.note_did_open.emit(entity)

    def _reselect(self) -> None:
        note = self.editor.note
        if note is None:
            return
        index = self.model.index_of(note)
        if index.isValid():
            sel = self.list.selectionModel()
            sel.blockSignals(True)
            sel.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            sel.blockSignals(False)
            self.list.viewport().update()

    def open_titled(self, title: str) -> bool:
        """Open the note with this title (a ``[[Title]]`` link); False if there is none."""
        wanted = title.strip().casefold()
        for entity in self.model.ids():
            row = self.model.row(entity)
            if row is not None and row.label.strip().casefold() == wanted:
                self.select(entity)
                return True
        self.editor.status.setText(f"No note is titled “{title.strip()}”.")
        return False

    def new_note(self) -> None:
        """Create an empty note, open it and put the cursor in its body."""

        def created(edit: Edit) -> None:
            [entity] = edit.entities
            self.search.clear()
            self.tag_filter.setCurrentIndex(0)
            self.editor.open_note(entity, focus=True)
            self.editor.mark_fresh(entity)
            QTimer.singleShot(0, lambda: self.select(entity))

        # The cursor waits in the editor from now on (not in Search, where the tab puts it).
        self.editor.setFocus()
        self.editor.edits.do(notes.create_note, self.undo_stack, "New note", created)

    def show_conflicts(self, entity: str) -> ConflictDialog:
        dialog = ConflictDialog(
            self.backend, entity, self, edits=self.editor.edits, undo_stack=self.undo_stack
        )
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._dialogs = [d for d in self._dialogs if d.isVisible()] + [dialog]
        dialog.show()
        return dialog
