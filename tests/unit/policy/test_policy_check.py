"""The decisions check's story asks of policy: plan, attempt gate, warnings owed, the
"second failure" rule, back-off. Values and `now` in, a decision out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from certkeeper import policy
from certkeeper.policy import Action
from certkeeper.x509info import CertInfo

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def cert(days_left: float, lifetime: float = 90, serial: int = 1) -> CertInfo:
    not_after = NOW + timedelta(days=days_left)
    start = not_after - timedelta(days=lifetime)
    return CertInfo(serial, start, not_after, "Test CA", ("a.example.com",))


def test_plan_never_issues_over_a_lineage_it_cannot_read() -> None:
    assert policy.plan([None], None, renewal_days=31, now=NOW) is Action.ISSUE
    unreadable = policy.plan([None], None, renewal_days=31, now=NOW, disk_error="bad PEM")
    assert unreadable is Action.UNREADABLE


def test_plan_at_30_5_days_with_the_31_day_rule_is_renew() -> None:
    """Outside certbot's own 1/3 window (30 days), inside the team's 31."""
    assert policy.plan([None], cert(30.5), renewal_days=31, now=NOW) is Action.RENEW
    assert policy.plan([None], cert(31.5), renewal_days=31, now=NOW) is Action.NOTHING


def test_the_gate_holds_certbot_for_20_hours_but_never_a_reload() -> None:
    last = NOW - 2 * HOUR
    allowed, why = policy.attempt_allowed(last, None, NOW, False)
    assert not allowed and "next allowed after 2026-11-26 21:00 UTC" in why
    assert policy.attempt_allowed(last, None, NOW, True) == (True, "")
    assert policy.attempt_allowed(last, None, NOW + 21 * HOUR, False) == (True, "")
    assert [a for a in Action if not policy.limits_apply(a)] == [Action.REDEPLOY]


def test_the_gate_keeps_a_rate_limit_back_off_even_when_ari_is_urgent() -> None:
    until = NOW + 5 * HOUR
    allowed, why = policy.attempt_allowed(None, until, NOW, False, ari_urgent=True)
    assert not allowed and why == "rate-limit back-off until 2026-11-26 08:00 UTC"
    urgent = policy.attempt_allowed(NOW - HOUR, None, NOW, False, ari_urgent=True)
    assert urgent == (True, "")


def test_back_off_from_certbots_words() -> None:
    said = "Error: urn:ietf:params:acme:error:rateLimited: too many certificates"
    assert policy.rate_limit_backoff(said, NOW) == NOW + policy.DEFAULT_RATE_LIMIT_BACKOFF
    dated = said + ": retry after 2026-11-28 10:00:00 UTC"
    assert policy.rate_limit_backoff(dated, NOW) == datetime(2026, 11, 28, 10, tzinfo=UTC)
    assert policy.rate_limit_backoff("Some challenges have failed.", NOW) is None


def test_warning_due_marks_every_crossed_threshold_once() -> None:
    c = cert(5)
    due = policy.warning_due(c, None, [], (30, 14, 7, 3, 1), NOW)
    assert due == policy.ExpiryWarning(threshold=7, days_left=5, sent=(30, 14, 7))
    assert policy.warning_due(c, c.not_after, due.sent, (30, 14, 7, 3, 1), NOW) is None


def test_warning_due_starts_a_new_series_for_a_new_certificate() -> None:
    renewed = cert(5)
    old_expiry = NOW - timedelta(days=1)
    due = policy.warning_due(renewed, old_expiry, [30, 14, 7], (30, 14, 7, 3, 1), NOW)
    assert due is not None and due.threshold == 7


def test_warnings_follow_failures_from_the_second_in_a_row() -> None:
    assert not policy.warn_after_failures(1, "error")
    assert policy.warn_after_failures(2, "error")
    assert not policy.warn_after_failures(3, "success")
