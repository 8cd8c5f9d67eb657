"""policy.caa: RFC 8659's decision from the relevant record set, and the nameserver syntax."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper import names
from certkeeper.policy.caa import Record, decide

LE = "letsencrypt.org"


def issue(value: str, tag: str = "issue", flags: int = 0) -> Record:
    return Record(flags, tag, value)


@pytest.mark.parametrize(
    ("records", "allowed"),
    [
        ((issue("letsencrypt.org"),), True),
        ((issue("LetsEncrypt.org."),), True),
        ((issue("letsencrypt.org; validationmethods=dns-01"),), True),
        ((issue("sectigo.com"), issue("letsencrypt.org")), True),
        ((issue("sectigo.com"),), False),
        ((issue(";"),), False),
        ((issue("mailto:ops@example.com", tag="iodef"),), True),  # restricts no issuer
        ((issue("x", tag="tbs", flags=128), issue("letsencrypt.org")), False),
        ((issue("x", tag="tbs", flags=0), issue("letsencrypt.org")), True),
    ],
)
def test_the_relevant_record_set_decides(records: tuple[Record, ...], allowed: bool) -> None:
    verdict = decide("shop.example.com", "example.com", records, LE)
    assert verdict.allowed is allowed, verdict
    assert bool(verdict.fix) is not allowed


def test_no_records_up_the_tree_allows_any_ca() -> None:
    assert decide("shop.example.com", None, (), LE).allowed


def test_a_wildcard_uses_issuewild_when_there_is_one() -> None:
    records = (issue("letsencrypt.org"), issue("sectigo.com", tag="issuewild"))
    assert decide("shop.example.com", "example.com", records, LE).allowed
    wild = decide("*.example.com", "example.com", records, LE)
    assert not wild.allowed
    assert 'CAA 0 issuewild "letsencrypt.org"' in wild.fix


@given(
    st.lists(
        st.builds(Record, st.integers(0, 255), st.text(max_size=20), st.text(max_size=80)),
        max_size=8,
    ),
    st.text(max_size=40),
)
def test_any_records_give_a_verdict(records: list[Record], identity: str) -> None:
    verdict = decide("a.example.com", "example.com", tuple(records), identity or LE)
    assert isinstance(verdict.allowed, bool) and verdict.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", "127.0.0.1:53"),
        ("127.0.0.1:8053", "127.0.0.1:8053"),
        ("::1", "[::1]:53"),
        ("[::1]:5353", "[::1]:5353"),
    ],
)
def test_nameserver_syntax(text: str, expected: str) -> None:
    assert names.nameserver(text) == expected


@pytest.mark.parametrize(
    "text", ["", "dns.example.com", "127.0.0.1:0", "127.0.0.1:99999", "[::1]x", "1.2.3.4:¹"]
)
def test_bad_nameservers_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        names.nameserver(text)
