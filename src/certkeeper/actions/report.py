"""`certkeeper report FILE...`: many hosts' `status --json` merged into one fleet table.

Runs on the control node, with no certkeeper config: it only reads what the hosts
said. Rows keep the states and exit codes of `status`; a host whose answer is older
than --max-age is STALE (its agent may have stopped, or the gathering did), one
stamped ahead of this clock is FROM_THE_FUTURE and never its newest answer, and a
file that is not status output is a BAD_INPUT row and a line on stderr without
stopping the others. States rank by policy's one severity table.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from certkeeper.inputs import read_regular
from certkeeper.policy import Severity, severity, worst_first
from certkeeper.times import from_iso
from certkeeper.value import Record, Value, field

# report's own states, for what is not a row of status: all three are UNKNOWN.
STALE = "STALE"  # older than --max-age: the agent, or the gathering, may have stopped
FROM_THE_FUTURE = "FROM_THE_FUTURE"  # stamped ahead of this clock: never the newest answer
BAD_INPUT = "BAD_INPUT"  # not `status --json` output: one row naming the file
# What report keeps is bounded, not only what it reads. One input (a file, standard input)
# is at most 16 MiB and 500,000 JSON values (counted before parsing, so 60 MB of `{}` is
# refused, not parsed); one host keeps at most 10,000 rows, each of short strings.
MAX_INPUT_BYTES = 16 * 1024 * 1024
MAX_VALUES = 500_000
MAX_ROWS_PER_HOST = 10_000
MAX_DAYS = 1_000_000
MAX_AGE = timedelta(days=3650)
# A host's clock may run a little ahead of the control node's.
CLOCK_SKEW = timedelta(minutes=5)
DEFAULT_MAX_AGE = "36h"
_AGE = re.compile(r"^\s*(\d{1,30}(?:\.\d{1,6})?)\s*([smhd]?)\s*$", re.ASCII)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_EXPECTED = "expected the output of `certkeeper status --json`"


class BadInput(Exception):
    """One input that is not `status --json` output; the message names it."""


def parse_age(text: str) -> timedelta:
    """`36h`, `90m`, `2d`, `3600` (seconds), at most ten years."""
    match = _AGE.match(text)
    seconds = float(match.group(1)) * _UNITS[match.group(2)] if match else 0.0
    if not 0 < seconds <= MAX_AGE.total_seconds():
        raise ValueError(
            f"{_echo(text)}: expected an age such as 36h, 90m, 2d or 3600 (seconds), "
            f"at most {MAX_AGE.days}d"
        )
    return timedelta(seconds=seconds)


def _echo(value: object, limit: int = 60) -> str:
    """Input quoted back in a message, shortened: an echo never repeats a whole file."""
    text = repr(value) if not isinstance(value, str) or len(value) <= limit else value
    return text if len(text) <= limit else repr(text[:limit]) + "..."


def _clip(value: object, limit: int) -> str:
    return value[:limit] if isinstance(value, str) else ""


class Said(Value):
    """One row as a host's status said it, kept in short strings only."""

    service: str
    cert_name: str
    domain: str
    label: str
    days_left: int | None
    served_not_after: str | None
    disk_not_after: str | None
    reason: str


class HostStatus(Value):
    host: str
    generated_at: datetime
    source: str
    outbox_waiting: int
    rows: tuple[Said, ...]


class FleetRow(Value):
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
    def rank(self) -> Severity:
        return severity(self.state)


class Fleet(Record):
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
            ranks.append(Severity.UNKNOWN)
        return min(ranks, default=Severity.OK).exit_code


# ----------------------------------------------------------------------- reading


def _need(cond: bool, where: str, what: str) -> None:
    if not cond:
        raise BadInput(f"{where}: {what}")


def _count(value: Any, limit: int) -> bool:
    # bool is an int in Python: `true` is not a count.
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= limit


def _not_after(row: dict[str, Any], side: str) -> str | None:
    part = row.get(side)
    value = part.get("not_after") if isinstance(part, dict) else None
    return value[:40] if isinstance(value, str) else None


