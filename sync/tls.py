"""TLS 1.3 contexts for the member channel and the pairing listener (stdlib ``ssl``).

Python's ``ssl`` cannot ask for an unknown client certificate and decide afterwards,
so the member channel loads the current members' certificates as its only trust
anchors (rebuild the contexts when membership changes) and, after the handshake,
:func:`check_peer` also checks the peer certificate's fingerprint.
"""

from __future__ import annotations

import ssl

from sync.identity import Identity, fingerprint


class PeerNotTrusted(Exception):
    """The peer's certificate is missing or is not a current member's."""


def _base(purpose: int, identity: Identity | None) -> ssl.SSLContext:
    """Return a TLS 1.3-only context holding ``identity``'s certificate, if given."""
    ctx = ssl.SSLContext(purpose)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    # Device ids, not host names, identify peers.
    ctx.check_hostname = False
    if identity is not None:
        ctx.load_cert_chain(identity.cert_path, identity.key_path)
    return ctx


def _trust_members(ctx: ssl.SSLContext, trusted_certs_pem: list[bytes]) -> None:
    """Make the members' certificates the only trust anchors and require a peer cert."""
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    if trusted_certs_pem:
        ctx.load_verify_locations(cadata=b"".join(trusted_certs_pem).decode("ascii"))
    # With no members there is no anchor, so every handshake fails, as it should.


def server_context(identity: Identity, trusted_certs_pem: list[bytes]) -> ssl.SSLContext:
    """Return the member channel's server context: TLS 1.3, client certificate required.

    Args:
        identity: this device's identity, presented to clients.
        trusted_certs_pem: PEM certificates of the current members, the only anchors.
    """
    ctx = _base(ssl.PROTOCOL_TLS_SERVER, identity)
    _trust_members(ctx, trusted_certs_pem)
    return ctx


def client_context(identity: Identity, trusted_certs_pem: list[bytes]) -> ssl.SSLContext:
    """Return the member channel's client context: TLS 1.3, presents ``identity``.

    Args:
        identity: this device's identity, presented to the server.
        trusted_certs_pem: PEM certificates of the current members, the only anchors.
    """
    ctx = _base(ssl.PROTOCOL_TLS_CLIENT, identity)
    _trust_members(ctx, trusted_certs_pem)
    return ctx


def pairing_server_context(identity: Identity) -> ssl.SSLContext:
    """Return the pairing listener's context: TLS 1.3, no client certificate requested.

    The joiner is not a member yet; the pairing protocol authenticates both sides.
    """
    ctx = _base(ssl.PROTOCOL_TLS_SERVER, identity)
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def pairing_client_context() -> ssl.SSLContext:
    """Return the joiner's context: TLS 1.3 without verifying the inviter's certificate.

    The inviter's certificate is captured with :func:`peer_cert_der` and proven by
    the pairing key confirmation instead.
    """
    ctx = _base(ssl.PROTOCOL_TLS_CLIENT, None)
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def peer_cert_der(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> bytes:
    """Return the DER certificate the peer presented in the handshake.

    Raises:
        PeerNotTrusted: the peer presented no certificate.
    """
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        raise PeerNotTrusted("peer presented no certificate")
    return der


def check_peer(ssl_object: ssl.SSLObject | ssl.SSLSocket, allowed_fingerprints: set[str]) -> str:
    """Check the peer's certificate belongs to a current member and return its device id.

    Args:
        ssl_object: the connection after the handshake (asyncio: the transport's
            ``get_extra_info("ssl_object")``).
        allowed_fingerprints: device ids of the current members.

    Raises:
        PeerNotTrusted: no certificate, not TLS 1.3, or not a member's certificate.
    """
    version = ssl_object.version()
    if version != "TLSv1.3":
        raise PeerNotTrusted(f"connection uses {version}, not TLS 1.3")
    device_id = fingerprint(peer_cert_der(ssl_object))
    if device_id not in allowed_fingerprints:
        raise PeerNotTrusted(f"device {device_id} is not a member")
    return device_id
