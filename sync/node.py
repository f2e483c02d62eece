"""A running device: a replica plus its sync service (listener, discovery, dialers, pairing).

Everything that touches the replica runs on the node's event loop (one thread), since the
SQLite connection is not shared across threads; other threads go through :meth:`Node.submit`.
The member listener accepts plain TCP and upgrades to TLS 1.3 with the *current* members'
certificates as its only trust anchors (rebuilt when membership changes), then checks the
peer's fingerprint; at most ``MAX_PENDING_HANDSHAKES`` unauthenticated handshakes run at once,
each bounded by ``HANDSHAKE_TIMEOUT_S``, so a flood of strangers cannot starve members.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
import logging
import os
import random
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from localfirst import Changes, Replica
from storage import SqlStore, create_library, open_replica
from sync import pairing, tls
from sync.const import (
    BACKOFF_FACTOR,
    BACKOFF_MAX_S,
    BACKOFF_MIN_S,
    HANDSHAKE_TIMEOUT_S,
    LIBRARY_FILE,
    MAX_FRAME_SIZE,
    MAX_PENDING_HANDSHAKES,
    MAX_WAITING_HANDSHAKES,
    MIN_PROTOCOL_VERSION,
    PAIRING_CODE_LIFETIME_S,
    PAIRING_SEARCH_S,
    PEER_VERSIONS_FILE,
    SESSION_STEP_TIMEOUT_S,
    TCP_KEEPALIVE_COUNT,
    TCP_KEEPALIVE_IDLE_S,
    TCP_KEEPALIVE_INTERVAL_S,
    TRUNCATE_AFTER,
)
from sync.control import ControlServer
from sync.discovery import DiscoveredPeer, Discovery
from sync.frames import ConnectionClosed, FrameError, read_frame
from sync.identity import Identity, fingerprint
from sync.lock import LibraryLock
from sync.pairing import Invitation, PairedPeer, PairingError
from sync.session import Phase, Session, SessionError
from sync.subscribers import Subscribers, Unsubscribe

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_NET_ERRORS = (OSError, ssl.SSLError, TimeoutError, EOFError)


class NodeError(Exception):
    """The node cannot do what was asked (no library, already joined, ...)."""


@functools.lru_cache(maxsize=1024)
def pem_fingerprint(pem: str) -> str | None:
    """Return the device id of a PEM certificate, or None if it does not parse."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None
    return fingerprint(cert.public_bytes(serialization.Encoding.DER))


def load_identity(data_dir: Path, name: str = "") -> Identity:
    """Load (or create, on first run) this device's identity in ``data_dir``."""
    return Identity.load_or_create(data_dir, name or os.uname().nodename)


def library_path(data_dir: Path) -> Path:
    return data_dir / LIBRARY_FILE


def open_or_create(data_dir: Path, identity: Identity) -> Replica:
    """Open the library in ``data_dir``; a first run creates a new one with this device as primary."""
    path = library_path(data_dir)
    if path.exists():
        return open_replica(path)
    replica = create_library(path, identity.device_id, device_name=identity.name)
    replica.put("device", identity.device_id, {"cert": identity.cert_pem.decode("ascii")})
    replica.commit()  # this device created the library, so it is the primary
    return replica


def join_from_welcome(data_dir: Path, identity: Identity, welcome: bytes) -> Replica:
    """Create this device's replica from the welcome a pairing delivered.

    Raises:
        NodeError: this data directory already holds a library.
    """
    path = library_path(data_dir)
    if path.exists():
        raise NodeError(f"{data_dir} already holds a library")
    try:
        return Replica.from_welcome(SqlStore(path, create=True), identity.device_id, welcome)
    except BaseException:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        raise


@dataclass(eq=False, slots=True)
class _Conn:
    """One authenticated connection and its session."""

    device: str
    dialer: str
    writer: asyncio.StreamWriter
    session: Session
    done: asyncio.Event = field(default_factory=asyncio.Event)
    counted: bool = False


