"""The one severity table, the worst-first key, NOT_YET_VALID, and the next renewal with
the CA's window: pure functions, no clock, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certkeeper import policy
from certkeeper.policy import AriWindow, Health, MonitorState, Severity
from certkeeper.x509info import CertInfo

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
DOMAIN = "a.example.com"


def cert(days_left: float, lifetime: float = 90, serial: int = 1) -> CertInfo:
    not_after = NOW + timedelta(days=days_left)
    return CertInfo(serial, not_after - timedelta(days=lifetime), not_after, "Test CA", (DOMAIN,))


def assess(served: CertInfo | None, disk: CertInfo | None, monitor: bool = False) -> object:
    return policy.assess(
        DOMAIN,
        policy.Observed(served, None if served else "refused", disk),
        policy.Judging(monitor, 31, (14, 7)),
        NOW,
    )


def test_every_state_status_knows_has_one_severity() -> None:
    labels = {h.value for h in Health if h is not Health.MONITOR}
    labels |= {f"MONITOR/{m.value}" for m in MonitorState}
    assert set(policy.SEVERITY) == labels
    assert policy.severity("NOT_YET_VALID") is Severity.CRITICAL
    assert policy.severity("MONITOR/NOT_YET_VALID") is Severity.CRITICAL
    assert policy.severity("DUE") is Severity.WARNING
    assert policy.severity("STALE") is Severity.UNKNOWN  # report's, or a newer version's
    assert [s.exit_code for s in sorted(Severity)] == [2, 3, 1, 0]


def test_worst_first_then_fewest_days_then_the_given_order() -> None:
    rows = [
        ("OK", 60, "a"),
        ("DUE", 5, "b"),
        ("FUTURE_STATE", None, "c"),
        ("EXPIRED", -1, "d"),
        ("NOT_YET_VALID", 100, "e"),
        ("DUE", 5, "a"),
        ("MISSING", None, "f"),
    ]
    ordered = sorted(rows, key=lambda r: policy.worst_first(r[0], r[1], r[2]))
    assert ordered == [
        ("MISSING", None, "f"),
        ("EXPIRED", -1, "d"),
        ("NOT_YET_VALID", 100, "e"),
        ("FUTURE_STATE", None, "c"),
        ("DUE", 5, "a"),
        ("DUE", 5, "b"),
        ("OK", 60, "a"),
    ]


@pytest.mark.parametrize("monitor", [False, True])
def test_a_certificate_before_its_not_before_is_critical(monitor: bool) -> None:
    early = cert(days_left=100, lifetime=90)  # valid from ten days on
    a = assess(early, early, monitor)
    assert isinstance(a, policy.Assessment)
    assert policy.label(a) == ("MONITOR/NOT_YET_VALID" if monitor else "NOT_YET_VALID")
    assert (
        a.reason
        == f"not valid before {early.not_before:%Y-%m-%d %H:%M} UTC: every client rejects it"
    )
    assert policy.status_exit_code([a]) == 2
    # Valid from this very second on: OK.
    now_valid = CertInfo(1, NOW, NOW + timedelta(days=90), "Test CA", (DOMAIN,))
    fine = assess(now_valid, now_valid, monitor)
    assert isinstance(fine, policy.Assessment)
    assert policy.status_exit_code([fine]) == 0


def test_the_next_renewal_is_the_cas_window_when_it_comes_first() -> None:
    disk = cert(days_left=60)
    assert policy.next_renewal(disk, 31, None, NOW) == disk.not_after - timedelta(days=31)
    soon = AriWindow(NOW + timedelta(days=10), NOW + timedelta(days=11), NOW + timedelta(days=10))
    assert policy.next_renewal(disk, 31, soon, NOW) == soon.selected_at
    late = AriWindow(NOW + timedelta(days=40), NOW + timedelta(days=41), NOW + timedelta(days=40))
    assert policy.next_renewal(disk, 31, late, NOW) == disk.not_after - timedelta(days=31)


def test_renewal_due_is_what_check_plans_with_the_same_window() -> None:
    disk = cert(days_left=60)
    past = AriWindow(NOW - timedelta(days=2), NOW - timedelta(days=1), NOW - timedelta(days=2))
    for window, due in ((None, False), (past, True)):
        said = policy.renewal_due([disk], disk, renewal_days=31, now=NOW, ari=window, managed=True)
        action = policy.plan([disk], disk, renewal_days=31, now=NOW, ari=window)
        assert said is due
        assert (action is policy.Action.RENEW) is due
    # Monitor-only: nobody here renews; inside the window a person is needed.
    assert policy.renewal_due([cert(20)], None, renewal_days=31, now=NOW, ari=None, managed=False)
    assert not policy.renewal_due(
        [cert(60)], None, renewal_days=31, now=NOW, ari=None, managed=False
    )
