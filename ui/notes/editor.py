"""The note editor: header fields (title, tags, pin, delete, conflict badge) and a plain-text body
bound to the note's text CRDT.

Each change Qt reports becomes an edit ``(position, deleted, inserted)``; a burst of typing is
sent as one write when typing pauses and at least every ``FLUSH_EVERY_MS`` while it goes on.
Remote changes to the open note are applied as small edits through a separate text cursor, so
the user's cursor and selection stay on their characters, and are never echoed back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from localfirst import Changes, Replica, WriteId, notes
from localfirst.edits import Edit, State
from localfirst.textfields import diff_edit
from localfirst.write import Value
from ui.backend import Backend
from ui.markdown_highlighter import MarkdownHighlighter
from ui.notes.model import note_conflicts
from ui.notes.preview import NotePreview, safe_url
from ui.notes.textsync import has_astral, local_edit, remote_edits, utf16_offset
from ui.qt import (
    QDesktopServices,
    QEvent,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QMimeData,
    QMouseEvent,
    QPalette,
    QPlainTextEdit,
    QPushButton,
    QRegularExpression,
    QStackedWidget,
    Qt,
    QTextCursor,
    QTimer,
    QToolButton,
    QUndoStack,
    QUrl,
    QVBoxLayout,
    QWidget,
    Signal,
    qconnect,
)
from ui.theme import ACCENT_RED
from ui.undo import EditRunner

#: Send the pending edits when typing pauses this long (milliseconds).
TYPING_PAUSE_MS = 60
#: While typing goes on, send the pending edits at least this often (milliseconds; DESIGN.md).
FLUSH_EVERY_MS = 150
#: Body edits refresh the note's ``modified`` time at most this often (seconds).
MODIFIED_EVERY_S = 60.0
_URL = QRegularExpression(r"(https?://|mailto:)[^\s<>()\[\]\"']+")
_Edit = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class NoteState:
    """What the editor shows of a note, read on the replica's thread."""

    id: str
    text: str
    values: dict[str, Value] = field(default_factory=dict)
    conflicts: tuple[str, ...] = ()
    exists: bool = True


def read_note(replica: Replica, entity: str) -> NoteState | None:
    doc = replica.get(entity)
    if doc is None or doc.kind != "note":
        return None
    return NoteState(entity, replica.text(entity), doc.values(), note_conflicts(doc), doc.exists)


class BodyEdit(QPlainTextEdit):
    """Plain text only (no rich text is ever inserted); Ctrl+click opens an http(s)/mailto link."""

    link_was_clicked = Signal(QUrl)
    #: The palette changed (a theme switch): highlighting takes the new colours.
    palette_did_change = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setTabChangesFocus(False)
        self.setPlaceholderText("Write here. Markdown is highlighted; Ctrl+click opens a link.")

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.palette_did_change.emit()

    def url_at(self, position: int) -> QUrl | None:
        """The safe link under a document position, if any."""
        block = self.document().findBlock(position)
        offset = position - block.position()
        it = _URL.globalMatch(block.text())
        while it.hasNext():
            match = it.next()
            if match.capturedStart() <= offset <= match.capturedEnd():
                return safe_url(match.captured(0))
        return None

    def insertFromMimeData(self, source: QMimeData) -> None:
        # Paste text only, whatever the clipboard holds (QPlainTextEdit already does; kept
        # explicit against a future switch of widget).
        if source.hasText():
            self.insertPlainText(source.text())

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            url = self.url_at(self.cursorForPosition(event.position().toPoint()).position())
            if url is not None:
                self.link_was_clicked.emit(url)


