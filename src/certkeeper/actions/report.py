"""`certkeeper report FILE...`: many hosts' `status --json` merged into one fleet table.

Runs on the control node, with no certkeeper config: it only reads what the hosts
said. Rows keep the states and exit codes of `status`; a host whose answer is older
than --max-age is STALE (its agent may have stopped, or the gathering did), and a
file that is not status output is named on stderr without stopping the others.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from certkeeper.times import iso

STALE = "STALE"
CRITICAL = frozenset(
    {"EXPIRED", "MISMATCH", "NOT_COVERED", "UNREACHABLE", "MISSING", "MONITOR/EXPIRED"}
)
WARNING = frozenset({"DUE", "MONITOR/WARN"})
OK = frozenset({"OK", "MONITOR/OK"})
# Worst first. A CRITICAL certificate outranks an unknown one: it is known to be broken.
_RANK_CRITICAL, _RANK_UNKNOWN, _RANK_WARNING, _RANK_OK = range(4)
_EXIT = {_RANK_CRITICAL: 2, _RANK_UNKNOWN: 3, _RANK_WARNING: 1, _RANK_OK: 0}
MAX_INPUT_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_AGE = "36h"
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class BadInput(Exception):
    """One input that is not `status --json` output; the message names it."""


def parse_age(text: str) -> timedelta:
    """`36h`, `90m`, `2d`, `3600` (seconds)."""
    match = _AGE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{text!r}: expected an age such as 36h, 90m, 2d or 3600 (seconds)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


@dataclass(frozen=True)
class HostStatus:
    host: str
    generated_at: datetime
    source: str
    outbox_waiting: int
    rows: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class FleetRow:
    host: str
    service: str
    cert_name: str
    domain: str
    state: str
    reported_state: str
    days_left: int | None
    served_not_after: str | None
    disk_not_after: str | None
    note: str

    @property
    def rank(self) -> int:
        return _rank(self.state)


@dataclass
class Fleet:
    now: datetime
    max_age: timedelta
    hosts: list[HostStatus] = field(default_factory=list)
    stale_hosts: set[str] = field(default_factory=set)
    rows: list[FleetRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        ranks = [r.rank for r in self.rows]
        if self.errors:
            ranks.append(_RANK_UNKNOWN)
        return _EXIT[min(ranks, default=_RANK_OK)]


def _rank(state: str) -> int:
    if state in CRITICAL:
        return _RANK_CRITICAL
    if state in WARNING:
        return _RANK_WARNING
    if state in OK:
        return _RANK_OK
    return _RANK_UNKNOWN  # STALE, or a state this version does not know


# ----------------------------------------------------------------------- reading


def _echo(value: Any) -> str:
    """A value from the file, shortened: its type and its start, never all of it."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise BadInput(f"{where}: {what}")


def _host_status(doc: Any, where: str) -> HostStatus:
    expected = "expected the output of `certkeeper status --json`"
    _need(isinstance(doc, dict), where, f"a JSON {type(doc).__name__}, {expected}")
    assert isinstance(doc, dict)
    host, stamp, certs = doc.get("host"), doc.get("generated_at"), doc.get("certificates")
    _need(
        isinstance(certs, list),
        where,
        f'no "certificates" list, {expected}',
    )
    _need(
        isinstance(host, str) and bool(host.strip()),
        where,
        'no "host": expected status --json from a certkeeper that names its host',
    )
    when = _parse_time(stamp)
    _need(
        when is not None,
        where,
        f'"generated_at" = {stamp!r}: expected an ISO 8601 UTC time such as 2026-11-30T03:00:00Z',
    )
    assert isinstance(certs, list) and isinstance(host, str) and when is not None
    for i, row in enumerate(certs):
        _need(isinstance(row, dict), where, f"certificates[{i}] is not an object")
        for key in ("service", "cert_name", "domain", "state"):
            _need(
                isinstance(row.get(key), str),
                where,
                f'certificates[{i}]."{key}" = {row.get(key)!r}: expected a string',
            )
        days = row.get("days_left")
        _need(
            days is None or (isinstance(days, int) and not isinstance(days, bool)),
            where,
            f'certificates[{i}]."days_left" = {days!r}: expected a whole number or null',
        )
    waiting = doc.get("outbox_waiting", 0)
    # `true` is an int to Python: it would read as "True notice(s)".
    _need(
        type(waiting) is int and waiting >= 0,
        where,
        f'"outbox_waiting" = {_echo(waiting)}: expected a whole number of notices',
    )
    return HostStatus(
        host=host.strip(),
        generated_at=when,
        source=where,
        outbox_waiting=waiting,
        rows=tuple(certs),
    )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse(text: str, name: str) -> list[HostStatus]:
    """One host's `status --json` (also pretty-printed), or JSON lines, one host per line."""
    if not text.strip():
        raise BadInput(f"{name}: empty: expected the output of `certkeeper status --json`")
    try:
        return [_host_status(json.loads(text), name)]
    except json.JSONDecodeError as whole:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        if len(lines) == 1:
            raise BadInput(f"{name}: not valid JSON: {whole}") from None
    result = []
    for number, line in lines:
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{name}: line {number}: not valid JSON: {exc}") from None
        result.append(_host_status(doc, f"{name}: line {number}"))
    return result


