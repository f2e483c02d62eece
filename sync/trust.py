"""Who this device trusts: the members' certificates and the TLS contexts built from them.

Only the current members' certificates are trust anchors, and a certificate counts only if its
fingerprint is the device id it is filed under. The contexts are rebuilt whenever membership
changes (a device paired or revoked), and the caller learns which devices lost trust.
"""

from __future__ import annotations

import functools
import logging
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from localfirst import Replica
from sync import tls
from sync.identity import Identity, fingerprint

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1024)
def pem_fingerprint(pem: str) -> str | None:
    """Return the device id of a PEM certificate, or None if it does not parse."""
    try:
        cert = x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return None
    return fingerprint(cert.public_bytes(serialization.Encoding.DER))


def member_certs(replica: Replica, own_device: str) -> dict[str, str]:
    """PEM certificates of the current members other than ``own_device``, by device id.

    None (empty) once this device's own revocation is committed: a device removed from the library
    trusts nobody, so it stops dialling and listening to members for good.
    """
    out: dict[str, str] = {}
    if replica.revoked:
        return out
    for device in replica.members():
        if device == own_device:
            continue
        doc = replica.get(device)
        pem = doc.value("cert") if doc is not None else None
        if isinstance(pem, str) and pem_fingerprint(pem) == device:
            out[device] = pem
    return out


class Trust:
    """The trusted members and the TLS contexts (listener and dialer) that trust exactly them."""

    def __init__(self, identity: Identity) -> None:
        self._identity = identity
        self.allowed: frozenset[str] = frozenset()
        self.server_ctx: ssl.SSLContext | None = None
        self.client_ctx: ssl.SSLContext | None = None

    def update(self, certs: dict[str, str]) -> frozenset[str] | None:
        """Trust exactly ``certs`` (device id -> PEM).

        Returns the devices no longer trusted when the contexts were rebuilt, or None when
        membership did not change (nothing rebuilt).
        """
        allowed = frozenset(certs)
        if allowed == self.allowed and self.server_ctx is not None:
            return None
        anchors = [certs[d].encode("ascii") for d in sorted(certs)]
        self.server_ctx = tls.server_context(self._identity, anchors)
        self.client_ctx = tls.client_context(self._identity, anchors)
        gone = self.allowed - allowed
        self.allowed = allowed
        log.info("trust anchors rebuilt: %d member(s)", len(allowed))
        return gone


def removal_notice(revoked: bool, shut_out: bool) -> str | None:
    """What status and the app say when this device is out of the library, else None.

    ``revoked``: its log holds its revocation, or a member said so (certain); ``shut_out``:
    every member it reached lately refused it at the handshake (a member that has not heard of
    a new device refuses it too, so this one is worded as likely, not certain).
    """
    if revoked:
        return (
            "this device was removed from the library: it no longer syncs; "
            "what it holds stays readable and exportable"
        )
    if shut_out:
        return (
            "every member this device reached refused it: it was probably removed from the "
            "library (it now tries again only every few minutes)"
        )
    return None
