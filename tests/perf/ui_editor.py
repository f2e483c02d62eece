"""Benchmark: editor latency. Prints one JSON line with

- ``keystroke_p99_ms``: a key typed in a note of 100,000 characters, handled and painted (one
  replica behind a local backend: no network in the way);
- ``remote_edit_p99_ms``: a key typed in one device's editor until the other device's open
  editor shows it. Two real sync nodes (``sync.service.NodeService``, each with its own data
  folder, replica and :class:`~ui.backend.Backend`), paired by the real pairing exchange and
  syncing over TLS on 127.0.0.1 (discovery off), each with a :class:`~ui.notes.NotesPane` open
  on the same note of 100,000 characters. A sample runs from the key press in the sending
  editor (which then flushes at once, as when typing pauses; the pause itself, the editor's
  coalescing delay, is not counted) through the write on the sender's node, the live push over
  TLS, the receiving node and its backend, to the receiving editor's ``body_did_sync`` signal,
  timed in the slot and counted only once its ``toPlainText()`` equals the sender's text.
  Samples alternate direction (primary to joiner, joiner to primary) and wait for both editors
  to settle before the next, so no two edits coalesce.

    python tests/perf/ui_editor.py [--small]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import storage
from ui.backend import Backend, LocalService
from ui.notes import NotesPane
from ui.qt import QApplication, QEventLoop, Qt, QTimer, qconnect

#: Longest wait for one remote edit to arrive before the benchmark fails (seconds).
REMOTE_TIMEOUT_S = 10.0
#: Event-loop time between two remote edits, so they never coalesce (milliseconds).
SETTLE_MS = 25

LINE = "Lorem ipsum dolor sit amet, *consectetur* adipiscing elit, `sed` do eiusmod.\n"


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def note_body(chars: int) -> str:
    return (LINE * (chars // len(LINE) + 1))[:chars]


def wait_until(app: QApplication, predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Run the Qt event loop until ``predicate()`` holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        time.sleep(0.001)


def pump(app: QApplication, ms: int) -> None:
    """Run the Qt event loop for ``ms`` milliseconds."""
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        time.sleep(0.001)


def open_pane(app: QApplication, backend: Backend, note: str, x: int = 0) -> NotesPane:
    pane = NotesPane(backend)
    pane.resize(1000, 700)
    pane.move(x, 0)
    pane.show()
    pane.editor.open_note(note)
    wait_until(app, pane.editor.body.isEnabled, 30, "the note to open")
    return pane


def measure_keystrokes(app: QApplication, tmp: Path, chars: int, keys: int) -> list[float]:
    """Milliseconds per key typed in the middle of a note of ``chars`` characters."""
    from PySide6.QtTest import QTest

    path = tmp / "keys.sqlite"
    replica = storage.create_library(path, "A")
    note = replica.create("note", {"title": "Long", "body": note_body(chars)})
    replica.close()
    backend = Backend(LocalService(lambda: storage.open_replica(path)), path)
    pane = open_pane(app, backend, note)
    body_edit = pane.editor.body
    body_edit.setFocus()
    cursor = body_edit.textCursor()
    cursor.setPosition(chars // 2)
    body_edit.setTextCursor(cursor)

    keystrokes: list[float] = []
    for i in range(keys):
        start = time.perf_counter()
        QTest.keyClick(body_edit, Qt.Key.Key_A if i % 10 else Qt.Key.Key_Space)
        app.processEvents()
        keystrokes.append((time.perf_counter() - start) * 1000)
    pane.editor.flush()
    backend.call(lambda _r: None)
    app.processEvents()
    pane.close()
    backend.close()
    return keystrokes


def start_pair(
    app: QApplication, tmp: Path, chars: int, services: list[Any], backends: list[Backend]
) -> tuple[str, str]:
    """Two nodes on loopback, the laptop paired to the desk's library through the real
    exchange, and a long note on both; returns the note and the laptop's device id."""
    from sync.const import LIBRARY_FILE
    from sync.service import NodeService

    for name in ("desk", "laptop"):
        service = NodeService(tmp / name, name=name, host="127.0.0.1", discovery=False, control=False)
        services.append(service)
        backends.append(Backend(service, tmp / name / LIBRARY_FILE))
    desk, laptop = services
    code, host, port = desk.invite().result(10)
    laptop.join(code, host, port).result(30)
    laptop_id = str(laptop.started.result(10).device)
    body = note_body(chars)
    note = str(backends[0].call(lambda r: r.create("note", {"title": "Long", "body": body})))

    def laptop_has_note() -> bool:
        return bool(backends[1].call(lambda r: r.get(note) is not None and r.text(note) == body))

    wait_until(app, laptop_has_note, 30, "the note to reach the other node")
    return note, laptop_id


