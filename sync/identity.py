"""Device identity: an EC P-256 key pair and a self-signed certificate.

The device id is the SHA-256 hex digest of the certificate DER. The certificate is
its own trust anchor (peers load it as the only CA for this device), so it is a CA
certificate limited to path length 0, with the extensions strict verifiers expect.
The user's device name is deliberately not written into the certificate: a TLS
server shows its certificate to anyone who connects.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sync.const import CERT_FILE, KEY_FILE

log = logging.getLogger(__name__)

# RFC 5280 section 4.1.2.5: 99991231235959Z means "no well-defined expiration";
# a device id must not change because a certificate ran out.
_NOT_AFTER = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)
# Back-date validity so a peer whose clock is behind still accepts a new certificate.
_CLOCK_SKEW = datetime.timedelta(days=2)
_SUBJECT = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localfirst device")])


class IdentityError(Exception):
    """The stored identity is missing a part, unreadable or inconsistent."""


def fingerprint(cert_der: bytes) -> str:
    """Return the device id of a certificate: the SHA-256 hex digest of its DER."""
    return hashlib.sha256(cert_der).hexdigest()


def cert_der_to_pem(cert_der: bytes) -> bytes:
    """Convert a DER certificate to PEM.

    Raises:
        ValueError: ``cert_der`` is not a parseable X.509 certificate.
    """
    return x509.load_der_x509_certificate(cert_der).public_bytes(serialization.Encoding.PEM)


def verify_signature(cert_der: bytes, signature: bytes, data: bytes) -> bool:
    """Return whether ``signature`` over ``data`` was made with the key of ``cert_der``.

    Hostile input yields False, never an exception.
    """
    try:
        public = x509.load_der_x509_certificate(cert_der).public_key()
    except ValueError:
        return False
    if not isinstance(public, ec.EllipticCurvePublicKey):
        return False
    try:
        public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class Identity:
    """A device's key pair and certificate, as files in its data directory."""

    name: str
    cert_der: bytes
    cert_pem: bytes
    key_path: Path
    cert_path: Path

    @property
    def device_id(self) -> str:
        """SHA-256 hex digest of the certificate DER."""
        return fingerprint(self.cert_der)

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` with the device key (ECDSA P-256 over SHA-256, DER-encoded).

        Raises:
            IdentityError: the key file is unreadable.
        """
        try:
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise IdentityError(f"cannot read {self.key_path}: {exc}") from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise IdentityError(f"{self.key_path} is not an EC private key")
        return key.sign(data, ec.ECDSA(hashes.SHA256()))

    @classmethod
    def load_or_create(cls, directory: Path, name: str) -> Identity:
        """Load the identity stored in ``directory``, creating it on first use.

        Args:
            directory: data directory; created with mode 0700 if missing.
            name: this device's display name (kept in memory, not in the certificate).

        Raises:
            IdentityError: a certificate exists but its key is missing, or the files
                are corrupt or do not belong together. Nothing is overwritten then,
                since a new key would silently change the device id.
        """
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _restrict(directory, 0o700)
        key_path = directory / KEY_FILE
        cert_path = directory / CERT_FILE
        if not cert_path.exists():
            # The certificate is written last, so a key without it is a creation that
            # was interrupted before anyone could have learnt the device id.
            _create(key_path, cert_path)
        elif not key_path.exists():
            raise IdentityError(f"{cert_path} exists but its private key {key_path} is missing")
        _restrict(key_path, 0o600)
        _restrict(cert_path, 0o600)
        cert_der = _load_checked(key_path, cert_path)
        cert_pem = x509.load_der_x509_certificate(cert_der).public_bytes(serialization.Encoding.PEM)
        return cls(name, cert_der, cert_pem, key_path, cert_path)


def _restrict(path: Path, mode: int) -> None:
    """Make ``path`` owner-only, since the key must not be readable by other users."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current != mode:
        log.warning("tightening permissions of %s from %o to %o", path, current, mode)
        path.chmod(mode)


def _load_checked(key_path: Path, cert_path: Path) -> bytes:
    """Load the pair, check the key matches the certificate and return its DER."""
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError, TypeError) as exc:
        raise IdentityError(f"cannot read device identity in {cert_path.parent}: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise IdentityError(f"{key_path} is not an EC private key")
    if cert.public_key() != key.public_key():
        raise IdentityError(f"{cert_path} does not belong to the key in {key_path}")
    return cert.public_bytes(serialization.Encoding.DER)


def _create(key_path: Path, cert_path: Path) -> None:
    """Generate a key and a self-signed certificate and write them owner-only."""
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key()
    now = datetime.datetime.now(datetime.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(public)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_SUBJECT)
        .issuer_name(_SUBJECT)
        .public_key(public)
        # RFC 5280 section 4.1.2.2: positive, at most 20 octets.
        .serial_number(secrets.randbits(159) | 1)
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(_NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    _write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` durably with mode 0600, replacing ``path`` atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
