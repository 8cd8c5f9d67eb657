"""The state of one (certificate, domain) row, and the exit code `status` derives from them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from certkeeper.policy.expiry import scaled_warn_days
from certkeeper.policy.renewal import AriWindow, days_left, earliest, is_due
from certkeeper.value import Value
from certkeeper.x509info import CertInfo


class Health(StrEnum):
    """What `status` says of a row. (Not state.State, which is what runs remember.)"""

    OK = "OK"
    DUE = "DUE"
    EXPIRED = "EXPIRED"
    MISMATCH = "MISMATCH"
    NOT_COVERED = "NOT_COVERED"
    UNREACHABLE = "UNREACHABLE"
    MISSING = "MISSING"
    MONITOR = "MONITOR"
    # not_before is still ahead: every client rejects the certificate.
    NOT_YET_VALID = "NOT_YET_VALID"
    # The CA refuses new orders for the name until a person unpauses it; certkeeper waits.
    PAUSED = "PAUSED"


class MonitorState(StrEnum):
    """The second half of MONITOR/...: a certificate someone else renews, by warn_days."""

    OK = "OK"
    WARN = "WARN"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"


class Assessment(Value):
    """One row's verdict: what status shows and what its exit code is made of."""

    state: Health
    monitor: MonitorState | None
    days_left: int | None
    reason: str


class Observed(Value):
    """What one row's survey found: the served certificate (or why there is none) and
    the lineage on disk (or why it could not be read; None when there is simply none)."""

    served: CertInfo | None
    probe_error: str | None
    disk: CertInfo | None
    disk_error: str | None = None


class Judging(Value):
    """How a service judges its rows: renewed here, or only watched with warnings."""

    monitor_only: bool
    renewal_days: int
    warn_days: tuple[int, ...]


def assess(
    domain: str, seen: Observed, rules: Judging, now: datetime, ari: AriWindow | None = None
) -> Assessment:
    """The state of one (certificate, domain) row, most urgent finding first. `ari` is
    the CA's window for the deciding certificate, when it has one."""
    served, disk = seen.served, seen.disk
    deciding = earliest(served, disk)
    left = days_left(deciding.not_after, now) if deciding else None
    if rules.monitor_only:
        return _assess_monitor(seen, rules.warn_days, now, left)
    if disk is None:
        return Assessment(
            Health.MISSING, None, left, seen.disk_error or "no certbot lineage on disk"
        )
    if served is None:
        return Assessment(Health.UNREACHABLE, None, left, seen.probe_error or "no answer")
    if not served.covers(domain):
        return Assessment(Health.NOT_COVERED, None, left, f"served certificate lacks {domain}")
    if served.serial != disk.serial:
        return Assessment(
            Health.MISMATCH, None, left, "nginx serves another certificate than the one on disk"
        )
    assert deciding is not None
    if served.not_before > now:
        return Assessment(Health.NOT_YET_VALID, None, left, _not_yet(served.not_before))
    if deciding.not_after <= now:
        return Assessment(Health.EXPIRED, None, left, "expired")
    if is_due(deciding, rules.renewal_days, now, ari):
        return Assessment(Health.DUE, None, left, "inside the renewal window")
    return Assessment(Health.OK, None, left, "")


def _assess_monitor(
    seen: Observed, warn_days: tuple[int, ...], now: datetime, left: int | None
) -> Assessment:
    served, disk = seen.served, seen.disk
    if served is None and disk is None:
        return Assessment(Health.UNREACHABLE, None, None, seen.probe_error or "no answer")
    deciding = earliest(served, disk)
    assert deciding is not None and left is not None
    shown = served or deciding
    if shown.not_before > now:
        return Assessment(
            Health.MONITOR, MonitorState.NOT_YET_VALID, left, _not_yet(shown.not_before)
        )
    if deciding.not_after <= now:
        return Assessment(Health.MONITOR, MonitorState.EXPIRED, left, "expired")
    scaled = scaled_warn_days(warn_days, deciding.not_after - deciding.not_before)
    if scaled and left <= max(scaled):
        return Assessment(Health.MONITOR, MonitorState.WARN, left, f"expires in {left} days")
    return Assessment(Health.MONITOR, MonitorState.OK, left, "")


def _not_yet(not_before: datetime) -> str:
    return f"not valid before {not_before:%Y-%m-%d %H:%M} UTC: every client rejects it"
