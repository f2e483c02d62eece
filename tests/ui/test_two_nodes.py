"""Two devices, two windows: what is typed in one appears live in the other.

Each window's notes pane runs over its own sync node (``sync.service.NodeService``); the nodes
are paired by the real pairing exchange and sync over TLS on 127.0.0.1 (no discovery).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot

from ui.backend import Backend
from ui.notes import NotesPane

from .conftest import NodeApp, pair, text_of

pytestmark = pytest.mark.timeout(120)


def open_pane(qtbot: QtBot, backend: Backend) -> NotesPane:
    pane = NotesPane(backend)
    qtbot.addWidget(pane)
    pane.show()
    pane.reload()
    qtbot.waitUntil(lambda: pane.loaded)
    return pane


def test_typing_in_one_window_appears_in_the_other(qtbot: QtBot, node_apps: Callable[[str], NodeApp]) -> None:
    a, b = node_apps("desk"), node_apps("laptop")
    pair(a, b)
    here, there = open_pane(qtbot, a.backend), open_pane(qtbot, b.backend)
    note = a.backend.call(lambda r: r.create("note", {"title": "Shared", "body": "start"}))
    qtbot.waitUntil(lambda: note in there.model.ids(), timeout=10_000)
    here.select(note)
    there.select(note)
    qtbot.waitUntil(lambda: here.editor.text == "start" and there.editor.text == "start", timeout=10_000)

    # The receiving editor's cursor sits inside the text; remote typing before it keeps it on
    # the same character, typing after it leaves it where it is.
    other_body = there.editor.body
    cursor = other_body.textCursor()
    cursor.setPosition(2)  # st|art
    other_body.setTextCursor(cursor)

    body = here.editor.body
    body.moveCursor(body.textCursor().MoveOperation.End)
    qtbot.keyClicks(body, " typed here")
    qtbot.waitUntil(lambda: other_body.toPlainText() == "start typed here", timeout=10_000)
    assert other_body.textCursor().position() == 2

    # And back, typed at the start of the second window, while the first window's cursor
    # stays at the end of its text.
    cursor.setPosition(0)
    other_body.setTextCursor(cursor)
    qtbot.keyClicks(other_body, "> ")
    qtbot.waitUntil(lambda: body.toPlainText() == "> start typed here", timeout=10_000)
    assert body.textCursor().position() == len("> start typed here")
    assert other_body.textCursor().position() == len("> ")
    qtbot.waitUntil(lambda: text_of(a.backend, note) == text_of(b.backend, note), timeout=10_000)
    assert text_of(a.backend, note) == "> start typed here"
    # the bytes went over the nodes' TLS session, not a test shortcut
    status = a.service.status().result(10)
    assert status["peers"][b.service.started.result().device]["bytes"][1] > 0
