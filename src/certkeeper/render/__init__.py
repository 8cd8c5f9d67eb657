"""Turn results into what a person or a monitoring system reads. No decisions here."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from certkeeper.outcomes import CAUSE_LIMIT as CAUSE_LIMIT
from certkeeper.outcomes import Acted, Rehearsed, Skipped, Warned, WouldAct, failure_cause
from certkeeper.policy import Assessment, Health, MonitorState, pause_lead, resume_hint
from certkeeper.survey import Row
from certkeeper.terminal import line as escaped
from certkeeper.times import iso_or_none as iso
from certkeeper.times import minute

if TYPE_CHECKING:
    from certkeeper.actions.notify import OutboxView
    from certkeeper.actions.status import StatusResult
    from certkeeper.notify import Flushed
    from certkeeper.notify.events import Event, Renewed
    from certkeeper.outcomes import Outcome

# By the enum member, never by the text of a cell: a monitor-only row is coloured by its
# MonitorState (WARN), every other row by its Health.
_COLOURS: dict[Health | MonitorState, str] = {
    Health.OK: "32",
    Health.DUE: "33",
    Health.PAUSED: "33",
    MonitorState.WARN: "33",
    Health.MONITOR: "36",
    Health.EXPIRED: "31",
    Health.MISMATCH: "31",
    Health.NOT_COVERED: "31",
    Health.UNREACHABLE: "31",
    Health.MISSING: "31",
}


def _colour(a: Assessment) -> str:
    return _COLOURS.get(a.monitor or a.state, "0")


def short_date(moment: datetime | None) -> str:
    return minute(moment) if moment else "-"


def state_label(row: Row) -> str:
    a = row.assessment
    return f"{a.state.value}/{a.monitor.value}" if a.monitor else a.state.value


def renewal_dict(row: Row) -> dict[str, Any] | None:
    plan = row.plan
    if plan is None:
        return None
    ari = row.ari
    return {
        "rule": plan.rule.value,
        "window_days": round(plan.window_days, 3),
        "next_at": iso(plan.next_at),
        "ari": {
            "start": iso(ari.start),
            "end": iso(ari.end),
            "selected_at": iso(ari.selected_at),
            "retry_after": iso(ari.retry_after),
            "fetched_at": iso(ari.fetched_at),
            "explanation_url": ari.explanation_url,
        }
        if ari
        else None,
    }


def row_dict(row: Row) -> dict[str, Any]:
    served = row.probe.cert
    a = row.assessment
    return {
        "service": row.service.name,
        "cert_name": row.lineage.cert_name,
        "domain": row.domain,
        "state": a.state.value,
        "monitor_state": a.monitor.value if a.monitor else None,
        "days_left": a.days_left,
        "reason": a.reason or None,
        # Where "served" was asked: this host's nginx by default, not the pair's other host.
        "target": _address(row.probe.target.host, row.probe.target.port),
        "served": {
            "not_after": iso(served.not_after) if served else None,
            "serial": served.serial_hex if served else None,
            "issuer": served.issuer if served else None,
            "trusted": row.probe.trusted,
            "error": row.probe.error or row.probe.verify_error,
        },
        "disk": {
            "not_after": iso(row.disk.not_after) if row.disk else None,
            "serial": row.disk.serial_hex if row.disk else None,
        },
        "profile": row.lineage.profile,
        "renewal": renewal_dict(row),
        "paused": {"since": iso(row.paused.since), "unpause_link": row.paused.link}
        if row.paused
        else None,
        "rehearsal": {
            "at": iso(row.rehearsal.at),
            "ok": row.rehearsal.ok,
            "reason": row.rehearsal.reason,
        }
        if row.rehearsal
        else None,
    }


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def status_json(result: StatusResult, *, host: str) -> str:
    doc = {
        # Which host and when: `certkeeper report` merges many hosts and flags old answers.
        "host": host,
        "generated_at": iso(result.generated_at),
        "certificates": [row_dict(r) for r in result.rows],
        "outbox_waiting": result.outbox_waiting,
        "outbox_quarantined": result.quarantined,
        "probe": result.view,
    }
    # One line: json's C encoder only runs without indent, and `jq .` pretty-prints.
    return json.dumps(doc)


_HEADER = [
    "SERVICE",
    "CERT",
    "DOMAIN",
    "STATE",
    "DAYS",
    "SERVED EXPIRY",
    "DISK EXPIRY",
    "ISSUER",
    "NOTE",
]
STATE_COLUMN = 3
# What gives way, in this order, when a table would be wider than a terminal: the
# column and the width it may shrink to at that stage. The names a person looks for
# (service, certificate, domain) give way last.
_SHRINK = (
    ("NOTE", 24),
    ("ISSUER", 12),
    ("NOTE", 12),
    ("DOMAIN", 24),
    ("CERT", 12),
    ("SERVICE", 12),
    ("DOMAIN", 8),
    ("CERT", 8),
    ("SERVICE", 8),
)
WIDTH = 120


def worst_first(rows: list[Row]) -> list[Row]:
    """The rows in the order a person should read them: CRITICAL, UNKNOWN, WARNING, OK
    (the Nagios code each row alone would give), then in service order. The one place
    that sorts status rows: the severity key is policy's."""
    from certkeeper.policy import status_exit_code

    rank = {2: 0, 3: 1, 1: 2, 0: 3}
    return sorted(rows, key=lambda row: rank.get(status_exit_code([row.assessment]), 1))


