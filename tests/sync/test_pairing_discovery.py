"""Joining with the code only: the invitation's pairing listener is found by zeroconf (127.0.0.1)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from zeroconf import ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from sync.const import PAIRING_SERVICE_TYPE, PROTOCOL_VERSION
from sync.discovery import NameplateInUse, PairingListener, pairing_service_name
from sync.node import Node, NodeError, load_identity
from sync.pairing import PairingError, join, join_found
from tests.sync.nodes import LOOPBACK, start_node, until

pytestmark = pytest.mark.timeout(60)


class _Announced:
    """The pairing listeners announced on loopback, as a browser of the test's own sees them."""

    def __init__(self, zc: Zeroconf) -> None:
        self.zc = zc
        self.names: set[str] = set()

    def on_change(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            self.names.discard(name)
        else:
            self.names.add(name)

    async def record(self, name: str) -> AsyncServiceInfo:
        info = AsyncServiceInfo(PAIRING_SERVICE_TYPE, name)
        assert await info.async_request(self.zc, 3000), f"{name} does not resolve"
        return info


@asynccontextmanager
async def announced() -> AsyncIterator[_Announced]:
    """Browse ``PAIRING_SERVICE_TYPE`` on loopback (skip where loopback multicast is missing)."""
    try:
        azc = AsyncZeroconf(zc=Zeroconf(interfaces=[LOOPBACK], use_asyncio=True))
    except OSError as exc:
        pytest.skip(f"multicast on loopback is unavailable here: {exc}")
    seen = _Announced(azc.zeroconf)
    browser = AsyncServiceBrowser(azc.zeroconf, PAIRING_SERVICE_TYPE, handlers=[seen.on_change])
    try:
        yield seen
    finally:
        await browser.async_cancel()
        await azc.async_close()


async def discovering(data: Path, name: str) -> Node:
    return await start_node(data, name, discovery=True, interfaces=[LOOPBACK])


def test_join_with_the_code_only_finds_the_inviter(tmp_path: Path) -> None:
    async def run() -> None:
        async with announced() as seen:
            a = await discovering(tmp_path / "a", "desk")
            b = await discovering(tmp_path / "b", "laptop")
            try:
                inv = await a.invite()
                [name] = a.pairing_announcements
                await until(lambda: name in seen.names, 10, "the pairing listener announced")
                # What the announcement says: the listener's port, TXT v only.
                info = await seen.record(name)
                assert info.port == inv.port
                assert info.parsed_addresses() == [LOOPBACK]
                assert dict(info.properties) == {b"v": str(PROTOCOL_VERSION).encode()}
                assert name == f"pair-{inv.nameplate}.{PAIRING_SERVICE_TYPE}"  # the public part only
                assert inv.code[3:7] not in name
                assert inv.code[8:] not in name

                peer = await b.join(inv.code)  # no address: found by zeroconf
                assert peer.device_id == a.device
                assert b.replica.library == a.replica.library
                assert set(b.replica.members()) == {a.device, b.device}
                # The invitation ended with the pairing: its announcement is withdrawn.
                await until(lambda: name not in seen.names, 10, "the announcement withdrawn")
                assert a.pairing_announcements == []
                # And the two now sync as members.
                await until(
                    lambda: a.status()["peers"].get(b.device, {}).get("online", False), 15, "a session"
                )
            finally:
                await b.stop()
                await a.stop()

    asyncio.run(run())


@pytest.mark.parametrize("end", ["expired", "wrong code", "closed"])
def test_the_announcement_lasts_only_while_the_invitation_is_open(tmp_path: Path, end: str) -> None:
    async def run() -> None:
        async with announced() as seen:
            a = await discovering(tmp_path / "a", "desk")
            try:
                inv = await a.invite(lifetime=2.0 if end == "expired" else 60.0)
                [name] = a.pairing_announcements
                await until(lambda: name in seen.names, 10, "the pairing listener announced")
                if end == "wrong code":
                    wrong = inv.code[:-1] + str((int(inv.code[-1]) + 1) % 10)
                    identity = load_identity(tmp_path / "guesser", "guesser")
                    with pytest.raises(PairingError):
                        await join(wrong, LOOPBACK, inv.port, identity, step_timeout=5)
                elif end == "closed":
                    inv.close()
                with pytest.raises(PairingError):
                    await inv.wait()
                await until(lambda: name not in seen.names, 10, "the announcement withdrawn")
                assert a.pairing_announcements == []
                assert set(a.replica.members()) == {a.device}
            finally:
                await a.stop()

    asyncio.run(run())


def test_join_without_an_address_needs_discovery(tmp_path: Path) -> None:
    async def run() -> None:
        a = await start_node(tmp_path / "a", "desk")  # discovery off, as the tests' LOOPBACK options
        b = await start_node(tmp_path / "b", "laptop")
        try:
            inv = await a.invite()
            assert a.pairing_announcements == []  # nothing to announce on
            with pytest.raises(NodeError, match="no address given and discovery is off"):
                await b.join(inv.code)
            assert b.replica.library != a.replica.library
            # The code was not used: the address still works.
            await b.join(inv.code, LOOPBACK, inv.port)
            assert b.replica.library == a.replica.library
        finally:
            await b.stop()
            await a.stop()

    asyncio.run(run())


def _listener(nameplate: str, port: int, *addresses: str, version: int = PROTOCOL_VERSION) -> PairingListener:
    return PairingListener(pairing_service_name(nameplate), version, addresses or (LOOPBACK,), port)


def test_join_found_contacts_only_the_codes_nameplate(tmp_path: Path) -> None:
    async def run() -> None:
        a = await start_node(tmp_path / "a", "desk")
        other = await start_node(tmp_path / "other", "other")
        try:
            ours = await a.invite()
            theirs = await other.invite()
            while theirs.nameplate == ours.nameplate:  # a network would not let both announce it
                theirs = await other.invite()
            identity = load_identity(tmp_path / "joiner", "joiner")

            async def found() -> AsyncIterator[PairingListener]:
                yield _listener(theirs.nameplate, theirs.port)  # another invitation: never contacted
                yield _listener(ours.nameplate, ours.port, version=PROTOCOL_VERSION + 1)  # skipped
                yield _listener(ours.nameplate, 1)  # unreachable: nothing spent, the search goes on
                yield _listener(ours.nameplate, ours.port, "::1", LOOPBACK)

            peer, _welcome, host = await join_found(ours.code, found(), identity, step_timeout=5)
            assert (peer.device_id, host) == (a.device, LOOPBACK)
            # The other invitation was not touched: its code still pairs.
            late = load_identity(tmp_path / "late", "late")
            assert (await join(theirs.code, LOOPBACK, theirs.port, late, step_timeout=5))[
                0
            ].device_id == other.device

            async def nothing() -> AsyncIterator[PairingListener]:
                return
                yield

            with pytest.raises(PairingError, match="no invitation with that code on the network"):
                await join_found(ours.code, nothing(), identity)
        finally:
            await other.stop()
            await a.stop()

    asyncio.run(run())


def test_one_exchange_per_search_even_if_it_fails(tmp_path: Path) -> None:
    """A wrong secret spends the named invitation and ends the search: no second try anywhere."""

    async def run() -> None:
        a = await start_node(tmp_path / "a", "desk")
        b = await start_node(tmp_path / "b", "desk2")
        try:
            first = await a.invite()
            second = await b.invite()
            identity = load_identity(tmp_path / "joiner", "joiner")
            wrong = first.code[:-1] + str((int(first.code[-1]) + 1) % 10)

            async def found() -> AsyncIterator[PairingListener]:
                yield _listener(first.nameplate, first.port)
                yield _listener(first.nameplate, second.port)  # a stale or forged duplicate

            with pytest.raises(PairingError, match="code was wrong"):
                await join_found(wrong, found(), identity, step_timeout=5)
            with pytest.raises(PairingError):
                await first.wait()  # spent by the real try
            late = load_identity(tmp_path / "late", "late")
            assert (await join(second.code, LOOPBACK, second.port, late, step_timeout=5))[
                0
            ].device_id == b.device
        finally:
            await b.stop()
            await a.stop()

    asyncio.run(run())


def test_a_mistyped_code_on_a_lan_with_two_invitations_touches_neither(tmp_path: Path) -> None:
    """Regression: a join without an address tried every open invitation, burning other people's."""

    async def run() -> None:
        async with announced() as seen:
            a = await discovering(tmp_path / "a", "desk")
            b = await discovering(tmp_path / "b", "den")
            joiner = await discovering(tmp_path / "j", "laptop")
            try:
                inv_a, inv_b = await a.invite(), await b.invite()
                assert inv_a.nameplate != inv_b.nameplate  # mDNS probing keeps nameplates apart
                names = {*a.pairing_announcements, *b.pairing_announcements}
                await until(lambda: names <= seen.names, 10, "both invitations announced")
                free = next(
                    f"{n:02d}" for n in range(100) if f"{n:02d}" not in {inv_a.nameplate, inv_b.nameplate}
                )
                typo = free + inv_a.code[2:]  # the secret right, the nameplate mistyped

                with pytest.raises(PairingError, match="no invitation with that code on the network"):
                    await joiner.join(typo, search=2.0)
                assert a.pairing_announcements
                assert b.pairing_announcements
                # Both codes still pair: the first by the joiner, searching; the second by address.
                assert (await joiner.join(inv_a.code)).device_id == a.device
                late = load_identity(tmp_path / "late", "late")
                paired, _ = await join(inv_b.code, LOOPBACK, inv_b.port, late, step_timeout=5)
                assert paired.device_id == b.device
            finally:
                await joiner.stop()
                await b.stop()
                await a.stop()

    asyncio.run(run())


def test_a_taken_nameplate_is_refused_by_mdns_probing(tmp_path: Path) -> None:
    async def run() -> None:
        async with announced() as seen:
            a = await discovering(tmp_path / "a", "desk")
            b = await discovering(tmp_path / "b", "den")
            try:
                inv = await a.invite()
                [name] = a.pairing_announcements
                await until(lambda: name in seen.names, 10, "the invitation announced")
                discovery = b._discovery
                assert discovery is not None
                with pytest.raises(NameplateInUse):
                    await discovery.announce_pairing(inv.port, inv.nameplate)
                assert b.pairing_announcements == []
            finally:
                await b.stop()
                await a.stop()

    asyncio.run(run())
