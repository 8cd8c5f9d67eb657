"""The one clock and the time formats of certkeeper.

state.json, `status --json`, `report --json` and the notices all write times the same
way (UTC, whole seconds, a literal Z), so a person or a script comparing them never has
to guess which spelling a file uses. Kept free of imports beyond the stdlib: every
room may use it.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """2025-11-09T20:58:29Z. An aware time in another zone is converted first: the Z
    must be true."""
    if moment.utcoffset():
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def minute(moment: datetime) -> str:
    """2025-11-09 20:58: the shape a person reads in a table, a notice or a problem line
    (followed by " UTC" where the reader could take it for local time)."""
    return moment.strftime("%Y-%m-%d %H:%M")


def iso_or_none(moment: datetime | None) -> str | None:
    return iso(moment) if moment else None


# The times certkeeper reads back from files (state, the certificate cache, other hosts'
# status) fall in this range; a time outside it is not one certkeeper wrote, and must not
# overflow date arithmetic or hold anything back for a century.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
# A certificate's own dates reach further both ways: RFC 5280 spells "no well-defined
# expiration" as 9999-12-31T23:59:59Z, and x509info reads any period from 1950 on.
CERTIFICATE_EARLIEST = datetime(1950, 1, 1, tzinfo=UTC)
CERTIFICATE_LATEST = datetime.max.replace(tzinfo=UTC)


def from_iso(
    text: object, earliest: datetime = EARLIEST, latest: datetime = LATEST
) -> datetime | None:
    """An aware time read back from a file certkeeper wrote (in UTC), or None for anything
    else, a naive time and a year outside `earliest`..`latest` included: a hostile field is
    ignored, never a crash (0001-01-01T00:10:00+01:00 has no UTC spelling at all)."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None or moment.utcoffset() is None:
            return None
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    return moment if earliest <= moment < latest else None
