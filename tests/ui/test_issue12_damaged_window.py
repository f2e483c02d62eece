"""Issue 12 defect 6 in the app: a library damaged on disk shows "Damaged" in the window's
status bar, where "Online"/"Offline" shows otherwise."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from storage import open_replica
from sync.node import library_path, load_identity, open_or_create
from ui.app import LOOPBACK, make_window

pytestmark = pytest.mark.timeout(120)


def test_corruption_not_noticed_window_shows_damaged(qtbot: QtBot, tmp_path: Path) -> None:
    data = tmp_path / "data"
    replica = open_or_create(data, load_identity(data, "desk"))  # as the app's node makes it
    replica.create("note", {"title": "t4"}, "n4")
    replica.close()
    with closing(sqlite3.connect(library_path(data))) as conn, conn:
        (doc,) = conn.execute("SELECT doc FROM docs WHERE id = 'n4'").fetchone()
        conn.execute("UPDATE docs SET doc = ? WHERE id = 'n4'", (doc.replace(b"t4", b"ZZ"),))

    backend, window = make_window(data, lazy=False, network=LOOPBACK)
    qtbot.addWidget(window)
    try:
        window.show()
        qtbot.waitUntil(lambda: window.online_label.text() == "⚠ Damaged", timeout=10_000)
        assert "state digest mismatch" in window.online_label.toolTip()
    finally:
        window.close()
        backend.close()
    replica = open_replica(library_path(data))
    try:
        assert not replica.verify(full=True).ok  # no member to repair from: still damaged
    finally:
        replica.close()
