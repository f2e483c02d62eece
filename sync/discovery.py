"""Zeroconf (mDNS/DNS-SD) announcement of this device and browsing for others.

The TXT record carries only the protocol version ``v`` and the device id ``id``:
never a user's name or a library id. Discovery is only a hint -- an answer never
grants trust; the member channel's TLS and fingerprint checks do.

While an invitation is open, the inviting device also announces its pairing listener as
``PAIRING_SERVICE_TYPE`` under the instance name ``pair-NN``, where ``NN`` is the code's
public nameplate, TXT ``v`` only (nothing about the device, the library or the code's
secret), and withdraws it when the invitation ends. mDNS probing keeps the name unique on
the link: a nameplate already announced elsewhere raises :class:`NameplateInUse` and the
inviter picks another. A joiner given no address browses for the nameplate of its code only
(:func:`browse_pairing`); the code exchange decides the rest.

Callbacks run on the asyncio event loop that called :meth:`Discovery.start`
(zeroconf is attached to that loop, so it starts no thread of its own). A UI must
hand them to its own thread, e.g. by a Qt signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncGenerator, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TypeVar

from zeroconf import (
    IPVersion,
    NonUniqueNameException,
    ServiceNameAlreadyRegistered,
    ServiceStateChange,
    Zeroconf,
)
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from sync.const import (
    DISCOVERY_RESOLVE_TIMEOUT_MS,
    INSTANCE_ID_CHARS,
    INTERFACE_CHECK_S,
    PAIRING_SERVICE_TYPE,
    PROTOCOL_VERSION,
    SERVICE_TYPE,
)
from sync.errors import PairingError
from sync.netif import lan_interfaces

log = logging.getLogger(__name__)

_DEVICE_ID = re.compile(r"[0-9a-f]{64}")
_VERSION = re.compile(r"[0-9]{1,6}")
_PAIRING_NAME = re.compile(r"pair-([0-9]{1,8})\." + re.escape(PAIRING_SERVICE_TYPE), re.IGNORECASE)
_T = TypeVar("_T")
NO_MULTICAST = (
    "no network interface with multicast is up, so the inviting device cannot be found; "
    "give its address with --peer HOST:PORT"
)


def _ip_version(interfaces: Sequence[object]) -> IPVersion | None:
    """Both families if the LAN list holds an IPv6 interface (an index tuple); for addresses
    given as text, None: zeroconf picks the families from them."""
    return IPVersion.All if any(not isinstance(i, str) for i in interfaces) else None


@dataclass(frozen=True, slots=True)
class DiscoveredPeer:
    """A device that announced itself: where it says it listens. Not a trust decision."""

    device_id: str
    version: int
    addresses: tuple[str, ...]
    port: int


class NameplateInUse(Exception):
    """Another pairing listener on the network already announces this nameplate."""


@dataclass(frozen=True, slots=True)
class PairingListener:
    """An announced pairing listener: where an invitation says it listens. Not a trust decision."""

    name: str
    version: int
    addresses: tuple[str, ...]
    port: int

    @property
    def nameplate(self) -> str | None:
        """The code nameplate its instance name carries (None: not a ``pair-NN`` name)."""
        return pairing_nameplate(self.name)


def pairing_service_name(nameplate: str) -> str:
    """Return the DNS-SD instance name announcing the invitation of a code's nameplate."""
    return f"pair-{nameplate}.{PAIRING_SERVICE_TYPE}"


def pairing_nameplate(name: str) -> str | None:
    """Return the nameplate in a pairing listener's instance name, or None if it has none."""
    match = _PAIRING_NAME.fullmatch(name)
    return match[1] if match else None


def service_name(device_id: str) -> str:
    """Return the DNS-SD instance name for a device (a DNS label holds 63 octets)."""
    return f"{device_id[:INSTANCE_ID_CHARS]}.{SERVICE_TYPE}"


def parse_txt(properties: dict[bytes, bytes | None]) -> tuple[int, str] | None:
    """Return ``(version, device_id)`` from a TXT record, or None if it is malformed."""
    raw_version = properties.get(b"v")
    raw_id = properties.get(b"id")
    if raw_version is None or raw_id is None:
        return None
    try:
        version, device_id = raw_version.decode("ascii"), raw_id.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not _VERSION.fullmatch(version) or not _DEVICE_ID.fullmatch(device_id):
        return None
    return int(version), device_id


