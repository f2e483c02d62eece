"""The devices panel: this device, the library's members (rename, revoke), peers' sync state,
discovered devices, and pairing (invite shows a one-time code, join enters one).

Members come from the replica (through the backend); everything about the network comes from a
:class:`SyncSource`, which a running sync node satisfies. Without one the panel says the
device is offline and pairing is unavailable.
"""

from __future__ import annotations

import concurrent.futures
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from localfirst import Changes, Replica
from ui.backend import Backend
from ui.qt import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QObject,
    QProgressBar,
    QPushButton,
    Qt,
    QTableWidget,
    QTableWidgetItem,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
    qconnect,
)
from ui.relays import RelaysBox

if TYPE_CHECKING:
    from sync.service import NodeService

#: How often the panel asks the sync source for peer status (milliseconds).
STATUS_EVERY_MS = 1000


@dataclass(frozen=True, slots=True)
class PeerStatus:
    """A member's connection as the sync layer sees it."""

    device: str
    online: bool
    last_sync: float | None = None  # time.time() of the last completed exchange
    progress: float | None = None  # 0..1 while catching up, None when in sync


class SyncSource(Protocol):
    """What the panel needs from the sync layer (a node satisfies it)."""

    def peers(self) -> list[PeerStatus]: ...

    def discovered(self) -> list[str]: ...

    def invite(self) -> concurrent.futures.Future[str]: ...

    def join(self, code: str, host: str, port: int) -> concurrent.futures.Future[None]:
        """Pair with the inviting device at ``host:port``; an empty host (port 0) asks the
        source to search the local network for it instead."""
        ...


@dataclass(frozen=True, slots=True)
class Members:
    device: str
    names: dict[str, str]


def read_members(replica: Replica) -> Members:
    return Members(replica.device, replica.members())


def _short(device: str) -> str:
    return f"{device[:8]}…{device[-4:]}" if len(device) > 16 else device


def _ago(when: float | None) -> str:
    if when is None:
        return "never"
    seconds = max(0, int(time.time() - when))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(when))


class _Relay(QObject):
    """Brings a sync future's outcome back to the GUI thread."""

    done = Signal(object, object)


