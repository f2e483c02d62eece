"""Tests of sync.tls over real TLS sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass

import pytest

from sync import tls
from sync.identity import Identity
from tests.sync.conftest import LOOPBACK

pytestmark = pytest.mark.timeout(20)


@dataclass
class _Outcome:
    """What the server and the client saw of one connection attempt."""

    server_peer: str | None = None
    server_error: Exception | None = None
    server_calls: int = 0
    client_peer: str | None = None
    client_error: Exception | None = None
    echoed: bytes = b""


async def _connect(
    server_ctx: ssl.SSLContext,
    client_ctx: ssl.SSLContext,
    server_allowed: set[str],
    client_allowed: set[str],
) -> _Outcome:
    """Run one TLS server and one client connection; return what each side saw."""
    out = _Outcome()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        out.server_calls += 1
        try:
            out.server_peer = tls.check_peer(writer.get_extra_info("ssl_object"), server_allowed)
            writer.write(await reader.readexactly(4))
            await writer.drain()
        except (tls.PeerNotTrusted, OSError, asyncio.IncompleteReadError) as exc:
            out.server_error = exc
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, LOOPBACK, 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        try:
            reader, writer = await asyncio.open_connection(LOOPBACK, port, ssl=client_ctx)
        except (OSError, ssl.SSLError) as exc:
            out.client_error = exc
            return out
        try:
            out.client_peer = tls.check_peer(writer.get_extra_info("ssl_object"), client_allowed)
            writer.write(b"ping")
            await writer.drain()
            out.echoed = await reader.read(4)
        except (tls.PeerNotTrusted, OSError, ssl.SSLError) as exc:
            out.client_error = exc
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
    return out


def test_mutual_auth_between_members(alice: Identity, bob: Identity) -> None:
    out = asyncio.run(
        _connect(
            tls.server_context(alice, [bob.cert_pem]),
            tls.client_context(bob, [alice.cert_pem]),
            {bob.device_id},
            {alice.device_id},
        )
    )
    assert out.client_error is None
    assert out.server_error is None
    assert out.server_peer == bob.device_id
    assert out.client_peer == alice.device_id
    assert out.echoed == b"ping"


def test_several_members_as_anchors(alice: Identity, bob: Identity, stranger: Identity) -> None:
    members = [bob.cert_pem, stranger.cert_pem, alice.cert_pem]
    out = asyncio.run(
        _connect(
            tls.server_context(alice, members),
            tls.client_context(bob, members),
            {bob.device_id, stranger.device_id},
            {alice.device_id},
        )
    )
    assert out.server_peer == bob.device_id
    assert out.echoed == b"ping"


def test_stranger_client_is_refused_at_handshake(alice: Identity, bob: Identity, stranger: Identity) -> None:
    out = asyncio.run(
        _connect(
            tls.server_context(alice, [bob.cert_pem]),
            tls.client_context(stranger, [alice.cert_pem]),
            {bob.device_id, stranger.device_id},
            {alice.device_id},
        )
    )
    # TLS 1.3 lets the client finish first; the server's alert ends the connection
    # before any application data, and the server's handler never runs.
    assert out.server_calls == 0
    assert out.echoed == b""


def test_client_refuses_stranger_server(alice: Identity, bob: Identity, stranger: Identity) -> None:
    out = asyncio.run(
        _connect(
            tls.server_context(stranger, [bob.cert_pem]),
            tls.client_context(bob, [alice.cert_pem]),
            {bob.device_id},
            {alice.device_id, stranger.device_id},
        )
    )
    assert isinstance(out.client_error, ssl.SSLCertVerificationError)
    assert out.server_calls == 0


def test_anchor_outside_fingerprint_set_is_refused_by_check_peer(alice: Identity, bob: Identity) -> None:
    # Bob's certificate still loads as an anchor (say, a stale context), but he was
    # revoked: the fingerprint check after the handshake refuses him.
    out = asyncio.run(
        _connect(
            tls.server_context(alice, [bob.cert_pem]),
            tls.client_context(bob, [alice.cert_pem]),
            set(),
            {alice.device_id},
        )
    )
    assert isinstance(out.server_error, tls.PeerNotTrusted)
    assert bob.device_id in str(out.server_error)
    assert out.echoed == b""


def test_no_members_means_no_handshake(alice: Identity, bob: Identity) -> None:
    out = asyncio.run(
        _connect(
            tls.server_context(alice, []),
            tls.client_context(bob, []),
            {bob.device_id},
            {alice.device_id},
        )
    )
    assert isinstance(out.client_error, ssl.SSLCertVerificationError)
    assert out.server_calls == 0


def test_tls12_client_is_refused(alice: Identity, bob: Identity) -> None:
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.load_cert_chain(bob.cert_path, bob.key_path)
    out = asyncio.run(_connect(tls.server_context(alice, [bob.cert_pem]), old, {bob.device_id}, set()))
    # The server answers a TLS 1.2 ClientHello with an alert or a reset.
    assert isinstance(out.client_error, ssl.SSLError | ConnectionError)
    assert out.client_peer is None
    assert out.server_calls == 0


def test_contexts_are_tls13_only(alice: Identity, bob: Identity) -> None:
    for ctx in (
        tls.server_context(alice, [bob.cert_pem]),
        tls.client_context(alice, [bob.cert_pem]),
        tls.pairing_server_context(alice),
        tls.pairing_client_context(),
    ):
        assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3
        assert not ctx.check_hostname
    assert tls.server_context(alice, []).verify_mode == ssl.CERT_REQUIRED
    assert tls.pairing_server_context(alice).verify_mode == ssl.CERT_NONE


def test_pairing_contexts_capture_server_cert(alice: Identity) -> None:
    async def run() -> bytes:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()

        server = await asyncio.start_server(handle, LOOPBACK, 0, ssl=tls.pairing_server_context(alice))
        port = server.sockets[0].getsockname()[1]
        try:
            _, writer = await asyncio.open_connection(LOOPBACK, port, ssl=tls.pairing_client_context())
            der = tls.peer_cert_der(writer.get_extra_info("ssl_object"))
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
            return der
        finally:
            server.close()
            await server.wait_closed()

    assert asyncio.run(run()) == alice.cert_der
