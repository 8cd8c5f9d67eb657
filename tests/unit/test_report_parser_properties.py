"""`report`'s parser meets other hosts' files: whatever the text, it returns hosts or
raises BadInput (one line naming the input), never anything else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certkeeper.actions.report import BadInput, merge, parse, parse_age

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Unicode digits that int() and float() accept, beside the ASCII ones.
DIGITS = "0123456789\u0663\u0666\u06f3\u0967\uff13\u00b2\u00b9\U0001d7d9"

extreme_times = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
    st.sampled_from(
        [datetime(1, 1, 1, 0, 10), datetime(9999, 12, 31, 20, 0), datetime(2026, 11, 30)]
    )
    | st.datetimes(),
    st.integers(min_value=-1439, max_value=1439),
)
times = st.one_of(
    extreme_times,
    st.text(alphabet=DIGITS + "-T:Z+.", max_size=30),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
)
numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(alphabet=DIGITS, min_size=1, max_size=8),
)
json_values = st.recursive(
    st.none() | numbers | st.text(max_size=20) | times,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)
rows = st.fixed_dictionaries(
    {
        "service": st.text(max_size=10) | numbers,
        "cert_name": st.text(max_size=10),
        "domain": st.text(max_size=10),
        "state": st.sampled_from(["OK", "DUE", "EXPIRED", "NOT_YET_VALID", "MONITOR", "??"]),
        "monitor_state": st.none() | st.sampled_from(["OK", "WARN", "EXPIRED", "NOT_YET_VALID"]),
        "days_left": st.none() | numbers,
        "served": st.none() | st.fixed_dictionaries({"not_after": times | numbers}),
        "reason": st.none() | st.text(max_size=20) | numbers,
    }
)
documents = st.fixed_dictionaries(
    {
        "host": st.text(max_size=12) | numbers,
        "generated_at": times | numbers,
        "certificates": st.lists(rows | json_values, max_size=4) | json_values,
        "outbox_waiting": numbers,
    }
)


def _survives(text: str) -> None:
    try:
        hosts = parse(text, "in.json")
    except BadInput as exc:
        message = str(exc)
        assert message.startswith("in.json") and "\n" not in message
        assert len(message) < 400, "an echo of the input is shortened"
        return
    # What parsed merges and sorts without a surprise either.
    merge(hosts, [], NOW, timedelta(hours=36))


@FAST
@given(documents)
def test_status_shaped_documents(doc: dict[str, object]) -> None:
    _survives(json.dumps(doc))


@FAST
@given(st.lists(documents | json_values, min_size=1, max_size=3))
def test_json_lines(docs: list[object]) -> None:
    _survives("\n".join(json.dumps(d) for d in docs))


@FAST
@given(st.text(alphabet=DIGITS + '{}[]":,. \n-eE', max_size=200))
def test_any_text(text: str) -> None:
    _survives(text)


def test_the_edges_named_in_the_issue() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    digits = '{"host": "x", "certificates": [], "outbox_waiting": ' + "9" * 5000 + "}"
    for text in (deep, digits, '{"a": ' * 50_000 + "1" + "}" * 50_000):
        _survives(text)
    for stamp in ("0001-01-01T00:10:00+01:00", "9999-12-31T20:00:00-05:00"):
        doc = {"host": "h", "generated_at": stamp, "certificates": [], "outbox_waiting": 0}
        _survives(json.dumps(doc))


@FAST
@given(st.text(alphabet=DIGITS + "smhd. e+", max_size=30))
def test_an_age_is_a_value_error_or_at_most_ten_years(text: str) -> None:
    try:
        age = parse_age(text)
    except ValueError as exc:
        assert len(str(exc)) < 300
        return
    assert timedelta(0) < age <= timedelta(days=3650)


def test_an_age_past_any_calendar_is_refused() -> None:
    for text in ("99999999999999999999d", "3651d", "0", "\u0663\u0666h"):
        try:
            parse_age(text)
        except ValueError:
            continue
        raise AssertionError(f"{text!r} was accepted")
