"""May certbot run now: the 20-hour guard, the rate-limit back-off, read from certbot's words."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from certkeeper.policy.renewal import Action

# At most one certbot attempt per certificate in this span, so that cron retries and
# humans re-running `check` cannot burn Let's Encrypt's failed-validation budget.
ATTEMPT_SPACING = timedelta(hours=20)
# When certbot says "rate limited" without a usable retry time.
DEFAULT_RATE_LIMIT_BACKOFF = timedelta(hours=24)
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


def limits_apply(action: Action) -> bool:
    """Do the 20-hour guard and the back-off hold this action? They protect Let's
    Encrypt's limits; a reload costs the CA nothing, so the MISMATCH repair (REDEPLOY)
    is never held back by them."""
    return action is not Action.REDEPLOY
