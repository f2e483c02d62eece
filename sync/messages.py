"""Every sync message type and its (de)serialiser: bytes in, bytes out, no I/O.

Payloads are msgpack maps with short string keys, except raw chunks. Decoding treats
the bytes as hostile: every field is type- and size-checked, and anything else
raises :class:`MessageError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeVar

import msgpack

from sync.const import MAX_CERT_SIZE, MAX_DEVICE_NAME_CHARS, MAX_REASON_CHARS
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
    """Inviter -> joiner: the inviter's display name and the welcome payload's size."""

    name: str
    size: int

    def encode(self) -> tuple[MessageType, bytes]:
        """Return the frame type and payload."""
        return MessageType.PAIR_WELCOME, _pack({"name": self.name, "size": self.size})

    @classmethod
    def decode(cls, frame: Frame) -> PairWelcome:
        """Parse a frame of type PAIR_WELCOME (the size is range-checked by the caller)."""
        expect_type(frame, MessageType.PAIR_WELCOME)
        body = _unpack(frame)
        size = _field(frame, body, "size", int)
        if size < 0:
            raise MessageError("PAIR_WELCOME: negative size")
        return cls(_text(frame, body, "name", MAX_DEVICE_NAME_CHARS), size)


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
