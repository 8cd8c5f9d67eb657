"""Arbitrary input never raises anything but certkeeper's own answer.

The state loader, the outbox parser and the certificate parser meet bytes written by a
crash, a full disk, another user or a hostile server. Each must return a value (or,
for certificates, raise ValueError, which costs one row), whatever the bytes are.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import trustme
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from certkeeper import state as state_mod
from certkeeper.notify import outbox
from certkeeper.x509info import parse_der, parse_pem

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=30,
)
times = st.one_of(
    st.text(max_size=30),
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    st.sampled_from(
        ["2026-11-30", "9999-12-31T23:59:59Z", "+275760-09-13T00:00:00Z", "0001-01-01T00:00:00Z"]
    ),
)
record = st.fixed_dictionaries(
    {},
    optional={
        key: st.one_of(times, json_values)
        for key in (
            "last_check",
            "last_attempt",
            "backoff_until",
            "warned_for",
            "consecutive_failures",
            "warned_thresholds",
            "last_error",
            "intent",
        )
    },
)


def load_from(raw: bytes) -> state_mod.State:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "state.json").write_bytes(raw)
        loaded = state_mod.load(Path(folder), NOW)
        # Whatever was loaded can be used and saved again.
        for rec in loaded.certs.values():
            from certkeeper import policy

            policy.attempt_allowed(rec.last_attempt, rec.backoff_until, NOW, False)
        loaded.save(NOW)
        return loaded


@FAST
@given(st.binary(max_size=400))
def test_state_loader_on_arbitrary_bytes(raw: bytes) -> None:
    load_from(raw)


@FAST
@given(json_values)
def test_state_loader_on_arbitrary_json(doc: object) -> None:
    load_from(json.dumps(doc).encode())


@FAST
@given(st.dictionaries(st.text(max_size=10), record, max_size=4))
def test_state_loader_on_hostile_records(certs: dict[str, dict[str, object]]) -> None:
    loaded = load_from(json.dumps({"version": 1, "certs": certs}).encode())
    assert set(loaded.certs) == {str(k) for k in certs}


@FAST
@given(st.binary(max_size=600))
def test_outbox_parser_on_arbitrary_bytes(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        box = outbox.outbox_dir(Path(folder))
        box.mkdir()
        (box / "x.eml").write_bytes(raw)
        waiting = outbox.pending(Path(folder))
        kept = outbox.quarantined(Path(folder))
        # Every file is either waiting or kept aside for a person: never lost, never raised.
        assert len(waiting) + len(kept) == 1


_CA = trustme.CA()
_GOOD_PEM = _CA.issue_cert("shop.example.com").cert_chain_pems[0].bytes()


def _der(pem: bytes) -> bytes:
    import base64

    body = b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    return base64.b64decode(body)


_GOOD_DER = _der(_GOOD_PEM)


@FAST
@given(st.binary(max_size=800))
def test_certificate_parser_on_arbitrary_bytes(raw: bytes) -> None:
    for parse in (parse_der, parse_pem):
        with contextlib.suppress(ValueError):  # ValueError is the one allowed answer
            parse(raw)


@FAST
@given(st.lists(st.tuples(st.integers(0, len(_GOOD_DER) - 1), st.integers(0, 255)), max_size=6))
def test_certificate_parser_on_mutated_certificates(flips: list[tuple[int, int]]) -> None:
    der = bytearray(_GOOD_DER)
    for index, value in flips:
        der[index] = value
    try:
        info = parse_der(bytes(der))
    except ValueError:
        return
    # What parses is usable: the fields the rows show are there.
    assert isinstance(info.sans, tuple) and info.not_after.tzinfo is not None


@FAST
@given(
    st.text(min_size=1, max_size=30).filter(lambda t: "\x00" not in t),
    st.lists(
        st.from_regex(r"[a-z0-9]{1,10}\.example\.com", fullmatch=True), min_size=1, max_size=3
    ),
)
def test_certificate_parser_on_hostile_fields(common_name: str, sans: list[str]) -> None:
    try:
        cert = _CA.issue_cert(*sans, common_name=common_name)
    except ValueError:
        assume(False)  # a name no certificate can carry (cryptography refuses to build it)
    info = parse_pem(cert.cert_chain_pems[0].bytes())
    assert list(info.sans) == sans
