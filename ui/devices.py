"""The devices panel: this device, the library's members (rename, revoke), peers' sync state,
discovered devices, and pairing (invite shows a one-time code, join enters one).

Members come from the replica (through the backend); everything about the network comes from a
:class:`SyncSource`, which a running sync node satisfies. Without one the panel says the
device is offline and pairing is unavailable.
"""

from __future__ import annotations

import concurrent.futures
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from localfirst import Changes, Replica
from ui.backend import Backend
from ui.qt import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QObject,
    QProgressBar,
    QPushButton,
    Qt,
    QTableWidgetItem,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
    qconnect,
)
from ui.relays import RelaysBox
from ui.tables import read_only_table

if TYPE_CHECKING:
    from sync.service import NodeService

#: How long a pairing code lives, in seconds (sync.const.PAIRING_CODE_LIFETIME_S, DESIGN.md:
#: "expires in 2 minutes"); kept here so the panel loads without the sync layer.
PAIRING_CODE_LIFETIME_S = 120.0
#: Addresses a listener binds to that no other device can dial.
WILDCARDS = frozenset({"0.0.0.0", "::", ""})

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

    def invite(self) -> concurrent.futures.Future[Invite]: ...

    def join(self, code: str, host: str, port: int) -> concurrent.futures.Future[None]:
        """Pair with the inviting device at ``host:port``; an empty host (port 0) asks the
        source to search the local network for it instead."""
        ...


