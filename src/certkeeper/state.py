"""What certkeeper remembers between runs: attempts, results, warnings sent, notices delivered.

One JSON file, rewritten atomically. A corrupt file is moved aside and the run
goes on with an empty memory: forgetting a back-off is better than never
renewing again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from certkeeper import atomic

STATE_VERSION = 1
DELIVERED_KEEP = timedelta(days=60)


def to_iso(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def from_iso(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class AriRecord:
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


@dataclass
class CertRecord:
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
    ari: AriRecord | None = None

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
            "ari": self.ari.to_json() if self.ari else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CertRecord:
        failures = data.get("consecutive_failures", 0)
        thresholds = data.get("warned_thresholds", [])
        return cls(
            last_check=from_iso(data.get("last_check")),
            last_attempt=from_iso(data.get("last_attempt")),
            last_result=data.get("last_result")
            if isinstance(data.get("last_result"), str)
            else None,
            last_error=data.get("last_error") if isinstance(data.get("last_error"), str) else None,
            failed_step=data.get("failed_step")
            if isinstance(data.get("failed_step"), str)
            else None,
            consecutive_failures=failures if isinstance(failures, int) else 0,
            previous_expiry=from_iso(data.get("previous_expiry")),
            new_expiry=from_iso(data.get("new_expiry")),
            backoff_until=from_iso(data.get("backoff_until")),
            warned_for=from_iso(data.get("warned_for")),
            warned_thresholds=[t for t in thresholds if isinstance(t, int)]
            if isinstance(thresholds, list)
            else [],
            ari=AriRecord.from_json(data.get("ari")),
        )


@dataclass
class State:
    path: Path
    certs: dict[str, CertRecord] = field(default_factory=dict)
    delivered: dict[str, datetime] = field(default_factory=dict)
    outbox_errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

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
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic.write_bytes(self.path, (json.dumps(doc, indent=2) + "\n").encode(), mode=0o600)


def state_path(state_dir: Path) -> Path:
    return state_dir / "state.json"


def load(state_dir: Path, now: datetime, repair: bool = True) -> State:
    """Read state; with repair=False (dry runs, listings) a corrupt file is left in place."""
    path = state_path(state_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return State(path)
    try:
        doc = json.loads(raw)
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
            str(k): str(v) for k, v in (errors_raw.items() if isinstance(errors_raw, dict) else [])
        }
        return State(path, certs, delivered, outbox_errors)
    except (ValueError, UnicodeDecodeError) as exc:
        if not repair:
            return State(path, warnings=[f"state file {path} is unreadable ({exc})"])
        aside = path.with_name(f"{path.name}.corrupt-{now:%Y%m%dT%H%M%SZ}")
        os.replace(path, aside)
        warning = f"state file {path} was unreadable ({exc}); moved aside to {aside}"
        return State(path, warnings=[warning])
