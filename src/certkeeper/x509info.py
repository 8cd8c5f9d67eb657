"""Parse a certificate (PEM or DER) into the few facts certkeeper decides on.

`cryptography` is imported only when a certificate is actually parsed: `status` on a
healthy host parses none (certcache.py remembers the disk certificates, and a served
certificate whose DER bytes equal the disk one's is that certificate).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from certkeeper.times import CERTIFICATE_EARLIEST
from certkeeper.value import Value

# X.509's UTCTime starts in 1950. An earlier date (GeneralizedTime can say year 1) or a
# period that ends before it begins is no certificate any client accepts, and would
# overflow the date arithmetic of the renewal window.
EARLIEST = CERTIFICATE_EARLIEST


class CertInfo(Value):
    serial: int
    not_before: datetime
    not_after: datetime
    issuer: str
    sans: tuple[str, ...]
    # The Authority Key Identifier's keyIdentifier: half of the ARI certificate ID.
    aki: bytes | None = None

    @property
    def serial_hex(self) -> str:
        return format(self.serial, "x")

    def covers(self, domain: str) -> bool:
        return any(name_matches(pattern, domain) for pattern in self.sans)


def name_matches(pattern: str, domain: str) -> bool:
    """RFC 6125 matching: a wildcard stands for exactly one whole left-most label."""
    pattern = pattern.lower().rstrip(".")
    domain = domain.lower().rstrip(".")
    if pattern == domain:
        return True
    if pattern.startswith("*."):
        head, _, rest = domain.partition(".")
        return bool(head) and rest == pattern[2:]
    return False


def _utc(cert: object, name: str) -> datetime:
    """The certificate's `name` date, timezone-aware. cryptography 42 added the `*_utc`
    properties and deprecated the naive ones; Debian 12 (38) and Ubuntu 24.04 (41) have
    only the naive ones, which are UTC."""
    aware = getattr(cert, f"{name}_utc", None)
    if isinstance(aware, datetime):
        return aware
    naive = getattr(cert, name)
    assert isinstance(naive, datetime)
    return naive.replace(tzinfo=UTC)


def _from_cert(cert: object) -> tuple[CertInfo, bytes]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    assert isinstance(cert, x509.Certificate)
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        sans = tuple(ext.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        sans = ()
    try:
        aki = cert.extensions.get_extension_for_class(
            x509.AuthorityKeyIdentifier
        ).value.key_identifier
    except x509.ExtensionNotFound:
        aki = None
    issuer_cn = cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)
    issuer = str(issuer_cn[0].value) if issuer_cn else cert.issuer.rfc4514_string()
    from cryptography.hazmat.primitives.serialization import Encoding

    not_before, not_after = _utc(cert, "not_valid_before"), _utc(cert, "not_valid_after")
    if not EARLIEST <= not_before <= not_after:
        raise ValueError(
            f"malformed certificate: valid from {not_before:%Y-%m-%d} to {not_after:%Y-%m-%d}, "
            f"not a validity period from {EARLIEST:%Y} on"
        )
    info = CertInfo(
        serial=cert.serial_number,
        not_before=not_before,
        not_after=not_after,
        issuer=issuer,
        sans=sans,
        aki=aki,
    )
    # The DER these facts describe: what a served certificate is compared with.
    return info, cert.public_bytes(Encoding.DER)


def _guarded(load: str, data: bytes) -> tuple[CertInfo, bytes]:
    """Parse, turning *anything* the parser raises into ValueError.

    Certificates come from disk and from any server a probe reaches. cryptography raises
    more than ValueError on hostile input (DuplicateExtension, UnsupportedGeneralNameType,
    OverflowError on absurd dates...), and one such certificate must cost its own row,
    never the whole run.
    """
    from cryptography import x509

    try:
        return _from_cert(getattr(x509, load)(data))
    except ValueError:
        raise
    except Exception as exc:  # any parser failure is "malformed": see the docstring
        raise ValueError(f"malformed certificate ({type(exc).__name__}: {exc})"[:300]) from None


def parse_der(data: bytes) -> CertInfo:
    return _guarded("load_der_x509_certificate", data)[0]


def parse_pem_leaf(data: bytes) -> tuple[CertInfo, bytes]:
    """The first certificate of a PEM file (the leaf, in certbot's files), and its DER."""
    return _guarded("load_pem_x509_certificate", data)


def parse_pem(data: bytes) -> CertInfo:
    return parse_pem_leaf(data)[0]


# certbot's fullchain.pem is a few KiB; a cert.pem that is a symlink to /dev/zero or a
# FIFO must not hang or fill memory (inputs.read_regular refuses those).
MAX_CERT_FILE_BYTES = 1024 * 1024


def read_file(path: Path) -> CertInfo:
    """Raises OSError when unreadable, ValueError when not a certificate (or not a
    regular file of sane size)."""
    from certkeeper.inputs import read_regular

    return parse_pem(read_regular(path, MAX_CERT_FILE_BYTES))
