"""Pairing on a running node: its open invitations, and joining another device's by code.

Each invitation listens with a one-time code ``NN-DDDD-DDDD``; with discovery on it is
announced on the LAN under its nameplate ``NN`` until it ends (paired, failed, expired or
closed), so a joiner given only the code finds that invitation and no other. The nameplate
is picked free among this node's invitations and, by mDNS probing, the network's. A paired
device is recorded as a member (with its certificate) before it gets its welcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import tempfile
from collections.abc import Callable
from typing import IO, Any, TypeVar

from localfirst import Replica
from sync import pairing
from sync.discovery import Discovery, NameplateInUse
from sync.identity import Identity
from sync.library import NodeError
from sync.pairing import Invitation, PairedPeer, PairingError

log = logging.getLogger(__name__)

#: Nameplates tried before giving up when the network already announces each one picked.
_NAMEPLATE_TRIES = 8

_T = TypeVar("_T")
#: Runs ``fn(replica)`` on the node's loop and syncs what it wrote (``Node.apply``).
Apply = Callable[[Callable[[Replica], _T]], _T]


class Pairing:
    """Invitations to this device's library, each announced (with discovery) until it ends,
    and joining another device's invitation."""

    def __init__(self, identity: Identity, apply: Apply[Any], host: str, discovery: Discovery | None) -> None:
        self._identity = identity
        self._apply = apply
        self._host = host
        self._discovery = discovery
        self._open: set[Invitation] = set()
        self._ads: dict[Invitation, str] = {}  # invitation -> its zeroconf instance name
        self._tasks: set[asyncio.Task[Any]] = set()

    def _spooled_welcome(self, _device: str) -> IO[bytes]:
        """The welcome written to a temporary file (gone once closed), so the node never holds
        a library's welcome in memory (120 MB at ten years; issue 17)."""
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - handed on open; the sender closes it
        try:
            self._apply(lambda r: r.write_welcome(spool.write))
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        return spool

    async def invite(self, lifetime: float, member_port: int, port: int = 0) -> Invitation:
        """Open a pairing listener (on ``port``; 0: any free one) with a fresh one-time code;
        its outcome is handled here.

        With discovery on it returns once the code's nameplate is announced (about a second).

        Raises:
            PairingError: every nameplate tried is already announced on the network.
        """
        for _ in range(_NAMEPLATE_TRIES):
            inv = Invitation(
                self._identity,
                self._spooled_welcome,
                host=self._host,
                lifetime=lifetime,
                admit=self._admit,
                member_port=member_port,
                port=port,
                nameplate=self._free_nameplate(),
            )
            await inv.start()
            self._open.add(inv)
            if await self._announce(inv):
                break
        else:
            raise PairingError("every pairing nameplate tried is in use on the network; try again")
        task = asyncio.get_running_loop().create_task(self._outcome(inv))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return inv

    def _free_nameplate(self) -> str:
        """A random nameplate that none of this node's open invitations has."""
        taken = {inv.nameplate for inv in self._open}
        free = [f"{n:0{pairing.NAMEPLATE_DIGITS}d}" for n in range(10**pairing.NAMEPLATE_DIGITS)]
        free = [n for n in free if n not in taken] or free
        return secrets.choice(free)

    async def _announce(self, inv: Invitation) -> bool:
        """Announce ``inv`` (with discovery); False, and ``inv`` closed, if its nameplate is taken."""
        if self._discovery is None:
            return True
        try:
            self._ads[inv] = await self._discovery.announce_pairing(inv.port, inv.nameplate)
        except NameplateInUse:
            log.info("pairing nameplate %s is in use on the network; picking another", inv.nameplate)
            self._open.discard(inv)
            await inv.aclose()
            return False
        except BaseException:
            self._open.discard(inv)
            await inv.aclose()
            raise
        return True

    def _admit(self, peer: PairedPeer) -> None:
        """Record a paired device as a member, with its certificate, before its welcome."""
        fields = {"name": peer.name, "cert": peer.cert_pem.decode("ascii")}
        self._apply(lambda r: r.put("device", peer.device_id, fields))

    async def _outcome(self, inv: Invitation) -> None:
        try:
            peer = await inv.wait()
            log.info("paired with %s (%s)", peer.device_id[:12], peer.name)
        except PairingError as exc:
            log.info("invitation ended: %s", exc)
        finally:
            self._open.discard(inv)
            await self._withdraw(inv)
            await inv.aclose()

    async def _withdraw(self, inv: Invitation) -> None:
        """Stop announcing an invitation's pairing listener."""
        name = self._ads.pop(inv, None)
        if name is not None and self._discovery is not None:
            try:
                await self._discovery.withdraw_pairing(name)
            except (OSError, RuntimeError) as exc:
                log.warning("could not withdraw the pairing announcement: %s", exc)

    @property
    def announcements(self) -> list[str]:
        """Zeroconf instance names of the pairing listeners announced now."""
        return sorted(self._ads.values())

    async def close(self) -> None:
        """End every invitation (its outcome task finishes it)."""
        for inv in list(self._open):
            await inv.aclose()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def join(
        self, code: str, address: tuple[str, int] | None, search: float
    ) -> tuple[PairedPeer, bytes, str]:
        """Pair with the device inviting at ``address``, or with one found on the network.

        Returns the peer, its welcome and the host it answered on.

        Raises:
            NodeError: no address was given and discovery is off.
            PairingError: see :func:`sync.pairing.join`.
        """
        if address is not None:
            peer, welcome = await pairing.join(code, *address, self._identity)
            return peer, welcome, address[0]
        if self._discovery is None:
            raise NodeError("no address given and discovery is off: enter the inviting device's host:port")
        nameplate = pairing.nameplate_of(code)  # a typo fails before searching
        log.info("searching the network for the invitation %s (up to %.0f s)", nameplate, search)
        async with contextlib.aclosing(self._discovery.browse_pairing(search, nameplate)) as found:
            return await pairing.join_found(code, found, self._identity)