def shown_days(row: Row, now: datetime) -> int | None:
    """DAYS as the row can honestly say it: a MISSING or NOT_COVERED row's served
    certificate is whatever nginx's default server answered with, so only the disk's
    lineage counts there."""
    a = row.assessment
    if a.state in (Health.MISSING, Health.NOT_COVERED):
        from certkeeper.policy.renewal import days_left

        return days_left(row.disk.not_after, now) if row.disk else None
    return a.days_left


def _cells(row: Row, now: datetime) -> list[str]:
    """One row of the status table, every cell escaped.

    Escaped before the widths are measured and the colours added: the issuer and the
    note come from certificates and servers, and must not add a row or clear the screen.
    """
    served = row.probe.cert
    a = row.assessment
    note = a.reason or (row.probe.verify_error or "")
    if a.state is Health.OK and row.probe.trusted is False:
        note = f"untrusted chain: {row.probe.verify_error}"
    days = shown_days(row, now)
    return [
        escaped(cell)
        for cell in (
            row.service.name,
            row.lineage.cert_name,
            row.domain,
            state_label(row),
            "-" if days is None else str(days),
            short_date(served.not_after) if served else "-",
            short_date(row.disk.not_after) if row.disk else "-",
            served.issuer if served else "-",
            note,
        )
    ]


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 3)] + "..."


def fit_widths(
    header: list[str], body: list[list[str]], shrink: tuple[tuple[str, int], ...]
) -> list[int]:
    """Each column's width, the `shrink` columns narrowed stage by stage (each to its
    floor at most) until a row fits WIDTH columns with its two-space gaps."""
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    for name, floor in shrink:
        over = sum(widths) + 2 * (len(widths) - 1) - WIDTH
        if over <= 0:
            break
        if name in header:
            i = header.index(name)
            widths[i] = max(min(widths[i], floor), widths[i] - over)
    return widths


def _table(
    header: list[str], body: list[list[str]], wide: bool, shrink: tuple[tuple[str, int], ...]
) -> tuple[bool, list[list[str]]]:
    """Whether a cell was shortened, and the padded cells (the header first); cells are
    shortened to fit WIDTH unless `wide`."""
    if wide:
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    else:
        widths = fit_widths(header, body, shrink)
    padded = [
        [shorten(c, w).ljust(w) for c, w in zip(cells, widths, strict=True)]
        for cells in [header, *body]
    ]
    cut = any(len(c) > w for cells in body for c, w in zip(cells, widths, strict=True))
    return cut, padded


