"""What certkeeper remembers between runs: attempts, results, warnings sent, notices delivered.

One JSON file, rewritten atomically. A corrupt file is moved aside and the run
goes on with an empty memory: forgetting a back-off is better than never
renewing again.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from certkeeper import atomic, times
from certkeeper.inputs import read_regular
from certkeeper.times import iso_or_none
from certkeeper.value import Record, Value, field

STATE_VERSION = 1
DELIVERED_KEEP = timedelta(days=60)


def to_iso(moment: datetime | None) -> str | None:
    return iso_or_none(moment)


# state.json is a few KiB per certificate; anything far larger is not ours either.
MAX_STATE_BYTES = 16 << 20


def from_iso(text: Any) -> datetime | None:
    """A UTC time as certkeeper writes it, or None for anything else (a naive time, a
    bare date, a year outside times.EARLIEST..LATEST): one bad field is ignored, never
    the whole run."""
    return times.from_iso(text)


def _serial(value: Any) -> str | None:
    """A certificate serial as certkeeper writes it (lowercase hex, at most 64 digits)."""
    return value if isinstance(value, str) and len(value) <= 64 and _is_hex(value) else None


def _text(value: Any, limit: int = 2000) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _count(value: Any) -> int:
    # bool is an int in Python; a count is a plain non-negative int of sane size.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1_000_000:
        return 0
    return value


class Intent(Record):
    """What a run set out to do for a certificate, written before it acts.

    A run killed mid-way (after certbot renewed, before the notice was spooled) leaves
    this behind; the next run finishes the story: it verifies what happened and sends
    the SUCCESS or the ERROR. `nonce` ties the story to the one notice that tells it.
    """

    action: str  # "issue", "renew" or "redeploy"
    started: datetime
    nonce: str
    before_serial: str | None = None  # hex serial on disk before acting
    before_expiry: datetime | None = None  # what clients saw expire before acting

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "started": to_iso(self.started),
            "nonce": self.nonce,
            "before_serial": self.before_serial,
            "before_expiry": to_iso(self.before_expiry),
        }

    @classmethod
    def from_json(cls, data: Any) -> Intent | None:
        if not isinstance(data, dict):
            return None
        action, nonce = data.get("action"), data.get("nonce")
        started = from_iso(data.get("started"))
        serial = data.get("before_serial")
        if (
            action not in ("issue", "renew", "redeploy")
            or started is None
            or not isinstance(nonce, str)
            or not nonce.isalnum()
            or len(nonce) > 32
        ):
            return None
        return cls(action, started, nonce, _serial(serial), from_iso(data.get("before_expiry")))


def _is_hex(text: str) -> bool:
    return bool(text) and all(c in "0123456789abcdef" for c in text)


class AriRecord(Value):
    """The CA's last answer about one certificate (RFC 9773), and the moment picked in it."""

    cert_id: str
    start: datetime
    end: datetime
    selected_at: datetime  # chosen once, uniformly inside the window, kept while it stands
    retry_after: datetime  # do not ask the CA again before this
    fetched_at: datetime
    explanation_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "cert_id": self.cert_id,
            "start": to_iso(self.start),
            "end": to_iso(self.end),
            "selected_at": to_iso(self.selected_at),
            "retry_after": to_iso(self.retry_after),
            "fetched_at": to_iso(self.fetched_at),
            "explanation_url": self.explanation_url,
        }

    @classmethod
    def from_json(cls, data: Any) -> AriRecord | None:
        """None for anything malformed: a bad cache means asking the CA again, never a crash."""
        if not isinstance(data, dict):
            return None
        cert_id = data.get("cert_id")
        url = data.get("explanation_url")
        stamps = [
            from_iso(data.get(k))
            for k in ("start", "end", "selected_at", "retry_after", "fetched_at")
        ]
        if not isinstance(cert_id, str) or not cert_id or any(s is None for s in stamps):
            return None
        start, end, selected, retry, fetched = stamps
        assert start and end and selected and retry and fetched
        if any(s.tzinfo is None for s in (start, end, selected, retry, fetched)):
            return None
        if not start < end or not start <= selected <= end:
            return None
        return cls(
            cert_id, start, end, selected, retry, fetched, url if isinstance(url, str) else None
        )