class NoteEditor(QWidget):
    """Edits one note at a time; ``open_note(None)`` shows nothing."""

    #: The user asked to resolve the open note's conflicts (the note id).
    conflicts_were_requested = Signal(str)
    #: The open note was deleted here (the note id).
    note_did_delete = Signal(str)
    #: A body write was sent (number of edits in it): tests and benchmarks count these.
    body_did_flush = Signal(int)
    #: The open note's text was replaced by what the replica holds (a remote change arrived).
    body_did_sync = Signal()
    #: A new note was left empty and removed (the note id).
    note_was_discarded = Signal(str)

    def __init__(self, backend: Backend, undo_stack: QUndoStack | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.undo_stack = undo_stack if undo_stack is not None else QUndoStack(self)
        self.edits = EditRunner(backend, parent=self)
        self._note: str | None = None
        self._shadow = ""  # the body as the replica will hold it once pending edits are sent
        self._pending: list[_Edit] = []
        self._seq = 0  # bumped by every local edit
        self._own: set[WriteId] = set()  # writes sent from here, not to be applied back
        self._values: dict[str, Value] = {}
        self._applying = False
        self._syncing = False
        self._resync = False
        self._open_token = 0
        self._last_modified = 0.0
        self._fresh: str | None = None  # a new note, discarded if left empty
        self._fresh_index = -1  # the undo stack's index just after creating it
        self._focus_on_open: str | None = None  # the note whose body takes the cursor once open
        self._build()
        # While a note loads its fields are disabled: the cursor waits here, never in Search.
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.edits.edit_will_apply.connect(self._on_edit_will_apply)
        self.edits.edit_did_fail.connect(self.status.setText)

    # -- widgets -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.title = QLineEdit()
        self.title.setPlaceholderText("Title")
        self.title.setObjectName("noteTitle")
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("Tags (comma separated)")
        self.pin = QToolButton()
        self.pin.setText("★ Pin")
        self.pin.setCheckable(True)
        self.pin.setToolTip("Pinned notes come first in the list")
        self.badge = QPushButton("⚠ Conflict")
        self.badge.setToolTip("Another device changed this note at the same time: choose a version")
        self.badge.setStyleSheet(f"QPushButton {{ color: {ACCENT_RED}; font-weight: bold; }}")
        self.badge.hide()
        self.delete = QPushButton("Delete")
        self.status = QLabel()
        self.status.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.body = BodyEdit()
        self.preview_button = QToolButton()
        self.preview_button.setText("Preview")
        self.preview_button.setCheckable(True)
        self.preview_button.setToolTip("Show the note rendered (links open on click only)")
        self.highlighter = MarkdownHighlighter(self.body.document(), self.body.palette())
        qconnect(self.body.palette_did_change, lambda: self.highlighter.set_palette(self.body.palette()))
        self._lay_out()
        self._connect()
        self._set_enabled(False)

    def _lay_out(self) -> None:
        header = QHBoxLayout()
        header.addWidget(self.title, 3)
        header.addWidget(self.tags, 2)
        header.addWidget(self.pin)
        header.addWidget(self.preview_button)
        header.addWidget(self.badge)
        header.addWidget(self.delete)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        self.preview = NotePreview()
        self.pages = QStackedWidget()
        self.pages.addWidget(self.body)
        self.pages.addWidget(self.preview)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.status)

    def _connect(self) -> None:
        qconnect(self.preview_button.toggled, self.set_preview)
        qconnect(self.body.textChanged, self._refresh_preview)
        qconnect(self.preview.link_was_clicked, QDesktopServices.openUrl)
        self._idle = QTimer(self)
        self._idle.setSingleShot(True)
        self._idle.setInterval(TYPING_PAUSE_MS)
        self._every = QTimer(self)
        self._every.setSingleShot(True)
        self._every.setInterval(FLUSH_EVERY_MS)
        qconnect(self._idle.timeout, self.flush)
        qconnect(self._every.timeout, self.flush)
        qconnect(self.body.document().contentsChange, self._on_contents_change)
        qconnect(self.title.editingFinished, self._on_title_edited)
        qconnect(self.tags.editingFinished, self._on_tags_edited)
        qconnect(self.pin.clicked, self._on_pin_clicked)
        qconnect(self.delete.clicked, self._on_delete_clicked)
        qconnect(self.badge.clicked, self._on_badge_clicked)
        qconnect(self.body.link_was_clicked, QDesktopServices.openUrl)
        qconnect(self.backend.changed, self._on_changed)

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.title, self.tags, self.pin, self.delete, self.body, self.preview_button):
            widget.setEnabled(enabled)

    def set_preview(self, on: bool) -> None:
        """Show the note rendered (on) or its text to edit (off)."""
        self.preview_button.setChecked(on)
        if on:
            self.preview.show_text(self.body.toPlainText())
        self.pages.setCurrentWidget(self.preview if on else self.body)

    def _refresh_preview(self) -> None:
        if self.preview_button.isChecked():
            self.preview.show_text(self.body.toPlainText())

    @property
    def note(self) -> str | None:
        return self._note

    @property
    def text(self) -> str:
        """The body as shown (and as the replica holds it once pending edits are sent)."""
        return self._shadow

    @property
    def pending(self) -> int:
        return len(self._pending)

    # -- opening -------------------------------------------------------------------------------

    def open_note(self, entity: str | None, *, focus: bool = False) -> None:
        """Show a note (None: none); with ``focus`` the cursor goes into its body once loaded."""
        if focus:
            self._focus_on_open = entity
            self.setFocus()  # keys typed while it loads are not sent anywhere else
        if entity == self._note:
            if focus and self.body.isEnabled():
                self.body.setFocus()
            return
        self._discard_if_empty()
        self.flush()
        self._note = entity
        self._open_token += 1
        self._values = {}
        self._applying = True
        try:
            self.body.setPlainText("")
            self._shadow = ""
            self.title.clear()
            self.tags.clear()
            self.pin.setChecked(False)
            self.badge.hide()
        finally:
            self._applying = False
        self._set_enabled(False)
        if entity is None:
            return
        token = self._open_token
        self.backend.op(lambda r: read_note(r, entity)).success(
            lambda state: self._on_opened(token, state)
        ).run_in_background()

    def _on_opened(self, token: int, state: NoteState | None) -> None:
        if token != self._open_token or state is None:
            return
        self._applying = True
        try:
            self.body.setPlainText(state.text)  # clears the editor's undo history too
            self._shadow = state.text
        finally:
            self._applying = False
        self._show_fields(state, force=True)
        self._set_enabled(True)
        self._last_modified = 0.0
        if self._focus_on_open == state.id:
            self._focus_on_open = None
            self.set_preview(False)  # a new note is for writing
            self.body.setFocus()

    def mark_fresh(self, entity: str) -> None:
        """``entity`` was just created here: remove it if it is left without content."""
        self._fresh, self._fresh_index = entity, self.undo_stack.index()

    def is_empty(self) -> bool:
        """No title, tags or body typed in the open note."""
        fields = (self._shadow, self.title.text(), self.tags.text())
        return not any(text.strip() for text in fields) and not self._pending

    def _discard_if_empty(self) -> None:
        note, self._fresh = self._fresh, None
        if note is None or note != self._note or not self.is_empty():
            return
        if self.undo_stack.index() == self._fresh_index:
            self.undo_stack.undo()  # as if never made (nothing was typed in it)
        else:
            self.backend.submit(lambda r: notes.delete_note(r, note))
        self.note_was_discarded.emit(note)

    def _show_fields(self, state: NoteState, *, force: bool = False) -> None:
        self._values = dict(state.values)
        title = state.values.get("title")
        if force or not self.title.hasFocus():
            self.title.setText(title if isinstance(title, str) else "")
        tags = state.values.get("tags")
        if force or not self.tags.hasFocus():
            self.tags.setText(", ".join(str(t) for t in tags) if isinstance(tags, list) else "")
        self.pin.setChecked(state.values.get("pinned") is True)
        self.badge.setVisible(bool(state.conflicts))
        if not state.exists:
            self.badge.setText("⚠ Deleted elsewhere")
        else:
            n = len(state.conflicts)
            self.badge.setText("⚠ Conflict" if n == 1 else f"⚠ {n} conflicts")

    # -- local edits ---------------------------------------------------------------------------

    def _on_contents_change(self, position: int, removed: int, added: int) -> None:
        if self._applying or self._note is None:
            return
        new = self.body.toPlainText()
        old = self._shadow
        if has_astral(new) or has_astral(old):
            edit = diff_edit(old, new)  # Qt's hint counts UTF-16 units: compare the texts
        else:
            edit = local_edit(old, new, position, removed, added)
        self._shadow = new
        if edit is None:
            return
        self._pending.append(edit)
        self._seq += 1
        self._idle.start()
        if not self._every.isActive():
            self._every.start()

    def flush(self) -> None:
        """Send the pending body edits now, as one write."""
        self._idle.stop()
        self._every.stop()
        if not self._pending or self._note is None:
            return
        note, edits, own = self._note, self._pending, self._own
        self._pending = []
        stamp = time.monotonic() - self._last_modified >= MODIFIED_EVERY_S
        if stamp:
            self._last_modified = time.monotonic()

        def write(replica: Replica) -> int:
            with replica.transaction():
                own.add(replica.edit_text(note, edits).id)
                if stamp:
                    w = replica.put("note", note, {"modified": replica.clock.now()})
                    if w is not None:
                        own.add(w.id)
            return len(edits)

        self.backend.op(write).success(self.body_did_flush.emit).failure(
            lambda exc: self._on_write_failed(note, exc)
        ).run_in_background()

    def _on_write_failed(self, note: str, exc: BaseException) -> None:
        QMessageBox.warning(self, "Not saved", f"The last change could not be saved:\n{exc}")
        if note == self._note:
            self._note = None
            self.open_note(note)  # show what the replica holds

    # -- remote changes ------------------------------------------------------------------------

    def _on_changed(self, changes: object) -> None:
        if self._note is None or not isinstance(changes, Changes) or self._note not in changes.entities:
            return
        if changes.writes and all(w in self._own for w in changes.writes):
            self._own.difference_update(changes.writes)
            return
        self.sync()

    def sync(self) -> None:
        """Send pending edits and show what the replica holds now (after a remote change)."""
        if self._note is None:
            return
        if self._syncing:
            self._resync = True
            return
        self._idle.stop()
        self._every.stop()
        self._syncing, self._resync = True, False
        note, edits, own, seq = self._note, self._pending, self._own, self._seq
        self._pending = []

        def fetch(replica: Replica) -> NoteState | None:
            if edits:
                own.add(replica.edit_text(note, edits).id)
            return read_note(replica, note)

        self.backend.op(fetch).success(lambda state: self._on_synced(note, seq, state)).failure(
            lambda exc: self._on_write_failed(note, exc)
        ).run_in_background()

    def _on_synced(self, note: str, seq: int, state: NoteState | None) -> None:
        self._syncing = False
        if note != self._note:
            return
        if seq != self._seq or self._resync:
            self.sync()  # typed meanwhile: send that too, then look again
            return
        if state is None:
            return
        self.apply_remote(state.text)
        self._show_fields(state)

    def apply_remote(self, text: str) -> None:
        """Show ``text`` (the replica's) as edits to the shown body; cursors keep their place."""
        old = self._shadow
        edits = remote_edits(old, text)
        if not edits:
            return
        document = self.body.document()
        cursor = QTextCursor(document)
        self._applying = True
        try:
            document.setUndoRedoEnabled(False)  # a remote change is not the user's to undo
            for pos, deleted, inserted in edits:  # last first: earlier offsets stay valid
                start = utf16_offset(old, pos)
                cursor.setPosition(start)
                cursor.setPosition(utf16_offset(old, pos + deleted), QTextCursor.MoveMode.KeepAnchor)
                cursor.insertText(inserted)
            document.setUndoRedoEnabled(True)
            self._shadow = text
            if self.body.toPlainText() != text:  # Qt normalised something: show the truth
                position = self.body.textCursor().position()
                self.body.setPlainText(text)
                moved = self.body.textCursor()
                moved.setPosition(min(position, len(text)))
                self.body.setTextCursor(moved)
        finally:
            self._applying = False
        self.body_did_sync.emit()

    # -- fields --------------------------------------------------------------------------------

    def _on_edit_will_apply(self, states: tuple[State, ...]) -> None:
        """An undo or redo is about to write these states: the open note shows its own at once."""
        for entity, values in states:
            if entity == self._note and values is not None:
                self._show_fields(NoteState(entity, self._shadow, dict(values), (), True), force=True)

    def _change(self, **after: Value) -> None:
        note = self._note
        if note is None:
            return
        if {k: self._values.get(k, notes.DEFAULTS[k]) for k in after} == after:
            return
        self._values.update(after)
        [(name, value)] = after.items()
        self.edits.do(lambda r: _set_field(r, note, name, value), self.undo_stack, "Edit note")

    def _on_title_edited(self) -> None:
        self._change(title=self.title.text())

    def _on_tags_edited(self) -> None:
        self._change(tags=notes.parse_tags(self.tags.text()))

    def _on_pin_clicked(self, checked: bool) -> None:
        self._change(pinned=checked)

    def _on_badge_clicked(self) -> None:
        if self._note is not None:
            self.conflicts_were_requested.emit(self._note)

    def _on_delete_clicked(self) -> None:
        note = self._note
        if note is None:
            return
        answer = QMessageBox.question(self, "Delete note", "Delete this note on all your devices?")
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._fresh = None  # deleted on purpose, through the undo stack
        self.flush()
        self.open_note(None)
        self.edits.do(lambda r: notes.delete_note(r, note), self.undo_stack, "Delete note")
        self.note_did_delete.emit(note)


def _set_field(r: Replica, note: str, name: str, value: Value) -> Edit:
    """The notes service for one header field."""
    if name == "title":
        return notes.set_title(r, note, str(value))
    if name == "tags":
        return notes.set_tags(r, note, [str(t) for t in value] if isinstance(value, list) else [])
    return notes.set_pinned(r, note, value is True)
