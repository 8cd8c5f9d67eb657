"""When a rehearsal is due, and when a failed one is worth a card: pure, on values and now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from certkeeper.policy import rehearsal_card, rehearsal_cause, rehearsal_due

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def test_a_lineage_never_rehearsed_is_due() -> None:
    assert rehearsal_due(None, NOW + 60 * DAY, 7, NOW)


def test_every_days_after_the_last_one_it_is_due_again_and_not_before() -> None:
    assert not rehearsal_due(NOW - 6 * DAY, NOW + 60 * DAY, 7, NOW)
    assert rehearsal_due(NOW - 7 * DAY, NOW + 60 * DAY, 7, NOW)


def test_once_more_when_the_renewal_comes_within_every_days() -> None:
    # Rehearsed 2 days ago; the renewal in 8 days: its 7-day window opens tomorrow.
    assert not rehearsal_due(NOW - 2 * DAY, NOW + 8 * DAY, 7, NOW)
    # The renewal in 6 days: the window opened a day ago, after the last rehearsal.
    assert rehearsal_due(NOW - 2 * DAY, NOW + 6 * DAY, 7, NOW)
    # Already rehearsed inside the window: not again before every_days.
    assert not rehearsal_due(NOW - DAY, NOW + 3 * DAY, 7, NOW)


def test_a_failure_with_a_new_cause_is_one_card_and_the_same_cause_none() -> None:
    first = rehearsal_cause(
        "Invalid response from http://a.test/.well-known/acme-challenge/AbC_1-x: 404"
    )
    again = rehearsal_cause(
        "Invalid response from http://a.test/.well-known/acme-challenge/ZZZ9: 404"
    )
    assert first == again
    assert rehearsal_card(False, first, None) == (True, first)
    assert rehearsal_card(False, again, first) == (False, first)
    other = rehearsal_cause("DNS problem: NXDOMAIN looking up A for a.test")
    assert rehearsal_card(False, other, first) == (True, other)


def test_a_pass_clears_the_cause_so_the_next_failure_warns_again() -> None:
    cause = rehearsal_cause("Connection refused at 10.0.0.1:80")
    assert rehearsal_card(True, "", cause) == (False, None)
    assert rehearsal_card(False, cause, None) == (True, cause)


def test_a_forged_or_malformed_rehearsal_record_reads_as_never_rehearsed() -> None:
    from certkeeper.state import CertRecord, Rehearsal

    for bad in ("x", {"at": "yesterday", "ok": True}, {"at": "2026-12-07T03:00:00Z", "ok": 1}):
        assert CertRecord.from_json({"rehearsal": bad}).rehearsal is None
    kept = Rehearsal(NOW, False, "r" * 5000, "c")
    back = CertRecord.from_json({"rehearsal": kept.to_json()}).rehearsal
    assert back is not None and back.at == NOW and back.ok is False
    assert back.reason == "r" * 500 and back.warned_cause == "c"
