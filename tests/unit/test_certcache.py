"""certinfo-cache.json is hostile input: any entry out of shape is not believed, and no
content can make reading it fail (then the certificate is simply parsed again)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st

from certkeeper.certcache import CACHE_NAME, CertCache, file_key
from certkeeper.x509info import CertInfo, parse_pem_leaf

PEM = b"-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----\n"
GOOD: dict[str, Any] = {
    "der_sha256": "ab" * 32,
    "serial": 4660,
    "not_before": "2026-01-01T00:00:00Z",
    "not_after": "2026-04-01T00:00:00Z",
    "issuer": "R11",
    "sans": ["a.example.com", "*.b.example.com"],
    "aki": "c0ffee",
}


def cache_with(folder: Path, entry: object, key: str | None = None) -> CertCache:
    folder.mkdir(mode=0o700, exist_ok=True)
    doc = {"format": 1, "certificates": {key or file_key(PEM): entry}}
    path = folder / CACHE_NAME
    path.write_text(json.dumps(doc))
    path.chmod(0o600)
    return CertCache(folder)


def test_a_well_formed_entry_is_believed(tmp_path: Path) -> None:
    known = cache_with(tmp_path / "s", GOOD).get(PEM)
    assert known is not None
    assert known.der_sha256 == "ab" * 32
    assert known.info == CertInfo(
        serial=4660,
        not_before=datetime(2026, 1, 1, tzinfo=UTC),
        not_after=datetime(2026, 4, 1, tzinfo=UTC),
        issuer="R11",
        sans=("a.example.com", "*.b.example.com"),
        aki=bytes.fromhex("c0ffee"),
    )
    # Keyed by the exact bytes: one byte more and it describes nothing.
    assert cache_with(tmp_path / "s", GOOD).get(PEM + b"\n") is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("serial", True),
        ("serial", -1),
        ("serial", "4660"),
        ("serial", 2**600),
        ("not_after", "2026-04-01T00:00:00"),  # naive: which zone?
        ("not_after", "2026-04-01T00:00:00+02:00"),
        ("not_after", "soon"),
        ("not_before", 0),
        ("issuer", None),
        ("issuer", "x" * 5000),
        ("sans", "a.example.com"),
        ("sans", [""]),
        ("sans", [1]),
        ("aki", "xyz"),
        ("aki", "abc"),
        ("der_sha256", "AB" * 32),
        ("der_sha256", "ab" * 31),
    ],
)
def test_an_entry_out_of_shape_is_ignored(tmp_path: Path, field: str, value: object) -> None:
    assert cache_with(tmp_path / "s", {**GOOD, field: value}).get(PEM) is None


def test_missing_or_extra_fields_are_ignored(tmp_path: Path) -> None:
    missing = {k: v for k, v in GOOD.items() if k != "aki"}
    assert cache_with(tmp_path / "a", missing).get(PEM) is None
    assert cache_with(tmp_path / "b", {**GOOD, "trusted": True}).get(PEM) is None
    assert cache_with(tmp_path / "c", GOOD, key="not-a-digest").get(PEM) is None


def test_a_file_others_could_write_is_not_read(tmp_path: Path) -> None:
    cache_with(tmp_path / "s", GOOD)
    os.chmod(tmp_path / "s" / CACHE_NAME, 0o620)
    assert CertCache(tmp_path / "s").get(PEM) is None


def test_saving_needs_a_private_existing_state_dir(tmp_path: Path) -> None:
    info = CertInfo(1, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC), "x", ())
    absent = CertCache(tmp_path / "absent")
    absent.put(PEM, info, b"der")
    absent.save()
    assert not (tmp_path / "absent").exists()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    cache = CertCache(shared)
    cache.put(PEM, info, b"der")
    cache.save()
    assert not (shared / CACHE_NAME).exists()
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    cache = CertCache(private)
    cache.put(PEM, info, b"der")
    cache.save()
    again = CertCache(private).get(PEM)
    assert again is not None and again.info == info


@pytest.mark.parametrize(
    ("not_before", "not_after"),
    [
        # RFC 5280: no well-defined expiry.
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        # trustme's default, a private CA's usual choice.
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(3000, 1, 1, tzinfo=UTC)),
        # An old private root's leaf, valid since before 2000.
        (datetime(1995, 1, 1, tzinfo=UTC), datetime(2040, 1, 1, tzinfo=UTC)),
    ],
)
def test_any_period_a_certificate_can_carry_is_remembered(
    tmp_path: Path, not_before: datetime, not_after: datetime
) -> None:
    """Whatever x509info reads from a certificate, the cache gives back after a reload: a
    far period is no reason to parse the certificate again on every status."""
    leaf = trustme.CA().issue_cert("far.example.com", not_before=not_before, not_after=not_after)
    pem = leaf.cert_chain_pems[0].bytes()
    info, der = parse_pem_leaf(pem)
    assert (info.not_before, info.not_after) == (not_before, not_after)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    cache = CertCache(state)
    cache.put(pem, info, der)
    cache.save()
    again = CertCache(state).get(pem)
    assert again is not None and again.info == info


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(entry=json_values, fields=st.dictionaries(st.sampled_from(sorted(GOOD)), json_values))
def test_no_content_makes_reading_fail(tmp_path_factory: Any, entry: object, fields: Any) -> None:
    folder = tmp_path_factory.mktemp("s")
    for candidate in (entry, {**GOOD, **fields}):
        cache_with(folder, candidate).get(PEM)  # believed or not, it never raises
    (folder / CACHE_NAME).write_bytes(json.dumps(entry).encode())
    CertCache(folder).get(PEM)
