"""Turn results into what a person or a monitoring system reads. No decisions here."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from certkeeper.notify.events import Event, Failed, Reloaded, Renewed
from certkeeper.outcomes import Acted, Outcome, Skipped, Warned, WouldAct, first_line
from certkeeper.survey import Row
from certkeeper.terminal import line as escaped

_COLOURS = {
    "OK": "32",
    "DUE": "33",
    "WARN": "33",
    "MONITOR": "36",
    "EXPIRED": "31",
    "MISMATCH": "31",
    "NOT_COVERED": "31",
    "UNREACHABLE": "31",
    "MISSING": "31",
}


def iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def short_date(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


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
    }


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def status_json(
    rows: list[Row],
    outbox_waiting: int,
    view: str,
    *,
    host: str,
    generated_at: datetime,
    quarantined: int = 0,
) -> str:
    doc = {
        # Which host and when: `certkeeper report` merges many hosts and flags old answers.
        "host": host,
        "generated_at": iso(generated_at),
        "certificates": [row_dict(r) for r in rows],
        "outbox_waiting": outbox_waiting,
        "outbox_quarantined": quarantined,
        "probe": view,
    }
    # One line: json's C encoder only runs without indent, and `jq .` pretty-prints.
    return json.dumps(doc)


def status_table(
    rows: list[Row], outbox_waiting: int, colour: bool, view: str, quarantined: int = 0
) -> str:
    header = [
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
    body = []
    for row in rows:
        served = row.probe.cert
        a = row.assessment
        note = a.reason or (row.probe.verify_error or "")
        if a.state.value == "OK" and row.probe.trusted is False:
            note = f"untrusted chain: {row.probe.verify_error}"
        # Escaped before the widths are measured and the colours added: the issuer and the
        # note come from certificates and servers, and must not add a row or clear the screen.
        body.append(
            [
                escaped(cell)
                for cell in (
                    row.service.name,
                    row.lineage.cert_name,
                    row.domain,
                    state_label(row),
                    "-" if a.days_left is None else str(a.days_left),
                    short_date(served.not_after) if served else "-",
                    short_date(row.disk.not_after) if row.disk else "-",
                    served.issuer if served else "-",
                    note,
                )
            ]
        )
    if not body:
        return "no certificates configured (services_dir holds no *.yaml files)"
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    for cells in body:
        padded = [c.ljust(w) for c, w in zip(cells, widths, strict=True)]
        if colour:
            # Only the STATE cell is coloured, by position: a cell's text never decides it.
            code = _COLOURS.get(cells[3].split("/")[-1], "0")
            padded[3] = f"\x1b[{code}m{padded[3]}\x1b[0m"
        text = "  ".join(padded).rstrip()
        lines.append(text)
    lines.append(f"\nSERVED = what {view} answers")
    lines.extend(renewal_table(rows))
    if outbox_waiting:
        lines.append(
            f"\n{outbox_waiting} notice(s) waiting in the outbox: run `certkeeper notify outbox`"
        )
    if quarantined:
        lines.append(
            f"\n{quarantined} unreadable outbox file(s) set aside in quarantine: "
            "run `certkeeper notify outbox`"
        )
    return "\n".join(lines)


def renewal_table(rows: list[Row]) -> list[str]:
    """Per certificate: its profile, the rule in force and the next planned renewal."""
    seen: set[str] = set()
    body: list[list[str]] = []
    for row in rows:
        if row.plan is None or row.lineage.cert_name in seen:
            continue
        seen.add(row.lineage.cert_name)
        body.append(
            [
                row.lineage.cert_name,
                row.lineage.profile or "-",
                row.plan.describe(configured=row.service.renewal_days_set),
                short_date(row.plan.next_at),
            ]
        )
    if not body:
        return []
    header = ["CERT", "PROFILE", "RENEWAL RULE", "NEXT RENEWAL (UTC)"]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    return [
        "",
        *(
            "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
            for cells in [header, *body]
        ),
    ]


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
    if isinstance(event, Failed):
        return f"{event.cert_name}: {event.step} failed: {first_line(event.output)}"
    if isinstance(event, Reloaded):
        return f"{event.cert_name}: nginx was serving an old certificate; reloaded and verified"
    if isinstance(event, Renewed):
        return renewed_line(event)
    return ""


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
