"""The notes pane driven as a person would: typing, searching, pinning, tags, remote edits,
conflicts, undo, and untrusted content."""

from __future__ import annotations

from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from localfirst import TextEdit
from ui.backend import Backend
from ui.conflicts import ConflictDialog
from ui.notes import NotesPane
from ui.qt import QMessageBox, Qt, QTextCursor

from .conftest import DEVICE_A, exchange, text_of, values_of


@pytest.fixture
def pane(qtbot: QtBot, backend: Backend) -> NotesPane:
    widget = NotesPane(backend)
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    widget.reload()
    qtbot.waitUntil(lambda: widget.loaded)
    return widget


def make_note(backend: Backend, **fields: Any) -> str:
    return str(backend.call(lambda r: r.create("note", {"created": 1, **fields})))


def open_in_editor(qtbot: QtBot, pane: NotesPane, note: str) -> None:
    qtbot.waitUntil(lambda: note in pane.model.ids())
    pane.select(note)
    qtbot.waitUntil(lambda: pane.editor.note == note and pane.editor.body.isEnabled())


def type_text(qtbot: QtBot, widget: Any, text: str) -> None:
    """Type as a person would; a newline is the Return key (QTest cannot type it as a char)."""
    for i, line in enumerate(text.split("\n")):
        if i:
            qtbot.keyClick(widget, Qt.Key.Key_Return)
        if line:
            qtbot.keyClicks(widget, line)


def local_text_writes(backend: Backend) -> int:
    def count(r: Any) -> int:
        return sum(
            1
            for e in r.log()
            if e.write.id.origin == DEVICE_A and any(isinstance(op, TextEdit) for op in e.write.ops)
        )

    return int(backend.call(count))


def test_typed_body_is_saved_in_far_fewer_writes_than_keystrokes(
    qtbot: QtBot, pane: NotesPane, backend: Backend
) -> None:
    qtbot.mouseClick(pane.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.editor.note is not None and pane.editor.body.isEnabled())
    note = pane.editor.note
    assert note is not None
    typed = "# Groceries\nmilk, *fresh* bread and `cheese`\n"
    type_text(qtbot, pane.editor.body, typed)
    assert pane.editor.body.toPlainText() == typed
    qtbot.waitUntil(lambda: pane.editor.pending == 0 and text_of(backend, note) == typed)
    writes = local_text_writes(backend)
    assert 1 <= writes <= len(typed) // 5
    qtbot.waitUntil(lambda: note in pane.model.ids())


def test_search_finds_a_note_by_a_body_word(qtbot: QtBot, pane: NotesPane, backend: Backend) -> None:
    first = make_note(backend, title="Trip", body="pack the tent and the stove")
    make_note(backend, title="Work", body="quarterly report")
    qtbot.waitUntil(lambda: len(pane.model.ids()) == 2)
    qtbot.keyClicks(pane.search, "stove")
    qtbot.waitUntil(lambda: pane.model.ids() == [first])
    pane.search.clear()
    qtbot.keyClicks(pane.search, "caviar")
    qtbot.waitUntil(lambda: pane.model.ids() == [])
    pane.search.clear()
    qtbot.waitUntil(lambda: len(pane.model.ids()) == 2)


def test_pinning_moves_a_note_to_the_top(qtbot: QtBot, pane: NotesPane, backend: Backend) -> None:
    old = make_note(backend, title="Old", modified=1)
    new = make_note(backend, title="New", modified=2)
    qtbot.waitUntil(lambda: pane.model.ids() == [new, old])
    open_in_editor(qtbot, pane, old)
    qtbot.mouseClick(pane.editor.pin, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pane.model.ids() == [old, new])
    assert values_of(backend, old)["pinned"] is True