class Paused(Value):
    """The CA paused this lineage's name for our account (Let's Encrypt's consecutive-failure
    pause): `check` stops asking until `check --force --only NAME` clears it."""

    since: datetime
    link: str | None  # the CA's unpause link, checked before it was kept

    def to_json(self) -> dict[str, Any]:
        return {"since": to_iso(self.since), "link": self.link}

    @classmethod
    def from_json(cls, data: Any) -> Paused | None:
        """The file is outside input too: the link is checked again, a bad one dropped."""
        from certkeeper.policy import link_problem

        if not isinstance(data, dict):
            return None
        since, link = from_iso(data.get("since")), data.get("link")
        if since is None:
            return None
        if not isinstance(link, str) or link_problem(link) is not None:
            link = None
        return cls(since, link)


class Rehearsal(Value):
    """The last rehearsal of a lineage's renewal against the staging server."""

    at: datetime
    ok: bool
    reason: str | None = None  # the CA's reason when it failed
    # The cause (policy.rehearsal_cause) of the WARNING card already sent; None: none owed.
    warned_cause: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": to_iso(self.at),
            "ok": self.ok,
            "reason": self.reason,
            "warned_cause": self.warned_cause,
        }

    @classmethod
    def from_json(cls, data: Any) -> Rehearsal | None:
        """A malformed record reads as "never rehearsed": the next check rehearses again."""
        if not isinstance(data, dict):
            return None
        at, ok = from_iso(data.get("at")), data.get("ok")
        if at is None or not isinstance(ok, bool):
            return None
        return cls(at, ok, _text(data.get("reason"), 500), _text(data.get("warned_cause"), 500))


class CertRecord(Record):
    last_check: datetime | None = None
    last_attempt: datetime | None = None
    last_result: str | None = None
    last_error: str | None = None
    failed_step: str | None = None
    consecutive_failures: int = 0
    previous_expiry: datetime | None = None
    new_expiry: datetime | None = None
    backoff_until: datetime | None = None
    warned_for: datetime | None = None
    warned_thresholds: list[int] = field(default_factory=list)
    intent: Intent | None = None
    ari: AriRecord | None = None
    # The last renewal or issuance that was verified end to end (for the fleet's metrics).
    last_success: datetime | None = None
    paused: Paused | None = None
    rehearsal: Rehearsal | None = None
    # The serial of the last certificate whose renewal or issuance was told (a SUCCESS card
    # from check or from the deploy hook): one renewal is one story, whoever deploys it.
    told_serial: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "last_check": to_iso(self.last_check),
            "last_attempt": to_iso(self.last_attempt),
            "last_result": self.last_result,
            "last_error": self.last_error,
            "failed_step": self.failed_step,
            "consecutive_failures": self.consecutive_failures,
            "previous_expiry": to_iso(self.previous_expiry),
            "new_expiry": to_iso(self.new_expiry),
            "backoff_until": to_iso(self.backoff_until),
            "warned_for": to_iso(self.warned_for),
            "warned_thresholds": sorted(self.warned_thresholds, reverse=True),
            "intent": self.intent.to_json() if self.intent else None,
            "ari": self.ari.to_json() if self.ari else None,
            "last_success": to_iso(self.last_success),
            "paused": self.paused.to_json() if self.paused else None,
            "rehearsal": self.rehearsal.to_json() if self.rehearsal else None,
            "told_serial": self.told_serial,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CertRecord:
        """Field by field: a malformed field is dropped, the rest of the record is kept."""
        thresholds = data.get("warned_thresholds", [])
        return cls(
            last_check=from_iso(data.get("last_check")),
            last_attempt=from_iso(data.get("last_attempt")),
            last_result=_text(data.get("last_result"), 20),
            last_error=_text(data.get("last_error")),
            failed_step=_text(data.get("failed_step"), 100),
            consecutive_failures=_count(data.get("consecutive_failures", 0)),
            previous_expiry=from_iso(data.get("previous_expiry")),
            new_expiry=from_iso(data.get("new_expiry")),
            backoff_until=from_iso(data.get("backoff_until")),
            warned_for=from_iso(data.get("warned_for")),
            warned_thresholds=[t for t in thresholds[:20] if _count(t)]
            if isinstance(thresholds, list)
            else [],
            intent=Intent.from_json(data.get("intent")),
            ari=AriRecord.from_json(data.get("ari")),
            last_success=from_iso(data.get("last_success")),
            paused=Paused.from_json(data.get("paused")),
            rehearsal=Rehearsal.from_json(data.get("rehearsal")),
            told_serial=_serial(data.get("told_serial")),
        )