def status_table(result: StatusResult, colour: bool, wide: bool = False) -> str:
    """The table a person reads, worst first; every cell is escaped here, before padding
    and colours. Lines fit WIDTH columns (the NOTE shortened first) unless `wide`."""
    rows = worst_first(result.rows)
    body = [_cells(row, result.generated_at) for row in rows]
    if not body:
        return "no certificates configured (services_dir holds no *.yaml files)"
    cut, padded = _table(_HEADER, body, wide, _SHRINK)
    lines = ["  ".join(padded[0]).rstrip()]
    for row, cells in zip(rows, padded[1:], strict=True):
        if colour:
            # Only the STATE cell is coloured, by position and by the row's assessment.
            state = cells[STATE_COLUMN]
            cells = [*cells]
            cells[STATE_COLUMN] = f"\x1b[{_colour(row.assessment)}m{state}\x1b[0m"
        lines.append("  ".join(cells).rstrip())
    if cut:
        lines.append("(shortened to fit; --wide or --json shows every cell whole)")
    lines.append(f"\nSERVED = what {result.view} answers")
    lines.extend(renewal_table(rows, wide))
    lines.extend(paused_lines(rows))
    lines.extend(_outbox_lines(result))
    return "\n".join(lines)


def _outbox_lines(result: StatusResult) -> list[str]:
    lines = []
    if result.outbox_waiting:
        lines.append(
            f"\n{result.outbox_waiting} notice(s) waiting in the outbox: "
            "run `certkeeper notify outbox`"
        )
    if result.quarantined:
        lines.append(
            f"\n{result.quarantined} unreadable outbox file(s) set aside in quarantine: "
            "run `certkeeper notify outbox`"
        )
    return lines


def renewal_table(rows: list[Row], wide: bool = False) -> list[str]:
    """Per certificate: its profile, the rule in force and the next planned renewal."""
    seen: set[str] = set()
    body: list[list[str]] = []
    for row in rows:
        if row.plan is None or row.lineage.cert_name in seen:
            continue
        seen.add(row.lineage.cert_name)
        body.append(
            [
                escaped(row.lineage.cert_name),
                escaped(row.lineage.profile or "-"),
                escaped(row.plan.describe(configured=row.service.renewal_days_set)),
                short_date(row.plan.next_at),
                escaped(rehearsal_cell(row)),
            ]
        )
    if not body:
        return []
    header = ["CERT", "PROFILE", "RENEWAL RULE", "NEXT RENEWAL (UTC)", "REHEARSAL (UTC)"]
    shrink = (("REHEARSAL (UTC)", 40), ("RENEWAL RULE", 24), ("REHEARSAL (UTC)", 24))
    cut, padded = _table(header, body, wide, (*shrink, ("CERT", 12), ("PROFILE", 8)))
    lines = ["", *("  ".join(cells).rstrip() for cells in padded)]
    if cut:
        lines.append("(shortened to fit; --wide or --json shows every cell whole)")
    return lines


def rehearsal_cell(row: Row) -> str:
    """The last rehearsal against the staging server: when, and why it failed."""
    done = row.rehearsal
    if done is None:
        return "never" if row.service.enabled else "-"
    if done.ok:
        return f"passed {short_date(done.at)}"
    return f"FAILED {short_date(done.at)}: {done.reason or 'no reason given'}"


def paused_lines(rows: list[Row]) -> list[str]:
    """Per lineage the CA paused: the unpause link on a line of its own, whole, and the
    command that resumes. The link was checked when it was kept; escaped all the same."""
    lines: list[str] = []
    for name, paused in {r.lineage.cert_name: r.paused for r in rows if r.paused}.items():
        lines += ["", escaped(f"{name}: {pause_lead(paused.link)}"), f"  {resume_hint(name)}"]
    return lines


def undelivered(failed: list[tuple[str, str, bool]]) -> list[str]:
    """One problem line per notice the server did not take (it stays in the outbox)."""
    return [
        f"notice {eid} {'REJECTED' if permanent else 'not delivered'}, kept in the outbox: {reason}"
        for eid, reason, permanent in failed
    ]


def flushed(result: Flushed, quiet: bool = False) -> tuple[list[str], list[str]]:
    """`notify flush` (and check's flush after its renewals, `quiet`: no line for an empty
    outbox): (lines for stdout, problems for stderr)."""
    lines = [f"delivered waiting notice {eid}" for eid in result.delivered]
    problems = undelivered(result.undelivered)
    if result.broken:
        problems.append(f"delivering the outbox failed: {result.broken}")
    if not lines and not problems and not quiet:
        lines.append("the outbox is empty")
    return lines, problems


