"""The live sessions, one per peer, and what this device knows of each peer.

Every authenticated connection runs one session through :func:`sync.pump.pump`. When two
connections to the same peer race, both sides keep the one dialed by the smaller device id.
Per peer this keeps the newest protocol version it spoke (saved across restarts, so it cannot
be downgraded), the CSN up to which its log is proven identical, when it last synced, and the
bytes exchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localfirst import Replica
from sync.library import load_versions, save_versions
from sync.pump import NET_ERRORS, Channel, StreamChannel, pump
from sync.session import Session, Step

log = logging.getLogger(__name__)

#: The goodbye a member sends a device it no longer trusts (revoked): that device is told so.
NOT_A_MEMBER = "device is no longer a member"
#: How a session ended, as ``Peers.run`` tells: the peer spoke; closed silently; said NOT_A_MEMBER.
HEARD, SILENT, TOLD = "heard", "silent", "told"


@dataclass(eq=False, slots=True)
class Conn:
    """One authenticated connection and its session."""

    device: str
    dialer: str
    channel: Channel
    session: Session
    done: asyncio.Event = field(default_factory=asyncio.Event)
    counted: bool = False


class Peers:
    """The sessions running now (``conns``, by device id) and the records kept of each peer.

    ``new_session(device)`` makes the session for an authenticated peer; ``on_step(step,
    proven_more)`` runs after each frame a peer sent, once the records are updated
    (``proven_more``: the peer is now proven to hold more). ``stats`` counts sessions and
    protocol errors.
    """

    def __init__(
        self,
        device: str,
        data_dir: Path,
        new_session: Callable[[str], Session],
        on_step: Callable[[Step, bool], None],
        stats: dict[str, int],
    ) -> None:
        self.device = device
        self._data_dir = data_dir
        self._new_session = new_session
        self._on_step = on_step
        self.stats = stats
        self.conns: dict[str, Conn] = {}
        self.versions: dict[str, int] = load_versions(data_dir)  # highest protocol version each spoke
        self.proven: dict[str, int | None] = {}
        self._last_sync: dict[str, float] = {}  # device -> time.time() of the last exchange in sync
        self._traffic: dict[str, list[int]] = {}  # device -> [bytes sent, received], ended sessions

    async def run(self, channel: StreamChannel, device: str, dialer: str) -> str:
        """Run one session with an authenticated peer until either side ends it.

        Returns ``TOLD`` when the peer said goodbye with ``NOT_A_MEMBER``, ``SILENT`` when it
        closed at once without a word (TLS 1.3 lets the client finish its handshake before the
        server has checked the client's certificate, so a member that no longer trusts this
        device, revoked, shows up to the dialler as a peer that closes silently), else ``HEARD``.
        """
        session = self._new_session(device)
        conn = Conn(device, dialer, channel, session)
        if not self._register(conn):
            with contextlib.suppress(*NET_ERRORS):
                channel.send([session.goodbye("duplicate connection")])
            await channel.wait_closed()
            return HEARD
        ending = None
        try:
            ending = await pump(session, channel, lambda step: self._step(conn, step))
        finally:
            reason, error = (ending.reason, ending.error) if ending else ("closed", False)
            if error:
                self.stats["protocol_errors"] += 1
            level = logging.ERROR if ending and ending.local else logging.WARNING if error else logging.INFO
            log.log(level, "session with %s ended: %s", device[:12], reason)
            self.close_conn(conn, reason[:200], error=error)
            await channel.wait_closed()
        if ending is not None and not ending.local and NOT_A_MEMBER in ending.reason:
            return TOLD
        return HEARD if session.bytes_received else SILENT

    def _step(self, conn: Conn, step: Step) -> None:
        session, device = conn.session, conn.device
        if session.live:
            self._last_sync[device] = time.time()
        if session.peer_version is not None and not conn.counted:
            self.stats["sessions"] += 1  # counted once the peer's HELLO was accepted
            conn.counted = True
            if session.peer_version > self.versions.get(device, 0):
                self.versions[device] = session.peer_version
                save_versions(self._data_dir, self.versions)
        proven_more = session.proven_csn != self.proven.get(device)
        self.proven[device] = session.proven_csn
        self._on_step(step, proven_more)

    def truncation_point(self, replica: Replica, after: int) -> int | None:
        """The CSN up to which the log may be truncated: every member is proven (by chain hash)
        to hold it, and it is at least ``after`` commits past the last truncation."""
        others = [device for device in replica.members() if device != self.device]
        proven = [csn for device in others if (csn := self.proven.get(device)) is not None]
        if not others or len(proven) < len(others):
            return None
        upto = min(*proven, replica.csn)
        return upto if upto - replica.truncated_csn >= after else None

    def _register(self, conn: Conn) -> bool:
        """Keep one session per peer: both sides keep the one dialed by the smaller device id."""
        old = self.conns.get(conn.device)
        if old is not None:
            preferred = min(self.device, conn.device)
            if conn.dialer not in (preferred, old.dialer):
                return False
            self.close_conn(old, "replaced by a newer connection")
        self.conns[conn.device] = conn
        return True

    def push(self) -> None:
        """Send every live peer what it lacks now (after a local or relayed change)."""
        for conn in list(self.conns.values()):
            conn.channel.send(conn.session.push())

    def close_conn(self, conn: Conn, reason: str, *, error: bool = False) -> None:
        """Say goodbye (``reason``) and close; the session's traffic is added to the peer's total."""
        if self.conns.get(conn.device) is conn:
            del self.conns[conn.device]
        if not conn.channel.is_closing():
            with contextlib.suppress(*NET_ERRORS):
                conn.channel.send([conn.session.goodbye(reason, error=error)])
            conn.channel.close()
        if not conn.done.is_set():
            total = self._traffic.setdefault(conn.device, [0, 0])
            total[0] += conn.session.bytes_sent
            total[1] += conn.session.bytes_received
        conn.done.set()

    def close_all(self, reason: str, devices: frozenset[str] | None = None) -> None:
        """End the sessions with ``devices`` (default: every peer)."""
        for conn in list(self.conns.values()):
            if devices is None or conn.device in devices:
                self.close_conn(conn, reason)

    def traffic(self, device: str) -> tuple[int, int]:
        """Application bytes (frames) sent to and received from a peer, over all its sessions."""
        sent, received = self._traffic.get(device, [0, 0])
        conn = self.conns.get(device)
        if conn is not None:
            sent, received = sent + conn.session.bytes_sent, received + conn.session.bytes_received
        return sent, received

    def status(self, *, damaged: bool = False) -> dict[str, dict[str, Any]]:
        """Each known peer: online, phase, in sync, proven CSN, protocol, traffic, progress, and
        the writes in flight each way (``sending``, ``receiving``). A ``damaged`` replica claims
        no identity with anyone."""
        rows = {}
        for device in sorted(set(self.proven) | set(self.conns)):
            conn = self.conns.get(device)
            session = conn.session if conn is not None else None
            rows[device] = {
                "online": session is not None,
                "phase": session.phase.value if session else None,
                "in_sync": bool(session.in_sync) and not damaged if session else False,
                "identical_up_to": None if damaged else self.proven.get(device),
                "protocol": self.versions.get(device),
                "bytes": list(self.traffic(device)),
                "ops": [session.ops_sent, session.ops_received] if session else [0, 0],
                "progress": list(progress) if session and (progress := session.progress) else None,
                # In flight now: entries sent and not yet acknowledged, and still expected.
                "sending": session.sending if session else 0,
                "receiving": session.receiving if session else 0,
                "last_sync": self._last_sync.get(device),
            }
        return rows
