"""Certificates no honest CA issues, for the tests that prove one of them costs only its own row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SAN_OID = bytes.fromhex("0603551d11")  # 2.5.29.17 subjectAltName
IAN_OID = bytes.fromhex("0603551d12")  # 2.5.29.18 issuerAltName


def duplicated_extension(*names: str, days: float = 60) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) whose certificate carries subjectAltName twice.

    cryptography refuses to build one, so it is built with an issuerAltName of the same
    shape and that extension's OID is then rewritten in the DER. The signature no longer
    matches, which no parser of ours looks at; parsing the extensions raises
    DuplicateExtension, as it did for the certificate that stopped every renewal.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    sans = [x509.DNSName(n) for n in names]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.IssuerAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    assert der.count(IAN_OID) == 1
    der = der.replace(IAN_OID, SAN_OID)
    import base64

    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    pem = b"-----BEGIN CERTIFICATE-----\n" + b"\n".join(lines) + b"\n-----END CERTIFICATE-----\n"
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, key_pem


def unsupported_general_name(name: str, days: float = 60) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM), validly signed, whose subjectAltName holds an x400Address.

    OpenSSL (and so nginx) loads and serves it; cryptography raises
    UnsupportedGeneralNameType, which is not a ValueError, when the extensions are read.
    Anyone who controls one probed name can serve this.
    """
    dns = b"\x82" + bytes([len(name)]) + name.encode()
    body = dns + b"\xa3\x00"  # [3] x400Address, an empty ORAddress
    san = b"\x30" + bytes([len(body)]) + body
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(
            x509.UnrecognizedExtension(x509.oid.ExtensionOID.SUBJECT_ALTERNATIVE_NAME, san),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
