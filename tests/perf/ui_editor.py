"""Benchmark: editor latency. Prints one JSON line with ``keystroke_p99_ms`` (a key typed in
a note of 100,000 characters, handled and painted) and ``remote_edit_p99_ms`` (an edit made on
another replica until it shows in the open editor, anti-entropy between two backends).

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
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import storage
from localfirst import Replica
from ui.backend import Backend, LocalService
from ui.notes import NotesPane
from ui.qt import QApplication, QEventLoop, Qt


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true", help="a small note and few samples (smoke test)")
    args = parser.parse_args()
    chars, keys, remotes = (5_000, 40, 10) if args.small else (100_000, 500, 200)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from PySide6.QtTest import QTest

    with tempfile.TemporaryDirectory() as tmp:
        a_path, b_path = Path(tmp) / "a.sqlite", Path(tmp) / "b.sqlite"
        a = storage.create_library(a_path, "A", members={"B": ""})
        line = "Lorem ipsum dolor sit amet, *consectetur* adipiscing elit, `sed` do eiusmod.\n"
        body = (line * (chars // len(line) + 1))[:chars]
        note = a.create("note", {"title": "Long", "body": body})
        storage.join_library(b_path, "B", a.genesis()).close()
        a.close()
        here = Backend(LocalService(lambda: storage.open_replica(a_path)), a_path)
        there = Backend(LocalService(lambda: storage.open_replica(b_path)), b_path)
        pane = NotesPane(here)
        pane.resize(1000, 700)
        pane.show()
        pane.editor.open_note(note)
        while not pane.editor.body.isEnabled():
            app.processEvents()
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
        here.call(lambda _r: None)
        app.processEvents()

        def exchange(src: Backend, dst: Backend) -> None:
            summary = dst.call(Replica.summary)
            batch = src.call(lambda r: r.batch_for(summary))
            dst.call(lambda r: r.receive(batch))

        exchange(here, there)
        remote: list[float] = []
        synced = [0]

        def count_sync() -> None:
            synced[0] += 1

        pane.editor.body_did_sync.connect(count_sync)
        for i in range(remotes):
            seen = synced[0]
            start = time.perf_counter()
            there.call(functools.partial(Replica.edit_text, entity=note, edits=[(10 + i, 0, "x")]))
            exchange(there, here)
            while synced[0] == seen:
                loop = QEventLoop()
                pane.editor.body_did_sync.connect(loop.quit)
                if synced[0] == seen:
                    loop.exec()
            remote.append((time.perf_counter() - start) * 1000)
        pane.close()
        here.close()
        there.close()
    print(
        json.dumps(
            {
                "keystroke_p99_ms": round(p99(keystrokes), 2),
                "keystroke_median_ms": round(statistics.median(keystrokes), 2),
                "remote_edit_p99_ms": round(p99(remote), 2),
                "remote_edit_median_ms": round(statistics.median(remote), 2),
                "note_chars": chars,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
