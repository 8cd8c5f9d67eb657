"""Pure decisions: is a certificate due, what state is a row in, may we call certbot now.

Nothing here reads the clock, the disk or the network: every function takes
`now` and values, so each rule is a plain unit test.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from certkeeper.x509info import CertInfo

# At most one certbot attempt per certificate in this span, so that cron retries and
# humans re-running `check` cannot burn Let's Encrypt's failed-validation budget.
ATTEMPT_SPACING = timedelta(hours=20)
# When certbot says "rate limited" without a usable retry time.
DEFAULT_RATE_LIMIT_BACKOFF = timedelta(hours=24)
SHORT_LIFETIME = timedelta(days=10)


class State(StrEnum):
    OK = "OK"
    DUE = "DUE"
    EXPIRED = "EXPIRED"
    MISMATCH = "MISMATCH"
    NOT_COVERED = "NOT_COVERED"
    UNREACHABLE = "UNREACHABLE"
    MISSING = "MISSING"
    MONITOR = "MONITOR"


class MonitorState(StrEnum):
    OK = "OK"
    WARN = "WARN"
    EXPIRED = "EXPIRED"


class Action(StrEnum):
    NOTHING = "nothing"
    ISSUE = "issue"
    RENEW = "renew"
    REDEPLOY = "redeploy"
    UNREADABLE = "unreadable"  # the lineage exists but its certificate cannot be read


def renewal_window(lifetime: timedelta, renewal_days: int) -> timedelta:
    """How long before expiry a certificate becomes due.

    The team's `certbot_renewal_days` (31) is honoured while it is at most half
    the lifetime, as it is for 90- and 64-day certificates. For shorter
    lifetimes (45-day `tlsserver`, 6-day `shortlived`) a fixed 31 days would make
    every fresh certificate due at once and renew it daily into the rate limits,
    so Let's Encrypt's own guidance takes over: 1/3 of the lifetime, 1/2 under 10 days.
    """
    configured = timedelta(days=renewal_days)
    if configured <= lifetime / 2:
        return configured
    return lifetime / 2 if lifetime < SHORT_LIFETIME else lifetime / 3


def days_left(not_after: datetime, now: datetime) -> int:
    """Whole days left, rounded down; negative once expired."""
    return math.floor((not_after - now).total_seconds() / 86400)


def is_due(cert: CertInfo, renewal_days: int, now: datetime) -> bool:
    window = renewal_window(cert.not_after - cert.not_before, renewal_days)
    return cert.not_after - now < window


def earliest(*certs: CertInfo | None) -> CertInfo | None:
    present = [c for c in certs if c is not None]
    return min(present, key=lambda c: c.not_after) if present else None


@dataclass(frozen=True)
class Assessment:
    state: State
    monitor: MonitorState | None
    days_left: int | None
    reason: str


def assess(
    domain: str,
    served: CertInfo | None,
    probe_error: str | None,
    disk: CertInfo | None,
    *,
    monitor_only: bool,
    renewal_days: int,
    warn_days: tuple[int, ...],
    now: datetime,
    disk_error: str | None = None,
) -> Assessment:
    """The state of one (certificate, domain) row, most urgent finding first.

    `disk_error` says why an existing lineage could not be read (a malformed certificate
    costs its own rows, and says so), None when there is simply no lineage."""
    deciding = earliest(served, disk)
    left = days_left(deciding.not_after, now) if deciding else None
    if monitor_only:
        return _assess_monitor(served, probe_error, disk, warn_days, now, left)
    if disk is None:
        return Assessment(State.MISSING, None, left, disk_error or "no certbot lineage on disk")
    if served is None:
        return Assessment(State.UNREACHABLE, None, left, probe_error or "no answer")
    if not served.covers(domain):
        return Assessment(State.NOT_COVERED, None, left, f"served certificate lacks {domain}")
    if served.serial != disk.serial:
        return Assessment(
            State.MISMATCH, None, left, "nginx serves another certificate than the one on disk"
        )
    assert deciding is not None
    if deciding.not_after <= now:
        return Assessment(State.EXPIRED, None, left, "expired")
    if is_due(deciding, renewal_days, now):
        return Assessment(State.DUE, None, left, "inside the renewal window")
    return Assessment(State.OK, None, left, "")


def _assess_monitor(
    served: CertInfo | None,
    probe_error: str | None,
    disk: CertInfo | None,
    warn_days: tuple[int, ...],
    now: datetime,
    left: int | None,
) -> Assessment:
    if served is None and disk is None:
        return Assessment(State.UNREACHABLE, None, None, probe_error or "no answer")
    deciding = earliest(served, disk)
    assert deciding is not None and left is not None
    if deciding.not_after <= now:
        return Assessment(State.MONITOR, MonitorState.EXPIRED, left, "expired")
    if warn_days and left <= max(warn_days):
        return Assessment(State.MONITOR, MonitorState.WARN, left, f"expires in {left} days")
    return Assessment(State.MONITOR, MonitorState.OK, left, "")


_BAD = {State.EXPIRED, State.UNREACHABLE, State.MISSING, State.MISMATCH, State.NOT_COVERED}


def status_exit_code(assessments: Iterable[Assessment]) -> int:
    """Monitoring-plugin convention: 0 OK, 1 WARNING, 2 CRITICAL (3 UNKNOWN is config)."""
    code = 0
    for a in assessments:
        if a.state in _BAD or a.monitor is MonitorState.EXPIRED:
            return 2
        if a.state is State.DUE or a.monitor is MonitorState.WARN:
            code = 1
    return code


def plan(
    served: list[CertInfo | None],
    disk: CertInfo | None,
    *,
    renewal_days: int,
    now: datetime,
) -> Action:
    """What `check` does for one managed certificate, from every domain's probe and the disk."""
    if disk is None:
        return Action.ISSUE
    if is_due(disk, renewal_days, now) or disk.not_after <= now:
        return Action.RENEW
    # The disk is fine: an older certificate on the wire means nginx missed a reload.
    if any(
        s is not None and s.serial != disk.serial and s.not_after < disk.not_after for s in served
    ):
        return Action.REDEPLOY
    decider = earliest(*served)
    if decider is not None and decider.serial == disk.serial and is_due(decider, renewal_days, now):
        return Action.RENEW
    return Action.NOTHING


