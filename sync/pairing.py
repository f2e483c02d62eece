"""Pairing two devices by a one-time short code (SPAKE2 plus key confirmation).

A code reads ``NN-DDDD-DDDD``, as Magic Wormhole's: ``NN`` is the *nameplate*, public,
which names the invitation (it is announced over mDNS, so a joiner contacts only that
invitation and a typo in the secret never reaches anyone else's); the eight digits ``D``
are the secret (10**8 values, one guess per code). The SPAKE2 password is the whole code,
so it binds the nameplate too.

The inviting device opens a TLS 1.3 listener only while the code is valid. Connections
are cheap to make, so none of them spends the code by itself: each gets one step timeout
for the TLS handshake and a well-formed ``PAIR_HELLO``; one that sends nothing, garbage
or a malformed hello is dropped and the code stays valid. Pending connections are capped
per source address and in all (the oldest gives way to a new one, so a flood cannot lock
out the real joiner once it stops). The first well-formed hello *claims* the code: from
the moment the inviter answers with its key confirmation the joiner can check its one
guess, so that exchange spends the code whatever follows, and no other exchange ever
starts for it. The conversation, over that TLS connection:

1. joiner -> inviter ``PAIR_HELLO``: joiner certificate DER, SPAKE2 message (side A).
2. inviter -> joiner ``PAIR_PAKE``: SPAKE2 message (side B) and
   ``HMAC(K, inviter-role | inviter fingerprint | joiner fingerprint)``.
3. joiner checks it against the certificate the TLS server actually presented, then
   sends ``PAIR_CONFIRM``: ``C = HMAC(K, joiner-role | joiner fp | inviter fp)``, a
   signature over ``C`` by the key of the certificate sent in step 1, and its name.
4. inviter checks both against the certificate sent in step 1, then sends
   ``PAIR_WELCOME`` (its name, payload size) and ``PAIR_WELCOME_CHUNK`` frames.
5. joiner -> inviter ``PAIR_DONE``.

The TLS server proves its key in the handshake; the joiner, which presents no TLS
certificate (the listener cannot ask for an unknown one), proves its key by the
signature. Without the code nobody can compute K, so a guesser or a man in the middle (whose
TLS certificate differs from the inviter's) fails one confirmation and learns
nothing; either side sends ``PAIR_ABORT`` with a reason when it gives up. Only a
completed exchange returns a :class:`PairedPeer` whose certificate the caller pins.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
import ssl
from collections.abc import AsyncIterable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol

from cryptography import x509
from spake2 import SPAKE2_A, SPAKE2_B

from sync.const import (
    MAX_DEVICE_NAME_CHARS,
    MAX_PAIRING_FRAME_SIZE,
    MAX_WELCOME_SIZE,
    MIN_PROTOCOL_VERSION,
    PAIRING_CODE_DIGITS,
    PAIRING_CODE_LIFETIME_S,
    PAIRING_STEP_TIMEOUT_S,
    PROTOCOL_VERSION,
    WELCOME_CHUNK_SIZE,
)
from sync.errors import FrameError, MessageError, PairingError
from sync.frames import Frame, encode_frame, read_frame
from sync.identity import Identity, cert_der_to_pem, fingerprint, verify_signature
from sync.messages import (
    MessageType,
    PairAbort,
    PairConfirm,
    PairDone,
    PairHello,
    PairPake,
    PairWelcome,
    expect_type,
    printable,
)
from sync.netif import is_any, listen_socket
from sync.tls import PeerNotTrusted, pairing_client_context, pairing_server_context, peer_cert_der

__all__ = [
    "Invitation",
    "Listener",
    "PairedPeer",
    "PairingError",
    "PairingUnreachable",
    "format_code",
    "join",
    "join_found",
    "nameplate_of",
    "new_code",
    "normalize_code",
]

#: What an invitation hands the joiner: bytes, or a binary file read from its start.
Welcome = bytes | bytearray | IO[bytes]

log = logging.getLogger(__name__)

# SPAKE2 identities and key-confirmation role labels: fixed and distinct; fingerprints
# are hex and cannot contain "|", so "role | own fp | peer fp" parses one way only.
_ID_JOINER = b"localfirst-pair-joiner-v1"
_ID_INVITER = b"localfirst-pair-inviter-v1"
_PASSWORD_CONTEXT = b"localfirst-pairing-code-v2:"
_PROOF_CONTEXT = b"localfirst-pair-joiner-key-proof-v1:"

#: Digits of a code's public nameplate; the secret after it has PAIRING_CODE_DIGITS.
NAMEPLATE_DIGITS = 2
_CODE_LENGTH = NAMEPLATE_DIGITS + PAIRING_CODE_DIGITS
#: Connections waiting for their TLS handshake and hello: at most this many from one source
#: address, and in all; beyond either, the oldest such connection gives way to the new one.
MAX_PENDING_PER_SOURCE = 8
MAX_PENDING = 64

# Everything that can go wrong on the wire during an exchange.
_WIRE_ERRORS = (FrameError, MessageError, OSError, TimeoutError, ssl.SSLError, PeerNotTrusted)


class PairingUnreachable(PairingError):
    """No connection to the pairing listener could be opened; its code was not used."""


@dataclass(frozen=True, slots=True)
class PairedPeer:
    """The other device of a completed pairing: the certificate to pin, and its name."""

    device_id: str
    cert_der: bytes
    name: str
    port: int = 0  # the inviter's member listener port, as it told the joiner (0: unknown)

    @property
    def cert_pem(self) -> bytes:
        """The certificate as PEM, ready for the TLS contexts' trust anchors."""
        return cert_der_to_pem(self.cert_der)


