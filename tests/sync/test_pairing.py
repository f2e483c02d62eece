"""Tests of sync.pairing over real TLS sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import re
import ssl
import tempfile
from collections.abc import Awaitable

import pytest
from spake2 import SPAKE2_A

from sync import pairing, tls
from sync.frames import encode_frame, read_frame
from sync.identity import Identity, fingerprint
from sync.messages import MessageType, PairAbort, PairConfirm, PairHello, PairPake
from sync.pairing import Invitation, PairedPeer, PairingError, join
from tests.sync.conftest import LOOPBACK

pytestmark = pytest.mark.timeout(20)

#: Short step timeout so a broken test fails fast instead of hanging.
STEP = 3.0


def _other_code(code: str) -> str:
    """Return ``code`` with the same nameplate and a different secret."""
    return code[:-1] + str((int(code[-1]) + 1) % 10)


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
            assert re.fullmatch(r"\d{2}-\d{4}-\d{4}", inv.code)
            assert inv.nameplate == inv.code[:2]
            spaced = inv.code.replace("-", " ")
            joined = await join(spaced, LOOPBACK, inv.port, bob, step_timeout=STEP)
            return await inv.wait(), joined

    at_alice, (at_bob, received) = asyncio.run(run())
    assert at_alice == PairedPeer(bob.device_id, bob.cert_der, "bob")
    assert at_bob == PairedPeer(alice.device_id, alice.cert_der, "alice")
    assert at_alice.cert_pem == bob.cert_pem
    assert asked == [bob.device_id]
    assert received == snapshot


def test_a_welcome_spooled_to_a_file_arrives_whole_and_the_file_is_closed(
    alice: Identity, bob: Identity
) -> None:
    # Issue 17: a node hands over a big welcome as a temporary file, never held in memory.
    snapshot = bytes(range(256)) * 10_000
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - the invitation closes it once sent
    spool.write(snapshot)
    spool.seek(0)

    async def run() -> tuple[PairedPeer, bytes]:
        async with Invitation(alice, lambda _: spool, host=LOOPBACK, step_timeout=STEP) as inv:
            joined = await join(inv.code, LOOPBACK, inv.port, bob, step_timeout=STEP)
            await inv.wait()
            return joined

    _, received = asyncio.run(run())
    assert received == snapshot
    assert spool.closed


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
            with pytest.raises(PairingError, match="10 digits"):
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


async def _tls_connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(LOOPBACK, port, ssl=tls.pairing_client_context())


async def _dropped(reader: asyncio.StreamReader) -> bool:
    """True once the inviter closed the connection (EOF, possibly after a PAIR_ABORT)."""
    with contextlib.suppress(OSError, ssl.SSLError):
        async with asyncio.timeout(STEP * 2):
            while await reader.read(65536):
                pass
    return reader.at_eof()


async def _eof_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    """True if the other side closed (or reset) the connection within ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except OSError:  # closed with our garbage unread: a reset
        return True
    return reader.at_eof()


def _paired_alice(result: object, alice: Identity) -> bool:
    return (
        isinstance(result, tuple)
        and isinstance(result[0], PairedPeer)
        and result[0].device_id == alice.device_id
    )


def test_bare_connection_does_not_spend_the_code(alice: Identity, bob: Identity) -> None:
    """Regression: a TLS connect that sends no SPAKE2 message used to burn the invitation."""

    async def run() -> tuple[bool, bool, object, PairedPeer]:
        async with Invitation(alice, lambda _: b"", host=LOOPBACK, step_timeout=0.5) as inv:
            _reader, bare = await _tls_connect(inv.port)  # stays open, silent
            raw_reader, raw = await asyncio.open_connection(LOOPBACK, inv.port)  # not even TLS
            try:
                dropped = await _dropped(raw_reader)  # its handshake timed out
                open_meanwhile = not inv._done.is_set()
                joined = await _outcome(join(inv.code, LOOPBACK, inv.port, bob, step_timeout=STEP))
                return dropped, open_meanwhile, joined, await inv.wait()
            finally:
                await _close(bare)
                await _close(raw)

    dropped, open_meanwhile, joined, at_alice = asyncio.run(run())
    assert dropped
    assert open_meanwhile
    assert _paired_alice(joined, alice)
    assert at_alice.device_id == bob.device_id


