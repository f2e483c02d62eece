"""Tests of sync.pairing over real TLS sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ssl
from collections.abc import Awaitable

import pytest
from spake2 import SPAKE2_A

from sync import pairing, tls
from sync.frames import encode_frame, read_frame
from sync.identity import Identity, fingerprint
from sync.messages import MessageType, PairConfirm, PairHello, PairPake
from sync.pairing import Invitation, PairedPeer, PairingError, join
from tests.sync.conftest import LOOPBACK

pytestmark = pytest.mark.timeout(20)

#: Short step timeout so a broken test fails fast instead of hanging.
STEP = 3.0


def _other_code(code: str) -> str:
    """Return a well-formed code different from ``code``."""
    return f"{(int(code) + 1) % 10**8:08d}"


async def _outcome(aw: Awaitable[object]) -> object:
    """Return the awaitable's result or the exception it raised."""
    try:
        return await aw
    except Exception as exc:
        return exc


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()


def test_right_code_pairs_both_ways(alice: Identity, bob: Identity) -> None:
    asked: list[str] = []
    snapshot = bytes(range(256)) * 10_000  # 2.5 MB: several welcome chunks

    def welcome(device_id: str) -> bytes:
        asked.append(device_id)
        return snapshot

    async def run() -> tuple[PairedPeer, tuple[PairedPeer, bytes]]:
        async with Invitation(alice, welcome, host=LOOPBACK, step_timeout=STEP) as inv:
            assert len(inv.code) == 8
            assert inv.code.isdigit()
            spaced = f"{inv.code[:4]} {inv.code[4:]}"
            joined = await join(spaced, LOOPBACK, inv.port, bob, step_timeout=STEP)
            return await inv.wait(), joined

    at_alice, (at_bob, received) = asyncio.run(run())
    assert at_alice == PairedPeer(bob.device_id, bob.cert_der, "bob")
    assert at_bob == PairedPeer(alice.device_id, alice.cert_der, "alice")
    assert at_alice.cert_pem == bob.cert_pem
    assert asked == [bob.device_id]
    assert received == snapshot


def test_pinned_certificates_open_the_member_channel(alice: Identity, bob: Identity) -> None:
    async def run() -> tuple[str, str]:
        async with Invitation(alice, lambda _: b"", host=LOOPBACK, step_timeout=STEP) as inv:
            at_bob, _ = await join(inv.code, LOOPBACK, inv.port, bob, step_timeout=STEP)
            at_alice = await inv.wait()
        seen: list[str] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(tls.check_peer(writer.get_extra_info("ssl_object"), {at_alice.device_id}))
            await _close(writer)

        server_ctx = tls.server_context(alice, [at_alice.cert_pem])
        server = await asyncio.start_server(handle, LOOPBACK, 0, ssl=server_ctx)
        try:
            reader, writer = await asyncio.open_connection(
                LOOPBACK,
                server.sockets[0].getsockname()[1],
                ssl=tls.client_context(bob, [at_bob.cert_pem]),
            )
            client_saw = tls.check_peer(writer.get_extra_info("ssl_object"), {at_bob.device_id})
            await reader.read()
            await _close(writer)
        finally:
            server.close()
            await server.wait_closed()
        return seen[0], client_saw

    assert asyncio.run(run()) == (bob.device_id, alice.device_id)


def test_wrong_code_pins_nothing_and_consumes_the_code(alice: Identity, bob: Identity) -> None:
    asked: list[str] = []

    def welcome(device_id: str) -> bytes:
        asked.append(device_id)
        return b""

    async def run() -> tuple[object, object, object]:
        async with Invitation(alice, welcome, host=LOOPBACK, step_timeout=STEP) as inv:
            wrong = await _outcome(join(_other_code(inv.code), LOOPBACK, inv.port, bob, step_timeout=STEP))
            inviter = await _outcome(inv.wait())
            retry = await _outcome(join(inv.code, LOOPBACK, inv.port, bob, step_timeout=STEP))
            return wrong, inviter, retry

    wrong, inviter, retry = asyncio.run(run())
    assert isinstance(wrong, PairingError)
    assert "code was wrong" in str(wrong)
    assert isinstance(inviter, PairingError)
    assert "code was wrong" in str(inviter) or "code entered was wrong" in str(inviter)
    assert isinstance(retry, PairingError)
    assert "cannot reach" in str(retry)
    assert asked == []


def test_expired_code_fails(alice: Identity, bob: Identity) -> None:
    async def run() -> tuple[object, object]:
        inv = Invitation(alice, lambda _: b"", host=LOOPBACK, lifetime=0.2, step_timeout=STEP)
        await inv.start()
        try:
            port = inv.port
            async with asyncio.timeout(5):
                expired = await _outcome(inv.wait())
            late = await _outcome(join(inv.code, LOOPBACK, port, bob, step_timeout=STEP))
        finally:
            await inv.aclose()
        return expired, late

    expired, late = asyncio.run(run())
    assert isinstance(expired, PairingError)
    assert "expired" in str(expired)
    assert isinstance(late, PairingError)


def test_malformed_code_does_not_use_up_the_try(alice: Identity, bob: Identity) -> None:
    async def run() -> PairedPeer:
        async with Invitation(alice, lambda _: b"", host=LOOPBACK, step_timeout=STEP) as inv:
            with pytest.raises(PairingError, match="8 digits"):
                await join(inv.code[:-1], LOOPBACK, inv.port, bob, step_timeout=STEP)
            peer, _ = await join(inv.code, LOOPBACK, inv.port, bob, step_timeout=STEP)
            return peer

    assert asyncio.run(run()).device_id == alice.device_id


