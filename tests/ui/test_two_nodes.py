"""Two devices, two windows: what is typed in one appears live in the other.

The devices are two replicas behind their own backends, kept in sync by anti-entropy run
whenever either changes (``sync.node.Node`` does not yet tell subscribers what changed; once
it does, the same test runs over loopback TLS with a node behind each backend).
"""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from ui.backend import Backend
from ui.notes import NotesPane
from ui.qt import QTimer, qconnect

from .conftest import exchange, text_of


class AntiEntropy:
    """Runs an exchange between two backends soon after either reports a change."""

    def __init__(self, a: Backend, b: Backend) -> None:
        self.a, self.b = a, b
        self.timer = QTimer()
        self.timer.setSingleShot(True)
        self.timer.setInterval(0)
        self.rounds = 0
        qconnect(self.timer.timeout, self._run)
        qconnect(a.changed, lambda _c: self.timer.start())
        qconnect(b.changed, lambda _c: self.timer.start())

    def _run(self) -> None:
        self.rounds += 1
        exchange(self.a, self.b)


def open_pane(qtbot: QtBot, backend: Backend) -> NotesPane:
    pane = NotesPane(backend)
    qtbot.addWidget(pane)
    pane.show()
    pane.reload()
    qtbot.waitUntil(lambda: pane.loaded)
    return pane


def test_typing_in_one_window_appears_in_the_other(qtbot: QtBot, backend: Backend, other: Backend) -> None:
    sync = AntiEntropy(backend, other)
    here, there = open_pane(qtbot, backend), open_pane(qtbot, other)
    note = backend.call(lambda r: r.create("note", {"title": "Shared", "body": "start"}))
    qtbot.waitUntil(lambda: note in there.model.ids())
    here.select(note)
    there.select(note)
    qtbot.waitUntil(lambda: here.editor.text == "start" and there.editor.text == "start")

    body = here.editor.body
    body.moveCursor(body.textCursor().MoveOperation.End)
    qtbot.keyClicks(body, " typed here")
    qtbot.waitUntil(lambda: there.editor.body.toPlainText() == "start typed here", timeout=5000)

    # And back, while the first window's cursor stays at the end of its text.
    other_body = there.editor.body
    cursor = other_body.textCursor()
    cursor.setPosition(0)
    other_body.setTextCursor(cursor)
    qtbot.keyClicks(other_body, "> ")
    qtbot.waitUntil(lambda: body.toPlainText() == "> start typed here", timeout=5000)
    assert body.textCursor().position() == len("> start typed here")
    assert text_of(backend, note) == text_of(other, note) == "> start typed here"
    assert sync.rounds > 0
