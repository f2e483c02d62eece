"""The Devices tab's relays box: the object stores and synced folders this device syncs through
beyond one network, their health, and adding or removing one.

Health comes from the running node's status (reachable, last upload and download, segments
waiting, bytes in the store); the list itself is ``relays.json`` in the data folder, which the
node re-reads within seconds (``sync.relay.config``, the same code as ``localfirst relay``).
S3 credentials come from the app's environment (``AWS_*``); none is ever shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sync.relay import config
from sync.relay.store import BadRelayAddress
from ui.qt import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    Qt,
    QTableWidgetItem,
    QTimer,
    QVBoxLayout,
    qconnect,
)
from ui.tables import read_only_table

REFRESH_MS = 1000


def _ago(when: float | None) -> str:
    if when is None:
        return "never"
    seconds = max(0, int(time.time() - when))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


def _stored(health: dict[str, Any]) -> str:
    if "segments" not in health:
        return "-"
    count = int(health["segments"])
    return f"{count} segment{'s' * (count != 1)}, {int(health['bytes']):,} bytes"


class RelaysBox(QGroupBox):
    """Relays: a table of their health, and add/remove."""

    COLUMNS = ("Relay", "State", "Last upload", "Last download", "Waiting", "Stored")

    def __init__(self, data_dir: Path | None, status: Callable[[], list[dict[str, Any]]]) -> None:
        super().__init__("Sync beyond this network (object store or synced folder)")
        self.data_dir = data_dir
        self._status = status
        self.table = read_only_table(self.COLUMNS)
        self.table.setMaximumHeight(140)  # a device has a relay or two; the members come first
        self.address = QLineEdit()
        self.address.setPlaceholderText("s3://BUCKET/PREFIX or folder:PATH")
        self.endpoint = QLineEdit()
        self.endpoint.setPlaceholderText("S3 endpoint URL (not for AWS or folders)")
        self.add_button = QPushButton("Add relay")
        self.remove_button = QPushButton("Remove")
        self.message = QLabel("")
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        row = QHBoxLayout()
        row.addWidget(self.address, 2)
        row.addWidget(self.endpoint, 1)
        row.addWidget(self.add_button)
        row.addWidget(self.remove_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(row)
        layout.addWidget(self.message)
        qconnect(self.add_button.clicked, self.add)
        qconnect(self.remove_button.clicked, self.remove_selected)
        for widget in (self.address, self.endpoint, self.add_button, self.remove_button):
            widget.setEnabled(data_dir is not None)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        qconnect(self._timer.timeout, self.refresh)
        self._timer.start()
        self.refresh()

    @classmethod
    def for_source(cls, source: object) -> RelaysBox:
        """The box over the devices panel's sync source (a running node's, or none)."""
        service = getattr(source, "service", None)
        data_dir = getattr(service, "data_dir", None)

        def status() -> list[dict[str, Any]]:
            latest = getattr(source, "status", None)
            return list(latest.get("relays", [])) if isinstance(latest, dict) else []

        return cls(Path(data_dir) if data_dir is not None else None, status)

    def refresh(self) -> None:
        """Show every configured relay with what the node last said of it."""
        configured = config.load(self.data_dir) if self.data_dir is not None else []
        health = {r.get("address"): r for r in self._status()}
        self.table.setRowCount(len(configured))
        for i, relay in enumerate(configured):
            h = health.get(relay.address, {})
            reach = h.get("reachable")
            state = {True: "reachable", False: "unreachable", None: "starting"}.get(reach, "starting")
            if h.get("error"):
                state += f": {h['error']}"
            cells = [
                relay.address,
                state,
                _ago(h.get("last_upload")) if h else "-",
                _ago(h.get("last_download")) if h else "-",
                str(h.get("pending", "-")),
                _stored(h),
            ]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, relay.address)
                self.table.setItem(i, col, item)

    def add(self) -> None:
        """Add the typed relay (checked: the address parses, credentials are usable)."""
        if self.data_dir is None:
            return
        try:
            cfg = config.add(
                self.data_dir, self.address.text().strip(), self.endpoint.text().strip() or None, None
            )
        except BadRelayAddress as exc:
            self.message.setText(str(exc))
            return
        self.message.setText(f"Added {cfg.address}; syncing through it within seconds.")
        self.address.clear()
        self.endpoint.clear()
        self.refresh()

    def remove_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if self.data_dir is None or not rows:
            return
        item = self.table.item(rows[0].row(), 0)
        if item is None:
            return
        address = str(item.data(Qt.ItemDataRole.UserRole))
        try:
            config.remove(self.data_dir, address)
        except BadRelayAddress as exc:
            self.message.setText(str(exc))
            return
        self.message.setText(f"Removed {address}; what it holds was left in place.")
        self.refresh()