def test_tags_typed_in_the_editor_filter_the_list(qtbot: QtBot, pane: NotesPane, backend: Backend) -> None:
    home = make_note(backend, title="Paint the fence")
    make_note(backend, title="Budget")
    open_in_editor(qtbot, pane, home)
    qtbot.mouseClick(pane.editor.tags, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(pane.editor.tags, "home, #diy")
    qtbot.keyClick(pane.editor.tags, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: pane.tag_filter.findText("diy") > 0)
    assert values_of(backend, home)["tags"] == ["home", "diy"]
    pane.tag_filter.setCurrentIndex(pane.tag_filter.findText("home"))
    assert pane.model.ids() == [home]
    pane.tag_filter.setCurrentIndex(0)
    assert len(pane.model.ids()) == 2


def test_remote_edit_appears_without_moving_cursor_or_selection(
    qtbot: QtBot, pane: NotesPane, backend: Backend, other: Backend
) -> None:
    note = make_note(backend, title="Shared", body="hello world, see you")
    exchange(backend, other)
    open_in_editor(qtbot, pane, note)
    body = pane.editor.body
    cursor = body.textCursor()
    cursor.setPosition(6)
    cursor.setPosition(11, QTextCursor.MoveMode.KeepAnchor)  # "world" selected
    body.setTextCursor(cursor)
    writes_before = local_text_writes(backend)
    # Device B inserts before the selection and appends after it.
    other.call(lambda r: r.edit_text(note, [(0, 0, "Oh, "), (24, 0, " soon")]))
    with qtbot.waitSignal(pane.editor.body_did_sync, timeout=5000):
        exchange(backend, other)
    assert body.toPlainText() == "Oh, hello world, see you soon"
    assert body.textCursor().selectedText() == "world"
    assert (body.textCursor().anchor(), body.textCursor().position()) == (10, 15)
    assert local_text_writes(backend) == writes_before  # not echoed back as local edits
    # Typing over the selection still lands where the user sees it, and reaches B.
    qtbot.keyClicks(body, "there")
    qtbot.waitUntil(lambda: text_of(backend, note) == "Oh, hello there, see you soon")
    exchange(backend, other)
    assert text_of(other, note) == "Oh, hello there, see you soon"


def test_conflicting_titles_show_a_badge_and_a_pick_resolves_them(
    qtbot: QtBot, pane: NotesPane, backend: Backend, other: Backend
) -> None:
    note = make_note(backend, title="Plan")
    exchange(backend, other)
    backend.call(lambda r: r.put("note", note, {"title": "Plan A"}))
    other.call(lambda r: r.put("note", note, {"title": "Plan B"}))
    exchange(backend, other)
    open_in_editor(qtbot, pane, note)
    qtbot.waitUntil(pane.editor.badge.isVisible)
    assert pane.model.row(note) is not None
    assert pane.model.row(note).conflicts == ("title",)  # type: ignore[union-attr]
    qtbot.mouseClick(pane.editor.badge, Qt.MouseButton.LeftButton)
    dialog = next(d for d in pane.findChildren(ConflictDialog))
    qtbot.waitUntil(lambda: len(dialog.buttons) == 2)
    state = dialog.state
    assert state is not None
    column = next(i for i, v in enumerate(state.fields["title"]) if v.value == "Plan B")
    qtbot.mouseClick(dialog.buttons[("title", column)], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.resolved)
    assert values_of(backend, note)["title"] == "Plan B"
    assert backend.call(lambda r: r.conflicts()) == {}
    qtbot.waitUntil(lambda: not pane.editor.badge.isVisible())
    exchange(backend, other)
    assert other.call(lambda r: r.conflicts()) == {}  # the choice synced
    dialog.close()


def test_concurrent_tag_additions_merge_without_a_conflict(
    qtbot: QtBot, pane: NotesPane, backend: Backend, other: Backend
) -> None:
    # Tags are a set (issue 12): both devices' additions survive and nothing asks the user.
    note = make_note(backend, title="T", tags=["a"])
    exchange(backend, other)
    backend.call(lambda r: r.put("note", note, {"tags": ["a", "x"]}))
    other.call(lambda r: r.put("note", note, {"tags": ["a", "y"]}))
    exchange(backend, other)
    tags = values_of(backend, note)["tags"]
    assert isinstance(tags, list)
    assert sorted(tags) == ["a", "x", "y"]
    assert values_of(backend, note)["tags"] == values_of(other, note)["tags"]

    def shown() -> tuple[str, ...] | None:
        row = pane.model.row(note)
        return None if row is None else tuple(sorted(row.tags))

    qtbot.waitUntil(lambda: shown() == ("a", "x", "y"))
    row = pane.model.row(note)
    assert row is not None
    assert row.conflicts == ()


def test_edit_concurrent_with_delete_can_be_kept(
    qtbot: QtBot, pane: NotesPane, backend: Backend, other: Backend
) -> None:
    note = make_note(backend, title="Keep me", body="text")
    exchange(backend, other)
    backend.call(lambda r: r.delete(note))
    other.call(lambda r: r.put("note", note, {"title": "Edited on B"}))
    qtbot.waitUntil(lambda: note not in pane.model.ids())
    exchange(backend, other)
    qtbot.waitUntil(lambda: note in pane.model.ids())
    row = pane.model.row(note)
    assert row is not None
    assert "_deleted" in row.conflicts
    dialog = pane.show_conflicts(note)
    qtbot.waitUntil(lambda: dialog.keep is not None)
    assert dialog.keep is not None
    qtbot.mouseClick(dialog.keep, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.resolved)
    assert values_of(backend, note)["title"] == "Edited on B"
    qtbot.waitUntil(lambda: not pane.model.row(note).conflicts)  # type: ignore[union-attr]
    dialog.close()


def test_undo_and_redo_in_the_body_and_for_fields(qtbot: QtBot, pane: NotesPane, backend: Backend) -> None:
    note = make_note(backend, title="Before", body="")
    open_in_editor(qtbot, pane, note)
    body = pane.editor.body
    body.setFocus()
    qtbot.keyClicks(body, "draft")
    qtbot.waitUntil(lambda: text_of(backend, note) == "draft")
    qtbot.keyClick(body, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert body.toPlainText() == ""
    qtbot.waitUntil(lambda: text_of(backend, note) == "")
    qtbot.keyClick(
        body, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert body.toPlainText() == "draft"
    qtbot.waitUntil(lambda: text_of(backend, note) == "draft")

    title = pane.editor.title
    title.selectAll()
    qtbot.keyClicks(title, "After")
    qtbot.keyClick(title, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: values_of(backend, note)["title"] == "After")
    pane.editor.undo_stack.undo()
    assert title.text() == "Before"
    qtbot.waitUntil(lambda: values_of(backend, note)["title"] == "Before")
    pane.editor.undo_stack.redo()
    qtbot.waitUntil(lambda: values_of(backend, note)["title"] == "After")


def test_html_and_script_in_a_note_are_literal_text(qtbot: QtBot, pane: NotesPane, backend: Backend) -> None:
    source = '<script>alert(1)</script><b>bold</b> <img src="http://example.com/x.png"> [x](javascript:a)'
    note = make_note(backend, title="<i>t</i>", body=source)
    open_in_editor(qtbot, pane, note)
    body = pane.editor.body
    assert body.toPlainText() == source
    assert "&lt;script&gt;" in body.document().toHtml()
    assert pane.editor.title.text() == "<i>t</i>"
    assert body.url_at(source.index("javascript")) is None  # only http(s)/mailto may open
    assert body.url_at(source.index("example.com")) is not None


def test_deleting_a_note(
    qtbot: QtBot, pane: NotesPane, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = make_note(backend, title="Bye")
    open_in_editor(qtbot, pane, note)
    monkeypatch.setattr(QMessageBox, "question", lambda *_a, **_k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(pane.editor.delete, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: note not in pane.model.ids())
    assert backend.call(lambda r: r.entities("note")) == {}


def test_undo_of_a_delete_brings_the_note_back_with_its_body(
    qtbot: QtBot, pane: NotesPane, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    note = make_note(backend, title="Bye", body="line one\nline two")
    open_in_editor(qtbot, pane, note)
    monkeypatch.setattr(QMessageBox, "question", lambda *_a, **_k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(pane.editor.delete, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: note not in pane.model.ids())
    qtbot.waitUntil(lambda: pane.undo_stack.undoText() == "Delete “Bye”")
    pane.undo_stack.undo()
    qtbot.waitUntil(lambda: note in pane.model.ids())
    assert values_of(backend, note)["title"] == "Bye"
    assert text_of(backend, note) == "line one\nline two"
    assert backend.call(lambda r: r.conflicts()) == {}
    pane.undo_stack.redo()
    qtbot.waitUntil(lambda: note not in pane.model.ids())


def test_a_new_note_is_undone_like_any_action(qtbot: QtBot, pane: NotesPane, backend: Backend) -> None:
    qtbot.mouseClick(pane.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(pane.model.ids()) == 1)
    [note] = pane.model.ids()
    assert pane.undo_stack.undoText() == "New note “Untitled”"
    pane.undo_stack.undo()
    qtbot.waitUntil(lambda: pane.model.ids() == [])
    assert backend.call(lambda r: r.entities("note")) == {}
    pane.undo_stack.redo()
    qtbot.waitUntil(lambda: pane.model.ids() == [note])


def test_a_resolved_conflict_can_be_undone(
    qtbot: QtBot, pane: NotesPane, backend: Backend, other: Backend
) -> None:
    note = make_note(backend, title="Plan")
    exchange(backend, other)
    backend.call(lambda r: r.put("note", note, {"title": "Plan A"}))
    other.call(lambda r: r.put("note", note, {"title": "Plan B"}))
    exchange(backend, other)
    winner = values_of(backend, note)["title"]
    dialog = pane.show_conflicts(note)
    qtbot.waitUntil(lambda: "title" in dialog.merges)
    dialog.choose("title", "Plan A and B")
    qtbot.waitUntil(lambda: dialog.resolved)
    assert values_of(backend, note)["title"] == "Plan A and B"
    qtbot.waitUntil(lambda: pane.undo_stack.undoText() == f"Resolve “{winner}”")
    pane.undo_stack.undo()
    qtbot.waitUntil(lambda: values_of(backend, note)["title"] == winner)
    assert backend.call(lambda r: r.conflicts()) == {}  # undo is an ordinary write: no siblings again
    dialog.close()


def test_the_edit_menu_names_the_note_action_it_undoes(qtbot: QtBot, backend: Backend, library: Any) -> None:
    from ui.main_window import MainWindow

    window = MainWindow(backend, library.dir)
    qtbot.addWidget(window)
    window.show()
    note = make_note(backend, title="One")
    qtbot.waitUntil(lambda: note in window.notes.model.ids())
    window.tabs.setCurrentWidget(window.notes)
    window.notes.select(note)
    editor = window.notes.editor
    qtbot.waitUntil(lambda: editor.title.text() == "One")
    editor.title.setFocus()
    editor.title.selectAll()
    qtbot.keyClicks(editor.title, "Two")
    qtbot.keyClick(editor.title, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.undo_action.text() == "&Undo Rename “One”")
    qtbot.mouseClick(editor.pin, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.undo_action.text() == "&Undo Pin “Two”")
    window.notes.list.setFocus()
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: "pinned" not in values_of(backend, note))  # as before: never pinned
    assert window.undo_action.text() == "&Undo Rename “One”"
    assert window.redo_action.text() == "&Redo Pin “Two”"
    assert not editor.pin.isChecked()
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: values_of(backend, note)["title"] == "One")
    assert editor.title.text() == "One"