def test_closed_invitation_fails_wait(alice: Identity) -> None:
    async def run() -> object:
        inv = Invitation(alice, lambda _: b"", host=LOOPBACK)
        await inv.start()
        await inv.aclose()
        return await _outcome(inv.wait())

    result = asyncio.run(run())
    assert isinstance(result, PairingError)
    assert "closed" in str(result)


@pytest.mark.parametrize("hmac_over", ["own", "claimed"])
def test_joiner_claiming_another_certificate_fails(
    alice: Identity, bob: Identity, stranger: Identity, hmac_over: str
) -> None:
    """Bob knows the code but sends the stranger's certificate instead of his own.

    With the HMAC over his own fingerprint the key confirmation fails; with it over
    the claimed one, he cannot sign with the stranger's key.
    """

    async def evil_join(code: str, port: int) -> bytes:
        reader, writer = await asyncio.open_connection(LOOPBACK, port, ssl=tls.pairing_client_context())
        try:
            inviter_fp = fingerprint(tls.peer_cert_der(writer.get_extra_info("ssl_object")))
            spake = SPAKE2_A(pairing._password(code), idA=pairing._ID_JOINER, idB=pairing._ID_INVITER)
            writer.write(encode_frame(*PairHello(stranger.cert_der, spake.start()).encode()))
            pake = PairPake.decode(await read_frame(reader))
            key = spake.finish(pake.pake)
            # The inviter's confirmation is bound to the claimed (stranger's) certificate.
            claimed = pairing._confirmation(key, pairing._ID_INVITER, inviter_fp, stranger.device_id)
            assert hmac.compare_digest(pake.confirm, claimed)
            own_fp = bob.device_id if hmac_over == "own" else stranger.device_id
            confirm = pairing._confirmation(key, pairing._ID_JOINER, own_fp, inviter_fp)
            proof = bob.sign(pairing._PROOF_CONTEXT + confirm)
            writer.write(encode_frame(*PairConfirm(confirm, proof, "bob").encode()))
            reply = await read_frame(reader)
            return bytes([reply.type])
        finally:
            await _close(writer)

    async def run() -> tuple[bytes, object]:
        async with Invitation(alice, lambda _: b"secret", host=LOOPBACK, step_timeout=STEP) as inv:
            reply = await evil_join(inv.code, inv.port)
            return reply, await _outcome(inv.wait())

    reply, result = asyncio.run(run())
    assert reply == bytes([MessageType.PAIR_ABORT])
    assert isinstance(result, PairingError)
    expected = "key confirmation failed" if hmac_over == "own" else "did not prove"
    assert expected in str(result)


def test_man_in_the_middle_without_the_code_fails(alice: Identity, bob: Identity, stranger: Identity) -> None:
    """Mallory relays every byte between Bob and Alice under her own TLS certificate."""

    async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ssl.SSLError):
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        await _close(dst)

    async def run() -> tuple[object, object]:
        async with Invitation(alice, lambda _: b"secret", host=LOOPBACK, step_timeout=STEP) as inv:
            relays: list[asyncio.Task[None]] = []

            async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                up_reader, up_writer = await asyncio.open_connection(
                    LOOPBACK, inv.port, ssl=tls.pairing_client_context()
                )
                relays.append(asyncio.create_task(pump(up_reader, writer)))
                await pump(reader, up_writer)

            mallory = await asyncio.start_server(relay, LOOPBACK, 0, ssl=tls.pairing_server_context(stranger))
            try:
                port = mallory.sockets[0].getsockname()[1]
                at_bob = await _outcome(join(inv.code, LOOPBACK, port, bob, step_timeout=STEP))
                at_alice = await _outcome(inv.wait())
                await asyncio.gather(*relays)
            finally:
                mallory.close()
                await mallory.wait_closed()
            return at_bob, at_alice

    at_bob, at_alice = asyncio.run(run())
    assert isinstance(at_bob, PairingError)
    assert "another device is between" in str(at_bob)
    assert isinstance(at_alice, PairingError)


def test_garbage_from_joiner_fails_cleanly(alice: Identity, bob: Identity) -> None:
    async def run() -> tuple[object, object]:
        async with Invitation(alice, lambda _: b"", host=LOOPBACK, step_timeout=STEP) as inv:
            reader, writer = await asyncio.open_connection(
                LOOPBACK, inv.port, ssl=tls.pairing_client_context()
            )
            writer.write(encode_frame(MessageType.PAIR_HELLO, b"\xc1not msgpack"))
            await writer.drain()
            await reader.read()
            await _close(writer)
            first = await _outcome(inv.wait())
            retry = await _outcome(join(inv.code, LOOPBACK, inv.port, bob, step_timeout=STEP))
            return first, retry

    first, retry = asyncio.run(run())
    assert isinstance(first, PairingError)
    assert "undecodable" in str(first)
    assert isinstance(retry, PairingError)


def test_silent_joiner_times_out(alice: Identity) -> None:
    async def run() -> object:
        async with Invitation(alice, lambda _: b"", host=LOOPBACK, step_timeout=0.3) as inv:
            reader, writer = await asyncio.open_connection(
                LOOPBACK, inv.port, ssl=tls.pairing_client_context()
            )
            result = await _outcome(inv.wait())
            await reader.read()
            await _close(writer)
            return result

    result = asyncio.run(run())
    assert isinstance(result, PairingError)


def test_codes_are_random_digits() -> None:
    codes = {pairing.new_code() for _ in range(50)}
    assert len(codes) > 45
    assert all(len(c) == 8 and c.isdigit() for c in codes)
    assert pairing.normalize_code("1234-5678") == "12345678"
    for bad in ("1234567", "123456789", "abcdefgh", "\uff11" * 8):
        with pytest.raises(PairingError):
            pairing.normalize_code(bad)