def test_silent_joiner_is_dropped_and_the_code_stays(alice: Identity, bob: Identity) -> None:
    async def run() -> tuple[bool, bool, object]:
        async with Invitation(alice, lambda _: b"", host=LOOPBACK, step_timeout=0.3) as inv:
            reader, writer = await _tls_connect(inv.port)
            dropped = await _dropped(reader)
            await _close(writer)
            still_open = not inv._done.is_set()
            joined = await _outcome(join(inv.code, LOOPBACK, inv.port, bob, step_timeout=STEP))
            return dropped, still_open, joined

    dropped, still_open, joined = asyncio.run(run())
    assert dropped
    assert still_open
    assert _paired_alice(joined, alice)


@pytest.mark.parametrize(
    "garbage",
    ["not tls", "undecodable hello", "wrong message", "bad certificate", "bad spake2", "oversized", "abort"],
)
def test_garbage_connection_does_not_spend_the_code(
    alice: Identity, bob: Identity, stranger: Identity, garbage: str
) -> None:
    def payload() -> bytes:
        pake = SPAKE2_A(b"whatever", idA=pairing._ID_JOINER, idB=pairing._ID_INVITER).start()
        if garbage == "undecodable hello":
            return encode_frame(MessageType.PAIR_HELLO, b"\xc1not msgpack")
        if garbage == "wrong message":
            return encode_frame(*PairConfirm(b"\0" * 32, b"\0" * 64, "x").encode())
        if garbage == "bad certificate":
            return encode_frame(*PairHello(b"\x30\x03\x02\x01\x00", pake).encode())
        if garbage == "bad spake2":
            return encode_frame(*PairHello(stranger.cert_der, b"\x41" + b"\xff" * 32).encode())
        if garbage == "oversized":
            return encode_frame(MessageType.PAIR_HELLO, b"\0" * (64 * 1024))
        return encode_frame(*PairAbort("no").encode())

    async def run() -> tuple[bool, bool, object]:
        async with Invitation(alice, lambda _: b"", host=LOOPBACK, step_timeout=STEP) as inv:
            if garbage == "not tls":
                reader, writer = await asyncio.open_connection(LOOPBACK, inv.port)
                writer.write(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)))
            else:
                reader, writer = await _tls_connect(inv.port)
                writer.write(payload())
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.drain()
            dropped = await _dropped(reader)
            await _close(writer)
            still_open = not inv._done.is_set()
            joined = await _outcome(join(inv.code, LOOPBACK, inv.port, bob, step_timeout=STEP))
            return dropped, still_open, joined

    dropped, still_open, joined = asyncio.run(run())
    assert dropped
    assert still_open
    assert _paired_alice(joined, alice)


def test_200_parallel_connections_leave_the_code_to_the_real_joiner(alice: Identity, bob: Identity) -> None:
    """A flood is capped per source (the oldest give way); none of it spends the code."""

    async def run() -> tuple[tuple[int, int], bool, object]:
        async with Invitation(alice, lambda _: b"", host=LOOPBACK, step_timeout=STEP) as inv:
            flood = await asyncio.gather(*(asyncio.open_connection(LOOPBACK, inv.port) for _ in range(200)))
            try:
                for i, (_reader, writer) in enumerate(flood):
                    if i % 2:
                        writer.write(b"\x16\x03\x01garbage" * 10)
                # Beyond the per-source cap the oldest were dropped at once (before any timeout).
                # Beyond the per-source cap the oldest were dropped at once, long before the
                # step timeout; the rest are still pending.
                ends = await asyncio.gather(*(_eof_within(r, STEP / 3) for r, _ in flood))
                dropped = (sum(ends[0::2]), sum(ends[1::2]))  # (silent, garbage)
                still_open = not inv._done.is_set()
                # The flood's last connections are still open: the real joiner gets in anyway.
                joined = await _outcome(join(inv.code, LOOPBACK, inv.port, bob, step_timeout=STEP))
            finally:
                for _reader, writer in flood:
                    writer.close()
            return dropped, still_open, joined

    dropped, still_open, joined = asyncio.run(run())
    silent, garbage = dropped
    assert garbage == 100  # a failed TLS handshake ends a connection at once
    assert silent >= 100 - pairing.MAX_PENDING_PER_SOURCE  # the cap, not the timeout, ended these
    assert still_open
    assert _paired_alice(joined, alice)


