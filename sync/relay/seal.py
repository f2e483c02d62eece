"""Sealing what goes into a relay: signed by the sending device, encrypted to the members.

Nothing here is home-made cryptography: encryption is the ``age`` format (``pyrage``) to each
member's X25519 recipient, and the signature is the device certificate's ECDSA P-256 key
(``cryptography``, through :class:`sync.identity.Identity`). What is signed binds the kind of
object, the library, the sending device and its sequence number to the SHA-256 of the body, so
an object cannot be moved to another name, device, library or place in a device's sequence.
The signature sits inside the encryption: the store learns neither who wrote an object nor what
it holds.

Each device has its own age identity (``relay-age.key`` beside its certificate, owner-only).
Members learn each other's recipients from a *key entry* each device puts into the relay: the
recipient signed by the device's certificate key, which every member already pins from the
library's member records. It is public (a recipient is a public key), so it is not encrypted.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated

import msgspec
import pyrage
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyrage import x25519

from sync.identity import Identity, verify_signature

__all__ = [
    "AGE_KEY_FILE",
    "SealError",
    "cert_der",
    "key_entry",
    "load_age_identity",
    "open_key_entry",
    "open_sealed",
    "seal",
]

AGE_KEY_FILE = "relay-age.key"
FORMAT = 1
_DOMAIN = b"localfirst relay object v1"
_KEY_DOMAIN = b"localfirst relay key v1"
_Text = Annotated[str, msgspec.Meta(max_length=200)]


class SealError(Exception):
    """An object that cannot be opened: not for this device, damaged, truncated, forged, moved."""


class _Envelope(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    format: int
    kind: _Text
    library: _Text
    device: _Text
    seq: Annotated[int, msgspec.Meta(ge=0)]
    body: bytes
    signature: Annotated[bytes, msgspec.Meta(max_length=512)]


class _KeyEntry(msgspec.Struct, frozen=True, array_like=True, forbid_unknown_fields=True):
    format: int
    recipient: _Text
    signature: Annotated[bytes, msgspec.Meta(max_length=512)]


def _signed(kind: str, library: str, device: str, seq: int, body: bytes) -> bytes:
    digest = hashlib.sha256(body).digest()
    return msgspec.msgpack.encode([_DOMAIN, FORMAT, kind, library, device, seq, digest])


def load_age_identity(directory: Path) -> x25519.Identity:
    """This device's age identity, created on first use (owner-only, written atomically).

    Raises:
        SealError: the file exists but is not an age identity.
    """
    from sync.identity import _write_private  # one owner-only atomic writer for device secrets

    path = directory / AGE_KEY_FILE
    if not path.exists():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_private(path, str(x25519.Identity.generate()).encode("ascii") + b"\n")
    try:
        return x25519.Identity.from_str(path.read_text(encoding="ascii").strip())
    except (OSError, UnicodeDecodeError, pyrage.IdentityError, ValueError) as exc:
        raise SealError(f"cannot read this device's relay key {path}: {exc}") from None


def cert_der(pem: str) -> bytes:
    """DER of a member's PEM certificate (as the member records carry it)."""
    cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    return cert.public_bytes(serialization.Encoding.DER)


def seal(
    identity: Identity, *, kind: str, library: str, seq: int, body: bytes, recipients: list[str]
) -> bytes:
    """Sign ``body`` as object ``seq`` of this device and encrypt it to ``recipients``."""
    if not recipients:
        raise SealError("no recipients to seal to")
    device = identity.device_id
    signature = identity.sign(_signed(kind, library, device, seq, body))
    plain = msgspec.msgpack.encode(_Envelope(FORMAT, kind, library, device, seq, body, signature))
    try:
        keys = [x25519.Recipient.from_str(r) for r in sorted(set(recipients))]
    except (pyrage.RecipientError, ValueError) as exc:
        raise SealError(f"a member's relay key is not an age recipient: {exc}") from None
    return bytes(pyrage.encrypt(plain, keys))


def open_sealed(
    data: bytes,
    age: x25519.Identity,
    *,
    kind: str,
    library: str,
    device: str,
    seq: int,
    cert: bytes,
) -> bytes:
    """Decrypt and check an object expected to be ``kind`` number ``seq`` of ``device`` in
    ``library``, signed by the key of ``cert`` (DER); return its body.

    Raises:
        SealError: anything is wrong; the reason is one line.
    """
    try:
        plain = pyrage.decrypt(data, [age])
    except pyrage.DecryptError as exc:
        reason = "not sealed to this device" if "No matching keys" in str(exc) else "damaged or truncated"
        raise SealError(reason) from None
    try:
        env = msgspec.msgpack.decode(plain, type=_Envelope)
    except msgspec.DecodeError:
        raise SealError("malformed sealed object") from None
    if env.format != FORMAT:
        raise SealError(f"unknown relay format {env.format}")
    if (env.kind, env.library, env.device, env.seq) != (kind, library, device, seq):
        raise SealError("object moved: its kind, library, device or number is not where it was found")
    if not verify_signature(cert, env.signature, _signed(kind, library, device, seq, env.body)):
        raise SealError("bad signature: not written by that member")
    return env.body


def key_entry(identity: Identity, library: str, recipient: str) -> bytes:
    """This device's key entry: its age recipient, signed by its certificate's key."""
    signed = msgspec.msgpack.encode([_KEY_DOMAIN, library, identity.device_id, recipient])
    return msgspec.msgpack.encode(_KeyEntry(FORMAT, recipient, identity.sign(signed)))


def open_key_entry(data: bytes, *, library: str, device: str, cert: bytes) -> str:
    """The age recipient in a member's key entry, once its signature checks.

    Raises:
        SealError: malformed, or not signed by that member.
    """
    try:
        entry = msgspec.msgpack.decode(data, type=_KeyEntry)
        x25519.Recipient.from_str(entry.recipient)
    except (msgspec.DecodeError, pyrage.RecipientError, ValueError):
        raise SealError("malformed key entry") from None
    signed = msgspec.msgpack.encode([_KEY_DOMAIN, library, device, entry.recipient])
    if not verify_signature(cert, entry.signature, signed):
        raise SealError("key entry not signed by that member")
    return entry.recipient
