"""When a certificate is due, by which rule, and what `check` does about it."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from enum import StrEnum

from certkeeper.value import Value
from certkeeper.x509info import CertInfo

SHORT_LIFETIME = timedelta(days=10)


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
    """Which rule set the renewal moment: the service's certbot_renewal_days, a share of
    the certificate's lifetime (when the configured days would never let it renew), or
    the CA's ARI window."""

    CONFIGURED = "configured"
    LIFETIME = "lifetime"
    ARI = "ari"


class AriWindow(Value):
    """The CA's suggested renewal window for one certificate, and the moment picked in it.

    RFC 9773 asks for one random moment inside the window; it is picked once and kept
    (state.AriRecord), so that every run of this host agrees on it."""

    start: datetime
    end: datetime
    selected_at: datetime


class RenewalPlan(Value):
    """When a certificate falls due and which rule says so: what `status` shows."""

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


def plan(
    served: list[CertInfo | None],
    disk: CertInfo | None,
    *,
    renewal_days: int,
    now: datetime,
    ari: AriWindow | None = None,
    disk_error: str | None = None,
) -> Action:
    """What `check` does for one managed certificate, from every domain's probe and the disk.

    `ari` is the CA's window for the disk certificate (the one certbot renews).
    `disk_error` says why an existing lineage could not be read: such a lineage is
    never "issue a new one" (certbot would trip over it too).
    """
    if disk is None:
        return Action.UNREADABLE if disk_error else Action.ISSUE
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


def next_renewal(
    cert: CertInfo, renewal_days: int, ari: AriWindow | None, now: datetime
) -> datetime:
    """When `cert` falls due: the team's rule, brought forward by the CA's window. What
    `status` shows as next_at and the metrics as the next renewal timestamp."""
    return renewal_plan(cert, renewal_days, ari, now).next_at


def renewal_due(
    served: list[CertInfo | None],
    disk: CertInfo | None,
    *,
    renewal_days: int,
    now: datetime,
    ari: AriWindow | None,
    managed: bool,
) -> bool:
    """True when the next `check` renews or issues (a managed certificate), or when a person
    is needed (a monitor-only one inside its window). `ari` is the CA's window for the
    certificate on disk, as `check` uses it."""
    if managed:
        action = plan(served, disk, renewal_days=renewal_days, now=now, ari=ari)
        return action in (Action.RENEW, Action.ISSUE)
    deciding = earliest(disk, *served)
    return deciding is not None and (
        deciding.not_after <= now or is_due(deciding, renewal_days, now)
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
