"""The due rule, row states and attempt gating: pure functions, no clock, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certkeeper import policy
from certkeeper.policy import Action, Health, MonitorState
from certkeeper.x509info import CertInfo

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def cert(
    days_left: float,
    lifetime: float = 90,
    serial: int = 1,
    sans: tuple[str, ...] = ("a.example.com",),
) -> CertInfo:
    not_after = NOW + timedelta(days=days_left)
    return CertInfo(serial, not_after - timedelta(days=lifetime), not_after, "Test CA", sans)


@pytest.mark.parametrize(
    ("lifetime", "renewal_days", "window_days"),
    [
        (90, 31, 31),  # today's Let's Encrypt: the team's rule as written
        (64, 31, 31),  # the 2027 default still fits under half the lifetime
        (45, 31, 15),  # tlsserver profile: 1/3 of the lifetime, not every day
        (6, 31, 3),  # shortlived: 1/2 under ten days
        (90, 10, 10),
    ],
)
def test_renewal_window_honours_team_rule_until_it_cannot_work(
    lifetime: int, renewal_days: int, window_days: float
) -> None:
    window = policy.renewal_window(timedelta(days=lifetime), renewal_days)
    assert window == timedelta(days=window_days)


def test_due_boundary_is_strictly_below_renewal_days() -> None:
    assert not policy.is_due(cert(31), 31, NOW)
    assert policy.is_due(cert(30.99), 31, NOW)


def test_fresh_short_lived_certificate_is_not_due_at_once() -> None:
    assert not policy.is_due(cert(45, lifetime=45), 31, NOW)
    assert policy.is_due(cert(14, lifetime=45), 31, NOW)


def test_days_left_rounds_down_and_goes_negative() -> None:
    assert policy.days_left(NOW + timedelta(days=1, hours=23), NOW) == 1
    assert policy.days_left(NOW - timedelta(hours=1), NOW) == -1


def assess(
    served: CertInfo | None,
    disk: CertInfo | None,
    monitor_only: bool = False,
    error: str | None = None,
) -> policy.Assessment:
    return policy.assess(
        "a.example.com",
        policy.Observed(served, error, disk),
        policy.Judging(monitor_only, 31, (30, 14, 7)),
        NOW,
    )


def test_states_of_managed_rows() -> None:
    good = cert(60)
    assert assess(good, good).state is Health.OK
    assert assess(cert(10), cert(10)).state is Health.DUE
    assert assess(cert(-1), cert(-1)).state is Health.EXPIRED
    assert assess(good, None).state is Health.MISSING
    assert assess(None, good, error="refused").state is Health.UNREACHABLE
    assert assess(cert(60, sans=("b.example.com",)), good).state is Health.NOT_COVERED
    assert assess(cert(20, serial=7), cert(80, serial=8)).state is Health.MISMATCH


def test_days_left_uses_the_earliest_of_served_and_disk() -> None:
    assert assess(cert(20, serial=7), cert(80, serial=8)).days_left == 20


def test_monitor_only_states() -> None:
    assert assess(cert(60), None, monitor_only=True).monitor is MonitorState.OK
    warn = assess(cert(29), None, monitor_only=True)
    assert (warn.state, warn.monitor) == (Health.MONITOR, MonitorState.WARN)
    assert assess(cert(-2), None, monitor_only=True).monitor is MonitorState.EXPIRED
    assert assess(None, None, monitor_only=True, error="x").state is Health.UNREACHABLE


def test_status_exit_code_follows_monitoring_plugins() -> None:
    ok, due = assess(cert(60), cert(60)), assess(cert(10), cert(10))
    warn, gone = assess(cert(20), None, True), assess(None, cert(60), error="x")
    assert policy.status_exit_code([ok]) == 0
    assert policy.status_exit_code([ok, due]) == 1
    assert policy.status_exit_code([warn]) == 1
    assert policy.status_exit_code([due, gone, ok]) == 2
    assert policy.status_exit_code([]) == 0


def test_plan() -> None:
    disk = cert(60, serial=2)
    assert policy.plan([None], None, renewal_days=31, now=NOW) is Action.ISSUE
    assert policy.plan([cert(10)], cert(10), renewal_days=31, now=NOW) is Action.RENEW
    assert policy.plan([disk], disk, renewal_days=31, now=NOW) is Action.NOTHING
    # renewed but never reloaded: the old certificate is still on the wire
    assert policy.plan([cert(5, serial=1), disk], disk, renewal_days=31, now=NOW) is Action.REDEPLOY
    # a failed probe leaves the decision to the disk
    assert policy.plan([None], disk, renewal_days=31, now=NOW) is Action.NOTHING
    assert policy.plan([None], cert(3), renewal_days=31, now=NOW) is Action.RENEW


def test_attempt_spacing_and_backoff() -> None:
    ok, _ = policy.attempt_allowed(None, None, NOW, force=False)
    assert ok
    ok, why = policy.attempt_allowed(NOW - timedelta(hours=19), None, NOW, force=False)
    assert not ok and "--force" in why
    assert policy.attempt_allowed(NOW - timedelta(hours=21), None, NOW, force=False)[0]
    ok, why = policy.attempt_allowed(None, NOW + timedelta(hours=1), NOW, force=False)
    assert not ok and "back-off" in why
    assert policy.attempt_allowed(NOW, NOW + timedelta(hours=1), NOW, force=True)[0]


def test_rate_limit_detection() -> None:
    out = (
        "An unexpected error occurred:\nError creating new order :: too many certificates "
        "(5) already issued for this exact set of identifiers in the last 168h0m0s, "
        "retry after 2026-11-28 10:15:00 UTC"
    )
    assert policy.rate_limit_backoff(out, NOW) == datetime(2026, 11, 28, 10, 15, tzinfo=UTC)
    vague = "urn:ietf:params:acme:error:rateLimited"
    assert policy.rate_limit_backoff(vague, NOW) == NOW + policy.DEFAULT_RATE_LIMIT_BACKOFF
    assert policy.rate_limit_backoff("Some challenges have failed.", NOW) is None


def test_warning_thresholds_send_once_per_crossing() -> None:
    warn_days = (30, 14, 7, 3, 1)
    first, sent = policy.warning_threshold(5, warn_days, [])
    assert first == 7 and sent == {30, 14, 7}
    assert policy.warning_threshold(5, warn_days, sent)[0] is None
    assert policy.warning_threshold(3, warn_days, sent)[0] == 3
    assert policy.warning_threshold(40, warn_days, [])[0] is None
