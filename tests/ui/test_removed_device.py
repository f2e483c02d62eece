"""The window of a device removed from its library says so (issue 12, defect 5)."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path
from typing import Any

from pytestqt.qtbot import QtBot

from ui.backend import Backend
from ui.devices import Invite, PeerStatus
from ui.main_window import MainWindow

from .conftest import Library


class _RemovedNode:
    """A sync source whose node status says this device was removed (as ``NodeSource``)."""

    def __init__(self) -> None:
        self.status: dict[str, Any] = {"members": {}, "peers": {}, "removed": None}

    def peers(self) -> list[PeerStatus]:
        return []

    def discovered(self) -> list[str]:
        return []

    def invite(self) -> concurrent.futures.Future[Invite]:
        return concurrent.futures.Future()

    def join(self, code: str, host: str, port: int) -> concurrent.futures.Future[None]:
        return concurrent.futures.Future()


def test_removed_device_window_says_so(
    qtbot: QtBot, backend: Backend, library: Library, tmp_path: Path
) -> None:
    node = _RemovedNode()
    win = MainWindow(backend, library.dir, node)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.window_did_paint, timeout=5000):
        win.show()
    assert "⊘" not in win.online_label.text()  # not yet removed (solo or offline, as members load)
    node.status["removed"] = "every member this device reached refused it: it was probably removed"
    qtbot.waitUntil(lambda: "Refused by the library's members" in win.online_label.text(), timeout=5000)
    node.status.update(revoked=True, removed="this device was removed from the library: it no longer syncs")
    qtbot.waitUntil(lambda: "Removed from the library" in win.online_label.text(), timeout=5000)
    assert win.online_label.toolTip().startswith("This device was removed from the library")
    qtbot.wait(100)  # the status bar lays the longer text out
    assert win.online_label.width() >= win.online_label.sizeHint().width()
    win.grab().save(str(tmp_path / "removed.png"))