class DevicesPanel(QWidget):
    """This device, members, peers and pairing."""

    members_did_load = Signal()
    #: Whether any peer is online (for the status bar's offline indicator).
    online_did_change = Signal(bool)

    COLUMNS = ("Name", "Device id", "Status", "Last sync", "Progress")

    def __init__(self, backend: Backend, sync: SyncSource | None = None) -> None:
        super().__init__()
        self.backend = backend
        self.sync = sync
        self.members: Members | None = None
        self.online = False
        self._relay = _Relay()
        qconnect(self._relay.done, lambda fn, arg: fn(arg))

        self.me = QLabel("This device: loading…")
        self.me.setTextFormat(Qt.TextFormat.PlainText)
        self.me.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.new_name = QLineEdit()
        self.new_name.setPlaceholderText("New name for the selected device")
        self.rename_button = QPushButton("Rename")
        self.revoke_button = QPushButton("Revoke")
        self.revoke_button.setToolTip("Remove the device from the library; it gets no further changes")
        self.discovered = QLabel("")
        self.discovered.setTextFormat(Qt.TextFormat.PlainText)
        self.invite_button = QPushButton("Invite a device…")
        self.code = QLabel("")
        self.code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.code.setStyleSheet("font-size: 20px; font-weight: bold; letter-spacing: 3px;")
        self.join_code = QLineEdit()
        self.join_code.setPlaceholderText("Code shown on the other device, like 42-1234-5678")
        self.join_address = QLineEdit()
        self.join_address.setPlaceholderText("host:port (optional: found on the network)")
        self.join_address.setToolTip(
            "Leave empty to find the inviting device on the local network; "
            "give its host:port where the network does not carry multicast"
        )
        self.join_button = QPushButton("Join")
        self.join_state = QLabel("")
        self.join_state.setTextFormat(Qt.TextFormat.PlainText)
        self.sync_state = QLabel("")

        members_box = QGroupBox("Devices in this library")
        members_layout = QVBoxLayout(members_box)
        members_layout.addWidget(self.table)
        actions = QHBoxLayout()
        actions.addWidget(self.new_name, 1)
        actions.addWidget(self.rename_button)
        actions.addWidget(self.revoke_button)
        members_layout.addLayout(actions)
        pair_box = QGroupBox("Pair a device")
        pair = QVBoxLayout(pair_box)
        invite_row = QHBoxLayout()
        invite_row.addWidget(self.invite_button)
        invite_row.addWidget(self.code, 1)
        pair.addLayout(invite_row)
        join_row = QHBoxLayout()
        join_row.addWidget(self.join_code, 1)
        join_row.addWidget(self.join_address, 1)
        join_row.addWidget(self.join_button)
        pair.addLayout(join_row)
        pair.addWidget(self.join_state)
        pair.addWidget(self.discovered)
        layout = QVBoxLayout(self)
        layout.addWidget(self.me)
        layout.addWidget(self.sync_state)
        layout.addWidget(members_box, 1)
        layout.addWidget(pair_box)
        layout.addWidget(RelaysBox.for_source(sync))

        qconnect(self.rename_button.clicked, self.rename_selected)
        qconnect(self.revoke_button.clicked, self.revoke_selected)
        qconnect(self.invite_button.clicked, self.invite)
        qconnect(self.join_button.clicked, self.join)
        qconnect(backend.changed, self._on_changed)
        self._timer = QTimer(self)
        self._timer.setInterval(STATUS_EVERY_MS)
        qconnect(self._timer.timeout, self._refresh_peers)
        for widget in (self.invite_button, self.join_button, self.join_code, self.join_address):
            widget.setEnabled(sync is not None)
        if sync is not None:
            self._timer.start()
        self._refresh_peers()

    # -- members -------------------------------------------------------------------------------

    def reload(self) -> None:
        self.backend.op(read_members).success(self._on_members).run_in_background()

    def _on_changed(self, changes: object) -> None:
        # Reading the members is cheap (a handful of device documents); redrawing only if changed.
        if isinstance(changes, Changes) and self.members is not None and changes:
            self.reload()

    def _on_members(self, members: Members) -> None:
        if members == self.members:
            return
        self.members = members
        name = members.names.get(members.device, "") or "(unnamed)"
        self.me.setText(f"This device: {name}   id {members.device}")
        self._fill()
        self.members_did_load.emit()

    def _fill(self) -> None:
        members = self.members
        if members is None:
            return
        peers = {p.device: p for p in (self.sync.peers() if self.sync is not None else [])}
        selected = self.selected()
        self.table.setRowCount(len(members.names))
        order = sorted(members.names, key=lambda d: (d != members.device, members.names[d].casefold(), d))
        for row, device in enumerate(order):
            peer = peers.get(device)
            name = members.names[device] or "(unnamed)"
            if device == members.device:
                status, last = "this device", ""
            elif peer is None:
                status, last = "offline", "never"
            else:
                status, last = ("online" if peer.online else "offline"), _ago(peer.last_sync)
            cells = [name, _short(device), status, last]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, device)
                self.table.setItem(row, column, item)
            progress = peer.progress if peer is not None else None
            if progress is None:
                self.table.removeCellWidget(row, 4)
                self.table.setItem(row, 4, QTableWidgetItem("in sync" if peer and peer.online else ""))
            else:
                bar = QProgressBar()
                bar.setRange(0, 100)
                bar.setValue(int(progress * 100))
                self.table.setCellWidget(row, 4, bar)
            if device == selected:
                self.table.selectRow(row)

    def selected(self) -> str | None:
        items = self.table.selectedItems()
        return str(items[0].data(Qt.ItemDataRole.UserRole)) if items else None

    def select_device(self, device: str) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == device:
                self.table.selectRow(row)

    def rename_selected(self) -> None:
        device, name = self.selected(), self.new_name.text().strip()
        if device is None or not name:
            return
        self.backend.op(lambda r: r.put("device", device, {"name": name[:200]})).success(
            lambda _w: self.new_name.clear()
        ).run_in_background()

    def revoke_selected(self) -> None:
        device, members = self.selected(), self.members
        if device is None or members is None:
            return
        if device == members.device:
            QMessageBox.information(self, "Revoke", "This device cannot revoke itself.")
            return
        name = members.names.get(device, "") or _short(device)
        answer = QMessageBox.question(
            self, "Revoke device", f"Remove {name} from the library? It will receive no further changes."
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.backend.op(lambda r: r.put("device", device, {"revoked": True})).run_in_background()

    # -- sync ----------------------------------------------------------------------------------

    def _refresh_peers(self) -> None:
        sync = self.sync
        online = False
        if sync is None:
            self.sync_state.setText("Offline: sync is not running on this device.")
        else:
            peers = sync.peers()
            online = any(p.online for p in peers)
            count = sum(p.online for p in peers)
            self.sync_state.setText(f"Online: {count} device(s) connected" if online else "Offline")
            found = sync.discovered()
            self.discovered.setText(
                "Nearby: " + ", ".join(_short(d) for d in found) if found else "No other devices found nearby"
            )
            self._fill()
        if online != self.online:
            self.online = online
            self.online_did_change.emit(online)

    def _later(self, future: concurrent.futures.Future[object], fn: object) -> None:
        future.add_done_callback(lambda f: self._relay.done.emit(fn, f))

    def invite(self) -> None:
        if self.sync is None:
            return
        self.code.setText("…")
        self._later(self.sync.invite(), self._on_invite)  # type: ignore[arg-type]

    def _on_invite(self, future: concurrent.futures.Future[str]) -> None:
        exc = future.exception()
        self.code.setText(f"Could not invite: {exc}" if exc else future.result())

    def join(self) -> None:
        if self.sync is None:
            return
        code, address = self.join_code.text().strip(), self.join_address.text().strip()
        if not code:
            QMessageBox.warning(self, "Join", "Enter the code shown on the other device.")
            return
        if address:
            host, _, port = address.rpartition(":")
            host = host.strip("[]")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                QMessageBox.warning(
                    self, "Join", "The address is host:port, or leave it empty to search the network."
                )
                return
            future = self.sync.join(code, host, int(port))
            self.join_state.setText(f"Pairing with {host}:{port}…")
        else:
            future = self.sync.join(code, "", 0)
            self.join_state.setText("Searching the network for the inviting device…")
        self.join_button.setEnabled(False)
        self._later(future, self._on_join)  # type: ignore[arg-type]

    def _on_join(self, future: concurrent.futures.Future[None]) -> None:
        self.join_button.setEnabled(True)
        self.join_state.setText("")
        exc = future.exception()
        if exc is not None:
            QMessageBox.warning(self, "Join", f"Pairing failed: {exc}")
        else:
            self.join_code.clear()
            self.reload()


class NodeSource:
    """The devices panel's :class:`SyncSource` over a running node (``sync.service.NodeService``).

    The panel asks on the GUI thread, so answers come from the node's last status, and each
    question asks the node for a fresh one in the background (the panel asks every second).
    """

    def __init__(self, service: NodeService) -> None:
        self.service = service
        self.status: dict[str, Any] | None = None
        self._asking = False
        #: The last invitation: (code, host, port), for whoever shows or tests it.
        self.invitation: tuple[str, str, int] | None = None
        self.ask()

    def ask(self) -> None:
        """Ask the node for its status; the answer replaces ``status`` when it comes."""
        if self._asking:
            return
        self._asking = True
        try:
            future = self.service.status()
        except Exception:
            self._asking = False
            return
        future.add_done_callback(self._on_status)

    def _on_status(self, future: concurrent.futures.Future[dict[str, Any]]) -> None:
        self._asking = False
        if not future.cancelled() and future.exception() is None:
            self.status = future.result()

    def peers(self) -> list[PeerStatus]:
        self.ask()
        status = self.status
        if status is None:
            return []
        out = []
        for device, peer in status["peers"].items():
            progress = peer.get("progress")
            done = progress[0] / progress[1] if progress and progress[1] else None
            out.append(PeerStatus(device, bool(peer["online"]), peer.get("last_sync"), done))
        return out

    def discovered(self) -> list[str]:
        status = self.status
        if status is None:
            return []
        members = set(status["members"])
        return [d for d in status.get("discovered", []) if d not in members]

    def invite(self) -> concurrent.futures.Future[str]:
        shown: concurrent.futures.Future[str] = concurrent.futures.Future()

        def done(future: concurrent.futures.Future[tuple[str, str, int]]) -> None:
            exc = future.exception()
            if exc is not None:
                shown.set_exception(exc)
                return
            code, host, port = self.invitation = future.result()
            shown.set_result(f"{code}   on the other device, join {host}:{port}")

        self.service.invite().add_done_callback(done)
        return shown

    def join(self, code: str, host: str, port: int) -> concurrent.futures.Future[None]:
        """Join through the node: at ``host:port``, or (empty host) found by its discovery."""
        joined: concurrent.futures.Future[None] = concurrent.futures.Future()

        def done(future: concurrent.futures.Future[Any]) -> None:
            exc = future.exception()
            if exc is not None:
                joined.set_exception(exc)
            else:
                joined.set_result(None)
                self.ask()

        if host:
            self.service.join(code, host, port).add_done_callback(done)
        else:
            self.service.join(code).add_done_callback(done)
        return joined