@dataclass(eq=False, slots=True)
class _Target:
    """A peer to keep a connection to: a member's device id, or a configured address."""

    device: str | None
    addresses: list[tuple[str, int]]
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class Node:
    """A replica and its sync service; ``await start()``, then ``await stop()``."""

    def __init__(
        self,
        data_dir: Path,
        *,
        name: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        interfaces: Sequence[str] = ("127.0.0.1",),
        announce: Sequence[str] | None = None,
        discovery: bool = True,
        peers: Sequence[tuple[str, int]] = (),
        auto_commit: bool = True,
        control: bool = True,
        truncate_after: int = TRUNCATE_AFTER,
    ) -> None:
        """Prepare a node; nothing opens before :meth:`start`.

        Args:
            data_dir: identity, library file and control socket live here.
            name: this device's display name (first run).
            host: address of the member listener (and of pairing listeners).
            port: member listener port (0: any free one).
            interfaces: addresses zeroconf binds to.
            announce: addresses announced by zeroconf (default: ``interfaces``).
            discovery: whether to announce and browse with zeroconf.
            peers: member addresses to dial without discovery (networks without multicast).
            auto_commit: on the primary, commit writes as they arrive.
            control: open the owner-only control socket for the CLI.
            truncate_after: truncate the log once every member holds this many more commits.
        """
        self.data_dir = Path(data_dir)
        self._name = name
        self.host = host
        self._port = port
        self._interfaces = list(interfaces)
        self._announce = list(announce) if announce is not None else None
        self._use_discovery = discovery
        self._configured = list(peers)
        self.auto_commit = auto_commit
        self._use_control = control
        self.truncate_after = truncate_after
        self.identity: Identity | None = None
        self._replica: Replica | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._control: ControlServer | None = None
        self._lock = LibraryLock(self.data_dir)
        self._discovery: Discovery | None = None
        self._conns: dict[str, _Conn] = {}
        self._targets: dict[str, _Target] = {}
        self._discovered: dict[str, list[tuple[str, int]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._invitations: set[Invitation] = set()
        self._pairing_ads: dict[Invitation, str] = {}  # invitation -> its zeroconf instance name
        self._allowed: frozenset[str] = frozenset()
        self._server_ctx: ssl.SSLContext | None = None
        self._client_ctx: ssl.SSLContext | None = None
        self._handshakes = asyncio.Semaphore(MAX_PENDING_HANDSHAKES)
        self._waiting = 0
        self._versions: dict[str, int] = {}  # highest protocol version each peer spoke
        self._proven: dict[str, int | None] = {}
        self._traffic: dict[str, list[int]] = {}  # device -> [bytes sent, bytes received], ended sessions
        self._last_sync: dict[str, float] = {}  # device -> time.time() of the last exchange in sync
        self._subscribers: Subscribers[Changes] = Subscribers()
        self._closing = False
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
        if self._server is None:
            raise NodeError("the node is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Take the data folder's lock, then open the replica, the member listener, the control
        socket and discovery.

        Raises:
            LibraryBusy: another process holds the data folder (nothing was opened or touched).
        """
        self._lock.acquire()  # first: a refused node must not touch the owner's socket or ads
        self._loop = asyncio.get_running_loop()
        self.identity = load_identity(self.data_dir, self._name)
        self._replica = open_or_create(self.data_dir, self.identity)
        self._replica.take_changes()  # what opening wrote (a first run's own device) is no news
        self._versions = self._load_versions()
        self._refresh_trust()
        loop = self._loop

        def protocol() -> asyncio.StreamReaderProtocol:
            return _PausedProtocol(asyncio.StreamReader(loop=loop), self._on_accept, loop=loop)

        self._server = await loop.create_server(protocol, self.host, self._port, backlog=1024)
        if self._use_control:
            self._control = ControlServer(self)
            await self._control.start()
        for host, port in self._configured:
            self._ensure_target(f"{host}:{port}", None, [(host, port)])
        if self._use_discovery:
            self._discovery = Discovery(
                self.device,
                self.port,
                self._on_discovered,
                interfaces=self._interfaces,
                addresses=self._announce,
            )
            try:
                await self._discovery.start()
            except OSError as exc:
                log.warning("discovery unavailable (%s); dialing configured peers only", exc)
                self._discovery = None
        log.info("node %s listening on %s:%d", self.device[:12], self.host, self.port)

    async def stop(self) -> None:
        """Say goodbye to peers and close everything, the replica last."""
        self._closing = True
        if self._discovery is not None:
            await self._discovery.stop()
        if self._server is not None:
            self._server.close()
        if self._control is not None:
            await self._control.stop()
        for inv in list(self._invitations):
            await inv.aclose()
        for conn in list(self._conns.values()):
            self._close_conn(conn, "node shutting down")
        for target in self._targets.values():
            if target.task is not None:
                target.task.cancel()
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        if self._replica is not None:
            self._replica.close()
            self._replica = None
        self._lock.release()  # last: nobody may open the library before it is closed

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _load_versions(self) -> dict[str, int]:
        """The newest protocol version each peer spoke, kept across restarts (downgrade guard)."""
        try:
            raw = json.loads((self.data_dir / PEER_VERSIONS_FILE).read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(raw, dict):
            return {}
        return {k: v for k, v in raw.items() if isinstance(k, str) and type(v) is int}

    def _save_versions(self) -> None:
        path = self.data_dir / PEER_VERSIONS_FILE
        tmp = path.with_name(path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(self._versions))
            tmp.replace(path)
        except OSError as exc:
            log.warning("cannot record peer protocol versions in %s: %s", path, exc)

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
        for conn in list(self._conns.values()):
            self._send(conn, conn.session.push())
        self._notify(changes)

    def subscribe(self, callback: Callable[[Changes], None]) -> Unsubscribe:
        """Call ``callback(changes)`` on the node's loop after every change of the replica: local
        writes made through the node, received batches and commits. Returns the unsubscriber."""
        return self._subscribers.add(callback)

    def _notify(self, changes: Changes) -> None:
        self._subscribers.notify(changes)

    def _maybe_truncate(self) -> None:
        """Drop committed writes every member is proven (by chain hash) to hold, once there
        are ``truncate_after`` of them; a device behind that point catches up from the snapshot."""
        replica = self.replica
        others = [device for device in replica.members() if device != self.device]
        proven = [csn for device in others if (csn := self._proven.get(device)) is not None]
        if not others or len(proven) < len(others):
            return
        upto = min(*proven, replica.csn)
        if upto - replica.truncated_csn >= self.truncate_after:
            replica.truncate(upto)
            log.info("truncated the log up to commit #%d", upto)

    # -- trust ---------------------------------------------------------------------------------

    def member_certs(self) -> dict[str, str]:
        """PEM certificates of the current members other than this device, by device id.

        A certificate counts only if its fingerprint is the device id it is filed under.
        """
        out: dict[str, str] = {}
        for device in self.replica.members():
            if device == self.device:
                continue
            doc = self.replica.get(device)
            pem = doc.value("cert") if doc is not None else None
            if isinstance(pem, str) and pem_fingerprint(pem) == device:
                out[device] = pem
        return out

    def _refresh_trust(self) -> None:
        certs = self.member_certs()
        allowed = frozenset(certs)
        if allowed == self._allowed and self._server_ctx is not None:
            return
        assert self.identity is not None
        anchors = [certs[d].encode("ascii") for d in sorted(certs)]
        self._server_ctx = tls.server_context(self.identity, anchors)
        self._client_ctx = tls.client_context(self.identity, anchors)
        gone = self._allowed - allowed
        self._allowed = allowed
        log.info("trust anchors rebuilt: %d member(s)", len(allowed))
        for device in gone:
            conn = self._conns.get(device)
            if conn is not None:
                self._close_conn(conn, "device is no longer a member")
        for device in allowed:
            if device in self._discovered:
                self._ensure_target(device, device, self._discovered[device])

    # -- accepting -----------------------------------------------------------------------------

    async def _on_accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            await self._accept(reader, writer)
        except asyncio.CancelledError:
            # Only stop() cancels; asyncio logs an error for a connection callback ending cancelled.
            writer.transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        if self._closing or self._waiting >= MAX_WAITING_HANDSHAKES:
            self.stats["overflow"] += 1
            writer.transport.abort()
            return
        self._waiting += 1
        try:
            await asyncio.wait_for(self._handshakes.acquire(), HANDSHAKE_TIMEOUT_S)
        except TimeoutError:
            self.stats["overflow"] += 1
            writer.transport.abort()
            return
        finally:
            self._waiting -= 1
        try:
            assert self._server_ctx is not None
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_S + 1):
                await writer.start_tls(self._server_ctx, ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S)
            device = tls.check_peer(writer.get_extra_info("ssl_object"), set(self._allowed))
        except (*_NET_ERRORS, tls.PeerNotTrusted) as exc:
            self.stats["refused"] += 1
            log.info("refused connection from %s: %s", peer, exc or type(exc).__name__)
            writer.transport.abort()
            # The handshake error's traceback holds a cycle through asyncio's start_tls frame
            # (and with it the TLS buffers); break it so memory is freed now, not at a full GC.
            exc.__traceback__ = None
            return
        finally:
            self._handshakes.release()
        await self._run(reader, writer, device, dialer=device)

    # -- dialing -------------------------------------------------------------------------------

    def _on_discovered(self, peer: DiscoveredPeer) -> None:
        addresses = [(a, peer.port) for a in peer.addresses if "%" not in a]
        self._discovered[peer.device_id] = addresses
        if peer.device_id in self._allowed:
            self._ensure_target(peer.device_id, peer.device_id, addresses)

    def _ensure_target(self, key: str, device: str | None, addresses: list[tuple[str, int]]) -> None:
        if self._closing:
            return
        target = self._targets.get(key)
        if target is None or target.task is None or target.task.done():
            target = self._targets[key] = _Target(device, addresses)
            target.task = self._spawn(self._connector(target))
        target.addresses = addresses
        target.wake.set()

    async def _connector(self, target: _Target) -> None:
        """Keep one connection to the target: reconnect with exponential backoff and jitter."""
        delay = BACKOFF_MIN_S
        while not self._closing:
            device = target.device
            if device is not None:
                if device not in self._allowed:
                    return
                conn = self._conns.get(device)
                if conn is not None:
                    await conn.done.wait()
                    continue
            target.wake.clear()
            established = False
            for host, port in list(target.addresses):
                if await self._dial(host, port, device):
                    established = True
                    break
            delay = BACKOFF_MIN_S if established else min(delay * BACKOFF_FACTOR, BACKOFF_MAX_S)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay * random.uniform(0.5, 1.0)):
                    await target.wake.wait()

    async def _dial(self, host: str, port: int, device: str | None) -> bool:
        """Connect, authenticate and run a session; return whether one was established."""
        if not self._allowed or self._client_ctx is None:
            return False
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_S + 1):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=self._client_ctx, ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S
                )
        except _NET_ERRORS as exc:
            log.debug("cannot reach %s:%d: %s", host, port, exc or type(exc).__name__)
            return False
        try:
            peer = tls.check_peer(writer.get_extra_info("ssl_object"), set(self._allowed))
            if device is not None and peer != device:
                raise tls.PeerNotTrusted(f"{host}:{port} answered as device {peer[:12]}, not {device[:12]}")
        except tls.PeerNotTrusted as exc:
            log.warning("not syncing with %s:%d: %s", host, port, exc)
            writer.transport.abort()
            return False
        await self._run(reader, writer, peer, dialer=self.device)
        return True

    # -- sessions ------------------------------------------------------------------------------

    def _register(self, conn: _Conn) -> bool:
        """Keep one session per peer: both sides keep the one dialed by the smaller device id."""
        old = self._conns.get(conn.device)
        if old is not None:
            preferred = min(self.device, conn.device)
            if conn.dialer not in (preferred, old.dialer):
                return False
            self._close_conn(old, "replaced by a newer connection")
        self._conns[conn.device] = conn
        return True

    def _send(self, conn: _Conn, frames: list[bytes]) -> None:
        if frames and not conn.writer.is_closing():
            conn.writer.write(b"".join(frames))

    def _close_conn(self, conn: _Conn, reason: str, *, error: bool = False) -> None:
        if self._conns.get(conn.device) is conn:
            del self._conns[conn.device]
        if not conn.writer.is_closing():
            with contextlib.suppress(*_NET_ERRORS):
                conn.writer.write(conn.session.goodbye(reason, error=error))
            conn.writer.close()
        if not conn.done.is_set():
            total = self._traffic.setdefault(conn.device, [0, 0])
            total[0] += conn.session.bytes_sent
            total[1] += conn.session.bytes_received
        conn.done.set()

    def traffic(self, device: str) -> tuple[int, int]:
        """Application bytes (frames) sent to and received from a peer, over all its sessions."""
        sent, received = self._traffic.get(device, [0, 0])
        conn = self._conns.get(device)
        if conn is not None:
            sent, received = sent + conn.session.bytes_sent, received + conn.session.bytes_received
        return sent, received

    @staticmethod
    def _keepalive(writer: asyncio.StreamWriter) -> None:
        """Let TCP notice a peer that vanished (a live session may be idle for hours)."""
        sock = writer.get_extra_info("socket")
        if sock is None:
            return
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, TCP_KEEPALIVE_IDLE_S)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, TCP_KEEPALIVE_INTERVAL_S)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, TCP_KEEPALIVE_COUNT)

    async def _run(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, device: str, dialer: str
    ) -> None:
        """Run one authenticated session until either side ends it."""
        session = Session(self.replica, device, min_version=self._versions.get(device, MIN_PROTOCOL_VERSION))
        conn = _Conn(device, dialer, writer, session)
        self._keepalive(writer)
        if not self._register(conn):
            with contextlib.suppress(*_NET_ERRORS):
                writer.write(session.goodbye("duplicate connection"))
            await _close(writer)
            return
        reason, error = "closed", False
        try:
            self._send(conn, session.start())
            while session.phase is not Phase.CLOSED:
                timeout = None if session.live else SESSION_STEP_TIMEOUT_S
                async with asyncio.timeout(timeout):
                    frame = await read_frame(reader, MAX_FRAME_SIZE)
                step = session.receive(frame)
                if session.live:
                    self._last_sync[device] = time.time()
                if session.peer_version is not None and not conn.counted:
                    self.stats["sessions"] += 1  # counted once the peer's HELLO was accepted
                    conn.counted = True
                    if session.peer_version > self._versions.get(device, 0):
                        self._versions[device] = session.peer_version
                        self._save_versions()
                self._send(conn, step.out)
                if session.proven_csn != self._proven.get(device):
                    self._proven[device] = session.proven_csn
                    self._maybe_truncate()
                if step.closed is not None:
                    reason = f"peer ended the session ({step.closed})"
                    break
                if step.changes:
                    self.changed()
                await writer.drain()
        except ConnectionClosed:
            reason = "peer closed the connection"
        except (SessionError, FrameError) as exc:
            self.stats["protocol_errors"] += 1
            reason, error = f"protocol error: {exc}", True
        except _NET_ERRORS as exc:
            reason = f"connection lost: {exc or type(exc).__name__}"
        finally:
            level = logging.WARNING if error else logging.INFO
            log.log(level, "session with %s ended: %s", device[:12], reason)
            self._close_conn(conn, reason[:200], error=error)
            await _close(writer)

    # -- pairing -------------------------------------------------------------------------------

    async def invite(self, lifetime: float = PAIRING_CODE_LIFETIME_S) -> Invitation:
        """Open a pairing listener with a fresh one-time code; the outcome is handled here.

        With discovery on, the listener is announced (``PAIRING_SERVICE_TYPE``) on the same
        interfaces until the invitation ends -- paired, failed, expired or closed -- so a
        joiner given only the code finds it.
        """
        assert self.identity is not None
        inv = Invitation(
            self.identity,
            lambda _device: self.replica.welcome(),
            host=self.host,
            lifetime=lifetime,
            admit=self._admit,
            member_port=self.port,
        )
        await inv.start()
        self._invitations.add(inv)
        if self._discovery is not None:
            self._pairing_ads[inv] = self._discovery.announce_pairing(inv.port)
        self._spawn(self._invitation_outcome(inv))
        return inv

    def _admit(self, peer: PairedPeer) -> None:
        """Record a paired device as a member, with its certificate, before its welcome."""
        fields = {"name": peer.name, "cert": peer.cert_pem.decode("ascii")}
        self.apply(lambda r: r.put("device", peer.device_id, fields))

    async def _invitation_outcome(self, inv: Invitation) -> None:
        try:
            peer = await inv.wait()
            log.info("paired with %s (%s)", peer.device_id[:12], peer.name)
        except PairingError as exc:
            log.info("invitation ended: %s", exc)
        finally:
            self._invitations.discard(inv)
            await self._withdraw(inv)
            await inv.aclose()

    async def _withdraw(self, inv: Invitation) -> None:
        """Stop announcing an invitation's pairing listener."""
        name = self._pairing_ads.pop(inv, None)
        if name is not None and self._discovery is not None:
            try:
                await self._discovery.withdraw_pairing(name)
            except (OSError, RuntimeError) as exc:
                log.warning("could not withdraw the pairing announcement: %s", exc)

    @property
    def pairing_announcements(self) -> list[str]:
        """Zeroconf instance names of the pairing listeners announced now (for status, tests)."""
        return sorted(self._pairing_ads.values())

    def revoke(self, device: str) -> None:
        """Revoke a member: a replicated write; its sessions close and it is no longer trusted."""
        if device == self.device:
            raise NodeError("a device cannot revoke itself")
        self.apply(lambda r: r.put("device", device, {"revoked": True}))

    async def join(
        self, code: str, host: str | None = None, port: int | None = None, *, search: float = PAIRING_SEARCH_S
    ) -> PairedPeer:
        """Pair with the device inviting at ``host:port`` and adopt its library, while running.

        Without an address (a network with multicast), browse for announced pairing listeners
        for up to ``search`` seconds and try those found one at a time until one accepts the
        code; a listener of another invitation fails, and its code is used up.

        Only a device that is alone in its library may join another; the library it held is
        kept beside the new one (``library-<id>.replaced.sqlite``). Subscribers then get a
        ``Changes`` with ``snapshot`` set: everything may have changed.

        Raises:
            NodeError: this device already shares its library with other devices, or no
                address was given and discovery is off.
            PairingError: the code was wrong, expired or used, the inviter is unreachable,
                or no inviting device was found.
        """
        assert self.identity is not None
        if (host is None) != (port is None):
            raise ValueError("give both the host and the port of the inviting device, or neither")
        old = self.replica
        if set(old.members()) - {self.device}:
            raise NodeError("this device already shares a library with other devices")
        if host is not None and port is not None:
            peer, welcome = await pairing.join(code, host, port, self.identity)
        else:
            discovery = self._discovery
            if discovery is None:
                raise NodeError(
                    "no address given and discovery is off: enter the inviting device's host:port"
                )
            pairing.normalize_code(code)  # a typo fails before searching
            log.info("searching the network for an inviting device (up to %.0f s)", search)
            async with contextlib.aclosing(discovery.browse_pairing(search)) as found:
                peer, welcome, host = await pairing.join_found(code, found, self.identity)
        if self._replica is not old or set(old.members()) - {self.device}:
            raise NodeError("the library changed while pairing; try again")
        for conn in list(self._conns.values()):
            self._close_conn(conn, "this device joined another library")
        path = library_path(self.data_dir)
        kept = path.with_name(f"{path.stem}-{old.library[:12]}.replaced{path.suffix}")
        old.close()
        self._replica = None
        path.replace(kept)
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)  # the close checkpointed the WAL
        try:
            self._replica = join_from_welcome(self.data_dir, self.identity, welcome)
            self._replica.take_changes()  # subscribers hear "everything" (a snapshot) below
        except BaseException:
            kept.replace(path)
            self._replica = open_replica(path)
            raise
        log.info(
            "joined library %s of %s; the old one is kept as %s",
            self.replica.library[:12],
            peer.name,
            kept.name,
        )
        self._proven.clear()
        self._refresh_trust()
        if peer.port:
            self._ensure_target(peer.device_id, peer.device_id, [(host, peer.port)])
        self._notify(Changes(snapshot=True))
        return peer

    # -- status --------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Members, peers online, vector, tentative writes, and per-peer proven identical CSN."""
        r = self.replica
        peers = {}
        for device in sorted(set(self._proven) | set(self._conns)):
            conn = self._conns.get(device)
            peers[device] = {
                "online": conn is not None,
                "phase": conn.session.phase.value if conn else None,
                "in_sync": conn.session.in_sync if conn else False,
                "identical_up_to": self._proven.get(device),
                "protocol": self._versions.get(device),
                "bytes": list(self.traffic(device)),
                "ops": [conn.session.ops_sent, conn.session.ops_received] if conn else [0, 0],
                "progress": list(progress) if conn and (progress := conn.session.progress) else None,
                "last_sync": self._last_sync.get(device),
            }
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
            "peers": peers,
            "discovered": sorted(d for d in self._discovered if d != self.device),
            "host": self.host,
            "stats": dict(self.stats),
        }


class _PausedProtocol(asyncio.StreamReaderProtocol):
    """A stream protocol that reads nothing until TLS starts.

    Otherwise the peer's ClientHello could land in the plain stream's buffer before
    ``start_tls`` takes over the transport, and the handshake would stall.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)
        transport.pause_reading()
        super().connection_made(transport)


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close a connection without letting a dead peer hold us up."""
    writer.close()
    with contextlib.suppress(*_NET_ERRORS):
        async with asyncio.timeout(1.0):
            await writer.wait_closed()