class _Spake(Protocol):
    """The part of ``spake2.SPAKE2_A``/``SPAKE2_B`` used here."""

    def start(self) -> bytes: ...
    def finish(self, inbound_message: bytes) -> bytes: ...


def new_code(nameplate: str | None = None) -> str:
    """Return a fresh random code ``NN-DDDD-DDDD`` (``nameplate`` as ``NN`` if given)."""
    if nameplate is None:
        nameplate = f"{secrets.randbelow(10**NAMEPLATE_DIGITS):0{NAMEPLATE_DIGITS}d}"
    elif len(nameplate) != NAMEPLATE_DIGITS or not (nameplate.isascii() and nameplate.isdigit()):
        raise ValueError(f"a nameplate is {NAMEPLATE_DIGITS} digits")
    secret = f"{secrets.randbelow(10**PAIRING_CODE_DIGITS):0{PAIRING_CODE_DIGITS}d}"
    return format_code(nameplate + secret)


def normalize_code(text: str) -> str:
    """Return the code the user typed as its digits alone, without spaces or dashes.

    Raises:
        PairingError: it is not a code; checked before searching or connecting, so a typo
            of that kind spends nothing.
    """
    code = "".join(ch for ch in text if ch not in " -\t")
    if len(code) != _CODE_LENGTH or not (code.isascii() and code.isdigit()):
        raise PairingError(f"a pairing code is {_CODE_LENGTH} digits, like 42-1234-5678")
    return code


def format_code(code: str) -> str:
    """Return a code as it is shown: ``NN-DDDD-DDDD``."""
    digits = normalize_code(code)
    nameplate, secret = digits[:NAMEPLATE_DIGITS], digits[NAMEPLATE_DIGITS:]
    half = len(secret) // 2
    return f"{nameplate}-{secret[:half]}-{secret[half:]}"


def nameplate_of(code: str) -> str:
    """Return the public nameplate of a code (its first digits), which names its invitation.

    Raises:
        PairingError: it is not a code.
    """
    return normalize_code(code)[:NAMEPLATE_DIGITS]


def _password(code: str) -> bytes:
    """Return the SPAKE2 password for a code: the nameplate and the secret, both bound."""
    digits = normalize_code(code)
    return _PASSWORD_CONTEXT + f"{digits[:NAMEPLATE_DIGITS]}-{digits[NAMEPLATE_DIGITS:]}".encode("ascii")


