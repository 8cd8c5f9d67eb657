"""Pure decisions: is a certificate due, what state is a row in, may we call certbot now,
which warning is owed.

Nothing here reads the clock, the disk or the network: every function takes `now` and
values, so each rule is a plain unit test. One module per kind of decision; this
package re-exports them all, so callers write `policy.plan(...)`.
"""

from __future__ import annotations

from certkeeper.policy.attempts import (
    ATTEMPT_SPACING,
    DEFAULT_RATE_LIMIT_BACKOFF,
    MAX_BACKOFF,
    attempt_allowed,
    limits_apply,
    rate_limit_backoff,
)
from certkeeper.policy.expiry import (
    ExpiryWarning,
    scaled_warn_days,
    warn_after_failures,
    warning_due,
    warning_threshold,
)
from certkeeper.policy.health import Assessment, Health, MonitorState, assess, status_exit_code
from certkeeper.policy.profiles import (
    CLASSIC_STEPS,
    DRIFT_TOLERANCE,
    PROFILE_LIFETIMES,
    profile_drift,
    profile_lifetime,
)
from certkeeper.policy.renewal import (
    SHORT_LIFETIME,
    Action,
    AriWindow,
    RenewalPlan,
    Rule,
    configured_days_ignored,
    days_left,
    earliest,
    fmt_days,
    ignored_window_warning,
    is_due,
    plan,
    renewal_plan,
    renewal_window,
)

__all__ = [
    "ATTEMPT_SPACING",
    "CLASSIC_STEPS",
    "DEFAULT_RATE_LIMIT_BACKOFF",
    "DRIFT_TOLERANCE",
    "MAX_BACKOFF",
    "PROFILE_LIFETIMES",
    "SHORT_LIFETIME",
    "Action",
    "AriWindow",
    "Assessment",
    "ExpiryWarning",
    "Health",
    "MonitorState",
    "RenewalPlan",
    "Rule",
    "assess",
    "attempt_allowed",
    "configured_days_ignored",
    "days_left",
    "earliest",
    "fmt_days",
    "ignored_window_warning",
    "is_due",
    "limits_apply",
    "plan",
    "profile_drift",
    "profile_lifetime",
    "rate_limit_backoff",
    "renewal_plan",
    "renewal_window",
    "scaled_warn_days",
    "status_exit_code",
    "warn_after_failures",
    "warning_due",
    "warning_threshold",
]
