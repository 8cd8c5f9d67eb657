"""A certificate's validity is read only within a sane range: a date before 1950 (year 1,
which GeneralizedTime can say) or a period that ends before it starts costs its own row
as a malformed certificate, never an overflow in the renewal arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certkeeper import policy
from certkeeper.x509info import parse_pem

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def der(not_before: datetime, not_after: datetime) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edge.example.test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("edge.example.test")]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def pem(data: bytes) -> bytes:
    return x509.load_der_x509_certificate(data).public_bytes(serialization.Encoding.PEM)


def year_one(data: bytes) -> bytes:
    """cryptography builds nothing before 1950: the year 2050 of each GeneralizedTime is
    rewritten to 0001 in the DER (the signature no longer matches; no parser of ours
    looks at it)."""
    marker = b"\x18\x0f2050"
    assert marker in data
    return data.replace(marker, b"\x18\x0f0001")


def backwards(data: bytes) -> bytes:
    """The two UTCTimes swapped: a period that ends before it begins."""
    start = data.index(b"\x17\x0d")
    end = data.index(b"\x17\x0d", start + 15)
    first, second = data[start : start + 15], data[end : end + 15]
    return data[:start] + second + data[start + 15 : end] + first + data[end + 15 :]


Y2050 = datetime(2050, 1, 1, tzinfo=UTC)
CASES = {
    "year 1 to year 1": year_one(der(Y2050, Y2050 + timedelta(days=4))),
    "year 1 to 2060": year_one(der(Y2050, Y2050 + timedelta(days=3650))),
    "backwards": backwards(der(NOW - timedelta(days=1), NOW + timedelta(days=30))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_out_of_range_validity_is_a_malformed_certificate(case: str) -> None:
    with pytest.raises(ValueError, match=r"^malformed certificate: valid from "):
        parse_pem(pem(CASES[case]))


def test_the_far_end_of_the_calendar_is_read_and_planned_without_overflow() -> None:
    # 99991231235959Z is RFC 5280's "no well-defined expiration date".
    far = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    cert = parse_pem(pem(der(NOW - timedelta(days=1), far)))
    assert cert.not_after.year == 9999
    plan = policy.renewal_plan(cert, 31, None, NOW)
    assert not plan.due(NOW)
    assessment = policy.assess(
        "edge.example.test",
        policy.Observed(cert, None, cert),
        policy.Judging(False, 31, (14, 7)),
        NOW,
    )
    assert assessment.state is policy.Health.OK
