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
    CaPause,
    attempt_allowed,
    ca_pause,
    limits_apply,
    link_problem,
    pause_lead,
    rate_limit_backoff,
    resume_hint,
)
from certkeeper.policy.expiry import (
    ExpiryWarning,
    scaled_warn_days,
    warn_after_failures,
    warning_due,
    warning_threshold,
)
from certkeeper.policy.health import Assessment, Health, Judging, MonitorState, Observed, assess
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
    next_renewal,
    plan,
    renewal_due,
    renewal_plan,
    renewal_window,
)
from certkeeper.policy.severity import (
    SEVERITY,
    Severity,
    label,
    paused_row,
    severity,
    status_exit_code,
    worst_first,
)

__all__ = [
    "ATTEMPT_SPACING",
    "CLASSIC_STEPS",
    "DEFAULT_RATE_LIMIT_BACKOFF",
    "DRIFT_TOLERANCE",
    "MAX_BACKOFF",
    "PROFILE_LIFETIMES",
    "SEVERITY",
    "SHORT_LIFETIME",
    "Action",
    "AriWindow",
    "Assessment",
    "CaPause",
    "ExpiryWarning",
    "Health",
    "Judging",
    "MonitorState",
    "Observed",
    "RenewalPlan",
    "Rule",
    "Severity",
    "assess",
    "attempt_allowed",
    "ca_pause",
    "configured_days_ignored",
    "days_left",
    "earliest",
    "fmt_days",
    "ignored_window_warning",
    "is_due",
    "label",
    "limits_apply",
    "link_problem",
    "next_renewal",
    "pause_lead",
    "paused_row",
    "plan",
    "profile_drift",
    "profile_lifetime",
    "rate_limit_backoff",
    "renewal_due",
    "renewal_plan",
    "renewal_window",
    "resume_hint",
    "scaled_warn_days",
    "severity",
    "status_exit_code",
    "warn_after_failures",
    "warning_due",
    "warning_threshold",
    "worst_first",
]