def _confirmation(key: bytes, role: bytes, own_fp: str, peer_fp: str) -> bytes:
    """Return HMAC-SHA256(K, role | own fingerprint | peer fingerprint)."""
    message = b"|".join((role, own_fp.encode("ascii"), peer_fp.encode("ascii")))
    return hmac.new(key, message, hashlib.sha256).digest()


def _finish(spake: _Spake, inbound: bytes) -> bytes:
    """Run the second SPAKE2 step, turning its errors on hostile input into ours."""
    try:
        return spake.finish(inbound)
    except Exception as exc:  # spake2 raises several types on malformed messages
        raise PairingError(f"the other device sent a malformed SPAKE2 message ({exc})") from None


def _check_cert(cert_der: bytes, own_fp: str) -> str:
    """Check ``cert_der`` parses and is not our own certificate; return its fingerprint."""
    try:
        x509.load_der_x509_certificate(cert_der)
    except ValueError:
        raise PairingError("the other device's certificate is not valid X.509") from None
    peer_fp = fingerprint(cert_der)
    if peer_fp == own_fp:
        raise PairingError("the other device presented this device's own certificate")
    return peer_fp


def _display_name(name: str) -> str:
    """Return ``name`` made acceptable to the peer's message checks."""
    return printable(name, MAX_DEVICE_NAME_CHARS)


async def _read(
    reader: asyncio.StreamReader, timeout: float, max_size: int = MAX_PAIRING_FRAME_SIZE
) -> Frame:
    """Read one frame within ``timeout``; a ``PAIR_ABORT`` becomes a PairingError."""
    async with asyncio.timeout(timeout):
        frame = await read_frame(reader, max_size)
    if frame.type == MessageType.PAIR_ABORT:
        reason = PairAbort.decode(frame).reason
        raise PairingError(f"the other device gave up: {reason}")
    return frame


async def _send(
    writer: asyncio.StreamWriter,
    message: PairHello | PairPake | PairConfirm | PairWelcome | PairDone | PairAbort,
) -> None:
    """Send one message frame."""
    writer.write(encode_frame(*message.encode(), max_size=MAX_PAIRING_FRAME_SIZE))
    await writer.drain()


