"""May certbot run now: the 20-hour guard, the rate-limit back-off and the CA's pause, read from
certbot's words."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from certkeeper.policy.renewal import Action
from certkeeper.value import Value

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


# Let's Encrypt pauses an (account, name) pair after a long run of failed validations
# ("Consecutive Authorization Failures per Hostname per Account") and refuses every new
# order for it with a rateLimited problem whose detail is Boulder's (wfe2/wfe.go):
#   Your account is temporarily prevented from requesting certificates for NAMES and
#   possibly others. Please visit: https://portal.letsencrypt.org/sfe/v1/unpause?jwt=...
# certbot prints only the detail, so the sentence, not the problem type, is the sign.
_PAUSED = re.compile(
    r"temporarily prevented from requesting certificates for [^\n]{1,4096}? and possibly "
    r"others\.(?: Please visit: ([^ \"\n]*))?",
    re.IGNORECASE,
)
# A URL longer than this is not a link a person follows from a card.
MAX_LINK_CHARS = 2048
# RFC 3986's unreserved and reserved characters, and % for its escapes.
_URL_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)


class CaPause(Value):
    """The CA paused this account's name: the unpause link, or why the one it gave was refused."""

    link: str | None
    refused: str | None = None


def link_problem(link: str) -> str | None:
    """Why `link` may not reach a card, a terminal or state: None for a sane https URL.

    It comes from the CA through certbot's output and is shown to a person who may click
    it, so only printable ASCII, no spaces, bounded, https with a host. Never fetched."""
    if len(link) > MAX_LINK_CHARS:
        return f"longer than {MAX_LINK_CHARS} characters"
    if not all("!" <= ch <= "~" for ch in link):
        return "not printable ASCII"
    if not set(link) <= _URL_CHARS:
        return "a character no URL has"
    if not link.startswith("https://"):
        return "not an https:// URL"
    host = link[len("https://") :].split("/", 1)[0].split("?", 1)[0]
    if not host or "@" in host:
        return "no plain host name"
    return None


def ca_pause(output: str) -> CaPause | None:
    """When certbot's output says the CA paused the name: its unpause link, checked.

    The last mention wins: certbot's own error line comes after any response body it logged."""
    matches = list(_PAUSED.finditer(output))
    if not matches:
        return None
    match = matches[-1]
    link = match.group(1)
    if not link:
        return CaPause(None, "the CA's message carried no link")
    problem = link_problem(link)
    return CaPause(None, f"the link in it was refused: {problem}") if problem else CaPause(link)


def pause_lead(link: str | None) -> str:
    """The first line of the ERROR card and of `check`'s line for a paused name."""
    if link is None:
        return (
            "paused by the CA: fix the cause, then unpause it with the link in certbot's log "
            "(certkeeper never follows it)"
        )
    return f"paused by the CA: fix the cause, then visit {link}"


def resume_hint(cert_name: str) -> str:
    return f"then `certkeeper check --force --only {cert_name}` tries again"