def parse_pairing_txt(properties: dict[bytes, bytes | None]) -> int | None:
    """Return the protocol version of a pairing listener's TXT record, or None if malformed."""
    raw_version = properties.get(b"v")
    if raw_version is None:
        return None
    try:
        version = raw_version.decode("ascii")
    except UnicodeDecodeError:
        return None
    return int(version) if _VERSION.fullmatch(version) else None


async def browse_pairing(
    zc: Zeroconf, timeout: float, *, exclude: Collection[str] = (), nameplate: str | None = None
) -> AsyncGenerator[PairingListener, None]:
    """Yield the pairing listeners announced on ``zc``'s interfaces, for up to ``timeout`` s.

    Each announcement is yielded once, as soon as it resolves; one withdrawn before the
    caller got to it is skipped. Names in ``exclude`` (this device's own) are ignored, and
    with ``nameplate`` every other nameplate's (not even resolved). Use it under
    ``contextlib.aclosing`` so the browser stops when the caller is done.
    """
    found: asyncio.Queue[PairingListener] = asyncio.Queue()
    seen: set[str] = set(exclude)
    removed: set[str] = set()
    resolving: set[asyncio.Task[None]] = set()

    async def resolve(name: str) -> None:
        info = AsyncServiceInfo(PAIRING_SERVICE_TYPE, name)
        if not await info.async_request(zc, DISCOVERY_RESOLVE_TIMEOUT_MS):
            log.debug("could not resolve %s", name)
            return
        version = parse_pairing_txt(info.properties)
        addresses = tuple(info.parsed_scoped_addresses())
        if version is None or not info.port or not addresses:
            log.debug("ignoring malformed pairing announcement %s", name)
            return
        found.put_nowait(PairingListener(name, version, addresses, info.port))

    def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Removed:
            removed.add(name)
            return
        if name in seen or (nameplate is not None and pairing_nameplate(name) != nameplate):
            return
        seen.add(name)
        task = asyncio.get_running_loop().create_task(resolve(name))
        resolving.add(task)
        task.add_done_callback(resolving.discard)

    deadline = time.monotonic() + timeout
    browser = AsyncServiceBrowser(zc, PAIRING_SERVICE_TYPE, handlers=[on_change])
    try:
        while (left := deadline - time.monotonic()) > 0:
            try:
                async with asyncio.timeout(left):
                    listener = await found.get()
            except TimeoutError:
                return
            if listener.name not in removed:
                yield listener
    finally:
        await browser.async_cancel()
        for task in resolving:
            task.cancel()
        for task in list(resolving):
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def search_pairing(
    interfaces: Sequence[str] | None, timeout: float, nameplate: str | None = None
) -> AsyncGenerator[PairingListener, None]:
    """:func:`browse_pairing` on a zeroconf of its own bound to ``interfaces`` (None: every LAN
    interface up now), closed after.

    For a joiner that runs no :class:`Discovery` (the CLI's ``join``).

    Raises:
        OSError: zeroconf cannot bind to those interfaces.
        PairingError: no LAN interface with multicast is up.
    """
    chosen: list[str | tuple[tuple[str, int, int], int]]
    if interfaces is None:
        chosen = list(lan_interfaces().zeroconf)
        if not chosen:
            raise PairingError(NO_MULTICAST)
    elif not interfaces:
        raise ValueError("discovery needs at least one interface address")
    else:
        chosen = list(interfaces)
    azc = AsyncZeroconf(zc=Zeroconf(interfaces=chosen, ip_version=_ip_version(chosen), use_asyncio=True))
    try:
        found = browse_pairing(azc.zeroconf, timeout, nameplate=nameplate)
        async with contextlib.aclosing(found) as listeners:
            async for listener in listeners:
                yield listener
    finally:
        await azc.async_close()


