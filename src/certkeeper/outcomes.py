"""What `check` did or would do for one certificate, as plain values.

The check story returns these; render.py turns them into the lines a person reads,
so the wording lives in one place and the story can be tested on values.
"""

from __future__ import annotations

import re
from datetime import datetime

from certkeeper.notify.events import Event, Failed
from certkeeper.value import Value


def first_line(text: str) -> str:
    """The first non-blank line, trimmed: what a one-line summary of an output shows."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


_RATE_LIMITED = re.compile(
    r"rateLimited|too many (certificates|failed authori[sz]ations|new orders|registrations)",
    re.IGNORECASE,
)
# certbot's last words on a failure of this host: "OSError: [Errno 28] No space left ...".
_HOST_ERROR = re.compile(r"\[Errno \d+\] .+")
CAUSE_LIMIT = 200


def failure_cause(output: str) -> str:
    """The reason in certbot's output, for the one line a terminal shows: the CA's
    ("Detail: ...: 404", "DNS problem: NXDOMAIN", a rate limit), else this host's own
    error ("[Errno 28] No space left on device: ..."); "" when it gave none."""
    lines = [line.strip() for line in output.splitlines()]
    found = next((line[7:].strip() for line in lines if line.startswith("Detail:")), "")
    if not found:
        limited = next((line for line in lines if _RATE_LIMITED.search(line)), "")
        found = f"rate limit: {limited}" if limited else ""
    if not found:
        host = [match.group(0) for line in lines if (match := _HOST_ERROR.search(line))]
        found = host[-1] if host else ""
    return found if len(found) <= CAUSE_LIMIT else found[: CAUSE_LIMIT - 3] + "..."


class Acted(Value):
    """An action ran (or a killed run's action was finished) and ended in this event."""

    event: Event

    @property
    def failed(self) -> bool:
        return isinstance(self.event, Failed)


class WouldAct(Value):
    """--dry-run: the action `check` would take now, or why it would skip it."""

    cert_name: str
    service: str
    action: str  # policy.Action's value
    why_not: str  # empty when the action would run
    days_left: int | None
    disk_error: str | None
    failed = False


class Skipped(Value):
    """An action was needed but the attempt gate held it back."""

    cert_name: str
    action: str  # policy.Action's value
    why: str
    # True when the last attempt failed: the run then fails too, so cron mails it.
    still_failing: bool = False
    last_attempt: datetime | None = None
    failed_step: str | None = None
    last_error: str | None = None

    @property
    def failed(self) -> bool:
        return self.still_failing


class Warned(Value):
    """An expiry WARNING was sent (or, in a dry run, would be)."""

    cert_name: str
    days_left: int
    sent: bool
    failed = False


class Trouble(Value):
    """Something around the story failed: state not saved, a notice not spooled."""

    text: str
    failed = True


class Rehearsed(Value):
    """A renewal rehearsed against the staging server. A failure is a WARNING (a card, once
    per cause), not a failed run: today's certificate is fine."""

    cert_name: str
    ok: bool
    reason: str | None
    warned: bool  # a WARNING card was spooled (or, in shadow mode, logged)
    failed = False


Outcome = Acted | WouldAct | Skipped | Warned | Trouble | Rehearsed