def read(sources: Iterable[str], stdin: IO[str]) -> tuple[list[HostStatus], list[str]]:
    """Every host found, and one error line per input that could not be used."""
    hosts: list[HostStatus] = []
    errors: list[str] = []
    for source in sources:
        name = "<stdin>" if source == "-" else source
        try:
            if source == "-":
                text = stdin.read(MAX_INPUT_BYTES + 1)
            else:
                path = Path(source)
                if path.stat().st_size > MAX_INPUT_BYTES:
                    raise BadInput(f"{name}: larger than {MAX_INPUT_BYTES} bytes")
                text = path.read_text(encoding="utf-8")
            if len(text) > MAX_INPUT_BYTES:
                raise BadInput(f"{name}: larger than {MAX_INPUT_BYTES} bytes")
            hosts.extend(parse(text, name))
        except BadInput as exc:
            errors.append(str(exc))
        except UnicodeDecodeError:
            errors.append(f"{name}: not UTF-8 text: expected `certkeeper status --json` output")
        except OSError as exc:
            errors.append(f"{name}: cannot read: {exc.strerror or exc}")
    return hosts, errors


# ---------------------------------------------------------------------- merging


def _label(row: dict[str, Any]) -> str:
    monitor = row.get("monitor_state")
    return f"{row['state']}/{monitor}" if isinstance(monitor, str) else str(row["state"])


def _when(row: dict[str, Any], side: str) -> str | None:
    part = row.get(side)
    value = part.get("not_after") if isinstance(part, dict) else None
    return value if isinstance(value, str) else None


def age_text(age: timedelta) -> str:
    hours = max(0, math.floor(age.total_seconds() / 3600))
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if days else f"{hours}h"


def merge(hosts: list[HostStatus], errors: list[str], now: datetime, max_age: timedelta) -> Fleet:
    fleet = Fleet(now, max_age, errors=list(errors))
    newest: dict[str, HostStatus] = {}
    for status in hosts:
        # The same host gathered twice: its latest word counts.
        seen = newest.get(status.host)
        if seen is None or status.generated_at > seen.generated_at:
            newest[status.host] = status
    fleet.hosts = sorted(newest.values(), key=lambda h: h.host)
    for status in fleet.hosts:
        stale = now - status.generated_at > max_age
        if stale:
            fleet.stale_hosts.add(status.host)
        fleet.rows.extend(_host_rows(status, now, stale))
    fleet.rows.sort(key=_worst_first)
    return fleet


def _host_rows(status: HostStatus, now: datetime, stale: bool) -> list[FleetRow]:
    """One host's rows; a stale host's states become STALE, with what it last said."""
    age = now - status.generated_at
    said = f"status from {status.generated_at:%Y-%m-%d %H:%M} UTC, {age_text(age)} old"
    if stale and not status.rows:
        return [FleetRow(status.host, "-", "-", "-", STALE, "-", None, None, None, said)]
    rows = []
    for row in status.rows:
        label = _label(row)
        reason = row.get("reason")
        note = reason if isinstance(reason, str) else ""
        if stale:
            note = f"{said}; it said {label}" + (f": {note}" if note else "")
        elif _rank(label) == _RANK_UNKNOWN:
            note = f"unknown state {label!r} (a newer certkeeper?)"
        rows.append(
            FleetRow(
                host=status.host,
                service=row["service"],
                cert_name=row["cert_name"],
                domain=row["domain"],
                state=STALE if stale else label,
                reported_state=label,
                days_left=row.get("days_left"),
                served_not_after=_when(row, "served"),
                disk_not_after=_when(row, "disk"),
                note=note,
            )
        )
    return rows


def _worst_first(r: FleetRow) -> tuple[int, int, str, str, str, str]:
    return (
        r.rank,
        -(10**9) if r.days_left is None else r.days_left,
        r.host,
        r.service,
        r.cert_name,
        r.domain,
    )


# -------------------------------------------------------------------- rendering


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
        "critical": sum(r.rank == _RANK_CRITICAL for r in fleet.rows),
        "stale/unknown": sum(r.rank == _RANK_UNKNOWN for r in fleet.rows),
        "warning": sum(r.rank == _RANK_WARNING for r in fleet.rows),
        "OK": sum(r.rank == _RANK_OK for r in fleet.rows),
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


def _iso(moment: datetime) -> str:
    return iso(moment)


def as_json(fleet: Fleet) -> str:
    doc = {
        "generated_at": _iso(fleet.now),
        "max_age_seconds": int(fleet.max_age.total_seconds()),
        "exit_code": fleet.exit_code,
        "hosts": [
            {
                "host": h.host,
                "generated_at": _iso(h.generated_at),
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


def utc_now() -> datetime:
    return datetime.now(UTC)


def run(sources: list[str], stdin: IO[str], max_age: timedelta, now: datetime) -> Fleet:
    hosts, errors = read(sources, stdin)
    return merge(hosts, errors, now, max_age)
