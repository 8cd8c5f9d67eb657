"""When to rehearse a renewal against the staging server, and when a failed one is worth a card.

A rehearsal is an order at the staging CA: cheap, but rate-limited too, so it runs on a
schedule, never on every run, and a failed one is not retried before the next point of
that schedule (or a person's `certkeeper rehearse`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta


def rehearsal_due(
    last_at: datetime | None, next_renewal: datetime | None, every_days: int, now: datetime
) -> bool:
    """Never rehearsed; or every_days since the last one; or once more when the renewal comes
    within every_days and the last rehearsal was before that window opened."""
    if last_at is None:
        return True
    every = timedelta(days=every_days)
    if now >= last_at + every:
        return True
    if next_renewal is None:
        return False
    opened = next_renewal - every
    return last_at < opened <= now


_TOKEN = re.compile(r"(acme-challenge/)[A-Za-z0-9_-]+")
_ADDRESS = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b")


def rehearsal_cause(reason: str) -> str:
    """What makes two failures the same cause: the CA's reason without the parts that change
    on every order (the challenge token, the address it connected to)."""
    return _ADDRESS.sub("ADDR", _TOKEN.sub(r"\1TOKEN", reason)).strip().lower()[:500]


def rehearsal_card(ok: bool, cause: str, warned_cause: str | None) -> tuple[bool, str | None]:
    """(send a WARNING card now, the cause warned of from now on). One card per cause: a
    failure with the cause already warned of says nothing; a pass clears it."""
    if ok:
        return False, None
    return cause != warned_cause, cause
