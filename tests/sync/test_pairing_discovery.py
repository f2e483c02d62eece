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
from sync.discovery import PairingListener
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
                assert inv.code not in name

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
                    wrong = f"{(int(inv.code) + 1) % 10**8:08d}"
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


def test_listeners_that_fail_are_skipped_until_one_pairs(tmp_path: Path) -> None:
    async def run() -> None:
        a = await start_node(tmp_path / "a", "desk")
        other = await start_node(tmp_path / "other", "other")
        try:
            ours, theirs = await a.invite(), await other.invite()
            identity = load_identity(tmp_path / "joiner", "joiner")

            async def found() -> AsyncIterator[PairingListener]:
                yield PairingListener("newer", PROTOCOL_VERSION + 1, (LOOPBACK,), ours.port)  # skipped
                yield PairingListener("gone", PROTOCOL_VERSION, (LOOPBACK,), 1)  # unreachable
                yield PairingListener("other", PROTOCOL_VERSION, (LOOPBACK,), theirs.port)  # wrong code
                yield PairingListener("ours", PROTOCOL_VERSION, ("::1", LOOPBACK), ours.port)

            peer, _welcome, host = await join_found(ours.code, found(), identity, step_timeout=5)
            assert (peer.device_id, host) == (a.device, LOOPBACK)
            with pytest.raises(PairingError):
                await theirs.wait()  # its code was used up by the attempt
            assert set(other.replica.members()) == {other.device}

            async def nothing() -> AsyncIterator[PairingListener]:
                return
                yield

            with pytest.raises(PairingError, match="no inviting device found"):
                await join_found(ours.code, nothing(), identity)
        finally:
            await other.stop()
            await a.stop()

    asyncio.run(run())
