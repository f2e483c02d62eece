"""Where typing goes: Ctrl+N from the Calendar tab puts the cursor in the new note (never in
Search), and a new note left empty is discarded."""

from __future__ import annotations

import pytest
from pytestqt.qtbot import QtBot

from ui.backend import Backend
from ui.main_window import MainWindow
from ui.qt import QApplication, Qt

from .conftest import Library


@pytest.fixture
def window(qtbot: QtBot, backend: Backend, library: Library) -> MainWindow:
    win = MainWindow(backend, library.dir)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.window_did_paint, timeout=5000):
        win.show()
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    qtbot.waitUntil(lambda: win.notes.loaded)
    return win


def notes_in(backend: Backend) -> dict[str, dict[str, object]]:
    return backend.call(lambda r: {k: d.values() for k, d in r.entities("note").items()})


def test_ctrl_n_from_the_calendar_tab_types_into_the_new_notes_body(
    qtbot: QtBot, window: MainWindow, backend: Backend
) -> None:
    window.tabs.setCurrentWidget(window.calendar)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    # Typed at once, before the note has loaded: nothing may land in Search.
    qtbot.keyClicks(QApplication.focusWidget(), "x")
    editor = window.notes.editor
    qtbot.waitUntil(lambda: editor.note is not None and editor.body.isEnabled())
    qtbot.waitUntil(lambda: QApplication.focusWidget() is editor.body)
    qtbot.keyClicks(QApplication.focusWidget(), "Buy milk")
    assert window.notes.search.text() == ""
    assert editor.body.toPlainText() == "Buy milk"
    note = editor.note
    assert note is not None
    qtbot.waitUntil(lambda: editor.pending == 0 and backend.call(lambda r: r.text(note)) == "Buy milk")


def test_a_new_note_left_empty_is_discarded_when_another_is_opened(
    qtbot: QtBot, window: MainWindow, backend: Backend
) -> None:
    kept = backend.call(lambda r: r.create("note", {"title": "Kept", "created": 1}))
    pane = window.notes
    qtbot.waitUntil(lambda: kept in pane.model.ids())
    window.tabs.setCurrentWidget(pane)
    pane.new_note()
    qtbot.waitUntil(lambda: pane.editor.note not in (None, kept) and pane.editor.body.isEnabled())
    empty = pane.editor.note
    assert empty in notes_in(backend)
    with qtbot.waitSignal(pane.editor.note_was_discarded, timeout=3000) as blocker:
        pane.select(kept)
    assert blocker.args == [empty]
    qtbot.waitUntil(lambda: empty not in notes_in(backend))
    qtbot.waitUntil(lambda: pane.model.ids() == [kept])
    assert "New note" not in window.undo_action.text()


def test_a_new_note_with_text_is_kept(qtbot: QtBot, window: MainWindow, backend: Backend) -> None:
    kept = backend.call(lambda r: r.create("note", {"title": "Kept", "created": 1}))
    pane = window.notes
    qtbot.waitUntil(lambda: kept in pane.model.ids())
    pane.new_note()
    qtbot.waitUntil(lambda: pane.editor.note not in (None, kept) and pane.editor.body.isEnabled())
    fresh = pane.editor.note
    qtbot.keyClicks(pane.editor.body, "idea")
    pane.select(kept)
    qtbot.waitUntil(lambda: fresh in pane.model.ids() and backend.call(lambda r: r.text(fresh)) == "idea")