class Arrival:
    """Times one remote edit: from the key typed to the other editor showing the sender's text."""

    def __init__(self, panes: list[NotesPane]) -> None:
        self.arrived: float | None = None
        self.expected = ""
        self.receiving: NotesPane | None = None
        self.loop = QEventLoop()
        self.timer = QTimer()
        self.timer.setSingleShot(True)
        qconnect(self.timer.timeout, self.loop.quit)
        for pane in panes:
            qconnect(pane.editor.body_did_sync, functools.partial(self._on_sync, pane))

    def _on_sync(self, receiver: NotesPane) -> None:
        now = time.perf_counter()  # timestamp first, check after
        if receiver is not self.receiving or self.arrived is not None:
            return
        if receiver.editor.body.toPlainText() == self.expected:
            self.arrived = now
            self.loop.quit()

    def type_one(self, sender: NotesPane, receiver: NotesPane, i: int, chars: int) -> float:
        """Type one letter in ``sender``; milliseconds until ``receiver`` shows it."""
        from PySide6.QtTest import QTest

        body_edit = sender.editor.body
        body_edit.setFocus()
        cursor = body_edit.textCursor()
        cursor.setPosition((chars // 2 + 37 * i) % len(sender.editor.text))
        body_edit.setTextCursor(cursor)
        self.arrived, self.receiving = None, receiver
        key = getattr(Qt.Key, f"Key_{'abcdefghijklmnopqrstuvwxyz'[i % 26].upper()}")
        start = time.perf_counter()
        QTest.keyClick(body_edit, key)
        self.expected = sender.editor.text
        sender.editor.flush()  # as a pause in typing would, without waiting for the pause
        self.timer.start(int(REMOTE_TIMEOUT_S * 1000))
        if self.when() is None:
            self.loop.exec()
        self.timer.stop()
        end = self.when()
        if end is None:
            raise TimeoutError(f"remote edit {i} did not reach the other editor")
        return (end - start) * 1000

    def when(self) -> float | None:
        """When the edit showed on the other side (None: not yet); set by the sync signal."""
        return self.arrived


def measure_remote(app: QApplication, tmp: Path, chars: int, samples: int) -> list[float]:
    """Milliseconds from a key typed in one node's editor to the other node's editor showing it."""
    services: list[Any] = []
    backends: list[Backend] = []
    panes: list[NotesPane] = []
    try:
        note, laptop_id = start_pair(app, tmp, chars, services, backends)
        panes = [open_pane(app, b, note, x=i * 1010) for i, b in enumerate(backends)]
        # each editor's own cursor sits somewhere else than where the other device types
        for pane in panes:
            cursor = pane.editor.body.textCursor()
            cursor.setPosition(chars // 4)
            pane.editor.body.setTextCursor(cursor)
        arrival = Arrival(panes)
        latencies: list[float] = []
        for i in range(samples):
            latencies.append(arrival.type_one(panes[i % 2], panes[1 - i % 2], i, chars))
            # let commits and acknowledgements settle so the next edit stands alone
            pump(app, SETTLE_MS)
            for backend in backends:
                backend.call(lambda _r: None)  # the node's queue is drained
            pump(app, 1)
        final = panes[0].editor.text
        assert panes[1].editor.text == final, "the two editors differ"
        assert len(final) == chars + samples
        status = services[0].status().result(10)
        assert status["peers"][laptop_id]["bytes"][1] > 0, "no bytes went over the TLS session"
        return latencies
    finally:
        for pane in panes:
            pane.close()
        for backend in reversed(backends):
            backend.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true", help="a small note and few samples (smoke test)")
    args = parser.parse_args()
    chars, keys, remotes = (5_000, 40, 10) if args.small else (100_000, 500, 200)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)

    with tempfile.TemporaryDirectory() as tmp:
        keystrokes = measure_keystrokes(app, Path(tmp), chars, keys)
        remote = measure_remote(app, Path(tmp), chars, remotes)
    print(
        json.dumps(
            {
                "keystroke_p99_ms": round(p99(keystrokes), 2),
                "keystroke_median_ms": round(statistics.median(keystrokes), 2),
                "remote_edit_p99_ms": round(p99(remote), 2),
                "remote_edit_median_ms": round(statistics.median(remote), 2),
                "remote_edit_max_ms": round(max(remote), 2),
                "remote_edit_samples": len(remote),
                "note_chars": chars,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