def _said(row: Any, where: str) -> Said:
    _need(isinstance(row, dict), where, "is not an object")
    assert isinstance(row, dict)
    for key in ("service", "cert_name", "domain", "state"):
        _need(
            isinstance(row.get(key), str),
            where,
            f'"{key}" = {_echo(row.get(key))}: expected a string',
        )
    days = row.get("days_left")
    _need(
        days is None or _count(days, MAX_DAYS),
        where,
        f'"days_left" = {_echo(days)}: expected a whole number of days or null',
    )
    monitor = row.get("monitor_state")
    state = _clip(row["state"], 40)
    label = f"{state}/{_clip(monitor, 40)}" if isinstance(monitor, str) else state
    return Said(
        service=_clip(row["service"], 100),
        cert_name=_clip(row["cert_name"], 100),
        domain=_clip(row["domain"], 253),
        label=label,
        days_left=days,
        served_not_after=_not_after(row, "served"),
        disk_not_after=_not_after(row, "disk"),
        reason=_clip(row.get("reason"), 300),
    )


def _host_status(doc: Any, where: str) -> HostStatus:
    _need(isinstance(doc, dict), where, f"a JSON {type(doc).__name__}, {_EXPECTED}")
    assert isinstance(doc, dict)
    host, stamp, certs = doc.get("host"), doc.get("generated_at"), doc.get("certificates")
    _need(isinstance(certs, list), where, f'no "certificates" list, {_EXPECTED}')
    _need(
        isinstance(host, str) and bool(host.strip()),
        where,
        'no "host": expected status --json from a certkeeper that names its host',
    )
    when = from_iso(stamp)
    _need(
        when is not None,
        where,
        f'"generated_at" = {_echo(stamp)}: expected a UTC time such as 2026-11-30T03:00:00Z '
        "(years 2000 to 2199)",
    )
    assert isinstance(certs, list) and isinstance(host, str) and when is not None
    _need(
        len(certs) <= MAX_ROWS_PER_HOST,
        where,
        f"{len(certs)} certificate rows: at most {MAX_ROWS_PER_HOST} are read from one host",
    )
    waiting = doc.get("outbox_waiting", 0)
    _need(
        _count(waiting, 10**9) and waiting >= 0,
        where,
        f'"outbox_waiting" = {_echo(waiting)}: expected a count of notices',
    )
    rows = tuple(_said(row, f"{where}: certificates[{i}]") for i, row in enumerate(certs))
    return HostStatus(_clip(host.strip(), 253), when, where, waiting, rows)


def _bad_json(exc: Exception, where: str) -> BadInput:
    # JSONDecodeError, RecursionError (deep nesting), or the ValueError of a number past
    # Python's int digit limit: each is one line naming the input.
    why = str(exc)[:100]
    if isinstance(exc, RecursionError):
        why = "nested too deeply"
    elif "integer string conversion" in why:
        why = "a number of more than 4300 digits"
    return BadInput(f"{where}: not valid JSON: {why}")


