"""The main window, menus and shortcuts, the devices panel and settings, driven headless."""

from __future__ import annotations

import concurrent.futures
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from ui import settings as ui_settings
from ui.app import make_window
from ui.backend import Backend
from ui.devices import DevicesPanel, Invite, PeerStatus
from ui.main_window import MainWindow
from ui.qt import QMessageBox, QSettings, Qt

from .conftest import DEVICE_A, DEVICE_B, Library


@pytest.fixture
def window(qtbot: QtBot, backend: Backend, library: Library) -> MainWindow:
    win = MainWindow(backend, library.dir)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.window_did_paint, timeout=5000):
        win.show()
    return win


def test_window_shows_tabs_and_offline_indicator(qtbot: QtBot, window: MainWindow) -> None:
    tabs = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert tabs == ["Calendar", "Notes", "Devices"]
    qtbot.waitUntil(lambda: "Offline" in window.online_label.text())  # two members: paired
    assert window.import_action.text()
    assert window.export_action.text()


def test_new_note_shortcut_opens_an_empty_note(qtbot: QtBot, window: MainWindow, backend: Backend) -> None:
    qtbot.waitUntil(lambda: window.notes.loaded)
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.notes.editor.note is not None and window.notes.editor.body.isEnabled())
    assert window.tabs.currentWidget() is window.notes
    note = window.notes.editor.note
    qtbot.waitUntil(lambda: window.notes.model.ids() == [note])
    assert backend.call(lambda r: list(r.entities("note"))) == [note]


def test_edit_menu_undo_reverts_a_field_change(qtbot: QtBot, window: MainWindow, backend: Backend) -> None:
    note = backend.call(lambda r: r.create("note", {"title": "One"}))
    qtbot.waitUntil(lambda: note in window.notes.model.ids())
    window.tabs.setCurrentWidget(window.notes)
    window.notes.select(note)
    editor = window.notes.editor
    qtbot.waitUntil(lambda: editor.title.text() == "One")
    editor.title.setFocus()
    editor.title.selectAll()
    qtbot.keyClicks(editor.title, "Two")
    qtbot.keyClick(editor.title, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: backend.call(lambda r: r.values(note)["title"]) == "Two")
    window.notes.list.setFocus()
    window.undo_action.trigger()
    qtbot.waitUntil(lambda: backend.call(lambda r: r.values(note)["title"]) == "One")
    window.redo_action.trigger()
    qtbot.waitUntil(lambda: backend.call(lambda r: r.values(note)["title"]) == "Two")


def test_devices_panel_lists_members_and_renames(qtbot: QtBot, window: MainWindow, backend: Backend) -> None:
    panel = window.devices
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2)
    assert DEVICE_A in panel.me.text()
    assert "Desk" in panel.me.text()
    names = {panel.table.item(r, 0).text() for r in range(2)}  # type: ignore[union-attr]
    assert names == {"Desk", "Laptop"}
    panel.select_device(DEVICE_B)
    qtbot.keyClicks(panel.new_name, "Old laptop")
    qtbot.mouseClick(panel.rename_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: backend.call(lambda r: r.members())[DEVICE_B] == "Old laptop")
    qtbot.waitUntil(
        lambda: "Old laptop" in {panel.table.item(r, 0).text() for r in range(2)}  # type: ignore[union-attr]
    )


def test_devices_panel_revokes_a_member(
    qtbot: QtBot, window: MainWindow, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = window.devices
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2)
    monkeypatch.setattr(QMessageBox, "question", lambda *_a, **_k: QMessageBox.StandardButton.Yes)
    panel.select_device(DEVICE_B)
    qtbot.mouseClick(panel.revoke_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1)
    assert backend.call(lambda r: r.members()) == {DEVICE_A: "Desk"}


class StaticSync:
    """A sync source reporting fixed peers (the network is not what this test is about)."""

    def __init__(self) -> None:
        self.online = False

    def peers(self) -> list[PeerStatus]:
        return [PeerStatus(DEVICE_B, self.online, None, 0.4 if self.online else None)]

    def discovered(self) -> list[str]:
        return [DEVICE_B]

    def invite(self) -> concurrent.futures.Future[Invite]:
        future: concurrent.futures.Future[Invite] = concurrent.futures.Future()
        future.set_result(Invite("123-456", ["127.0.0.1"], 4000))
        return future

    def join(self, code: str, host: str, port: int) -> concurrent.futures.Future[None]:
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        future.set_exception(ValueError("wrong code"))
        return future


def test_devices_panel_shows_peers_invite_code_and_online_state(qtbot: QtBot, backend: Backend) -> None:
    sync = StaticSync()
    panel = DevicesPanel(backend, sync)
    qtbot.addWidget(panel)
    panel.reload()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2)
    assert not panel.online
    sync.online = True
    with qtbot.waitSignal(panel.online_did_change, timeout=3000) as blocker:
        pass
    assert blocker.args == [True]
    qtbot.mouseClick(panel.invite_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.code.text() == "123-456")
    assert "Nearby" in panel.discovered.text()


def test_settings_dialog_saves_the_data_folder(qtbot: QtBot, tmp_path: Path) -> None:
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    dialog = ui_settings.SettingsDialog(tmp_path / "data")
    qtbot.addWidget(dialog)
    dialog.folder.setText(str(tmp_path / "elsewhere"))
    dialog.accept()
    assert ui_settings.saved_data_dir() == tmp_path / "elsewhere"
    ui_settings.save_data_dir(None)
    assert ui_settings.saved_data_dir() is None


def test_first_run_creates_identity_and_library(qtbot: QtBot, tmp_path: Path) -> None:
    backend, window = make_window(tmp_path / "data")
    qtbot.addWidget(window)
    try:
        with qtbot.waitSignal(window.views_did_load, timeout=5000):
            window.show()  # views are built just after the first paint
        qtbot.waitUntil(lambda: window.devices.members is not None)
        members = window.devices.members
        assert members is not None
        assert list(members.names) == [members.device]
        assert len(members.device) == 64  # the SHA-256 of this device's certificate
    finally:
        window.close()
        backend.close()


def test_closing_the_window_stops_the_reminder_ticks(qtbot: QtBot, tmp_path: Path) -> None:
    # The library closes after the window; a tick after that would ask a closed service.
    backend, window = make_window(tmp_path / "data")
    qtbot.addWidget(window)
    try:
        with qtbot.waitSignal(window.views_did_load, timeout=5000):
            window.show()
        assert window.reminders is not None
        timer = window.reminders.timer
        qtbot.waitUntil(timer.isActive)
        window.close()
        assert not timer.isActive()
    finally:
        backend.close()
