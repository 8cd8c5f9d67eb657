"""Pure decisions: is a certificate due, what state is a row in, may we call certbot now.

Nothing here reads the clock, the disk or the network: every function takes
`now` and values, so each rule is a plain unit test.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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


def is_due(cert: CertInfo, renewal_days: int, now: datetime, ari: AriWindow | None = None) -> bool:
    return renewal_plan(cert, renewal_days, ari, now).due(now)


class Rule(StrEnum):
    CONFIGURED = "configured"
    LIFETIME = "lifetime"
    ARI = "ari"


@dataclass(frozen=True)
class AriWindow:
    """The CA's suggested renewal window for one certificate, and the moment picked in it."""

    start: datetime
    end: datetime
    selected_at: datetime


@dataclass(frozen=True)
class RenewalPlan:
    rule: Rule
    next_at: datetime
    window: timedelta  # how long before expiry the renewal falls due
    lifetime: timedelta
    renewal_days: int
    ari: AriWindow | None
    # The CA moved its window into the past: a revocation is coming, renew on the next run.
    ari_urgent: bool

    @property
    def window_days(self) -> float:
        return self.window.total_seconds() / 86400

    def due(self, now: datetime) -> bool:
        # Strictly after: with 31 days left exactly, a 31-day rule is not due yet.
        return self.ari_urgent or now > self.next_at

    def describe(self, configured: bool = True) -> str:
        """The rule in force, as `status` shows it."""
        if self.rule is Rule.ARI:
            return (
                f"ARI window {self.ari.start:%Y-%m-%d %H:%M} to {self.ari.end:%Y-%m-%d %H:%M} UTC"
                if self.ari
                else "ARI window"
            )
        source = "configured" if configured else "default"
        if self.rule is Rule.CONFIGURED:
            return f"{self.renewal_days} days ({source})"
        part = "1/2" if self.lifetime < SHORT_LIFETIME else "1/3"
        return (
            f"{part} of {fmt_days(self.lifetime)} days (lifetime rule: the {source} "
            f"{self.renewal_days} days would renew at once)"
        )


def fmt_days(span: timedelta) -> str:
    """Days for people: whole when (nearly) whole, else one decimal (160 h is 6.7 days)."""
    value = span.total_seconds() / 86400
    return str(round(value)) if abs(value - round(value)) < 0.05 else f"{value:.1f}"


def renewal_plan(
    cert: CertInfo, renewal_days: int, ari: AriWindow | None, now: datetime
) -> RenewalPlan:
    """When the certificate is renewed, and by which rule.

    The team's rule (configured days, or the lifetime rule when those would cover
    more than half the lifetime) sets the latest moment. An ARI window can only
    bring it forward: an earlier CA suggestion wins, a later one never delays a
    renewal the team's rule calls due. A window that has already ended means the
    CA wants the certificate replaced now (a revocation is coming).
    """
    lifetime = cert.not_after - cert.not_before
    window = renewal_window(lifetime, renewal_days)
    rule = Rule.CONFIGURED if window == timedelta(days=renewal_days) else Rule.LIFETIME
    next_at = cert.not_after - window
    urgent = ari is not None and ari.end <= now
    if ari is not None and (urgent or ari.selected_at < next_at):
        rule = Rule.ARI
        next_at = min(ari.selected_at, ari.end)
        window = cert.not_after - next_at
    return RenewalPlan(rule, next_at, window, lifetime, renewal_days, ari, urgent)


def configured_days_ignored(cert: CertInfo, renewal_days: int) -> bool:
    """True when certbot_renewal_days would cover more than half of this certificate's
    lifetime, so the lifetime rule is used instead (a 31-day window on a 6-day certificate)."""
    lifetime = cert.not_after - cert.not_before
    return renewal_window(lifetime, renewal_days) != timedelta(days=renewal_days)


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
    ari: AriWindow | None = None,
) -> Assessment:
    """The state of one (certificate, domain) row, most urgent finding first.

    `disk_error` says why an existing lineage could not be read (a malformed certificate
    costs its own rows, and says so), None when there is simply no lineage. `ari` is the
    CA's window for the deciding certificate, when it has one.
    """
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
    if is_due(deciding, renewal_days, now, ari):
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
    scaled = scaled_warn_days(warn_days, deciding.not_after - deciding.not_before)
    if scaled and left <= max(scaled):
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
    ari: AriWindow | None = None,
) -> Action:
    """What `check` does for one managed certificate, from every domain's probe and the disk.

    `ari` is the CA's window for the disk certificate (the one certbot renews).
    """
    if disk is None:
        return Action.ISSUE
    if is_due(disk, renewal_days, now, ari) or disk.not_after <= now:
        return Action.RENEW
    # The disk is fine: an older certificate on the wire means nginx missed a reload.
    if any(
        s is not None and s.serial != disk.serial and s.not_after < disk.not_after for s in served
    ):
        return Action.REDEPLOY
    decider = earliest(*served)
    if (
        decider is not None
        and decider.serial == disk.serial
        and is_due(decider, renewal_days, now, ari)
    ):
        return Action.RENEW
    return Action.NOTHING


