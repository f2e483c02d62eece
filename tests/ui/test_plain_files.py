"""File > Import…, Export… and Mirror folder… in the app, over a sync node (loopback only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from ui import settings as ui_settings
from ui.main_window import MainWindow
from ui.qt import QFileDialog, QMessageBox, QSettings

from .conftest import REPO_ICS, NodeApp

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def isolated_settings(tmp_path: Path) -> Iterator[None]:
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield
    ui_settings.save_mirror_folder(None)


def open_window(qtbot: QtBot, app: NodeApp) -> MainWindow:
    window = MainWindow(app.backend, app.dir)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.notes.loaded, timeout=10_000)
    return window


def test_import_and_export_from_the_file_menu(
    qtbot: QtBot, node_apps: Callable[[str], NodeApp], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = open_window(qtbot, node_apps("desk"))
    note = tmp_path / "Groceries.md"
    note.write_text("# Groceries\n\n- milk\n")
    bad = tmp_path / "broken.ics"
    bad.write_text("not a calendar")
    shown: list[str] = []
    monkeypatch.setattr(
        QFileDialog, "getOpenFileNames", lambda *_a: ([str(note), str(REPO_ICS), str(bad)], "")
    )
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text: shown.append(text))
    monkeypatch.setattr(QMessageBox, "information", lambda _p, _t, text: shown.append(text))
    window.import_action.trigger()
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    assert shown[0].startswith("Imported 2 file(s): 1 note(s), 1 calendar(s)")
    assert "error:" in shown[0]
    assert "broken.ics" in shown[0]
    qtbot.waitUntil(lambda: len(window.notes.model.ids()) == 1, timeout=10_000)

    out = tmp_path / "out"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a: str(out))
    window.export_action.trigger()
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=10_000)
    assert shown[1] == f"Wrote 2 file(s) into {out}."
    assert {p.suffix for p in out.iterdir()} == {".md", ".ics"}


def test_mirror_folder_both_ways(
    qtbot: QtBot,
    node_apps: Callable[[str], NodeApp],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    isolated_settings: None,
) -> None:
    del isolated_settings
    window = open_window(qtbot, node_apps("desk"))
    folder = tmp_path / "mirror"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a: str(folder))
    window.mirror_action.trigger()
    qtbot.waitUntil(lambda: window.mirror_folder.folder is not None, timeout=10_000)
    assert ui_settings.saved_mirror_folder() == folder

    # A note made in the app appears as a Markdown file.
    window.new_note()
    editor = window.notes.editor
    qtbot.waitUntil(lambda: editor.note is not None and editor.body.isEnabled(), timeout=10_000)
    qtbot.keyClicks(editor.title, "Ideas")
    editor.title.editingFinished.emit()
    qtbot.keyClicks(editor.body, "first thought")
    path = folder / "Ideas.md"
    qtbot.waitUntil(lambda: path.exists() and "first thought" in path.read_text(), timeout=10_000)

    # An edit made on disk by another program shows in the open editor.
    body = window.notes.editor.body
    cursor = body.textCursor()
    cursor.setPosition(0)
    body.setTextCursor(cursor)
    path.write_text(path.read_text().replace("first thought", "first thought, edited elsewhere"))
    qtbot.waitUntil(lambda: body.toPlainText() == "first thought, edited elsewhere", timeout=10_000)
    assert body.textCursor().position() == 0
    assert window.mirror_folder.folder == folder
    assert window.mirror_folder.errors() == []
    window.close()
    assert window.mirror_folder.folder is None
