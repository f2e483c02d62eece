"""Tests of sync.identity: key pair, certificate extensions, storage and permissions."""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from sync.const import CERT_FILE, KEY_FILE
from sync.identity import (
    Identity,
    IdentityError,
    cert_der_to_pem,
    fingerprint,
    verify_signature,
)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_create_stores_owner_only_files(tmp_path: Path) -> None:
    directory = tmp_path / "data" / "identity"
    ident = Identity.load_or_create(directory, "Laptop")
    assert ident.key_path == directory / KEY_FILE
    assert ident.cert_path == directory / CERT_FILE
    assert _mode(directory) == 0o700
    assert _mode(ident.key_path) == 0o600
    assert _mode(ident.cert_path) == 0o600
    assert not list(directory.glob("*.tmp"))


def test_device_id_is_sha256_of_cert_der(alice: Identity) -> None:
    assert alice.device_id == hashlib.sha256(alice.cert_der).hexdigest()
    assert alice.device_id == fingerprint(alice.cert_der)
    assert len(alice.device_id) == 64
    pem_cert = x509.load_pem_x509_certificate(alice.cert_pem)
    assert pem_cert.public_bytes(serialization.Encoding.DER) == alice.cert_der
    assert cert_der_to_pem(alice.cert_der) == alice.cert_pem


def test_reload_keeps_identity(tmp_path: Path) -> None:
    first = Identity.load_or_create(tmp_path, "Laptop")
    again = Identity.load_or_create(tmp_path, "Renamed laptop")
    assert again.device_id == first.device_id
    assert again.name == "Renamed laptop"


def test_two_devices_differ(alice: Identity, bob: Identity) -> None:
    assert alice.device_id != bob.device_id


def test_certificate_extensions(alice: Identity) -> None:
    cert = x509.load_der_x509_certificate(alice.cert_der)
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical
    assert basic.value.ca
    assert basic.value.path_length == 0
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert usage.value.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert cert.issuer == cert.subject
    cert.verify_directly_issued_by(cert)


def test_name_is_not_in_certificate(tmp_path: Path) -> None:
    ident = Identity.load_or_create(tmp_path, "Alice's secret laptop")
    assert b"secret" not in ident.cert_der


def test_loose_permissions_are_tightened(tmp_path: Path) -> None:
    ident = Identity.load_or_create(tmp_path, "x")
    ident.key_path.chmod(0o644)
    tmp_path.chmod(0o755)
    Identity.load_or_create(tmp_path, "x")
    assert _mode(ident.key_path) == 0o600
    assert _mode(tmp_path) == 0o700


def test_missing_key_is_an_error_not_a_new_identity(tmp_path: Path) -> None:
    ident = Identity.load_or_create(tmp_path, "x")
    ident.key_path.unlink()
    with pytest.raises(IdentityError, match="private key"):
        Identity.load_or_create(tmp_path, "x")
    assert ident.cert_path.exists()


def test_key_without_certificate_is_recreated(tmp_path: Path) -> None:
    ident = Identity.load_or_create(tmp_path, "x")
    ident.cert_path.unlink()
    again = Identity.load_or_create(tmp_path, "x")
    assert again.device_id != ident.device_id


def test_corrupt_certificate_is_an_error(tmp_path: Path) -> None:
    ident = Identity.load_or_create(tmp_path, "x")
    ident.cert_path.write_bytes(b"-----BEGIN CERTIFICATE-----\ngarbage\n")
    with pytest.raises(IdentityError, match="cannot read"):
        Identity.load_or_create(tmp_path, "x")


def test_mismatched_key_is_an_error(tmp_path: Path, make_identity: Callable[[str], Identity]) -> None:
    mine = Identity.load_or_create(tmp_path / "mine", "x")
    other = make_identity("other")
    mine.key_path.write_bytes(other.key_path.read_bytes())
    with pytest.raises(IdentityError, match="does not belong"):
        Identity.load_or_create(tmp_path / "mine", "x")


def test_sign_and_verify(alice: Identity, bob: Identity) -> None:
    signature = alice.sign(b"data")
    assert verify_signature(alice.cert_der, signature, b"data")
    assert not verify_signature(alice.cert_der, signature, b"other data")
    assert not verify_signature(bob.cert_der, signature, b"data")
    assert not verify_signature(alice.cert_der, b"garbage", b"data")
    assert not verify_signature(b"not a certificate", signature, b"data")
