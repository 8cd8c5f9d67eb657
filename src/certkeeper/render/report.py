"""The fleet report as the team reads it (a table, worst first, with its summary lines)
and as --json for the next tool."""

from __future__ import annotations

import json

from certkeeper.actions.report import Fleet, age_text
from certkeeper.policy import Severity
from certkeeper.times import iso


def _short(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "-"


def table(fleet: Fleet) -> str:
    header = ["HOST", "SERVICE", "CERT", "DOMAIN", "STATE", "DAYS", "SERVED EXPIRY", "DISK EXPIRY"]
    header.append("NOTE")
    body = [
        [
            r.host,
            r.service,
            r.cert_name,
            r.domain,
            r.state,
            "-" if r.days_left is None else str(r.days_left),
            _short(r.served_not_after),
            _short(r.disk_not_after),
            r.note,
        ]
        for r in fleet.rows
    ]
    lines = []
    if body:
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
        for cells in [header, *body]:
            lines.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    else:
        lines.append("no certificates in the input")
    counts = {
        "critical": sum(r.rank is Severity.CRITICAL for r in fleet.rows),
        "stale/unknown": sum(r.rank is Severity.UNKNOWN for r in fleet.rows),
        "warning": sum(r.rank is Severity.WARNING for r in fleet.rows),
        "OK": sum(r.rank is Severity.OK for r in fleet.rows),
    }
    summary = ", ".join(f"{n} {what}" for what, n in counts.items())
    lines.append("")
    lines.append(f"{len(fleet.hosts)} host(s), {len(fleet.rows)} row(s): {summary}")
    if fleet.stale_hosts:
        lines.append(
            f"STALE = no status newer than {age_text(fleet.max_age)} (--max-age): "
            + ", ".join(sorted(fleet.stale_hosts))
        )
    for status in fleet.hosts:
        if status.outbox_waiting:
            lines.append(
                f"{status.host}: {status.outbox_waiting} notice(s) waiting in the outbox "
                "(on that host: certkeeper notify outbox)"
            )
    return "\n".join(lines)


def as_json(fleet: Fleet) -> str:
    doc = {
        "generated_at": iso(fleet.now),
        "max_age_seconds": int(fleet.max_age.total_seconds()),
        "exit_code": fleet.exit_code,
        "hosts": [
            {
                "host": h.host,
                "generated_at": iso(h.generated_at),
                "stale": h.host in fleet.stale_hosts,
                "outbox_waiting": h.outbox_waiting,
                "source": h.source,
            }
            for h in fleet.hosts
        ],
        "certificates": [
            {
                "host": r.host,
                "service": r.service,
                "cert_name": r.cert_name,
                "domain": r.domain,
                "state": r.state,
                "reported_state": r.reported_state,
                "days_left": r.days_left,
                "served_not_after": r.served_not_after,
                "disk_not_after": r.disk_not_after,
                "note": r.note or None,
            }
            for r in fleet.rows
        ],
        "errors": fleet.errors,
    }
    return json.dumps(doc)