def outbox(view: OutboxView) -> list[str]:
    """`notify outbox`: each waiting notice with its last attempt, then what was set aside."""
    if not view.waiting and not view.quarantined:
        return ["the outbox is empty"]
    lines: list[str] = []
    for item in view.waiting:
        lines.append(f"{item.event_id}  {item.subject}")
        if item.last_error:
            lines.append(f"    last attempt: {item.last_error}")
    lines.extend(
        f"QUARANTINED {path}: {why} (kept for a person; not sent)" for path, why in view.quarantined
    )
    return lines


# ------------------------------------------------------------- check's outcomes

_WHAT = {
    "issue": "issue",
    "renew": "renew",
    "redeploy": "reload nginx for",
    "unreadable": "report the unreadable lineage",
}


def check_lines(outcomes: list[Outcome]) -> tuple[list[str], list[str]]:
    """`check`'s outcomes in words: (lines for stdout, problems for stderr), in order."""
    lines: list[str] = []
    problems: list[str] = []
    for outcome in outcomes:
        text = check_line(outcome)
        if text:
            (problems if outcome.failed else lines).append(text)
    return lines, problems


def check_line(outcome: Outcome) -> str:
    """One outcome as the line a person reads ("" when there is nothing to say)."""
    if isinstance(outcome, Rehearsed):
        return rehearsed_line(outcome)
    if isinstance(outcome, Acted):
        return _event_line(outcome.event)
    if isinstance(outcome, WouldAct):
        what, name = _WHAT[outcome.action], outcome.cert_name
        verdict = f"would {what} {name}"
        if outcome.why_not:
            verdict = f"would skip {name}: {outcome.why_not}"
        detail = outcome.disk_error or (
            "no certificate on disk"
            if outcome.days_left is None
            else f"{outcome.days_left} days left on disk"
        )
        return f"{verdict} ({detail}; service {outcome.service})"
    if isinstance(outcome, Skipped):
        if outcome.still_failing:
            return (
                f"{outcome.cert_name}: still failing since {short_date(outcome.last_attempt)} UTC "
                f"({outcome.failed_step}: {outcome.last_error}); {outcome.why}"
            )
        return f"{outcome.cert_name}: {_WHAT[outcome.action]} needed but skipped: {outcome.why}"
    if isinstance(outcome, Warned):
        if outcome.sent:
            return f"{outcome.cert_name}: expires in {outcome.days_left} days; warning sent"
        return f"would warn: {outcome.cert_name} expires in {outcome.days_left} days"
    return outcome.text


def _event_line(event: Event) -> str:
    from certkeeper.notify.events import Failed, Reloaded, Renewed
    from certkeeper.outcomes import first_line

    if isinstance(event, Failed) and event.ca_paused:
        return f"{event.cert_name}: {event.step} failed: {pause_lead(event.unpause_link)}"
    if isinstance(event, Failed):
        said = f"{event.cert_name}: {event.step} failed: {first_line(event.output)}"
        why = failure_cause(event.output)
        # The first line may already hold the cause (a symlink write's own OSError).
        return f"{said}: {why}" if why and why not in said else said
    if isinstance(event, Reloaded):
        return f"{event.cert_name}: nginx was serving an old certificate; reloaded and verified"
    if isinstance(event, Renewed):
        return renewed_line(event)
    return ""


def rehearsed_line(outcome: Rehearsed) -> str:
    """One rehearsal, in WIDTH columns: passed, or failed with whether a card went out and
    the CA's reason (`status --json` and the card keep it whole)."""
    if outcome.ok:
        return f"{outcome.cert_name}: rehearsal against staging passed"
    told = "WARNING card sent" if outcome.warned else "already warned"
    said = f"{outcome.cert_name}: rehearsal against staging FAILED ({told}): {outcome.reason}"
    return shorten(said, WIDTH)


def renewed_line(event: Renewed) -> str:
    verb = "issued" if event.previous_expiry is None else "renewed"
    expires = f"expires {event.new_expiry:%Y-%m-%d %H:%M} UTC"
    if not event.not_served:
        served_on = ", ".join(event.domains)
        return f"{event.cert_name}: {verb}; nginx now serves it on {served_on}; {expires}"
    return (
        f"{event.cert_name}: {verb}; {expires}; not served by nginx yet: "
        + "; ".join(event.not_served)
        + "; the server block must use "
        + " and ".join(event.server_block)
    )
