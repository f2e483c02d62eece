"""Every sync message type and its (de)serialiser: bytes in, bytes out, no I/O.

Payloads are msgpack maps with short string keys, except raw chunks. Decoding treats
the bytes as hostile: every field is type- and size-checked, and anything else
raises :class:`MessageError`.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeVar

import msgpack

from localfirst import (
    Batch,
    ReplicaError,
    Summary,
    decode_batch,
    decode_summary,
    encode_batch,
    encode_summary,
)
from sync.const import (
    MAX_CERT_SIZE,
    MAX_DEVICE_NAME_CHARS,
    MAX_LIBRARY_ID_BYTES,
    MAX_REASON_CHARS,
    MIN_PROTOCOL_VERSION,
    PROTOCOL_VERSION,
)
from sync.frames import Frame


class MessageError(ValueError):
    """A frame's payload is not a well-formed message of the expected type."""


class MessageType(IntEnum):
    """The message type byte of every frame; one list for the whole protocol."""

    # ---- pairing messages (sync.pairing) ------------------------------------------
    #: joiner -> inviter: its certificate and SPAKE2 message.
    PAIR_HELLO = 0x10
    #: inviter -> joiner: SPAKE2 message and the inviter's key confirmation.
    PAIR_PAKE = 0x11
    #: joiner -> inviter: key confirmation, signature by its certificate's key, name.
    PAIR_CONFIRM = 0x12
    #: inviter -> joiner: the inviter's display name and the welcome payload size.
    PAIR_WELCOME = 0x13
    #: inviter -> joiner: raw bytes of the welcome payload (no msgpack).
    PAIR_WELCOME_CHUNK = 0x14
    #: joiner -> inviter: the welcome payload arrived whole.
    PAIR_DONE = 0x15
    #: either side: pairing failed, with a human-readable reason.
    PAIR_ABORT = 0x1F

    # ---- member-session messages (sync.session) ------------------------------------
    #: both sides, first: protocol version, device id, library id and a compact digest.
    HELLO = 0x20
    #: both sides, when the digests differ: the full version vector and CSN.
    SUMMARY = 0x21
    #: answer to a SUMMARY: a slice of the batch the peer lacks (flag: last slice).
    BATCH = 0x22
    #: receiver of a BATCH or PUSH slice: what it now holds (CSN, vector digest, chain).
    ACK = 0x23
    #: live session: a slice of new writes (local or relayed) the peer lacks.
    PUSH = 0x24
    #: either side: the session ends normally (shutdown, duplicate connection).
    BYE = 0x2E
    #: either side: the session ends because of an error, with a reason.
    ERROR = 0x2F


# ---- helpers ------------------------------------------------------------------------


def _pack(fields: dict[str, Any]) -> bytes:
    """Encode a message body."""
    data: bytes = msgpack.packb(fields, use_bin_type=True)
    return data


