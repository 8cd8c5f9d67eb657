"""ARI's parsers on arbitrary input: the renewalInfo JSON and the Retry-After header.

The property: nothing but AriError escapes parse_renewal_info (the caller turns it into
"the team's rule decides"), and retry_after never raises and always lands within RFC
9773's limits. The inputs lean on what broke before: other scripts' digits, dates in
year 1 or 9999 with offsets that push them over the edge, deep nesting, huge integers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from certkeeper import ari

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
URL = "https://ari.example/renewal-info/x.y"

_DIGITS = st.sampled_from(
    ["0", "9", "\u00b2", "\u00b3", "\u00b9", "\u0663", "\u0967", "\uff11", "\U0001d7ce"]
)
_OFFSETS = st.sampled_from(
    ["Z", "z", "+00:00", "+01:00", "-05:00", "+23:59", "-23:59", "", "+99:99"]
)
_YEARS = st.sampled_from(["0001", "0000", "1970", "2026", "2027", "9999", "10000", "\u00b2026"])


@st.composite
def _times(draw: st.DrawFn) -> str:
    year = draw(st.one_of(_YEARS, st.text(_DIGITS, min_size=1, max_size=5)))
    month = draw(st.sampled_from(["01", "12", "13", "00", "02"]))
    day = draw(st.sampled_from(["01", "31", "29", "00"]))
    clock = draw(
        st.sampled_from(["00:00:00", "23:59:59", "00:10:00", "24:00:00", "12:00:00.999999"])
    )
    return f"{year}-{month}-{day}T{clock}{draw(_OFFSETS)}"


_LEAVES = st.one_of(
    _times(),
    st.text(max_size=30),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
_JSON = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    window = {"start": draw(st.one_of(_times(), _JSON)), "end": draw(st.one_of(_times(), _JSON))}
    doc = draw(
        st.sampled_from(
            [
                {"suggestedWindow": window},
                {"suggestedWindow": window, "explanationURL": draw(_JSON)},
                {"suggestedWindow": draw(_JSON)},
                draw(_JSON),
            ]
        )
    )
    return json.dumps(doc, allow_nan=True).encode()


_HOSTILE_BODIES = st.sampled_from(
    [
        b"[" * 100_000,
        b'{"a":' * 50_000,
        b"1" * 5_000,
        b'{"suggestedWindow": {"start": ' + b"9" * 10_000 + b"}}",
        b"\xff\xfe\x00",
        b"",
        b"null",
    ]
)
_HEADERS = st.one_of(
    st.none(),
    st.text(_DIGITS, min_size=1, max_size=30),
    st.text(max_size=60),
    st.sampled_from(
        [
            "\u00b2\u00b3",
            "9" * 5000,
            "-1",
            "Fri, 31 Dec 9999 23:59:59 -2359",
            "Mon, 01 Jan 0001 00:00:00 +2359",
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Wed, 21 Oct 2015 07:28:00 -0000",
            "Thu, 01 Jan 1970 00:00:00 +0000",
        ]
    ),
)


def _parse(body: bytes, header: str | None) -> None:
    try:
        suggestion = ari.parse_renewal_info(body, URL, header, NOW)
    except ari.AriError:
        return
    assert suggestion.start < suggestion.end
    assert abs(suggestion.start - NOW) <= ari.WINDOW_REACH
    assert abs(suggestion.end - NOW) <= ari.WINDOW_REACH
    record = ari.remember(suggestion, "x.y", None, NOW)  # the arithmetic that follows
    assert record.start <= record.selected_at <= record.end


@settings(max_examples=400, deadline=None)
@given(_documents(), _HEADERS)
def test_renewal_info_raises_only_ari_error(body: bytes, header: str | None) -> None:
    _parse(body, header)


@settings(max_examples=30, deadline=None)
@given(st.one_of(_HOSTILE_BODIES, st.binary(max_size=200)), _HEADERS)
def test_hostile_bytes_raise_only_ari_error(body: bytes, header: str | None) -> None:
    _parse(body, header)


@settings(max_examples=400, deadline=None)
@given(_HEADERS)
def test_retry_after_never_raises_and_stays_within_the_rfc_limits(header: str | None) -> None:
    when = ari.retry_after(header, NOW)
    assert NOW + timedelta(minutes=1) <= when <= NOW + timedelta(days=1)


def test_the_three_answers_that_stopped_every_renewal_are_ari_errors() -> None:
    for start, end in [
        ("0001-01-01T00:10:00+01:00", "2026-12-20T00:00:00Z"),
        ("2026-12-10T00:00:00Z", "9999-12-31T20:00:00-05:00"),
    ]:
        body = json.dumps({"suggestedWindow": {"start": start, "end": end}}).encode()
        try:
            ari.parse_renewal_info(body, URL, None, NOW)
        except ari.AriError as exc:
            assert "not" in str(exc)
        else:
            raise AssertionError(f"{start} .. {end} was accepted")
    assert ari.retry_after("\u00b2\u00b3", NOW) == NOW + ari.RETRY_AFTER_DEFAULT
