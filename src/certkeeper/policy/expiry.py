"""Expiry warnings: which of notify.warn_days to send now, scaled to the lifetime."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from certkeeper.policy.renewal import days_left
from certkeeper.value import Value
from certkeeper.x509info import CertInfo


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


class ExpiryWarning(Value):
    """An expiry WARNING to send now."""

    threshold: int  # the notify.warn_days threshold it is for
    days_left: int
    sent: tuple[int, ...]  # every threshold that counts as sent afterwards, largest first


def warning_due(
    cert: CertInfo,
    warned_for: datetime | None,
    warned_thresholds: Iterable[int],
    warn_days: tuple[int, ...],
    now: datetime,
) -> ExpiryWarning | None:
    """The WARNING this certificate is owed now, or None.

    Thresholds already sent count only for the same certificate (`warned_for` is the
    expiry they were sent for): a new certificate starts a new series.
    """
    sent = list(warned_thresholds) if warned_for == cert.not_after else []
    left = days_left(cert.not_after, now)
    lifetime = cert.not_after - cert.not_before
    threshold, marked = warning_threshold(left, warn_days, sent, lifetime)
    if threshold is None:
        return None
    return ExpiryWarning(threshold, left, tuple(sorted(marked, reverse=True)))


def warn_after_failures(consecutive_failures: int, last_result: str | None) -> bool:
    """An auto-renewed certificate whose renewals keep failing gets the expiry warnings
    too, but only from the second failure in a row: the first ERROR already says it all."""
    return consecutive_failures >= 2 and last_result == "error"
