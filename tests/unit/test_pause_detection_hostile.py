"""Pause detection reads all that certbot kept of its output (256 KiB per stream): output
built to make its pattern work hard, or to carry a link no person should follow, is decided
quickly and never yields a link that is not a plain https URL."""

from __future__ import annotations

import time

import pytest

from certkeeper.policy.attempts import MAX_LINK_CHARS, ca_pause, link_problem
from certkeeper.proc import OUTPUT_TAIL_BYTES

LEAD = "temporarily prevented from requesting certificates for "
TAIL = " and possibly others. Please visit: "


def test_half_a_megabyte_of_unfinished_pause_messages_is_decided_quickly() -> None:
    output = (LEAD * (2 * OUTPUT_TAIL_BYTES // len(LEAD)))[: 2 * OUTPUT_TAIL_BYTES]
    started = time.monotonic()
    assert ca_pause(output) is None
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    "link",
    [
        "https://ca.test/" + "a" * OUTPUT_TAIL_BYTES,
        "https://ca.test/\x1b[2J",
        "https://ca.test/\u202eevil",
        "http://ca.test/unpause",
        "javascript:alert(1)",
        "https://user@evil.test/",
        "https:///nohost",
    ],
    ids=["256KiB", "esc", "rlo", "http", "javascript", "userinfo", "nohost"],
)
def test_a_hostile_unpause_link_is_refused_with_a_reason(link: str) -> None:
    pause = ca_pause(f"Error: {LEAD}shop.example.test{TAIL}{link}\n")
    assert pause is not None and pause.link is None
    assert pause.refused is not None and len(pause.refused) < 200


def test_the_last_sane_link_is_kept_and_is_bounded() -> None:
    pause = ca_pause(f"{LEAD}a{TAIL}https://evil.test/\x1b\n{LEAD}b{TAIL}https://ca.test/u/1\n")
    assert pause is not None and pause.link == "https://ca.test/u/1"
    assert link_problem(pause.link) is None and len(pause.link) <= MAX_LINK_CHARS
