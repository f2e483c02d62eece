"""The File menu: Print… and Save as PDF… (the calendar view on screen fits one landscape page;
the open note's text flows over as many pages as it needs; a tab with nothing to print says so),
and one Preferences… that also shows where the data and mirror folders are."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from localfirst import notes
from ui import preferences
from ui.backend import Backend
from ui.main_window import MainWindow
from ui.qt import QAction, QKeySequence, QLabel, QMenu, QPushButton, QSettings

from .conftest import Library
from .test_window_issue14 import open_window, pane_of


@pytest.fixture
def window(qtbot: QtBot, backend: Backend, library: Library) -> Iterator[MainWindow]:
    win = open_window(qtbot, backend, library.dir)
    yield win
    win.close()


def _pages(path: Path) -> list[bytes]:
    """The page objects of a PDF file, and a check that it is one."""
    data = path.read_bytes()
    assert data.startswith(b"%PDF-")
    return re.findall(rb"/Type\s*/Page\b", data)


def test_the_calendar_view_prints_on_one_landscape_page(qtbot: QtBot, window: MainWindow, tmp_path: Path):
    qtbot.waitUntil(lambda: window.loaded)
    window.tabs.setCurrentWidget(window.calendar)
    assert window.print_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Print)
    assert window.print_target() is pane_of(window).view
    out = tmp_path / "week.pdf"
    window.save_pdf(out)
    assert len(_pages(out)) == 1
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)", out.read_bytes())
    assert box is not None
    assert float(box.group(1)) > float(box.group(2))  # landscape, like the view


def test_a_long_note_prints_over_several_pages(
    qtbot: QtBot, window: MainWindow, backend: Backend, tmp_path: Path
):
    qtbot.waitUntil(lambda: window.loaded)
    body = "".join(f"Line {i} of a long note\n" for i in range(400))
    note = backend.call(lambda r: notes.create_note(r, {"title": "Long"}).entities[0])
    backend.call(lambda r: r.edit_text(note, [(0, 0, body)]))
    window.tabs.setCurrentWidget(window.notes)
    window.notes.select(note)
    qtbot.waitUntil(lambda: window.notes.editor.body.toPlainText() == body)
    assert window.print_target() is window.notes.editor.body
    out = tmp_path / "note.pdf"
    window.save_pdf(out)
    assert len(_pages(out)) >= 5


def test_the_devices_tab_has_nothing_to_print(qtbot: QtBot, window: MainWindow, tmp_path: Path):
    qtbot.waitUntil(lambda: window.loaded)
    window.tabs.setCurrentWidget(window.devices)
    assert window.print_target() is None
    window.save_pdf(tmp_path / "nothing.pdf")
    assert not (tmp_path / "nothing.pdf").exists()
    assert window.statusBar().currentMessage() == "Nothing to print in the Devices tab"


def test_one_preferences_entry_shows_the_data_and_mirror_folders(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    store = QSettings(str(tmp_path / "prefs.ini"), QSettings.Format.IniFormat)
    monkeypatch.setattr(preferences, "_store", lambda: store)
    file_menu = window.menuBar().actions()[0].menu()
    assert isinstance(file_menu, QMenu)
    names = [a.text() for a in file_menu.actions() if isinstance(a, QAction) and a.text()]
    assert names == [
        "&Import…",
        "&Export…",
        "&Mirror folder…",
        "&Print…",
        "Save as P&DF…",
        "&Preferences…",
        "&Quit",
    ]
    assert window.preferences_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Preferences)
    dialog = preferences.open_preferences(window)
    qtbot.addWidget(dialog)
    labels = [w.text() for w in dialog.findChildren(QLabel)]
    assert str(window.data_dir) in labels
    assert "None" in labels  # no mirror folder chosen
    buttons = [b.text() for b in dialog.findChildren(QPushButton)]
    assert {"Change…", "Choose…"} <= set(buttons)
    dialog.reject()
