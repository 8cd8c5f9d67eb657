"""How bad a row is: the one severity order and the one state -> severity table.

`status` (its exit code and its order) and `report` (its fleet table, its exit code)
read a row's state through this table only, so a state is named once and means the
same everywhere. Labels are the strings `status --json` writes ("DUE", "MONITOR/WARN"),
which is all `report` has of another host's rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from certkeeper.policy.health import Assessment, Health, MonitorState


class Severity(IntEnum):
    """Worst first. A CRITICAL certificate outranks an UNKNOWN one: it is known to be broken."""

    CRITICAL = 0
    UNKNOWN = 1
    WARNING = 2
    OK = 3

    @property
    def exit_code(self) -> int:
        """The monitoring-plugin convention: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN."""
        return _EXIT[self]


_EXIT = {Severity.CRITICAL: 2, Severity.UNKNOWN: 3, Severity.WARNING: 1, Severity.OK: 0}


def monitor_label(state: MonitorState) -> str:
    return f"{Health.MONITOR.value}/{state.value}"


SEVERITY: dict[str, Severity] = {
    Health.OK.value: Severity.OK,
    Health.DUE.value: Severity.WARNING,
    # Like DUE: the certificate may have weeks left, and the expiry warnings still come;
    # what it needs is a person, not a page in the night. EXPIRED takes over at expiry.
    Health.PAUSED.value: Severity.WARNING,
    Health.EXPIRED.value: Severity.CRITICAL,
    Health.NOT_YET_VALID.value: Severity.CRITICAL,
    Health.MISMATCH.value: Severity.CRITICAL,
    Health.NOT_COVERED.value: Severity.CRITICAL,
    Health.UNREACHABLE.value: Severity.CRITICAL,
    Health.MISSING.value: Severity.CRITICAL,
    monitor_label(MonitorState.OK): Severity.OK,
    monitor_label(MonitorState.WARN): Severity.WARNING,
    monitor_label(MonitorState.EXPIRED): Severity.CRITICAL,
    monitor_label(MonitorState.NOT_YET_VALID): Severity.CRITICAL,
}


def label(assessment: Assessment) -> str:
    """The state as `status --json` and `report` spell it: DUE, MONITOR/WARN."""
    if assessment.monitor is not None:
        return monitor_label(assessment.monitor)
    return assessment.state.value


def paused_row(assessment: Assessment, why: str) -> Assessment:
    """A row of a lineage the CA paused: PAUSED, unless it is already worse than that (an
    EXPIRED or MISSING row keeps its state, and says the pause in its reason)."""
    if severity(label(assessment)) < Severity.WARNING:
        reason = f"{assessment.reason}; {why}" if assessment.reason else why
        return assessment.replace(reason=reason)
    return assessment.replace(state=Health.PAUSED, monitor=None, reason=why)


def severity(state: str) -> Severity:
    """A label this version does not know (a newer certkeeper's, or STALE) is UNKNOWN."""
    return SEVERITY.get(state, Severity.UNKNOWN)


def status_exit_code(assessments: Iterable[Assessment]) -> int:
    """The worst row's exit code: 0 OK, 1 WARNING, 2 CRITICAL (3 UNKNOWN is the config's)."""
    return min((severity(label(a)) for a in assessments), default=Severity.OK).exit_code


NO_DAYS = -(10**9)  # a row without an expiry sorts before any row that has one


def worst_first(state: str, days_left: int | None, *order: str) -> tuple[int, int, tuple[str, ...]]:
    """The sort key of a table of rows: the worst severity first, then the fewest days
    left, then `order` (service, certificate, domain; report puts the host first)."""
    return (severity(state), NO_DAYS if days_left is None else days_left, order)
