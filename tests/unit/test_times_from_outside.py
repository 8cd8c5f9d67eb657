"""Times read back from files (state, the certificate cache, other hosts' status) are
bounded to years 2000 to 2199, and no spelling of one raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from certkeeper import times


def test_the_edges_of_the_calendar_with_an_offset_are_none() -> None:
    # Neither has a UTC spelling: astimezone overflowed, and took `check` with it.
    assert times.from_iso("0001-01-01T00:10:00+01:00") is None
    assert times.from_iso("9999-12-31T20:00:00-05:00") is None
    assert times.from_iso("1999-12-31T23:59:59Z") is None
    assert times.from_iso("2200-01-01T00:00:00Z") is None
    assert times.from_iso("2026-11-30T03:00:00+01:00") == datetime(2026, 11, 30, 2, tzinfo=UTC)
    assert times.from_iso("2026-11-30T03:00:00") is None  # naive: not ours


@settings(max_examples=400, deadline=None)
@given(
    st.datetimes(),
    st.integers(min_value=-1439, max_value=1439),
    st.sampled_from(["", "Z", "z", "x"]),
)
def test_no_spelling_raises_and_what_is_read_is_in_range(
    moment: datetime, minutes: int, tail: str
) -> None:
    text = moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat() + tail
    read = times.from_iso(text)
    assert read is None or (times.EARLIEST <= read < times.LATEST and read.tzinfo is UTC)


@given(st.text(max_size=45))
def test_any_text(text: str) -> None:
    read = times.from_iso(text)
    assert read is None or times.EARLIEST <= read < times.LATEST
