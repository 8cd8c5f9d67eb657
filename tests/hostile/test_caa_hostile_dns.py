"""CAA lookups against a hostile DNS server on loopback (support.dnsfake): whatever it
answers, the lookup ends within its deadline with records of bounded size and printable
text, or with LookupFailed (which check logs and passes: the CA checks anyway)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from certkeeper import caa
from certkeeper.names import has_control_chars
from certkeeper.policy.caa import Record, decide
from support.dnsfake import HostileDns

NAME = "shop.example.test"
TIMEOUT = 2.0


@pytest.fixture
def dns_server(request: pytest.FixtureRequest) -> Iterator[HostileDns]:
    server = HostileDns(request.param)
    yield server
    server.close()


def _lookup(server: HostileDns) -> tuple[str | None, tuple[Record, ...]] | str:
    started = time.monotonic()
    found: tuple[str | None, tuple[Record, ...]] | str
    try:
        found = caa.lookup(NAME, server.nameserver, TIMEOUT)
    except caa.LookupFailed as exc:
        found = str(exc)
    assert time.monotonic() - started < TIMEOUT + 1.5
    return found


@pytest.mark.parametrize(
    "dns_server", ["garbage", "silent", "truncated", "wrongid", "loop", "oddtag"], indirect=True
)
def test_a_server_that_answers_no_usable_caa_is_a_failed_lookup_within_the_deadline(
    dns_server: HostileDns,
) -> None:
    said = _lookup(dns_server)
    assert isinstance(said, str), said
    assert said.startswith(f"CAA lookup of {NAME} ") and len(said) < 300
    assert not has_control_chars(said)


@pytest.mark.parametrize("dns_server", ["many"], indirect=True)
def test_a_thousand_records_are_read_as_the_first_64(dns_server: HostileDns) -> None:
    said = _lookup(dns_server)
    assert not isinstance(said, str), said
    found_at, records = said
    assert found_at == NAME and len(records) == caa.MAX_RECORDS
    verdict = decide(NAME, found_at, records, "letsencrypt.org")
    assert not verdict.allowed and "not letsencrypt.org: the CA must refuse" in verdict.reason


@pytest.mark.parametrize("dns_server", ["huge"], indirect=True)
def test_a_huge_value_of_escapes_reaches_the_verdict_short_and_printable(
    dns_server: HostileDns,
) -> None:
    said = _lookup(dns_server)
    assert not isinstance(said, str), said
    found_at, records = said
    [record] = records
    assert len(record.value) <= caa.MAX_VALUE and len(record.tag) <= caa.MAX_VALUE
    # The verdict goes into the ERROR card's body and check's line: no ESC, CR or LF in it.
    verdict = decide(NAME, found_at, records, "letsencrypt.org")
    assert not verdict.allowed
    assert not has_control_chars(verdict.reason) and not has_control_chars(verdict.fix)
    assert "\\x1b" in verdict.reason