def test_joiner_that_leaves_after_the_inviters_confirmation_spends_the_code(
    alice: Identity, bob: Identity
) -> None:
    """Once the inviter answered a hello, the joiner can check its guess: that is the one try."""

    async def run() -> tuple[object, object]:
        async with Invitation(alice, lambda _: b"", host=LOOPBACK, step_timeout=STEP) as inv:
            reader, writer = await _tls_connect(inv.port)
            spake = SPAKE2_A(
                pairing._password(_other_code(inv.code)), idA=pairing._ID_JOINER, idB=pairing._ID_INVITER
            )
            writer.write(encode_frame(*PairHello(bob.cert_der, spake.start()).encode()))
            PairPake.decode(await read_frame(reader))
            await _close(writer)  # a guesser that checks offline, then goes
            first = await _outcome(inv.wait())
            retry = await _outcome(join(inv.code, LOOPBACK, inv.port, bob, step_timeout=STEP))
            return first, retry

    first, retry = asyncio.run(run())
    assert isinstance(first, PairingError)
    assert isinstance(retry, PairingError)
    assert "cannot reach" in str(retry)


def test_two_joiners_at_once_get_one_exchange(alice: Identity, bob: Identity, stranger: Identity) -> None:
    async def run() -> tuple[list[object], object]:
        async with Invitation(alice, lambda _: b"", host=LOOPBACK, step_timeout=STEP) as inv:
            results = await asyncio.gather(
                _outcome(join(inv.code, LOOPBACK, inv.port, bob, step_timeout=STEP)),
                _outcome(join(inv.code, LOOPBACK, inv.port, stranger, step_timeout=STEP)),
            )
            return list(results), await _outcome(inv.wait())

    results, at_alice = asyncio.run(run())
    paired = [r for r in results if _paired_alice(r, alice)]
    refused = [r for r in results if isinstance(r, PairingError)]
    assert (len(paired), len(refused)) == (1, 1), results
    assert isinstance(at_alice, PairedPeer)
    assert at_alice.device_id in {bob.device_id, stranger.device_id}


def test_the_password_binds_the_nameplate(alice: Identity, bob: Identity) -> None:
    """The right secret under another nameplate is a wrong code."""

    async def run() -> object:
        async with Invitation(alice, lambda _: b"", host=LOOPBACK, nameplate="42", step_timeout=STEP) as inv:
            assert inv.code.startswith("42-")
            return await _outcome(join("43" + inv.code[2:], LOOPBACK, inv.port, bob, step_timeout=STEP))

    result = asyncio.run(run())
    assert isinstance(result, PairingError)
    assert "code was wrong" in str(result)


def test_codes_are_a_nameplate_and_eight_secret_digits() -> None:
    codes = {pairing.new_code() for _ in range(50)}
    assert len(codes) > 45
    assert all(re.fullmatch(r"\d{2}-\d{4}-\d{4}", c) for c in codes)
    assert pairing.new_code("07").startswith("07-")
    assert pairing.normalize_code("12-3456 7890") == "1234567890"
    assert pairing.normalize_code(" 12 3456 7890\t") == "1234567890"
    assert pairing.format_code("1234567890") == "12-3456-7890"
    assert pairing.nameplate_of("12 3456 7890") == "12"
    for bad in ("12345678", "123456789", "12345678901", "ab-cdef-ghij", "\uff11" * 10):
        with pytest.raises(PairingError, match="10 digits"):
            pairing.normalize_code(bad)