class Discovery:
    """Announce this device on the chosen interfaces and report the others.

    Nothing opens a socket before :meth:`start`; :meth:`stop` closes everything.
    """

    def __init__(
        self,
        device_id: str,
        port: int,
        on_peer: Callable[[DiscoveredPeer], None],
        *,
        interfaces: Sequence[str] | None,
        addresses: Sequence[str] | None = None,
        on_peer_lost: Callable[[str], None] | None = None,
    ) -> None:
        """Prepare discovery.

        Args:
            device_id: this device's id, announced in TXT ``id``.
            port: the member channel's TCP port to announce.
            on_peer: called with each peer found or updated (never this device),
                on the event loop that ran :meth:`start`.
            interfaces: IP addresses of the interfaces to use, e.g. ``["127.0.0.1"]``; None:
                every LAN interface (:func:`sync.netif.lan_interfaces`), re-checked every
                ``INTERFACE_CHECK_S`` so interfaces that come and go are followed.
            addresses: addresses to announce; defaults to ``interfaces`` (the LAN ones).
            on_peer_lost: called with a device id when its announcement goes away.
        """
        if interfaces is not None and not interfaces:
            raise ValueError("discovery needs at least one interface address")
        self._device_id = device_id
        self._port = port
        self._on_peer = on_peer
        self._on_peer_lost = on_peer_lost
        self._follow = interfaces is None and addresses is None
        self._interfaces: list[str | tuple[tuple[str, int, int], int]] = list(interfaces or [])
        self._addresses = list(addresses if addresses is not None else interfaces or [])
        self._following: asyncio.Task[None] | None = None
        self._azc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._resolving: set[asyncio.Task[None]] = set()
        self._names: dict[str, str] = {}
        self._server = f"lf-{device_id[:16]}.local."
        # Announced pairing listeners: instance name -> (record, task registering it).
        self._pairing: dict[str, tuple[AsyncServiceInfo, asyncio.Task[None]]] = {}

    def service_info(self) -> AsyncServiceInfo:
        """Return the service record this device announces."""
        return AsyncServiceInfo(
            SERVICE_TYPE,
            service_name(self._device_id),
            parsed_addresses=self._addresses,
            port=self._port,
            properties={"v": str(PROTOCOL_VERSION), "id": self._device_id},
            server=self._server,
        )

    def pairing_info(self, port: int, nameplate: str) -> AsyncServiceInfo:
        """Return a record for a pairing listener on ``port``: instance ``pair-NN`` (the code's
        public nameplate), TXT ``v`` only, nothing derived from the device's names, its library
        or the code's secret."""
        return AsyncServiceInfo(
            PAIRING_SERVICE_TYPE,
            pairing_service_name(nameplate),
            parsed_addresses=self._addresses,
            port=port,
            properties={"v": str(PROTOCOL_VERSION)},
            server=self._server,
        )

    async def announce_pairing(self, port: int, nameplate: str) -> str:
        """Announce a pairing listener on ``port`` under ``nameplate``; return its instance name.

        Returns once mDNS probing found the name free (about a second), so the code shown
        names this invitation alone; :meth:`withdraw_pairing` ends the announcement.

        Raises:
            NameplateInUse: another listener, here or elsewhere on the link, has the name.
        """
        if self._azc is None:
            raise RuntimeError("discovery not started")
        info = self.pairing_info(port, nameplate)
        if info.name in self._pairing:
            raise NameplateInUse(nameplate)
        task = asyncio.get_running_loop().create_task(self._register(self._azc, info))
        self._pairing[info.name] = (info, task)
        try:
            await task
        except NameplateInUse:
            self._pairing.pop(info.name, None)
            raise
        return info.name

    @property
    def pairing_names(self) -> frozenset[str]:
        """Instance names of the pairing listeners this device announces."""
        return frozenset(self._pairing)

    async def withdraw_pairing(self, name: str) -> None:
        """Stop announcing a pairing listener (goodbye packets sent); a no-op once stopped."""
        entry = self._pairing.pop(name, None)
        if entry is None:
            return
        info, task = entry
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        azc = self._azc
        if azc is not None and azc.zeroconf.registry.async_get_info_name(name) is not None:
            await (await azc.async_unregister_service(info))
        log.debug("pairing listener withdrawn from discovery: %s", name)

    @staticmethod
    async def _register(azc: AsyncZeroconf, info: AsyncServiceInfo) -> None:
        try:
            await azc.async_register_service(info)  # probing done: it answers queries now
        except (NonUniqueNameException, ServiceNameAlreadyRegistered):
            raise NameplateInUse(info.name) from None
        except Exception as exc:  # the sockets closed: the address still works
            log.warning("cannot announce the pairing listener: %s", exc)

    async def browse_pairing(
        self, timeout: float, nameplate: str | None = None
    ) -> AsyncGenerator[PairingListener, None]:
        """:func:`browse_pairing` on this discovery's interfaces, skipping our own listeners.

        Raises:
            PairingError: no interface with multicast is up (zeroconf is waiting for one).
        """
        if self._azc is None:
            raise PairingError(NO_MULTICAST)
        async with contextlib.aclosing(
            browse_pairing(self._azc.zeroconf, timeout, exclude=self.pairing_names, nameplate=nameplate)
        ) as listeners:
            async for listener in listeners:
                yield listener

    @property
    def active(self) -> bool:
        """Whether zeroconf runs now (following the LAN, it waits for an interface to come up)."""
        return self._azc is not None

    async def start(self) -> None:
        """Open the zeroconf sockets, announce this device and start browsing.

        Following the LAN with no usable interface up, it starts once one comes up.
        """
        if self._azc is not None or self._following is not None:
            raise RuntimeError("discovery already started")
        if self._follow:
            lan = lan_interfaces()
            self._interfaces, self._addresses = list(lan.zeroconf), list(lan.addresses)
            self._following = asyncio.get_running_loop().create_task(self._follow_interfaces())
            if not lan:
                log.warning("no network interface with multicast is up; discovery waits for one")
                return
        await self._open()

    async def _open(self) -> None:
        # use_asyncio=True attaches zeroconf to this loop instead of a thread of its own.
        zc = Zeroconf(interfaces=self._interfaces, ip_version=_ip_version(self._interfaces), use_asyncio=True)
        self._azc = AsyncZeroconf(zc=zc)
        try:
            registered = await self._azc.async_register_service(self.service_info())
            await registered
            self._browser = AsyncServiceBrowser(self._azc.zeroconf, SERVICE_TYPE, handlers=[self._on_change])
        except BaseException:
            await self.stop()
            raise

    async def _follow_interfaces(self) -> None:
        """Every ``INTERFACE_CHECK_S``: bind zeroconf to the LAN interfaces up now and announce
        their addresses (an interface that went away is dropped, a new one joined)."""
        while True:
            await asyncio.sleep(INTERFACE_CHECK_S)
            lan = lan_interfaces()
            if list(lan.zeroconf) == self._interfaces and list(lan.addresses) == self._addresses:
                continue
            if not lan:  # keep the last sockets: they serve again when the interface is back
                continue
            log.info("network interfaces changed: now %s", ", ".join(lan.addresses) or "link-local only")
            self._interfaces, self._addresses = list(lan.zeroconf), list(lan.addresses)
            try:
                await self._rebind()
            except (OSError, RuntimeError) as exc:
                log.warning("cannot follow the network interfaces: %s", exc)

    async def _rebind(self) -> None:
        if self._azc is None:
            await self._open()
            return
        await self._azc.zeroconf.async_update_interfaces(self._interfaces, _ip_version(self._interfaces))
        for info in [self.service_info(), *(i for i, _task in self._pairing.values())]:
            info.addresses = self._addresses
            if self._azc.zeroconf.registry.async_get_info_name(info.name) is not None:
                await (await self._azc.zeroconf.async_update_service(info))

    async def stop(self) -> None:
        """Stop browsing, withdraw the announcement and close the sockets."""
        if self._following is not None:
            self._following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._following
            self._following = None
        # Pending pairing announcements end; closing zeroconf withdraws the registered ones.
        for _info, task in self._pairing.values():
            task.cancel()
        for _info, task in list(self._pairing.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._pairing.clear()
        # Browser first, so no new lookup starts while the pending ones are cancelled.
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        for task in self._resolving:
            task.cancel()
        for task in list(self._resolving):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._azc is not None:
            azc, self._azc = self._azc, None
            await azc.async_close()  # also unregisters, sending goodbye packets

    def _on_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        """Handle a browser event (zeroconf calls this on its loop, i.e. ours)."""
        if state_change is ServiceStateChange.Removed:
            device_id = self._names.pop(name, None)
            if device_id is not None and self._on_peer_lost is not None:
                self._call(self._on_peer_lost, device_id)
            return
        task = asyncio.get_running_loop().create_task(self._resolve(zeroconf, service_type, name))
        self._resolving.add(task)
        task.add_done_callback(self._resolving.discard)

    async def _resolve(self, zeroconf: Zeroconf, service_type: str, name: str) -> None:
        """Fetch a service's records and report it if it is a well-formed peer."""
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(zeroconf, DISCOVERY_RESOLVE_TIMEOUT_MS):
            log.debug("could not resolve %s", name)
            return
        parsed = parse_txt(info.properties)
        if parsed is None or info.port is None:
            log.debug("ignoring malformed announcement %s", name)
            return
        version, device_id = parsed
        if device_id == self._device_id:
            return
        self._names[name] = device_id
        peer = DiscoveredPeer(device_id, version, tuple(info.parsed_scoped_addresses()), info.port)
        self._call(self._on_peer, peer)

    @staticmethod
    def _call(callback: Callable[[_T], None], arg: _T) -> None:
        """Run a user callback; its failure must not break zeroconf's processing."""
        try:
            callback(arg)
        except Exception:
            log.exception("discovery callback failed")