def _load(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _bad_json(exc, where) from None


def parse(text: str, name: str) -> list[HostStatus]:
    """One host's `status --json` (also pretty-printed), or JSON lines, one host per line.

    Raises BadInput, and nothing else, for any text that is not that."""
    if not text.strip():
        raise BadInput(f"{name}: empty: {_EXPECTED}")
    values = text.count(",") + text.count("{") + text.count("[")
    if values > MAX_VALUES:
        raise BadInput(f"{name}: more than {MAX_VALUES} JSON values: {_EXPECTED}")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as whole:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        if len(lines) == 1:
            raise _bad_json(whole, name) from None
        places = [(f"{name}: line {n}", line) for n, line in lines]
        return [_host_status(_load(line, where), where) for where, line in places]
    except (ValueError, RecursionError) as exc:
        raise _bad_json(exc, name) from None
    return [_host_status(doc, name)]


def _text_of(source: str, stdin: IO[str]) -> str:
    if source == "-":
        text = stdin.read(MAX_INPUT_BYTES + 1)
    else:
        text = read_regular(Path(source), MAX_INPUT_BYTES).decode("utf-8")
    if len(text) > MAX_INPUT_BYTES:
        raise BadInput(f"<stdin>: larger than {MAX_INPUT_BYTES} bytes")
    return text


def read(sources: Iterable[str], stdin: IO[str]) -> tuple[list[HostStatus], list[str]]:
    """Every host found, and one error line per input that could not be used."""
    hosts: list[HostStatus] = []
    errors: list[str] = []
    for source in sources:
        name = "<stdin>" if source == "-" else source
        try:
            hosts.extend(parse(_text_of(source, stdin), name))
        except BadInput as exc:
            errors.append(str(exc))
        except UnicodeDecodeError:
            errors.append(f"{name}: not UTF-8 text: {_EXPECTED}")
        except ValueError as exc:  # inputs.InputFileError: a FIFO, a device, too large
            errors.append(f"{name}: {exc}")
        except OSError as exc:
            errors.append(f"{name}: cannot read: {exc.strerror or exc}")
    return hosts, errors


# ---------------------------------------------------------------------- merging


def age_text(age: timedelta) -> str:
    hours = max(0, math.floor(age.total_seconds() / 3600))
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if days else f"{hours}h"


def _dash_row(host: str, state: str, note: str) -> FleetRow:
    return FleetRow(host, "-", "-", "-", state, "-", None, None, None, note)


def _error_row(error: str) -> FleetRow:
    # The message starts with the input's name: the row names the file that was lost.
    source, _, why = error.partition(": ")
    return _dash_row(source[:100], BAD_INPUT, why[:300])


def _ahead_row(status: HostStatus, now: datetime) -> FleetRow:
    ahead = age_text(status.generated_at - now)
    return _dash_row(
        status.host,
        FROM_THE_FUTURE,
        f"{status.source}: status from {status.generated_at:%Y-%m-%d %H:%M} UTC, {ahead} "
        "ahead of this clock: ignored",
    )


def merge(hosts: list[HostStatus], errors: list[str], now: datetime, max_age: timedelta) -> Fleet:
    fleet = Fleet(now, max_age, errors=list(errors))
    fleet.rows.extend(_error_row(e) for e in errors)
    newest: dict[str, HostStatus] = {}
    ahead: dict[str, HostStatus] = {}
    for status in hosts:
        # Stamped ahead of this clock: never the newest answer, or it would hide the
        # host's current rows for as long as it claims to be new.
        pool = ahead if status.generated_at > now + CLOCK_SKEW else newest
        # The same host gathered twice: its latest word counts.
        seen = pool.get(status.host)
        if seen is None or status.generated_at > seen.generated_at:
            pool[status.host] = status
    fleet.rows.extend(_ahead_row(status, now) for status in ahead.values())
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
        return [_dash_row(status.host, STALE, said)]
    rows = []
    for row in status.rows:
        label, note = row.label, row.reason
        if stale:
            note = f"{said}; it said {label}" + (f": {note}" if note else "")
        elif severity(label) is Severity.UNKNOWN:
            note = f"unknown state {label!r} (a newer certkeeper?)"
        rows.append(
            FleetRow(
                host=status.host,
                service=row.service,
                cert_name=row.cert_name,
                domain=row.domain,
                state=STALE if stale else label,
                reported_state=label,
                days_left=row.days_left,
                served_not_after=row.served_not_after,
                disk_not_after=row.disk_not_after,
                note=note,
            )
        )
    return rows


def _worst_first(r: FleetRow) -> tuple[int, int, tuple[str, ...]]:
    return worst_first(r.state, r.days_left, r.host, r.service, r.cert_name, r.domain)


def report(sources: list[str], stdin: IO[str], max_age: timedelta, now: datetime) -> Fleet:
    hosts, errors = read(sources, stdin)
    return merge(hosts, errors, now, max_age)