class CheckRun(Value):
    at: datetime
    success: bool

    def to_json(self) -> dict[str, Any]:
        return {"last_run": to_iso(self.at), "success": self.success}

    @classmethod
    def from_json(cls, data: Any) -> CheckRun | None:
        """Tolerant: anything malformed reads as "never ran" until the next check records
        a run, rather than failing the run that reads it."""
        if not isinstance(data, dict):
            return None
        at = from_iso(data.get("last_run"))
        success = data.get("success")
        if at is None or not isinstance(success, bool):
            return None
        return cls(at, success)


class State(Record):
    path: Path
    certs: dict[str, CertRecord] = field(default_factory=dict)
    delivered: dict[str, datetime] = field(default_factory=dict)
    outbox_errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # When `check` last ran to the end, and whether it succeeded: the fleet's alert
    # "the agent went quiet" is built on this.
    check_run: CheckRun | None = None

    def cert(self, name: str) -> CertRecord:
        return self.certs.setdefault(name, CertRecord())

    def mark_delivered(self, event_id: str, now: datetime) -> None:
        self.delivered[event_id] = now

    def save(self, now: datetime) -> None:
        cutoff = now - DELIVERED_KEEP
        self.delivered = {k: v for k, v in self.delivered.items() if v >= cutoff}
        doc = {
            "version": STATE_VERSION,
            "certs": {name: rec.to_json() for name, rec in sorted(self.certs.items())},
            "delivered": {k: to_iso(v) for k, v in sorted(self.delivered.items())},
            "outbox_errors": dict(sorted(self.outbox_errors.items())),
        }
        if self.check_run is not None:
            doc["check"] = self.check_run.to_json()
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic.write_bytes(self.path, (json.dumps(doc, indent=2) + "\n").encode(), mode=0o600)


def state_path(state_dir: Path) -> Path:
    return state_dir / "state.json"


def load(state_dir: Path, now: datetime, repair: bool = True) -> State:
    """Read state; with repair=False (dry runs, listings) a corrupt file is left in place."""
    path = state_path(state_dir)
    try:
        # Only a regular file, never through a symlink, and bounded: a FIFO or /dev/zero
        # in its place would otherwise hang or exhaust the run.
        doc = json.loads(read_regular(path, MAX_STATE_BYTES, follow=False))
        if not isinstance(doc, dict) or not isinstance(doc.get("certs", {}), dict):
            raise ValueError("not a certkeeper state document")
        certs = {
            str(name): CertRecord.from_json(rec)
            for name, rec in doc.get("certs", {}).items()
            if isinstance(rec, dict)
        }
        delivered_raw = doc.get("delivered", {})
        delivered = {
            str(k): stamp
            for k, v in (delivered_raw.items() if isinstance(delivered_raw, dict) else [])
            if (stamp := from_iso(v)) is not None
        }
        errors_raw = doc.get("outbox_errors", {})
        outbox_errors = {
            str(k)[:200]: str(v)[:2000]
            for k, v in (errors_raw.items() if isinstance(errors_raw, dict) else [])
        }
        return State(
            path, certs, delivered, outbox_errors, check_run=CheckRun.from_json(doc.get("check"))
        )
    except FileNotFoundError:
        return State(path)
    except (OSError, ValueError, UnicodeDecodeError, RecursionError, TypeError) as exc:
        if not repair:
            return State(path, warnings=[f"state file {path} is unreadable ({exc})"])
        aside = path.with_name(f"{path.name}.corrupt-{now:%Y%m%dT%H%M%SZ}")
        try:
            os.replace(path, aside)
        except OSError as moved:
            return State(path, warnings=[f"state file {path} is unreadable ({exc}): {moved}"])
        warning = f"state file {path} was unreadable ({exc}); moved aside to {aside}"
        return State(path, warnings=[warning])
