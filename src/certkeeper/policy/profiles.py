"""ACME profiles: the lifetime each implies, and the note when a certificate came back otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from certkeeper.policy.renewal import fmt_days

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
