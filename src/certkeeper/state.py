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
    # The last renewal or issuance that was verified end to end (for the fleet's metrics).
    last_success: datetime | None = None

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
            "last_success": to_iso(self.last_success),
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
            last_success=from_iso(data.get("last_success")),
        )


@dataclass(frozen=True)
class CheckRun:
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


@dataclass
class State:
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
        return State(
            path, certs, delivered, outbox_errors, check_run=CheckRun.from_json(doc.get("check"))
        )
    except (ValueError, UnicodeDecodeError) as exc:
        if not repair:
            return State(path, warnings=[f"state file {path} is unreadable ({exc})"])
        aside = path.with_name(f"{path.name}.corrupt-{now:%Y%m%dT%H%M%SZ}")
        os.replace(path, aside)
        warning = f"state file {path} was unreadable ({exc}); moved aside to {aside}"
        return State(path, warnings=[warning])