@dataclass(frozen=True, slots=True)
class Invite:
    """An open invitation as the panel shows it: the code, where the joiner can dial, how long
    the code lives (seconds)."""

    code: str
    addresses: list[str]
    port: int
    lifetime: float = PAIRING_CODE_LIFETIME_S
    #: How the invitation ended, once it has: "" paired, else why the code is used up.
    ended: concurrent.futures.Future[str] | None = None

    def help(self) -> str:
        """What to do on the other device (only addresses another device can dial)."""
        usable = [a for a in self.addresses if a not in WILDCARDS]
        first = "On the other device, open Devices and enter this code: it finds this device on the network."
        if not usable or not self.port:
            return first
        where = ", ".join(f"[{a}]:{self.port}" if ":" in a else f"{a}:{self.port}" for a in usable)
        return f"{first} If it does not, enter the code with one of these addresses: {where}"


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
        #: When the shown invitation's code expires (time.monotonic()), and the members then.
        self.invite_expires: float | None = None
        self._members_at_invite: set[str] = set()
        self._relay = _Relay()
        qconnect(self._relay.done, lambda fn, arg: fn(arg))
        self._build_me()
        self._build_members()
        self._build_pairing()
        self._lay_out()
        self._connect()

    def _build_me(self) -> None:
        self.me = QLabel("This device: loading…")
        self.me.setTextFormat(Qt.TextFormat.PlainText)
        self.me.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.my_name = QLineEdit()
        self.my_name.setMaxLength(200)
        self.my_name.setPlaceholderText("Name of this device")
        self.my_name.setToolTip("How your other devices list this one")
        self.my_name_button = QPushButton("Rename this device")
        self.sync_state = QLabel("")
        self.solo_hint = QLabel(
            "Only this device so far. Invite another device below to keep the same calendar "
            "and notes on both."
        )
        self.solo_hint.setWordWrap(True)
        self.solo_hint.hide()

    def _build_members(self) -> None:
        self.table = read_only_table(self.COLUMNS)
        self.new_name = QLineEdit()
        self.new_name.setPlaceholderText("New name for the selected device")
        self.rename_button = QPushButton("Rename")
        self.revoke_button = QPushButton("Revoke")
        self.revoke_button.setToolTip("Remove the device from the library; it gets no further changes")

    def _build_pairing(self) -> None:
        self.discovered = QLabel("")
        self.discovered.setTextFormat(Qt.TextFormat.PlainText)
        self.invite_button = QPushButton("Invite a device…")
        self.code = QLabel("")
        self.code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.code.setStyleSheet("font-size: 20px; font-weight: bold; letter-spacing: 3px;")
        self.invite_help = QLabel("")
        self.invite_help.setWordWrap(True)
        self.invite_help.setTextFormat(Qt.TextFormat.PlainText)
        self.invite_help.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.countdown = QLabel("")
        self._countdown_timer = QTimer(self)
        self._countdown_timer.setInterval(250)
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

    def _lay_out(self) -> None:
        me_row = QHBoxLayout()
        me_row.addWidget(self.me, 1)
        me_row.addWidget(self.my_name)
        me_row.addWidget(self.my_name_button)
        members_box = QGroupBox("Devices in this library")
        members_layout = QVBoxLayout(members_box)
        members_layout.addWidget(self.table)
        members_layout.addWidget(self.solo_hint)
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
        invite_row.addWidget(self.countdown)
        pair.addLayout(invite_row)
        pair.addWidget(self.invite_help)
        join_row = QHBoxLayout()
        join_row.addWidget(self.join_code, 1)
        join_row.addWidget(self.join_address, 1)
        join_row.addWidget(self.join_button)
        pair.addLayout(join_row)
        pair.addWidget(self.join_state)
        pair.addWidget(self.discovered)
        layout = QVBoxLayout(self)
        layout.addLayout(me_row)
        layout.addWidget(self.sync_state)
        layout.addWidget(members_box, 1)
        layout.addWidget(pair_box)
        layout.addWidget(RelaysBox.for_source(self.sync))

    def _connect(self) -> None:
        qconnect(self.rename_button.clicked, self.rename_selected)
        qconnect(self.revoke_button.clicked, self.revoke_selected)
        qconnect(self.my_name_button.clicked, self.rename_me)
        qconnect(self.my_name.returnPressed, self.rename_me)
        qconnect(self.invite_button.clicked, self.invite)
        qconnect(self.join_button.clicked, self.join)
        qconnect(self.backend.changed, self._on_changed)
        qconnect(self._countdown_timer.timeout, self._tick)
        self._timer = QTimer(self)
        self._timer.setInterval(STATUS_EVERY_MS)
        qconnect(self._timer.timeout, self._refresh_peers)
        for widget in (self.invite_button, self.join_button, self.join_code, self.join_address):
            widget.setEnabled(self.sync is not None)
        if self.sync is not None:
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
        self.me.setText(f"This device: {name}   id {_short(members.device)}")
        self.me.setToolTip(members.device)
        if not self.my_name.hasFocus():
            self.my_name.setText(members.names.get(members.device, ""))
        self.solo_hint.setVisible(len(members.names) <= 1)
        self._fill()
        if self.invite_expires is not None and set(members.names) - self._members_at_invite:
            joined = [members.names[d] or _short(d) for d in set(members.names) - self._members_at_invite]
            self._end_invite(f"Paired with {', '.join(sorted(joined))}. The code is used up.")
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

    def rename_me(self) -> None:
        """Rename this device (how the other devices list it)."""
        name = self.my_name.text().strip()
        members = self.members
        if not name or members is None or members.names.get(members.device) == name:
            return
        self.backend.op(lambda r: r.put("device", r.device, {"name": name[:200]})).run_in_background()

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
            solo = self.members is not None and len(self.members.names) <= 1
            if solo:
                self.sync_state.setText("This device only: pair another device to sync with it.")
            else:
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
        self.invite_help.setText("")
        self._members_at_invite = set(self.members.names) if self.members is not None else set()
        self._later(self.sync.invite(), self._on_invite)  # type: ignore[arg-type]

    def _on_invite(self, future: concurrent.futures.Future[Invite | str]) -> None:
        exc = future.exception()
        if exc is not None:
            self.code.setText("")
            self.invite_help.setText(f"Could not invite: {exc}")
            return
        invite = future.result()
        if isinstance(invite, str):  # a source that gives the code alone
            invite = Invite(invite, [], 0)
        self.code.setText(invite.code)
        self.invite_help.setText(invite.help())
        self.invite_expires = time.monotonic() + invite.lifetime
        self.invite_button.setEnabled(False)
        self._tick()
        self._countdown_timer.start()
        if invite.ended is not None:
            self._later(invite.ended, lambda f, code=invite.code: self._on_invite_ended(code, f))  # type: ignore[arg-type]

    def _on_invite_ended(self, code: str, future: concurrent.futures.Future[str]) -> None:
        """The code was tried (rightly or not), expired or withdrawn: it is used up."""
        if self.code.text() != code or future.exception() is not None:
            return  # a newer invitation shows, or the node stopped
        why = future.result()
        if why == "":
            self.reload()  # the new member's name comes with the members; it ends the invite
        elif "expired" in why:
            self._end_invite("The code expired. Press Invite for a new one.")
        else:
            self._end_invite(f"Pairing failed ({why}); the code is used up. Press Invite for a new one.")

    def _tick(self) -> None:
        """Count the code's life down; at zero the code is cleared."""
        if self.invite_expires is None:
            return
        left = self.invite_expires - time.monotonic()
        if left <= 0:
            self._end_invite("The code expired. Press Invite for a new one.")
            return
        seconds = math.ceil(left)
        self.countdown.setText(f"expires in {seconds // 60}:{seconds % 60:02}")

    def _end_invite(self, why: str) -> None:
        """The code was used or expired: take it off the screen and say why."""
        self.invite_expires = None
        self._countdown_timer.stop()
        self.code.setText("")
        self.countdown.setText("")
        self.invite_help.setText(why)
        self.invite_button.setEnabled(self.sync is not None)

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

    def invite(self) -> concurrent.futures.Future[Invite]:
        shown: concurrent.futures.Future[Invite] = concurrent.futures.Future()

        def done(future: concurrent.futures.Future[tuple[str, str, int]]) -> None:
            exc = future.exception()
            if exc is not None:
                shown.set_exception(exc)
                return
            code, host, port = self.invitation = future.result()
            addresses = list((self.status or {}).get("addresses") or [])
            if host not in addresses:
                addresses.insert(0, host)
            shown.set_result(Invite(code, addresses, port, ended=self.service.invitation_ended()))

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