async def _abort(writer: asyncio.StreamWriter, reason: str) -> None:
    """Tell the other device why we give up, if the connection still allows it."""
    with contextlib.suppress(*_WIRE_ERRORS):
        async with asyncio.timeout(1.0):
            await _send(writer, PairAbort(printable(reason)))


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close a connection without letting a dead peer hold us up."""
    writer.close()
    with contextlib.suppress(*_WIRE_ERRORS):
        async with asyncio.timeout(1.0):
            await writer.wait_closed()


class Invitation:
    """The inviting side: a one-time code and a listener open only while it is valid.

    Use ``async with Invitation(...) as inv`` (or :meth:`start` and :meth:`aclose`),
    show ``inv.code`` and ``await inv.wait()``. Nothing opens a socket before
    :meth:`start`.
    """

    def __init__(
        self,
        identity: Identity,
        welcome: Callable[[str], Welcome],
        *,
        host: str = "127.0.0.1",
        lifetime: float = PAIRING_CODE_LIFETIME_S,
        step_timeout: float = PAIRING_STEP_TIMEOUT_S,
        admit: Callable[[PairedPeer], None] | None = None,
        member_port: int = 0,
        nameplate: str | None = None,
        port: int = 0,
    ) -> None:
        """Prepare an invitation.

        Args:
            identity: this device's identity; its name is sent to the joiner.
            welcome: called with the joiner's device id once both confirmations
                verified; returns what the joiner receives (the library snapshot), as
                bytes or as a binary file read from its start (a node spools a big welcome
                to a temporary file rather than hold it in memory). It runs on the event
                loop, so it should be quick.
            host: address to listen on (``::``: every address, both families).
            port: port to listen on (0: any free one), e.g. one a firewall lets through.
            lifetime: seconds the code stays valid after :meth:`start`.
            step_timeout: seconds each step of the exchange may take; a connection has
                this long for its TLS handshake and its hello together.
            admit: called with the joiner (certificate and name) once both confirmations
                verified, before ``welcome``: a node records the new member there, so the
                welcome it then builds already holds the joiner's membership.
            member_port: this device's member listener port, sent with the welcome so the
                joiner can dial it on a network without discovery (0: not sent).
            nameplate: the code's public part (random if not given), e.g. one not in use
                on the network.
        """
        #: The code to show, ``NN-DDDD-DDDD``.
        self.code = new_code(nameplate)
        self._admit = admit
        self._member_port = member_port
        self._identity = identity
        self._welcome = welcome
        self._host = host
        self._listen_port = port
        self._lifetime = lifetime
        self._step_timeout = step_timeout
        self._tls = pairing_server_context(identity)
        self._server: asyncio.Server | None = None
        self._port = 0
        self._expiry: asyncio.TimerHandle | None = None
        # Connections not yet past their hello, oldest first: task -> source address.
        self._pending: dict[asyncio.Task[Any], str] = {}
        self._connections: set[asyncio.Task[Any]] = set()
        self._handler: asyncio.Task[Any] | None = None  # the one exchange, once claimed
        self._consumed = False
        self._done = asyncio.Event()
        self._peer: PairedPeer | None = None
        self._error: PairingError | None = None

    @property
    def nameplate(self) -> str:
        """The code's public part, which names this invitation on the network."""
        return nameplate_of(self.code)

    @property
    def port(self) -> int:
        """The listener's TCP port (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("invitation not started")
        return self._port

    async def start(self) -> None:
        """Open the pairing listener and start the code's lifetime."""
        if self._server is not None or self._consumed:
            raise RuntimeError("an invitation starts once")
        # TLS is started per connection (not by the server), so a connection counts
        # against the limits from its first byte, handshake included.
        wildcard = is_any(self._host)  # one dual-stack socket: one port for both families
        self._server = await asyncio.start_server(
            self._on_connect,
            None if wildcard else self._host,
            None if wildcard else self._listen_port,
            sock=listen_socket(self._host, self._listen_port) if wildcard else None,
        )
        self._port = int(self._server.sockets[0].getsockname()[1])
        self._expiry = asyncio.get_running_loop().call_later(self._lifetime, self._expire)
        log.info("pairing listener open on %s:%d", self._host, self.port)

    async def wait(self) -> PairedPeer:
        """Wait for the one pairing attempt and return the joiner to pin.

        Raises:
            PairingError: the attempt failed, the code expired or the invitation closed.
        """
        await self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._peer is not None
        return self._peer

    def close(self) -> None:
        """Withdraw the code: stop listening and end any attempt in progress."""
        self._consume()
        if self._handler is not None and not self._done.is_set():
            self._handler.cancel()
        self._finish(error=PairingError("the invitation was closed"))

    async def aclose(self) -> None:
        """Close and wait until the listener and any connection are gone."""
        self.close()
        if self._server is not None:
            await self._server.wait_closed()
        tasks = [t for t in self._connections if t is not asyncio.current_task()]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def __aenter__(self) -> Invitation:
        """Start the invitation."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Close the invitation."""
        await self.aclose()

    def _consume(self) -> None:
        """Use up the code: no further connection is accepted, pending ones are dropped."""
        self._consumed = True
        if self._expiry is not None:
            self._expiry.cancel()
        if self._server is not None:
            self._server.close()
        for task in list(self._pending):
            task.cancel()
        self._pending.clear()

    def _finish(self, peer: PairedPeer | None = None, error: PairingError | None = None) -> None:
        """Record the outcome once."""
        if self._done.is_set():
            return
        self._peer, self._error = peer, error
        self._done.set()

    def _expire(self) -> None:
        """The lifetime ran out before anyone tried the code."""
        if not self._consumed:
            self._consume()
            log.info("pairing code expired unused")
            self._finish(error=PairingError("the pairing code expired"))

    def _make_room(self, source: str) -> None:
        """Drop the oldest pending connection from ``source``, or of all, when at a limit."""
        mine = [task for task, src in self._pending.items() if src == source]
        if len(mine) >= MAX_PENDING_PER_SOURCE:
            victim = mine[0]
        elif len(self._pending) >= MAX_PENDING:
            victim = next(iter(self._pending))
        else:
            return
        log.debug("too many pending pairing connections: dropping one from %s", self._pending[victim])
        del self._pending[victim]
        victim.cancel()

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Admit a connection; the first with a well-formed hello gets the one exchange."""
        task = asyncio.current_task()
        assert task is not None
        if self._consumed:
            writer.close()
            return
        peer = writer.get_extra_info("peername")
        source = str(peer[0]) if isinstance(peer, tuple) and peer else "?"
        self._make_room(source)
        self._pending[task] = source
        self._connections.add(task)
        try:
            await self._serve(reader, writer)
        except asyncio.CancelledError:
            # close() or a newer connection ended this one. asyncio logs an error for a
            # connection callback whose task ends cancelled, so this one ends normally.
            if task is self._handler:
                self._finish(error=PairingError("the invitation was closed"))
            writer.close()
        else:
            await _close(writer)
        finally:
            self._pending.pop(task, None)
            self._connections.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Take a hello; if it is well formed and the code still free, run the exchange."""
        task = asyncio.current_task()
        assert task is not None
        try:
            hello, joiner_fp = await self._hello(reader, writer)
        except (PairingError, *_WIRE_ERRORS) as exc:
            log.debug("dropped a pairing connection before any exchange: %s", exc or type(exc).__name__)
            return
        self._pending.pop(task, None)
        if self._consumed:
            await _abort(writer, "this code is already being used")
            return
        # No await from the check above to the claim below: one exchange per code.
        spake = SPAKE2_B(_password(self.code), idA=_ID_JOINER, idB=_ID_INVITER)
        outbound = spake.start()
        try:
            key = _finish(spake, hello.pake)
        except PairingError as exc:
            log.debug("dropped a pairing connection before any exchange: %s", exc)
            await _abort(writer, str(exc))
            return
        self._handler = task
        self._consume()
        await self._attempt(reader, writer, hello, joiner_fp, key, outbound)

    async def _hello(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[PairHello, str]:
        """The TLS handshake and a well-formed hello, both within one step timeout."""
        async with asyncio.timeout(self._step_timeout):
            await writer.start_tls(self._tls)
            frame = await read_frame(reader, MAX_PAIRING_FRAME_SIZE)
        if frame.type == MessageType.PAIR_ABORT:
            raise PairingError(f"the other device gave up: {PairAbort.decode(frame).reason}")
        hello = PairHello.decode(frame)
        return hello, _check_cert(hello.cert_der, self._identity.device_id)

    async def _attempt(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        hello: PairHello,
        joiner_fp: str,
        key: bytes,
        outbound: bytes,
    ) -> None:
        """Run the claimed exchange and record its outcome."""
        try:
            peer = await self._exchange(reader, writer, hello, joiner_fp, key, outbound)
        except PairingError as exc:
            await _abort(writer, str(exc))
            log.warning("pairing failed: %s", exc)
            self._finish(error=exc)
        except _WIRE_ERRORS as exc:
            error = PairingError(f"pairing connection failed: {exc or type(exc).__name__}")
            log.warning("%s", error)
            self._finish(error=error)
        else:
            log.info("paired with device %s (%s)", peer.device_id, peer.name)
            self._finish(peer=peer)

    async def _exchange(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        hello: PairHello,
        joiner_fp: str,
        key: bytes,
        outbound: bytes,
    ) -> PairedPeer:
        """The inviter's side of the conversation in the module docstring, after the hello."""
        own_fp = self._identity.device_id
        timeout = self._step_timeout
        await _send(writer, PairPake(outbound, _confirmation(key, _ID_INVITER, own_fp, joiner_fp)))

        confirm = PairConfirm.decode(await _read(reader, timeout))
        expected = _confirmation(key, _ID_JOINER, joiner_fp, own_fp)
        if not hmac.compare_digest(confirm.confirm, expected):
            raise PairingError(
                "key confirmation failed: the code entered was wrong or the certificate was tampered with"
            )
        if not verify_signature(hello.cert_der, confirm.signature, _PROOF_CONTEXT + expected):
            raise PairingError("the joining device did not prove it holds its certificate's key")

        try:
            if self._admit is not None:
                self._admit(PairedPeer(joiner_fp, hello.cert_der, confirm.name))
            payload = self._welcome(joiner_fp)
        except Exception as exc:
            log.exception("welcome callback failed")
            raise PairingError(f"the inviting device could not prepare the library: {exc}") from exc
        with contextlib.ExitStack() as stack:
            if not isinstance(payload, bytes | bytearray):
                stack.enter_context(payload)  # a spooled file: closed (and gone) once sent
            size, chunks = _welcome_chunks(payload)
            if size > MAX_WELCOME_SIZE:
                raise PairingError(f"welcome payload of {size} bytes is too large")
            await _send(writer, PairWelcome(_display_name(self._identity.name), size, self._member_port))
            for chunk in chunks:
                writer.write(encode_frame(MessageType.PAIR_WELCOME_CHUNK, chunk, max_size=WELCOME_CHUNK_SIZE))
                async with asyncio.timeout(timeout):
                    await writer.drain()
        PairDone.decode(await _read(reader, timeout))
        return PairedPeer(joiner_fp, hello.cert_der, confirm.name)


async def join(
    code: str,
    host: str,
    port: int,
    identity: Identity,
    *,
    step_timeout: float = PAIRING_STEP_TIMEOUT_S,
) -> tuple[PairedPeer, bytes]:
    """Pair with the inviting device listening at ``host:port`` using its code.

    Args:
        code: the code the inviting device shows (spaces and dashes are ignored).
        host: the inviting device's address.
        port: its pairing listener's port.
        identity: this device's identity; its certificate and name are sent.
        step_timeout: seconds each step of the exchange may take.

    Returns:
        The inviting device (certificate to pin) and the welcome bytes it sent.

    Raises:
        PairingError: the code is malformed, wrong, expired or used, the connection
            failed, or the other side misbehaved. Nothing is to be pinned then.
        IdentityError: this device's key file is unreadable.
    """
    password = _password(normalize_code(code))
    try:
        async with asyncio.timeout(step_timeout):
            reader, writer = await asyncio.open_connection(
                host,
                port,
                ssl=pairing_client_context(),
                ssl_handshake_timeout=step_timeout,
            )
    except ConnectionRefusedError as exc:
        raise PairingUnreachable(
            f"cannot reach the inviting device at {host}:{port}: nothing is listening there (the "
            "invitation ended, expired or used, or that is not the inviting device's LAN address)"
        ) from exc
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        raise PairingUnreachable(
            f"cannot reach the inviting device at {host}:{port}: {exc or type(exc).__name__}"
        ) from exc
    try:
        return await _join_exchange(reader, writer, password, identity, step_timeout)
    except PairingError as exc:
        await _abort(writer, str(exc))
        log.warning("pairing failed: %s", exc)
        raise
    except _WIRE_ERRORS as exc:
        error = PairingError(f"pairing connection failed: {exc or type(exc).__name__}")
        log.warning("%s", error)
        raise error from exc
    finally:
        await _close(writer)


class Listener(Protocol):
    """Where a pairing listener was announced (``sync.discovery.PairingListener``)."""

    @property
    def nameplate(self) -> str | None: ...

    @property
    def version(self) -> int: ...

    @property
    def addresses(self) -> Sequence[str]: ...

    @property
    def port(self) -> int: ...


async def join_found(
    code: str,
    listeners: AsyncIterable[Listener],
    identity: Identity,
    *,
    step_timeout: float = PAIRING_STEP_TIMEOUT_S,
) -> tuple[PairedPeer, bytes, str]:
    """Pair with the discovered pairing listener that the code's nameplate names.

    Listeners of other nameplates are never contacted, so a typo cannot spend someone
    else's code. The one named is tried at each of its addresses until one connects; at
    most one exchange takes place, and if it fails (a wrong secret spends the code) that
    failure is raised. A listener none of whose addresses answer spent nothing, so the
    search goes on (it may be announced again).

    Returns:
        The inviting device, the welcome bytes it sent, and the address that answered.

    Raises:
        PairingError: the code is malformed, no listener with its nameplate was found
            before ``listeners`` ended, or the exchange failed.
    """
    nameplate = nameplate_of(code)  # a malformed code fails before anything is searched
    last: PairingError | None = None
    async for listener in listeners:
        if listener.nameplate != nameplate:
            continue
        if not MIN_PROTOCOL_VERSION <= listener.version <= PROTOCOL_VERSION:
            last = PairingError(
                f"the invitation with that code speaks protocol version {listener.version}, "
                f"which this device does not ({MIN_PROTOCOL_VERSION}-{PROTOCOL_VERSION}); update one of them"
            )
            log.info("%s", last)
            continue
        for host in listener.addresses:
            try:
                peer, welcome = await join(code, host, listener.port, identity, step_timeout=step_timeout)
            except PairingUnreachable as exc:
                last = exc
                continue  # the code was not used there: another address may answer
            return peer, welcome, host
    if last is not None:
        raise last
    raise PairingError(
        f"no invitation with that code on the network (nameplate {nameplate}): check the code, "
        "and that the inviting device still shows it; without multicast, give its address"
    )


async def _join_exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    password: bytes,
    identity: Identity,
    timeout: float,
) -> tuple[PairedPeer, bytes]:
    """The joiner's side of the conversation in the module docstring."""
    own_fp = identity.device_id
    inviter_der = peer_cert_der(writer.get_extra_info("ssl_object"))
    inviter_fp = _check_cert(inviter_der, own_fp)
    spake = SPAKE2_A(password, idA=_ID_JOINER, idB=_ID_INVITER)
    await _send(writer, PairHello(identity.cert_der, spake.start()))

    pake = PairPake.decode(await _read(reader, timeout))
    key = _finish(spake, pake.pake)
    expected = _confirmation(key, _ID_INVITER, inviter_fp, own_fp)
    if not hmac.compare_digest(pake.confirm, expected):
        raise PairingError(
            "key confirmation failed: the code was wrong, or another device is "
            "between this one and the inviting device"
        )
    confirm = _confirmation(key, _ID_JOINER, own_fp, inviter_fp)
    proof = identity.sign(_PROOF_CONTEXT + confirm)
    await _send(writer, PairConfirm(confirm, proof, _display_name(identity.name)))

    welcome = PairWelcome.decode(await _read(reader, timeout))
    if welcome.size > MAX_WELCOME_SIZE:
        raise PairingError(f"welcome payload of {welcome.size} bytes is too large")
    received = bytearray()
    while len(received) < welcome.size:
        frame = await _read(reader, timeout, max_size=WELCOME_CHUNK_SIZE)
        expect_type(frame, MessageType.PAIR_WELCOME_CHUNK)
        # An empty chunk would let a peer keep us waiting forever without progress.
        if not frame.payload or len(received) + len(frame.payload) > welcome.size:
            raise PairingError("the welcome payload does not match its announced size")
        received += frame.payload
    await _send(writer, PairDone())
    return PairedPeer(inviter_fp, inviter_der, welcome.name, welcome.port), bytes(received)


def _welcome_chunks(payload: Welcome) -> tuple[int, Iterator[bytes]]:
    """The welcome's size and its chunks, from bytes or from a file read from its start."""
    if isinstance(payload, bytes | bytearray):
        view = memoryview(payload)
        return len(payload), (
            bytes(view[i : i + WELCOME_CHUNK_SIZE]) for i in range(0, len(payload), WELCOME_CHUNK_SIZE)
        )
    size = os.fstat(payload.fileno()).st_size - payload.tell()
    return size, iter(lambda: payload.read(WELCOME_CHUNK_SIZE), b"")
