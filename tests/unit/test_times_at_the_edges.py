"""Every time certkeeper reads from outside is bounded where it is converted, and no
spelling of one raises: the state file, the certificate cache, certbot's rate-limit
"retry after", a certificate's validity period. The property for each parser: nothing
but its documented error escapes, and what is read lies in the documented range."""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certkeeper import certcache, policy, state, times, x509info
from certkeeper.certcache import CertCache, file_key

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
STATE_TIMES = (
    "last_check",
    "last_attempt",
    "previous_expiry",
    "new_expiry",
    "backoff_until",
    "warned_for",
    "last_success",
)
# ASCII, Unicode digits (Arabic-Indic, fullwidth, superscript), offsets, the calendar's ends.
DIGITS = "0123456789\u0660\u0661\u0669\uff10\uff19\u00b9\u00b2"
edge_times = st.one_of(
    st.text(alphabet=DIGITS + "-:TZz+. ", max_size=40),
    st.builds(
        lambda y, mo, d, off: f"{y:04d}-{mo:02d}-{d:02d}T00:10:00{off}",
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.sampled_from(["Z", "+01:00", "-05:00", "+23:59", "", "+24:00"]),
    ),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True),
    st.none(),
)


def _in_range(moment: datetime | None) -> bool:
    return moment is None or (times.EARLIEST <= moment < times.LATEST and moment.tzinfo is UTC)


def test_state_uses_the_one_range_of_times() -> None:
    assert not hasattr(state, "_EARLIEST") and not hasattr(state, "_LATEST")
    assert state.from_iso("1999-12-31T23:59:59Z") is None
    assert state.from_iso("2199-12-31T23:59:59Z") == datetime(2199, 12, 31, 23, 59, 59, tzinfo=UTC)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(STATE_TIMES), edge_times, min_size=1))
def test_state_times_are_read_in_range_or_dropped(fields: dict[str, Any]) -> None:
    rec = state.CertRecord.from_json(fields)
    for name in STATE_TIMES:
        assert _in_range(getattr(rec, name))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=DIGITS, min_size=1, max_size=70))
def test_a_told_serial_is_lowercase_hex_or_nothing(serial: str) -> None:
    rec = state.CertRecord.from_json({"told_serial": serial})
    assert rec.told_serial is None or (
        rec.told_serial == serial and set(serial) <= set(string.hexdigits.lower())
    )


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(not_before=edge_times, not_after=edge_times)
def test_the_certificate_cache_believes_only_a_period_a_certificate_can_carry(
    tmp_path_factory: pytest.TempPathFactory, not_before: Any, not_after: Any
) -> None:
    folder: Path = tmp_path_factory.mktemp("cache")
    folder.chmod(0o700)
    entry = {
        "der_sha256": "ab" * 32,
        "serial": 1,
        "not_before": not_before,
        "not_after": not_after,
        "issuer": "R11",
        "sans": ["a.example.com"],
        "aki": None,
    }
    path = folder / certcache.CACHE_NAME
    path.write_text(json.dumps({"format": 1, "certificates": {file_key(b"pem"): entry}}))
    path.chmod(0o600)
    known = CertCache(folder).get(b"pem")
    if known is not None:
        # What x509info reads from a certificate: from 1950 on, up to RFC 5280's
        # 9999-12-31T23:59:59Z for "no expiry", in order; and the arithmetic on it works.
        info = known.info
        assert times.CERTIFICATE_EARLIEST <= info.not_before <= info.not_after
        assert info.not_after.tzinfo is UTC and info.not_before.tzinfo is UTC
        assert policy.days_left(info.not_after, NOW) >= -(10**7)


def test_an_inverted_period_in_the_cache_is_not_believed(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    entry = {
        "der_sha256": "ab" * 32,
        "serial": 1,
        "not_before": "2026-04-01T00:00:00Z",
        "not_after": "2026-01-01T00:00:00Z",
        "issuer": "R11",
        "sans": ["a.example.com"],
        "aki": None,
    }
    path = tmp_path / certcache.CACHE_NAME
    path.write_text(json.dumps({"format": 1, "certificates": {file_key(b"pem"): entry}}))
    path.chmod(0o600)
    assert CertCache(tmp_path).get(b"pem") is None


def test_a_retry_after_in_year_9999_is_no_back_off_of_centuries() -> None:
    said = "Error: rateLimited: too many certificates; retry after 9999-12-31 23:59:59 UTC"
    assert policy.rate_limit_backoff(said, NOW) == NOW + policy.DEFAULT_RATE_LIMIT_BACKOFF


@settings(max_examples=400, deadline=None)
@given(st.one_of(edge_times.filter(lambda v: isinstance(v, str)), st.text(max_size=60)))
def test_rate_limit_backoff_never_raises_nor_promises_more_than_eight_days(when: str) -> None:
    said = f"urn:ietf:params:acme:error:rateLimited: retry after {when} UTC"
    until = policy.rate_limit_backoff(said, NOW)
    assert until is not None and until.tzinfo is not None
    assert until <= NOW + policy.MAX_BACKOFF


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_the_certificate_parser_raises_only_value_error_and_reads_a_sane_period(
    raw: bytes,
) -> None:
    try:
        info = x509info.parse_der(raw)
    except ValueError:
        return
    assert x509info.EARLIEST <= info.not_before <= info.not_after
    assert info.not_after - NOW < timedelta(days=3_000_000)
