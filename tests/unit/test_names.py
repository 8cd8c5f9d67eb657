"""Names that reach argv, paths and mail headers: property tests over arbitrary text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper import names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Shop.Example.COM", "shop.example.com"),
        ("*.example.com", "*.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("a-b.c0.example.", "a-b.c0.example"),
    ],
)
def test_valid_dns_names_are_normalised(raw: str, expected: str) -> None:
    assert names.dns_name(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "example",
        "-a.example.com",
        "a_b.example.com",
        "a..example.com",
        "foo.*.example.com",
        "*example.com",
        "a.example.com\r\nBcc: x@y",
        " a.example.com",
        "x" * 64 + ".example.com",
        "a/b.example.com",
    ],
)
def test_invalid_dns_names_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="DNS name"):
        names.dns_name(raw)


@given(st.text())
def test_no_accepted_name_carries_control_characters(text: str) -> None:
    for check in (names.dns_name, names.path_component, names.email_address, names.host_name):
        try:
            value = check(text)
        except ValueError:
            continue
        assert not names.has_control_chars(value)
        assert "/" not in value or check is names.email_address


@given(st.from_regex(r"[a-z0-9]{1,20}(\.[a-z0-9]{1,20}){1,3}", fullmatch=True))
def test_plain_dns_names_round_trip(name: str) -> None:
    assert names.dns_name(name) == name


@pytest.mark.parametrize("raw", ["..", ".", "../etc", "a/b", ".hidden", "", "x" * 101])
def test_path_components_cannot_escape(raw: str) -> None:
    with pytest.raises(ValueError):
        names.path_component(raw)
