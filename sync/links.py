"""Links to the other members: the member listener, discovery, dialing and reconnecting.

The listener accepts plain TCP and upgrades to TLS 1.3 with the *current* members'
certificates as its only trust anchors, then checks the peer's fingerprint; at most
``MAX_PENDING_HANDSHAKES`` unauthenticated handshakes run at once, each bounded by
``HANDSHAKE_TIMEOUT_S``, so a flood of strangers cannot starve members. Each target (a member
found by discovery, or an address the user configured) has a connector that keeps one
connection to it, reconnecting with exponential backoff and jitter. Every authenticated
connection is handed to :class:`sync.peers.Peers`, which runs its session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from sync import tls
from sync.const import (
    BACKOFF_FACTOR,
    BACKOFF_MAX_S,
    BACKOFF_MIN_S,
    HANDSHAKE_TIMEOUT_S,
    MAX_PENDING_HANDSHAKES,
    MAX_WAITING_HANDSHAKES,
    TCP_KEEPALIVE_COUNT,
    TCP_KEEPALIVE_IDLE_S,
    TCP_KEEPALIVE_INTERVAL_S,
    TCP_USER_TIMEOUT_S,
)
from sync.discovery import DiscoveredPeer, Discovery
from sync.netif import is_any, listen_socket
from sync.peers import HEARD, NOT_A_MEMBER, SILENT, TOLD, Peers
from sync.pump import NET_ERRORS, StreamChannel
from sync.trust import Trust

log = logging.getLogger(__name__)

#: After a member refuses this device (closes silently once TLS is up: it does not trust this
#: device, most likely because it was revoked), the next try waits this long, doubling up to
#: ``REFUSED_BACKOFF_MAX_S``; discovery does not wake it sooner. A member that merely has not
#: heard of this device yet dials it itself once it does.
REFUSED_BACKOFF_MIN_S = 60.0
REFUSED_BACKOFF_MAX_S = 600.0

#: What one dial came to.
ESTABLISHED, REFUSED, UNREACHABLE = "established", "refused", "unreachable"


@dataclass(eq=False, slots=True)
class _Target:
    """A peer to keep a connection to: a member's device id, or a configured address."""

    device: str | None
    addresses: list[tuple[str, int]]
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class Links:
    """The member listener, discovery and the connectors; authenticated connections go to ``peers``.

    ``stats`` counts refused connections (``refused``, ``overflow``) and this device's dials
    (``dials``). ``refused_by`` counts, per member, the dials it refused in a row.
    """

    def __init__(self, device: str, trust: Trust, peers: Peers, stats: dict[str, int]) -> None:
        self.device = device
        self.trust = trust
        self.peers = peers
        self.stats = stats
        self.discovery: Discovery | None = None
        self.discovered: dict[str, list[tuple[str, int]]] = {}
        self._targets: dict[str, _Target] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._handshakes = asyncio.Semaphore(MAX_PENDING_HANDSHAKES)
        self._waiting = 0
        self._server: asyncio.Server | None = None
        self.closing = False
        self.refused_by: dict[str, int] = {}
        self.told = False  # a member said this device is no longer a member (it was revoked)

    @property
    def shut_out(self) -> bool:
        """Every member this device reached lately refused it, and none is connected."""
        return bool(self.refused_by) and not self.peers.conns

    # -- lifecycle -----------------------------------------------------------------------------

    async def listen(self, host: str, port: int) -> int:
        """Open the member listener on ``host`` (``::``: every address, both families); return
        its port."""
        loop = asyncio.get_running_loop()

        def protocol() -> asyncio.StreamReaderProtocol:
            return _PausedProtocol(asyncio.StreamReader(loop=loop), self._on_accept, loop=loop)

        if is_any(host):  # one dual-stack socket: one port for both families
            self._server = await loop.create_server(protocol, sock=listen_socket(host, port), backlog=1024)
        else:
            self._server = await loop.create_server(protocol, host, port, backlog=1024)
        return self.port

    @property
    def listening(self) -> bool:
        return self._server is not None and bool(self._server.sockets)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def discover(self, interfaces: list[str] | None, announce: list[str] | None) -> None:
        """Announce this device and dial the members found (zeroconf on ``interfaces``; None:
        on every LAN interface, following them as they come and go)."""
        discovery = Discovery(
            self.device, self.port, self.on_discovered, interfaces=interfaces, addresses=announce
        )
        try:
            await discovery.start()
        except OSError as exc:
            log.warning("discovery unavailable (%s); dialing configured peers only", exc)
            return
        self.discovery = discovery

    async def close(self) -> None:
        """Stop discovery, listening and dialing; say goodbye on every connection."""
        self.closing = True
        if self.discovery is not None:
            await self.discovery.stop()
        if self._server is not None:
            self._server.close()
        self.peers.close_all("node shutting down")
        for target in self._targets.values():
            if target.task is not None:
                target.task.cancel()
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def trust_changed(self, gone: frozenset[str], *, removed: bool = False) -> None:
        """Membership changed: drop who is no longer trusted (all of them, when this device was
        ``removed`` itself), dial members found before."""
        self.peers.close_all("this device was removed from the library" if removed else NOT_A_MEMBER, gone)
        for device in self.trust.allowed:
            if device in self.discovered:
                self.ensure_target(device, device, self.discovered[device])

    # -- accepting -----------------------------------------------------------------------------

    async def _on_accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        try:
            await self._accept(reader, writer)
        except asyncio.CancelledError:
            # Only close() cancels; asyncio logs an error for a connection callback ending cancelled.
            writer.transport.abort()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.closing or self._waiting >= MAX_WAITING_HANDSHAKES:
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
            device = await self._handshake(writer)
        finally:
            self._handshakes.release()
        if device is not None:
            # A peer that dialled this device trusts it: only its word counts as a refusal.
            ended = await self._run(reader, writer, device, dialer=device)
            self._note(device, ended)

    async def _handshake(self, writer: asyncio.StreamWriter) -> str | None:
        """Upgrade an accepted connection to TLS; return the member it authenticated, if any."""
        try:
            assert self.trust.server_ctx is not None
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_S + 1):
                await writer.start_tls(self.trust.server_ctx, ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S)
            return tls.check_peer(writer.get_extra_info("ssl_object"), set(self.trust.allowed))
        except (*NET_ERRORS, tls.PeerNotTrusted) as exc:
            self.stats["refused"] += 1
            peer = writer.get_extra_info("peername")
            log.info("refused connection from %s: %s", peer, exc or type(exc).__name__)
            writer.transport.abort()
            # The handshake error's traceback holds a cycle through asyncio's start_tls frame
            # (and with it the TLS buffers); break it so memory is freed now, not at a full GC.
            exc.__traceback__ = None
            return None

    # -- dialing -------------------------------------------------------------------------------

    def on_discovered(self, peer: DiscoveredPeer) -> None:
        addresses = [(a, peer.port) for a in peer.addresses if "%" not in a]
        self.discovered[peer.device_id] = addresses
        if peer.device_id in self.trust.allowed:
            self.ensure_target(peer.device_id, peer.device_id, addresses)

    def ensure_target(self, key: str, device: str | None, addresses: list[tuple[str, int]]) -> None:
        """Keep a connection to ``addresses`` (of ``device``, when known) from now on."""
        if self.closing:
            return
        target = self._targets.get(key)
        if target is None or target.task is None or target.task.done():
            target = self._targets[key] = _Target(device, addresses)
            target.task = self._spawn(self._connector(target))
        target.addresses = addresses
        target.wake.set()

    async def _connector(self, target: _Target) -> None:
        """Keep one connection to the target: reconnect with exponential backoff and jitter;
        after a refusal, wait minutes (``REFUSED_BACKOFF_MIN_S``) whatever discovery says."""
        delay = BACKOFF_MIN_S
        while not self.closing:
            device = target.device
            if device is not None:
                if device not in self.trust.allowed:
                    return
                conn = self.peers.conns.get(device)
                if conn is not None:
                    await conn.done.wait()
                    continue
            target.wake.clear()
            outcome = UNREACHABLE
            for host, port in list(target.addresses):
                outcome = await self._dial(host, port, device)
                if outcome != UNREACHABLE:
                    break
            if outcome == REFUSED:
                delay = min(max(delay * BACKOFF_FACTOR, REFUSED_BACKOFF_MIN_S), REFUSED_BACKOFF_MAX_S)
                await asyncio.sleep(delay * random.uniform(0.75, 1.0))
                continue
            delay = BACKOFF_MIN_S if outcome == ESTABLISHED else min(delay * BACKOFF_FACTOR, BACKOFF_MAX_S)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay * random.uniform(0.5, 1.0)):
                    await target.wake.wait()

    async def dial(self, host: str, port: int, device: str | None) -> bool:
        """Connect, authenticate and run a session; return whether one was established."""
        return await self._dial(host, port, device) == ESTABLISHED

    async def _dial(self, host: str, port: int, device: str | None) -> str:
        """Connect, authenticate and run a session: ``ESTABLISHED``, ``REFUSED`` (the peer
        closed at once, silent: it does not trust this device) or ``UNREACHABLE``."""
        allowed, ctx = self.trust.allowed, self.trust.client_ctx
        if not allowed or ctx is None:
            return UNREACHABLE
        self.stats["dials"] = self.stats.get("dials", 0) + 1
        try:
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_S + 1):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=ctx, ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S
                )
        except NET_ERRORS as exc:
            log.debug("cannot reach %s:%d: %s", host, port, exc or type(exc).__name__)
            return UNREACHABLE
        try:
            peer = tls.check_peer(writer.get_extra_info("ssl_object"), set(self.trust.allowed))
            if device is not None and peer != device:
                raise tls.PeerNotTrusted(f"{host}:{port} answered as device {peer[:12]}, not {device[:12]}")
        except tls.PeerNotTrusted as exc:
            log.warning("not syncing with %s:%d: %s", host, port, exc)
            writer.transport.abort()
            return UNREACHABLE
        ended = await self._run(reader, writer, peer, dialer=self.device)
        self._note(peer, ended, dialled=True)
        return ESTABLISHED if ended == HEARD else REFUSED

    def _note(self, peer: str, ended: str, *, dialled: bool = False) -> None:
        """Count a member's refusals of this device in a row (``refused_by``); a peer that
        dialled this device trusts it, so only its word (``TOLD``) counts as one."""
        if ended == HEARD or (ended == SILENT and not dialled):
            self.refused_by.pop(peer, None)
            return
        self.told = self.told or ended == TOLD
        self.refused_by[peer] = self.refused_by.get(peer, 0) + 1
        log.warning("member %s refused this device: it may have been removed from the library", peer[:12])

    async def _run(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, device: str, dialer: str
    ) -> str:
        _keepalive(writer)
        return await self.peers.run(StreamChannel(reader, writer), device, dialer)


class _PausedProtocol(asyncio.StreamReaderProtocol):
    """A stream protocol that reads nothing until TLS starts.

    Otherwise the peer's ClientHello could land in the plain stream's buffer before
    ``start_tls`` takes over the transport, and the handshake would stall.
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.ReadTransport)
        transport.pause_reading()
        super().connection_made(transport)


def _keepalive(writer: asyncio.StreamWriter) -> None:
    """Let TCP notice a peer that vanished, idle or mid-transfer (the session's heartbeat
    notices sooner; this is the floor when the process cannot run its loop)."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, TCP_KEEPALIVE_IDLE_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, TCP_KEEPALIVE_INTERVAL_S)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, TCP_KEEPALIVE_COUNT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, TCP_USER_TIMEOUT_S * 1000)