def _unpack(frame: Frame) -> dict[str, Any]:
    """Decode a message body into a map with string keys."""
    try:
        body = msgpack.unpackb(frame.payload, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises many types on hostile bytes
        raise MessageError(
            f"{_name(frame.type)}: undecodable payload ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(body, dict):
        raise MessageError(f"{_name(frame.type)}: payload is not a map")
    return body


_T = TypeVar("_T")


def _field(frame: Frame, body: dict[str, Any], key: str, kind: type[_T]) -> _T:
    """Return ``body[key]``, checking it exists and has type ``kind``."""
    value = body.get(key)
    # bool is an int subclass; no field here is meant to accept it for an int.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MessageError(f"{_name(frame.type)}: field {key!r} missing or not {kind.__name__}")
    return value


def _text(frame: Frame, body: dict[str, Any], key: str, max_chars: int) -> str:
    """Return a bounded text field without control characters."""
    value = _field(frame, body, key, str)
    if len(value) > max_chars:
        raise MessageError(f"{_name(frame.type)}: field {key!r} longer than {max_chars}")
    if not value.isprintable():
        raise MessageError(f"{_name(frame.type)}: field {key!r} has control characters")
    return value


def _bytes(frame: Frame, body: dict[str, Any], key: str, max_len: int) -> bytes:
    """Return a bounded bytes field."""
    value = _field(frame, body, key, bytes)
    if len(value) > max_len:
        raise MessageError(f"{_name(frame.type)}: field {key!r} longer than {max_len} bytes")
    return value


def _name(msg_type: int) -> str:
    """Return the message type's name for error messages, even if unknown."""
    try:
        return MessageType(msg_type).name
    except ValueError:
        return f"unknown message type {msg_type:#04x}"


def expect_type(frame: Frame, *allowed: MessageType) -> MessageType:
    """Return the frame's type if it is one of ``allowed``.

    Raises:
        MessageError: the frame has another (or an unknown) type.
    """
    for msg_type in allowed:
        if frame.type == msg_type:
            return msg_type
    wanted = " or ".join(t.name for t in allowed)
    raise MessageError(f"expected {wanted}, got {_name(frame.type)}")


# ---- pairing messages ---------------------------------------------------------------

#: A SPAKE2 message is 33 bytes with the default Ed25519 group; leave some room.
_MAX_PAKE_BYTES = 256
#: An ECDSA P-256 DER signature is at most 72 bytes; leave some room.
_MAX_SIGNATURE_BYTES = 256
#: HMAC-SHA256 output size.
_CONFIRM_BYTES = 32


@dataclass(frozen=True, slots=True)
class PairHello:
    """Joiner -> inviter: the joiner's certificate DER and its SPAKE2 message."""

    cert_der: bytes
    pake: bytes

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload."""
        return MessageType.PAIR_HELLO, _pack({"cert": self.cert_der, "pake": self.pake})

    @classmethod
    def decode(cls, frame: Frame) -> PairHello:
        """Parse a frame of type PAIR_HELLO."""
        expect_type(frame, MessageType.PAIR_HELLO)
        body = _unpack(frame)
        return cls(_bytes(frame, body, "cert", MAX_CERT_SIZE), _bytes(frame, body, "pake", _MAX_PAKE_BYTES))


@dataclass(frozen=True, slots=True)
class PairPake:
    """Inviter -> joiner: the inviter's SPAKE2 message and key confirmation."""

    pake: bytes
    confirm: bytes

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload."""
        return MessageType.PAIR_PAKE, _pack({"pake": self.pake, "confirm": self.confirm})

    @classmethod
    def decode(cls, frame: Frame) -> PairPake:
        """Parse a frame of type PAIR_PAKE."""
        expect_type(frame, MessageType.PAIR_PAKE)
        body = _unpack(frame)
        return cls(
            _bytes(frame, body, "pake", _MAX_PAKE_BYTES),
            _bytes(frame, body, "confirm", _CONFIRM_BYTES),
        )


@dataclass(frozen=True, slots=True)
class PairConfirm:
    """Joiner -> inviter: key confirmation, proof of its certificate's key, display name."""

    confirm: bytes
    signature: bytes
    name: str

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload."""
        return MessageType.PAIR_CONFIRM, _pack(
            {"confirm": self.confirm, "sig": self.signature, "name": self.name}
        )

    @classmethod
    def decode(cls, frame: Frame) -> PairConfirm:
        """Parse a frame of type PAIR_CONFIRM."""
        expect_type(frame, MessageType.PAIR_CONFIRM)
        body = _unpack(frame)
        return cls(
            _bytes(frame, body, "confirm", _CONFIRM_BYTES),
            _bytes(frame, body, "sig", _MAX_SIGNATURE_BYTES),
            _text(frame, body, "name", MAX_DEVICE_NAME_CHARS),
        )


@dataclass(frozen=True, slots=True)
class PairWelcome:
    """Inviter -> joiner: the inviter's display name, the welcome payload's size, and the
    inviter's member listener port (0: unknown), so the joiner can dial it without discovery."""

    name: str
    size: int
    port: int = 0

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload."""
        return MessageType.PAIR_WELCOME, _pack({"name": self.name, "size": self.size, "port": self.port})

    @classmethod
    def decode(cls, frame: Frame) -> PairWelcome:
        """Parse a frame of type PAIR_WELCOME (the size is range-checked by the caller)."""
        expect_type(frame, MessageType.PAIR_WELCOME)
        body = _unpack(frame)
        size = _field(frame, body, "size", int)
        if size < 0:
            raise MessageError("PAIR_WELCOME: negative size")
        port = _field(frame, body, "port", int) if "port" in body else 0
        if not 0 <= port < 65536:
            raise MessageError("PAIR_WELCOME: port out of range")
        return cls(_text(frame, body, "name", MAX_DEVICE_NAME_CHARS), size, port)


@dataclass(frozen=True, slots=True)
class PairDone:
    """Joiner -> inviter: the welcome payload arrived whole."""

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload."""
        return MessageType.PAIR_DONE, _pack({})

    @classmethod
    def decode(cls, frame: Frame) -> PairDone:
        """Parse a frame of type PAIR_DONE."""
        expect_type(frame, MessageType.PAIR_DONE)
        _unpack(frame)
        return cls()


@dataclass(frozen=True, slots=True)
class PairAbort:
    """Either side: pairing failed; ``reason`` is for logs and the user."""

    reason: str

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload."""
        return MessageType.PAIR_ABORT, _pack({"reason": self.reason[:MAX_REASON_CHARS]})

    @classmethod
    def decode(cls, frame: Frame) -> PairAbort:
        """Parse a frame of type PAIR_ABORT."""
        expect_type(frame, MessageType.PAIR_ABORT)
        body = _unpack(frame)
        return cls(_text(frame, body, "reason", MAX_REASON_CHARS))


# ---- member-session messages --------------------------------------------------------

#: Size of the truncated SHA-256 of the canonical version vector carried in HELLO and ACK.
VECTOR_DIGEST_BYTES = 16
#: Size of a chain hash (SHA-256, see ``localfirst.log.chain_next``).
CHAIN_BYTES = 32
_DEVICE_ID_BYTES = 32
_HEX_ID = re.compile(r"(?:[0-9a-f]{2})+")
_LAST = 0x01


def vector_digest(vector: Mapping[str, int]) -> bytes:
    """Return the 16-byte digest of a version vector (canonical: sorted, zeros dropped)."""
    items = sorted((o, s) for o, s in vector.items() if s > 0)
    return hashlib.sha256(msgpack.packb(items, use_bin_type=True)).digest()[:VECTOR_DIGEST_BYTES]


def _id_to_wire(text: str) -> bytes:
    """Return an id as compact bytes: lowercase hex ids as raw bytes, anything else as UTF-8."""
    if _HEX_ID.fullmatch(text):
        return bytes.fromhex(text)
    return text.encode("utf-8")


def _array(frame: Frame, length: int) -> list[Any]:
    """Decode a payload that must be a msgpack array of ``length`` items."""
    try:
        body = msgpack.unpackb(frame.payload, raw=False, strict_map_key=True, use_list=True)
    except Exception as exc:  # msgpack raises many types on hostile bytes
        raise MessageError(f"{_name(frame.type)}: undecodable payload ({type(exc).__name__})") from None
    if not isinstance(body, list) or len(body) != length:
        raise MessageError(f"{_name(frame.type)}: payload is not an array of {length} items")
    return body


def _int_item(frame: Frame, value: Any, what: str, low: int = 0, high: int = 2**63 - 1) -> int:
    if type(value) is not int or not low <= value <= high:
        raise MessageError(f"{_name(frame.type)}: {what} is not an integer in [{low}, {high}]")
    return value


def _bytes_item(frame: Frame, value: Any, what: str, size: int, *, exact: bool = True) -> bytes:
    if type(value) is not bytes or (len(value) != size if exact else len(value) > size):
        raise MessageError(f"{_name(frame.type)}: {what} is not {'' if exact else 'at most '}{size} bytes")
    return value


@dataclass(frozen=True, slots=True)
class Digest:
    """What a replica holds, compactly: CSN, vector digest and the chain hash at that CSN."""

    csn: int
    vector: bytes
    chain: bytes


@dataclass(frozen=True, slots=True)
class Hello:
    """Both sides, first: protocol version, device id, library id and the holder's digest."""

    version: int
    device: str
    library: str
    digest: Digest

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload (a msgpack array; ids as raw bytes)."""
        d = self.digest
        body = [self.version, bytes.fromhex(self.device), _id_to_wire(self.library), d.csn, d.vector, d.chain]
        return MessageType.HELLO, _packed(body)

    @classmethod
    def decode(cls, frame: Frame) -> Hello:
        """Parse a frame of type HELLO."""
        expect_type(frame, MessageType.HELLO)
        version, device, library, csn, vector, chain = _array(frame, 6)
        return cls(
            _int_item(frame, version, "version", 0, 255),
            _bytes_item(frame, device, "device id", _DEVICE_ID_BYTES).hex(),
            _library(frame, library),
            Digest(
                _int_item(frame, csn, "csn"),
                _bytes_item(frame, vector, "vector digest", VECTOR_DIGEST_BYTES),
                _bytes_item(frame, chain, "chain hash", CHAIN_BYTES),
            ),
        )


def _library(frame: Frame, value: Any) -> str:
    raw = _bytes_item(frame, value, "library id", MAX_LIBRARY_ID_BYTES, exact=False)
    if len(raw) == 16:
        return raw.hex()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MessageError("HELLO: library id is not valid") from None


def _packed(body: list[Any]) -> bytes:
    data: bytes = msgpack.packb(body, use_bin_type=True)
    return data


@dataclass(frozen=True, slots=True)
class SummaryMessage:
    """When the digests differ: the sender's full version vector and CSN."""

    summary: Summary

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload (``localfirst.encode_summary`` bytes)."""
        return MessageType.SUMMARY, encode_summary(self.summary)

    @classmethod
    def decode(cls, frame: Frame) -> SummaryMessage:
        """Parse a frame of type SUMMARY."""
        expect_type(frame, MessageType.SUMMARY)
        try:
            return cls(decode_summary(frame.payload))
        except ReplicaError as exc:
            raise MessageError(f"SUMMARY: {exc}") from None


_DIGEST = struct.Struct(">Q16s32s")


@dataclass(frozen=True, slots=True)
class BatchMessage:
    """A slice of a batch (BATCH answers a SUMMARY; PUSH carries live writes).

    The sender's digest rides along, so the receiver proves by chain hashes what it now
    shares with the sender without another message.
    """

    batch: Batch
    last: bool
    sender: Digest
    live: bool = False

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload: flags byte, sender digest, ``encode_batch`` bytes."""
        kind = MessageType.PUSH if self.live else MessageType.BATCH
        d = self.sender
        head = bytes([_LAST if self.last else 0]) + _DIGEST.pack(d.csn, d.vector, d.chain)
        return kind, head + encode_batch(self.batch)

    @classmethod
    def decode(cls, frame: Frame) -> BatchMessage:
        """Parse a frame of type BATCH or PUSH."""
        kind = expect_type(frame, MessageType.BATCH, MessageType.PUSH)
        payload = frame.payload
        if len(payload) < 1 + _DIGEST.size or payload[0] not in (0, _LAST):
            raise MessageError(f"{kind.name}: bad header")
        csn, vector, chain = _DIGEST.unpack_from(payload, 1)
        if csn >= 2**63:
            raise MessageError(f"{kind.name}: csn out of range")
        try:
            batch = decode_batch(payload[1 + _DIGEST.size :])
        except ReplicaError as exc:
            raise MessageError(f"{kind.name}: {exc}") from None
        return cls(batch, payload[0] == _LAST, Digest(csn, vector, chain), kind is MessageType.PUSH)


@dataclass(frozen=True, slots=True)
class Ack:
    """What the receiver of a slice now holds: CSN, vector digest and chain hash at that CSN."""

    digest: Digest

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload."""
        d = self.digest
        return MessageType.ACK, _packed([d.csn, d.vector, d.chain])

    @classmethod
    def decode(cls, frame: Frame) -> Ack:
        """Parse a frame of type ACK."""
        expect_type(frame, MessageType.ACK)
        csn, vector, chain = _array(frame, 3)
        return cls(
            Digest(
                _int_item(frame, csn, "csn"),
                _bytes_item(frame, vector, "vector digest", VECTOR_DIGEST_BYTES),
                _bytes_item(frame, chain, "chain hash", CHAIN_BYTES),
            )
        )


@dataclass(frozen=True, slots=True)
class Goodbye:
    """Either side: the session ends (BYE normally, ERROR after a fault), with a reason."""

    reason: str
    error: bool = False

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload."""
        kind = MessageType.ERROR if self.error else MessageType.BYE
        reason = "".join(ch for ch in self.reason if ch.isprintable())[:MAX_REASON_CHARS]
        return kind, _pack({"reason": reason})

    @classmethod
    def decode(cls, frame: Frame) -> Goodbye:
        """Parse a frame of type BYE or ERROR."""
        kind = expect_type(frame, MessageType.BYE, MessageType.ERROR)
        body = _unpack(frame)
        return cls(_text(frame, body, "reason", MAX_REASON_CHARS), kind is MessageType.ERROR)


def check_version(version: int, at_least: int = MIN_PROTOCOL_VERSION) -> None:
    """Refuse a HELLO version this node does not speak or one older than the peer spoke before.

    Raises:
        MessageError: the version is out of range.
    """
    if version > PROTOCOL_VERSION:
        raise MessageError(f"peer speaks protocol version {version}, newer than {PROTOCOL_VERSION}")
    if version < at_least:
        raise MessageError(
            f"peer speaks protocol version {version}, older than {at_least} (downgrade refused)"
        )
