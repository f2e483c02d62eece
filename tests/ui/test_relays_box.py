"""The Devices tab's relays box over a real node: add a folder relay, see it reachable with its
uploads, refuse a bad address with one line, remove it."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from pytestqt.qtbot import QtBot

from sync.relay import config
from ui.devices import DevicesPanel, NodeSource
from ui.qt import Qt
from ui.relays import RelaysBox

from .conftest import NodeApp

pytestmark = pytest.mark.timeout(120)


def test_add_watch_and_remove_a_relay_from_the_devices_tab(
    qtbot: QtBot, node_apps: Callable[[str], NodeApp], tmp_path: object
) -> None:
    app = node_apps("desk")
    source = NodeSource(app.service)
    panel = DevicesPanel(app.backend, source)
    qtbot.addWidget(panel)
    panel.show()
    box = panel.findChild(RelaysBox)
    assert box is not None
    assert box.table.rowCount() == 0

    box.address.setText("ftp://nowhere")
    qtbot.mouseClick(box.add_button, Qt.MouseButton.LeftButton)
    assert (
        box.message.text() == "not a relay address: 'ftp://nowhere' (use s3://BUCKET/PREFIX or folder:PATH)"
    )
    assert config.load(app.dir) == []

    folder = app.dir.parent / "Sync"
    box.address.setText(f"folder:{folder}")
    qtbot.mouseClick(box.add_button, Qt.MouseButton.LeftButton)
    assert box.table.rowCount() == 1
    assert box.table.item(0, 0).text() == f"folder:{folder}"  # type: ignore[union-attr]

    def shown() -> bool:
        source.ask()
        box.refresh()
        state = box.table.item(0, 1)
        upload = box.table.item(0, 2)
        return bool(state and upload and state.text() == "reachable" and upload.text().endswith("s ago"))

    qtbot.waitUntil(shown, timeout=30_000)
    assert "bytes" in box.table.item(0, 5).text()  # type: ignore[union-attr]
    assert any(folder.rglob("*"))  # the node wrote its key and first segment there

    if os.environ.get("RELAY_BOX_PNG"):  # to look at it: RELAY_BOX_PNG=out.png pytest ...
        panel.resize(900, 700)
        panel.grab().save(os.environ["RELAY_BOX_PNG"])
    box.table.selectRow(0)
    qtbot.mouseClick(box.remove_button, Qt.MouseButton.LeftButton)
    assert box.table.rowCount() == 0
    assert box.message.text() == f"Removed folder:{folder}; what it holds was left in place."
    grab = panel.grab()
    assert not grab.isNull()