# Let's Encrypt's longest Retry-After (the weekly duplicate-certificate limit) is 7 days.
MAX_BACKOFF = timedelta(days=8)


def attempt_allowed(
    last_attempt: datetime | None,
    backoff_until: datetime | None,
    now: datetime,
    force: bool,
) -> tuple[bool, str]:
    """The 20-hour guard and the rate-limit back-off.

    Neither may hold a renewal back beyond what it was made for: a last attempt in the
    future (the clock stepped back, a forged state) or a back-off longer than any
    Let's Encrypt gives is ignored.
    """
    if force:
        return True, ""
    if last_attempt is not None and last_attempt > now + timedelta(hours=1):
        last_attempt = None
    if backoff_until is not None and backoff_until > now + MAX_BACKOFF:
        backoff_until = None
    if backoff_until is not None and now < backoff_until:
        return False, f"rate-limit back-off until {backoff_until:%Y-%m-%d %H:%M} UTC"
    if last_attempt is not None and now - last_attempt < ATTEMPT_SPACING:
        next_try = last_attempt + ATTEMPT_SPACING
        return False, (
            f"last certbot attempt at {last_attempt:%Y-%m-%d %H:%M} UTC; next allowed after "
            f"{next_try:%Y-%m-%d %H:%M} UTC (use --force to override)"
        )
    return True, ""


_RATE_LIMIT = re.compile(
    r"rateLimited|too many (certificates|failed authorizations|new orders)"
    r"|rate limit",
    re.IGNORECASE,
)
_RETRY_AFTER = re.compile(r"retry after (\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})", re.IGNORECASE)


def rate_limit_backoff(output: str, now: datetime) -> datetime | None:
    """When certbot's output reports an ACME rate limit, until when to hold off."""
    if not _RATE_LIMIT.search(output):
        return None
    match = _RETRY_AFTER.search(output)
    if match:
        try:
            stamp = datetime.fromisoformat(match.group(1).replace(" ", "T"))
            return stamp.replace(tzinfo=now.tzinfo)
        except ValueError:
            pass
    return now + DEFAULT_RATE_LIMIT_BACKOFF


def warning_threshold(
    left: int, warn_days: tuple[int, ...], already_sent: Iterable[int]
) -> tuple[int | None, set[int]]:
    """Which WARNING to send now, if any, and the thresholds that now count as sent.

    All crossed thresholds are marked at once: a certificate first seen at 5 days
    gets one notice (7), not three (30, 14, 7).
    """
    sent = set(already_sent)
    crossed = {t for t in warn_days if left <= t}
    fresh = crossed - sent
    if not fresh:
        return None, sent
    return min(fresh), sent | crossed
