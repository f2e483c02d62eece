"""The devices panel over real sync nodes on 127.0.0.1: invite, join, peers online, rename, revoke."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from ui.app import LOOPBACK, make_window
from ui.devices import DevicesPanel, NodeSource
from ui.qt import QMessageBox, Qt

from .conftest import NodeApp

pytestmark = pytest.mark.timeout(120)


def open_panel(qtbot: QtBot, app: NodeApp) -> tuple[DevicesPanel, NodeSource]:
    source = NodeSource(app.service)
    panel = DevicesPanel(app.backend, source)
    qtbot.addWidget(panel)
    panel.show()
    panel.reload()
    qtbot.waitUntil(lambda: panel.members is not None)
    return panel, source


def row_of(panel: DevicesPanel, device: str) -> int:
    for row in range(panel.table.rowCount()):
        item = panel.table.item(row, 0)
        if item is not None and item.data(Qt.ItemDataRole.UserRole) == device:
            return row
    return -1


def cell(panel: DevicesPanel, device: str, column: int) -> str:
    row = row_of(panel, device)
    item = panel.table.item(row, column) if row >= 0 else None
    return item.text() if item is not None else ""


def test_invite_join_rename_and_revoke_through_the_panel(
    qtbot: QtBot, node_apps: Callable[[str], NodeApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = node_apps("desk"), node_apps("laptop")
    desk, _ = open_panel(qtbot, a)
    laptop, _ = open_panel(qtbot, b)
    assert desk.table.rowCount() == laptop.table.rowCount() == 1
    assert not desk.online

    # Invite on the desk: the panel shows the code and where to reach this device.
    qtbot.mouseClick(desk.invite_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: desk.code.text() not in ("", "…"), timeout=10_000)
    code = re.fullmatch(r"(\d{2})-(\d{4})-(\d{4})", desk.code.text())
    assert code is not None, desk.code.text()
    # Addresses another device can dial (never the wildcard the listener binds), and a countdown.
    where = re.search(r"one of these addresses: (\S+):(\d+)$", desk.invite_help.text())
    assert where is not None, desk.invite_help.text()
    assert where[1] not in ("0.0.0.0", "[::]")
    assert re.fullmatch(r"expires in [12]:\d\d", desk.countdown.text()), desk.countdown.text()
    assert not desk.invite_button.isEnabled()

    # Join on the laptop: type the code (spaces for dashes) and the address as a person would.
    qtbot.keyClicks(laptop.join_code, " ".join(code.group(1, 2, 3)))
    qtbot.keyClicks(laptop.join_address, f"{where[1]}:{where[2]}")
    qtbot.mouseClick(laptop.join_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: laptop.table.rowCount() == 2 and desk.table.rowCount() == 2, timeout=20_000)
    # The used code leaves the screen, and the panel says who joined.
    qtbot.waitUntil(lambda: desk.code.text() == "", timeout=5000)
    assert desk.countdown.text() == ""
    assert desk.invite_help.text() == "Paired with laptop. The code is used up."
    assert desk.invite_button.isEnabled()
    assert laptop.members is not None
    assert desk.members is not None
    assert set(laptop.members.names) == set(desk.members.names)
    desk_id, laptop_id = desk.members.device, laptop.members.device
    assert laptop.members.names[desk_id] == "desk"

    # Both see each other online, with a last sync, and the status bar indicator flips.
    qtbot.waitUntil(lambda: desk.online and laptop.online, timeout=10_000)
    qtbot.waitUntil(lambda: cell(desk, laptop_id, 2) == "online", timeout=5000)
    assert cell(desk, laptop_id, 3) == "just now"
    assert cell(laptop, desk_id, 4) == "in sync"
    assert "Online: 1 device(s) connected" in laptop.sync_state.text()

    # Rename the desk from the laptop: the name syncs to the desk's panel.
    laptop.select_device(desk_id)
    qtbot.keyClicks(laptop.new_name, "Study desk")
    qtbot.mouseClick(laptop.rename_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: cell(desk, desk_id, 0) == "Study desk", timeout=10_000)

    # Revoke the laptop on the desk: it leaves the desk's list and its session is closed.
    monkeypatch.setattr(QMessageBox, "question", lambda *_a, **_k: QMessageBox.StandardButton.Yes)
    desk.select_device(laptop_id)
    qtbot.mouseClick(desk.revoke_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: desk.table.rowCount() == 1, timeout=10_000)
    qtbot.waitUntil(lambda: not desk.online, timeout=10_000)
    status = a.service.status().result(10)
    assert laptop_id not in status["members"]
    assert not status["peers"][laptop_id]["online"]


def test_a_wrong_code_tells_the_user_and_changes_nothing(
    qtbot: QtBot, node_apps: Callable[[str], NodeApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = node_apps("desk"), node_apps("laptop")
    desk, source = open_panel(qtbot, a)
    laptop, _ = open_panel(qtbot, b)
    qtbot.mouseClick(desk.invite_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: source.invitation is not None, timeout=10_000)
    assert source.invitation is not None
    code, host, port = source.invitation
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text: warnings.append(text))
    wrong = code[:-1] + str((int(code[-1]) + 1) % 10)  # the right nameplate, a wrong secret
    qtbot.keyClicks(laptop.join_code, wrong)
    qtbot.keyClicks(laptop.join_address, f"{host}:{port}")
    qtbot.mouseClick(laptop.join_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(warnings), timeout=20_000)
    assert warnings[0].startswith("Pairing failed")
    assert desk.table.rowCount() == laptop.table.rowCount() == 1
    # One try: the inviter takes the used-up code off the screen and says so.
    qtbot.waitUntil(lambda: desk.code.text() == "", timeout=10_000)
    assert desk.countdown.text() == ""
    assert desk.invite_help.text().startswith("Pairing failed (")
    assert desk.invite_help.text().endswith("the code is used up. Press Invite for a new one.")
    assert desk.invite_button.isEnabled()


def test_join_with_the_code_only_searches_the_network(
    qtbot: QtBot, node_apps: Callable[..., NodeApp]
) -> None:
    a, b = node_apps("desk", discovery=True), node_apps("laptop", discovery=True)
    desk, source = open_panel(qtbot, a)
    laptop, _ = open_panel(qtbot, b)
    if a.service.started.result(10)._discovery is None:  # Node.start logged why
        pytest.skip("multicast on loopback is unavailable here")
    qtbot.mouseClick(desk.invite_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: source.invitation is not None, timeout=10_000)
    assert source.invitation is not None
    qtbot.keyClicks(laptop.join_code, source.invitation[0])  # no address: found by zeroconf
    qtbot.mouseClick(laptop.join_button, Qt.MouseButton.LeftButton)
    assert "Searching the network" in laptop.join_state.text()
    assert not laptop.join_button.isEnabled()
    qtbot.waitUntil(lambda: laptop.table.rowCount() == 2 and desk.table.rowCount() == 2, timeout=20_000)
    assert laptop.join_state.text() == ""
    assert laptop.join_button.isEnabled()


def test_join_without_address_or_discovery_says_so(
    qtbot: QtBot, node_apps: Callable[[str], NodeApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    laptop, _ = open_panel(qtbot, node_apps("laptop"))  # the tests' nodes run without discovery
    warnings: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text: warnings.append(text))
    qtbot.keyClicks(laptop.join_code, "1234 5678")
    qtbot.mouseClick(laptop.join_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(warnings), timeout=10_000)
    assert "no address given and discovery is off" in warnings[0]
    assert laptop.join_state.text() == ""
    assert laptop.table.rowCount() == 1


def test_the_app_window_runs_over_a_node(qtbot: QtBot, tmp_path: Path) -> None:
    backend, window = make_window(tmp_path / "data", lazy=False, network=LOOPBACK)
    qtbot.addWidget(window)
    try:
        window.show()
        assert isinstance(window.devices.sync, NodeSource)
        qtbot.waitUntil(lambda: window.devices.members is not None, timeout=10_000)
        # Alone in its library: nothing to be offline from (regression: an alarming "Offline").
        qtbot.waitUntil(lambda: "This device only" in window.devices.sync_state.text(), timeout=5000)
        assert window.online_label.text() == "This device only"
        # The first run over a node makes the default calendar too.
        qtbot.waitUntil(lambda: backend.call(lambda r: len(r.entities("calendar"))) == 1, timeout=5000)
        note = backend.call(lambda r: r.create("note", {"title": "over the node"}))
        qtbot.waitUntil(lambda: note in window.notes.model.ids(), timeout=5000)
    finally:
        window.close()
        backend.close()