# Let's Encrypt's longest Retry-After (the weekly duplicate-certificate limit) is 7 days.
MAX_BACKOFF = timedelta(days=8)


def attempt_allowed(
    last_attempt: datetime | None,
    backoff_until: datetime | None,
    now: datetime,
    force: bool,
    ari_urgent: bool = False,
) -> tuple[bool, str]:
    """May certbot run now: the 20-hour guard and the rate-limit back-off.

    Neither may hold a renewal back beyond what it was made for: a last attempt in the
    future (the clock stepped back, a forged state) or a back-off longer than any
    Let's Encrypt gives is ignored. `ari_urgent` (the CA's window already ended, a
    revocation is coming) lifts the 20-hour guard, not a rate-limit back-off the CA
    itself imposed.
    """
    if force:
        return True, ""
    if last_attempt is not None and last_attempt > now + timedelta(hours=1):
        last_attempt = None
    if backoff_until is not None and backoff_until > now + MAX_BACKOFF:
        backoff_until = None
    if backoff_until is not None and now < backoff_until:
        return False, f"rate-limit back-off until {backoff_until:%Y-%m-%d %H:%M} UTC"
    if last_attempt is not None and now - last_attempt < ATTEMPT_SPACING and not ari_urgent:
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


def scaled_warn_days(warn_days: tuple[int, ...], lifetime: timedelta | None) -> tuple[int, ...]:
    """The warn_days thresholds that make sense for a certificate of this lifetime.

    Fixed thresholds such as 30 and 14 days would fire the moment a 6-day certificate
    is issued. So for a lifetime under twice the largest threshold, a threshold counts
    only when it is below half the lifetime: a 45-day certificate keeps 14, 7, 3, 1;
    a 6-day one keeps 1 (and a 160-hour shortlived one 3 and 1).
    """
    if lifetime is None or not warn_days:
        return warn_days
    if lifetime >= timedelta(days=2 * max(warn_days)):
        return warn_days
    return tuple(t for t in warn_days if timedelta(days=t) < lifetime / 2)


def warning_threshold(
    left: int,
    warn_days: tuple[int, ...],
    already_sent: Iterable[int],
    lifetime: timedelta | None = None,
) -> tuple[int | None, set[int]]:
    """Which WARNING to send now, if any, and the thresholds that now count as sent.

    All crossed thresholds are marked at once: a certificate first seen at 5 days
    gets one notice (7), not three (30, 14, 7). Thresholds are scaled to the
    certificate's lifetime first (see scaled_warn_days).
    """
    sent = set(already_sent)
    crossed = {t for t in scaled_warn_days(warn_days, lifetime) if left <= t}
    fresh = crossed - sent
    if not fresh:
        return None, sent
    return min(fresh), sent | crossed


# Let's Encrypt's profiles and the lifetimes they give (its own documentation, 2026).
CLASSIC_STEPS = (
    (datetime(2027, 2, 10, tzinfo=UTC), timedelta(days=90)),
    (datetime(2028, 2, 16, tzinfo=UTC), timedelta(days=64)),
)
PROFILE_LIFETIMES = {"tlsserver": timedelta(days=45), "shortlived": timedelta(hours=160)}
# How far a lifetime may stray from the profile's before it counts as drift: a
# lost profile shows as a factor of two or more (6 days back as 90), never as 20%.
DRIFT_TOLERANCE = 0.25


def profile_lifetime(profile: str, issued: datetime) -> timedelta | None:
    """The lifetime a Let's Encrypt profile implies for a certificate issued then."""
    if profile == "classic":
        for until, lifetime in CLASSIC_STEPS:
            if issued < until:
                return lifetime
        return timedelta(days=45)
    return PROFILE_LIFETIMES.get(profile)


def profile_drift(profile: str | None, not_before: datetime, not_after: datetime) -> str | None:
    """A note when a certificate came back with another lifetime than its profile implies:
    the bug class where a client (or CA) drops the profile at renewal."""
    if not profile:
        return None
    expected = profile_lifetime(profile, not_before)
    if expected is None:
        return None
    lifetime = not_after - not_before
    if abs(lifetime - expected) <= expected * DRIFT_TOLERANCE:
        return None
    return (
        f"profile drift: profile {profile!r} gives {fmt_days(expected)}-day certificates, but "
        f"this one is valid for {fmt_days(lifetime)} days; the profile was not applied "
        "(check preferred_profile in the lineage's renewal conf and what the CA offers)"
    )


def ignored_window_warning(
    service: str, cert_name: str, renewal_days: int, cert: CertInfo
) -> str | None:
    """The warning for a certbot_renewal_days this certificate cannot honour, or None."""
    if not configured_days_ignored(cert, renewal_days):
        return None
    lifetime = cert.not_after - cert.not_before
    used = renewal_window(lifetime, renewal_days)
    part = "1/2" if lifetime < SHORT_LIFETIME else "1/3"
    return (
        f"service {service}: certbot_renewal_days: {renewal_days} is not honoured for "
        f"certificate {cert_name}, whose lifetime is {fmt_days(lifetime)} days: a "
        f"{renewal_days}-day window would cover most or all of it and renew on every run, so "
        f"{part} of the lifetime ({fmt_days(used)} days) is used instead"
    )
