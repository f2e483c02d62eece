"""A running device: the facade that wires a replica to its sync service.

Each room is a module of its own: :mod:`sync.library` (the data folder's files),
:mod:`sync.trust` (members' certificates, TLS contexts), :mod:`sync.links` (listener,
discovery, dialing with backoff), :mod:`sync.peers` (one session per peer and what is known of
each), :mod:`sync.pump` (a session over a channel), :mod:`sync.invites` (pairing),
:mod:`sync.mirroring` (the mirror folder) and the control socket for the CLI. :class:`Node`
owns the replica and decides what a change means: commit (primary), re-trust, push, tell
subscribers, and truncate the log once every member holds it.

Everything that touches the replica runs on the node's event loop (one thread), since the
SQLite connection is not shared across threads; other threads go through :meth:`Node.submit`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import ssl
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from localfirst import Changes, Replica
from localfirst.integrity import VerifyReport
from localfirst.truncation import fold_log
from storage import open_replica
from storage.errors import StorageError
from sync.const import (
    MIN_PROTOCOL_VERSION,
    PAIRING_CODE_LIFETIME_S,
    PAIRING_SEARCH_S,
    TRUNCATE_AFTER,
    TRUNCATE_STEP,
)
from sync.control import ControlServer
from sync.discovery import Discovery
from sync.identity import Identity
from sync.invites import Pairing
from sync.library import (
    REPLACE_REFUSED,
    NodeError,
    holds_own_data,
    join_from_welcome,
    library_path,
    load_identity,
    open_lone,
    open_or_create,
    replace_with_welcome,
)
from sync.links import Links
from sync.lock import LibraryLock
from sync.mirroring import MirrorSlot
from sync.netif import ANY_HOST, usable_addresses
from sync.pairing import Invitation, PairedPeer
from sync.peers import Conn, Peers
from sync.relay.runner import Polling, RelayRunner
from sync.session import Session, Step
from sync.subscribers import Subscribers, Unsubscribe
from sync.trust import Trust, member_certs, pem_fingerprint, removal_notice
from sync.verifier import Verifier

__all__ = [
    "Node",
    "NodeError",
    "join_from_welcome",
    "library_path",
    "load_identity",
    "network_options",
    "open_lone",
    "open_or_create",
    "pem_fingerprint",
    "replace_with_welcome",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
LOOPBACK = "127.0.0.1"


def network_options(*, loopback: bool = False) -> dict[str, Any]:
    """The one default of the app and ``serve``: :class:`Node` options for the LAN (listen on
    every address, zeroconf on every LAN interface, followed), or with ``loopback`` for this
    machine only (tests, demos)."""
    if loopback:
        return {"host": LOOPBACK, "interfaces": [LOOPBACK], "discovery": True}
    return {"host": ANY_HOST, "interfaces": None, "discovery": True}


_NET_ERRORS = (OSError, ssl.SSLError, TimeoutError, EOFError)


class Node:
    """A replica and its sync service; ``await start()``, then ``await stop()``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        name: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        interfaces: Sequence[str] | None = ("127.0.0.1",),
        announce: Sequence[str] | None = None,
        discovery: bool = True,
        peers: Sequence[tuple[str, int]] = (),
        auto_commit: bool = True,
        control: bool = True,
        truncate_after: int = TRUNCATE_AFTER,
        mirror: Path | None = None,
        relay_polling: Polling | None = None,
    ) -> None:
        """Prepare a node; nothing opens before :meth:`start`.

        Args:
            data_dir: identity, library file and control socket live here.
            name: this device's display name (first run).
            host: address of the member listener (and of pairing listeners); ``::`` listens
                on every address of both families (:func:`network_options` for real use).
            port: member listener port (0: any free one).
            interfaces: addresses zeroconf binds to; None: every LAN interface that is up,
                followed as interfaces come and go.
            announce: addresses announced by zeroconf (default: ``interfaces``, or the LAN's).
            discovery: whether to announce and browse with zeroconf.
            peers: member addresses to dial without discovery (networks without multicast).
            auto_commit: on the primary, commit writes as they arrive.
            control: open the owner-only control socket for the CLI.
            truncate_after: truncate the log once every member holds this many more commits.
            mirror: keep the library as plain files in this folder, both ways (:meth:`set_mirror`).
            relay_polling: how often the relays of ``relays.json`` are polled (default: 1 s after
                activity, 30 s when idle).
        """
        self.data_dir = Path(data_dir)
        self._name = name
        self.host = host
        self._port = port
        self._interfaces = list(interfaces) if interfaces is not None else None
        self._announce = list(announce) if announce is not None else None
        self._use_discovery = discovery
        self._configured = list(peers)
        self.auto_commit = auto_commit
        self._use_control = control
        self.truncate_after = truncate_after
        self._mirror_at = Path(mirror) if mirror is not None else None
        self.identity: Identity | None = None
        self._replica: Replica | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._control: ControlServer | None = None
        self._lock = LibraryLock(self.data_dir)
        self._trust: Trust | None = None
        self._peers: Peers | None = None
        self._links: Links | None = None
        self._pairing: Pairing | None = None
        self._mirror = MirrorSlot(self)
        self._subscribers: Subscribers[Changes] = Subscribers()
        self._truncating: asyncio.Task[None] | None = None
        #: Re-verifies the replica at start and on a schedule (issue 12); the last repair made.
        self.verifier = Verifier(lambda: self._replica, self._on_damaged)
        self.last_repair: dict[str, Any] | None = None
        self.relays = RelayRunner(self, relay_polling)
        #: Counters for tests and status: refused connections by reason, sessions run.
        self.stats: dict[str, int] = {"refused": 0, "sessions": 0, "protocol_errors": 0, "overflow": 0}

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def replica(self) -> Replica:
        if self._replica is None:
            raise NodeError("the node is not started")
        return self._replica

    @property
    def device(self) -> str:
        assert self.identity is not None
        return self.identity.device_id

    @property
    def port(self) -> int:
        if self._links is None or not self._links.listening:
            raise NodeError("the node is not started")
        return self._links.port

    async def start(self) -> None:
        """Take the data folder's lock, then open the replica, the member listener, the control
        socket, discovery and the mirror.

        Raises:
            LibraryBusy: another process holds the data folder (nothing was opened or touched).
            NodeError: the mirror folder cannot be used (the node is stopped again).
        """
        self._lock.acquire()  # first: a refused node must not touch the owner's socket or ads
        try:
            await self._open()
        except BaseException:
            await self.stop()
            raise
        if self._mirror_at is not None:
            try:
                await self.set_mirror(self._mirror_at)
            except NodeError:
                await self.stop()
                raise

    async def _open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.identity = load_identity(self.data_dir, self._name)
        self._replica = open_or_create(self.data_dir, self.identity)
        self._replica.take_changes()  # what opening wrote (a first run's own device) is no news
        self._trust = Trust(self.identity)
        self._peers = Peers(self.device, self.data_dir, self._new_session, self._on_step, self.stats)
        self._links = links = Links(self.device, self._trust, self._peers, self.stats)
        self._refresh_trust()
        await links.listen(self.host, self._port)
        if self._use_control:
            self._control = ControlServer(self)
            await self._control.start()
        for host, port in self._configured:
            links.ensure_target(f"{host}:{port}", None, [(host, port)])
        if self._use_discovery:
            await links.discover(self._interfaces, self._announce)
        self._pairing = Pairing(self.identity, self.apply, self.host, links.discovery)
        # The primary commits what waits (written offline, or before a crash) now, not at the
        # next write: until then nobody, this device included, could count on it.
        self.changed()
        self.verifier.start()
        self._subscribers.add(self.relays.changed)
        self.relays.start()
        log.info("node %s listening on %s:%d", self.device[:12], self.host, self.port)

    async def stop(self) -> None:
        """Stop the mirror, say goodbye to peers and close everything, the replica last."""
        await asyncio.to_thread(self._mirror.close)  # off the loop: the mirror may wait for it
        await self.verifier.close()
        if self._control is not None:
            await self._control.stop()  # first: no command may reach a node going away
        if self._truncating is not None:
            self._truncating.cancel()  # nothing is written before its last step
            await asyncio.gather(self._truncating, return_exceptions=True)
        await self.relays.stop()
        if self._links is not None:
            await self._links.close()
        if self._pairing is not None:
            await self._pairing.close()
        if self._replica is not None:
            self._replica.close()
            self._replica = None
        self._lock.release()  # last: nobody may open the library before it is closed

    # -- local writes --------------------------------------------------------------------------

    def apply(self, fn: Callable[[Replica], _T]) -> _T:
        """Run ``fn(replica)`` now (on the node's loop); if it changed the replica, commit
        (primary), push to peers and tell subscribers. A read changes nothing and costs nothing more.
        """
        replica = self.replica
        try:
            return fn(replica)
        finally:
            # Also when fn wrote, then failed: what it wrote is durable, so it syncs.
            if self._replica is replica:
                self.changed()

    async def write(self, fn: Callable[[Replica], _T]) -> _T:
        """Run ``fn(replica)`` on the node's loop, then commit (primary) and push to peers."""
        return self.apply(fn)

    def submit(self, fn: Callable[[Replica], _T]) -> concurrent.futures.Future[_T]:
        """Thread-safe :meth:`write`: returns a future completed on the node's loop."""
        if self._loop is None:
            raise NodeError("the node is not started")
        return asyncio.run_coroutine_threadsafe(self.write(fn), self._loop)

    def changed(self) -> None:
        """The replica may have changed (a local write, a received batch): commit (primary),
        re-trust, push, and tell subscribers what changed, as the replica reports it."""
        replica = self.replica
        if self.auto_commit and replica.primary == self.device and replica.tentative():
            replica.commit()
        changes = replica.take_changes()
        if not changes:
            return
        self._refresh_trust()
        if self._peers is not None:
            self._peers.push()
        self._subscribers.notify(changes)

    def subscribe(self, callback: Callable[[Changes], None]) -> Unsubscribe:
        """Call ``callback(changes)`` on the node's loop after every change of the replica: local
        writes made through the node, received batches and commits. Returns the unsubscriber."""
        return self._subscribers.add(callback)

    async def set_mirror(self, folder: Path | None) -> Path | None:
        """Mirror the library into ``folder`` (None: stop mirroring); return the folder mirrored.

        What the mirror writes goes through :meth:`submit`: it commits, syncs and is heard by
        subscribers like any other write.

        Raises:
            NodeError: the folder cannot be mirrored (mirroring is then off).
        """
        return await asyncio.wrap_future(self._mirror.set(folder))

    def mirror_errors(self) -> list[str]:
        """Files of the mirror folder that could not be used, one line each (any thread)."""
        return self._mirror.errors()

    # -- sessions and trust --------------------------------------------------------------------

    def _new_session(self, device: str) -> Session:
        assert self._peers is not None
        min_version = self._peers.versions.get(device, MIN_PROTOCOL_VERSION)
        return Session(self.replica, device, min_version=min_version)

    def _on_damaged(self, report: VerifyReport) -> None:
        """The replica failed verification: end every session; each starts again claiming
        nothing and is repaired by the first sound member it meets."""
        if self._peers is not None:
            self._peers.close_all(f"this device's library is damaged ({report.describe()}); repairing")

    def _on_step(self, step: Step, proven_more: bool) -> None:
        """After each frame a peer sent: truncate the log if every member now holds more of it,
        and take in what the frame changed."""
        if step.repaired is not None:
            self.last_repair = {"found": step.repaired, "at": time.time()}
        if proven_more and self._peers is not None and self._truncating is None:
            upto = self._peers.truncation_point(self.replica, self.truncate_after)
            if upto is not None:
                self._truncating = asyncio.get_running_loop().create_task(self._truncate(upto))
        if step.changes and step.closed is None:
            self.changed()

    async def _truncate(self, upto: int) -> None:
        """Fold the log up to ``upto`` in steps of ``TRUNCATE_STEP`` commits, yielding to the loop
        between steps, so sessions, pushes and the control socket go on meanwhile."""
        replica = self.replica
        try:
            for _ in fold_log(replica, upto, TRUNCATE_STEP):
                await asyncio.sleep(0)
                if self._replica is not replica:
                    return  # replaced (joined another library) or closed meanwhile
            log.info("truncated the log up to commit #%d", upto)
        except StorageError as exc:  # the fold is one transaction: nothing was lost
            log.error("could not truncate the log: %s", exc)
        finally:
            self._truncating = None

    def member_certs(self) -> dict[str, str]:
        """PEM certificates of the current members other than this device, by device id.

        A certificate counts only if its fingerprint is the device id it is filed under.
        """
        return member_certs(self.replica, self.device)

    def _refresh_trust(self) -> None:
        assert self._trust is not None
        assert self._links is not None
        gone = self._trust.update(self.member_certs())
        if gone is not None:
            self._links.trust_changed(gone, removed=self.replica.revoked)

    def traffic(self, device: str) -> tuple[int, int]:
        """Application bytes (frames) sent to and received from a peer, over all its sessions."""
        return self._peers.traffic(device) if self._peers is not None else (0, 0)

    # What the rooms hold, under the names tests and tools have used.
    @property
    def _conns(self) -> dict[str, Conn]:
        return self._peers.conns if self._peers is not None else {}

    @property
    def _versions(self) -> dict[str, int]:
        return self._peers.versions if self._peers is not None else {}

    @property
    def _discovery(self) -> Discovery | None:
        return self._links.discovery if self._links is not None else None

    @property
    def _discovered(self) -> dict[str, list[tuple[str, int]]]:
        return self._links.discovered if self._links is not None else {}

    def _ensure_target(self, key: str, device: str | None, addresses: list[tuple[str, int]]) -> None:
        assert self._links is not None
        self._links.ensure_target(key, device, addresses)

    async def _dial(self, host: str, port: int, device: str | None) -> bool:
        assert self._links is not None
        return await self._links.dial(host, port, device)

    # -- pairing -------------------------------------------------------------------------------

    async def invite(self, lifetime: float = PAIRING_CODE_LIFETIME_S, port: int = 0) -> Invitation:
        """Open a pairing listener (on ``port``; 0: any free one) with a fresh one-time code;
        the outcome is handled here.

        With discovery on, the listener is announced (``PAIRING_SERVICE_TYPE``) on the same
        interfaces until the invitation ends -- paired, failed, expired or closed -- so a
        joiner given only the code finds it.
        """
        if self._pairing is None:
            raise NodeError("the node is not started")
        return await self._pairing.invite(lifetime, self.port, port)

    @property
    def pairing_announcements(self) -> list[str]:
        """Zeroconf instance names of the pairing listeners announced now (for status, tests)."""
        return self._pairing.announcements if self._pairing is not None else []

    def revoke(self, device: str) -> None:
        """Revoke a member: a replicated write; its sessions close and it is no longer trusted."""
        if device == self.device:
            raise NodeError("a device cannot revoke itself")
        self.apply(lambda r: r.put("device", device, {"revoked": True}))

    async def join(
        self,
        code: str,
        host: str | None = None,
        port: int | None = None,
        *,
        search: float = PAIRING_SEARCH_S,
        replace: bool = True,
    ) -> PairedPeer:
        """Pair with the device inviting at ``host:port`` and adopt its library, while running.

        Without an address (a network with multicast), browse for announced pairing listeners
        for up to ``search`` seconds and try those found one at a time until one accepts the
        code; a listener of another invitation fails, and its code is used up.

        Only a device that is alone in its library may join another; the library it held is
        kept aside (``library.sqlite.replaced-YYYYmmdd-HHMMSS``). Subscribers then get a
        ``Changes`` with ``snapshot`` set: everything may have changed.

        Raises:
            NodeError: this device already shares its library with other devices, no
                address was given and discovery is off, or ``replace`` is false and the
                library holds notes, events or calendars (checked before the code is used).
            PairingError: the code was wrong, expired or used, the inviter is unreachable,
                or no inviting device was found.
        """
        assert self.identity is not None
        assert self._links is not None
        assert self._peers is not None
        assert self._pairing is not None
        if (host is None) != (port is None):
            raise ValueError("give both the host and the port of the inviting device, or neither")
        old = self.replica
        if set(old.members()) - {self.device}:
            raise NodeError("this device already shares a library with other devices")
        if not replace and holds_own_data(old):
            raise NodeError(REPLACE_REFUSED)
        address = (host, port) if host is not None and port is not None else None
        peer, welcome, host = await self._pairing.join(code, address, search)
        if self._replica is not old or set(old.members()) - {self.device}:
            raise NodeError("the library changed while pairing; try again")
        self._peers.close_all("this device joined another library")
        self._replica = None
        try:
            self._replica, kept = replace_with_welcome(self.data_dir, self.identity, old, welcome)
            self._replica.take_changes()  # subscribers hear "everything" (a snapshot) below
        except BaseException:
            self._replica = open_replica(library_path(self.data_dir))
            raise
        log.info(
            "joined library %s of %s; the old one is kept as %s",
            self.replica.library[:12],
            peer.name,
            kept.name,
        )
        self._peers.proven.clear()
        self._refresh_trust()
        if peer.port:
            self._links.ensure_target(peer.device_id, peer.device_id, [(host, peer.port)])
        self._subscribers.notify(Changes(snapshot=True))
        return peer

    @property
    def addresses(self) -> list[str]:
        """Addresses another device can dial to reach this node's listeners (never a wildcard)."""
        return usable_addresses(self.host)

    # -- status --------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Members, peers online, vector, tentative writes, per-peer proven identical CSN, mirror."""
        r = self.replica
        assert self._peers is not None
        return {
            "device": self.device,
            "library": r.library,
            "primary": r.primary,
            "port": self.port,
            "csn": r.csn,
            "chain": r.chain.hex(),
            "vector": r.vector.as_dict(),
            "tentative": len(r.tentative()),
            "members": r.members(),
            "peers": self._peers.status(damaged=r.damaged is not None),
            "damaged": None if r.damaged is None else r.damaged.describe(),
            "repaired": self.last_repair,
            "revoked": r.revoked or (self._links is not None and self._links.told),
            "removed": removal_notice(
                r.revoked or (self._links is not None and self._links.told),
                self._links is not None and self._links.shut_out,
            ),
            "discovered": sorted(d for d in self._discovered if d != self.device),
            "host": self.host,
            "addresses": self.addresses,
            "stats": dict(self.stats),
            "mirror": self._mirror.status(),
            "relays": self.relays.status(),
        }
