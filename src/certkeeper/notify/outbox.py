"""The outbox: every notice is written here first and removed only once delivered.

A notice survives a dead mail server, a crash and a reboot. Delivered event ids
are recorded in state before the file is removed, so a crash between the two
never sends a second copy.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from certkeeper import atomic

if TYPE_CHECKING:
    from certkeeper.config import SmtpSettings
    from certkeeper.state import State

SUFFIX = ".eml"


@dataclass
class Pending:
    event_id: str
    path: Path
    subject: str


@dataclass
class FlushReport:
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str, bool]] = field(default_factory=list)  # id, reason, permanent


def outbox_dir(state_dir: Path) -> Path:
    return state_dir / "outbox"


def spool(state_dir: Path, event_id: str, data: bytes) -> Path:
    folder = outbox_dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{event_id}{SUFFIX}"
    atomic.write_bytes(path, data, mode=0o600)
    return path


def _subject(path: Path) -> str:
    from email.parser import BytesHeaderParser
    from email.policy import default

    try:
        headers = BytesHeaderParser(policy=default).parsebytes(path.read_bytes())
        return str(headers.get("Subject", ""))
    except OSError:
        return ""


def pending(state_dir: Path) -> list[Pending]:
    folder = outbox_dir(state_dir)
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIX) and p.is_file())
    return [Pending(p.name[: -len(SUFFIX)], p, _subject(p)) for p in files]


def count(state_dir: Path) -> int:
    folder = outbox_dir(state_dir)
    if not folder.is_dir():
        return 0
    return sum(1 for p in folder.iterdir() if p.name.endswith(SUFFIX))


def flush(state_dir: Path, smtp: SmtpSettings, state: State, now: datetime) -> FlushReport:
    """Try to deliver everything waiting. Call with the host lock held."""
    from certkeeper.notify.smtp import send

    report = FlushReport()
    for item in pending(state_dir):
        if item.event_id in state.delivered:
            # Sent by an earlier run that died before removing the file.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(item.path)
            continue
        try:
            data = item.path.read_bytes()
        except OSError as exc:
            report.failed.append((item.event_id, f"cannot read {item.path}: {exc}", False))
            continue
        outcome = send(smtp, data)
        if not outcome.ok:
            state.outbox_errors[item.event_id] = outcome.detail
            report.failed.append((item.event_id, outcome.detail, outcome.permanent))
            continue
        state.mark_delivered(item.event_id, now)
        state.outbox_errors.pop(item.event_id, None)
        state.save(now)  # before the unlink: a crash here must not cause a resend
        with contextlib.suppress(FileNotFoundError):
            os.unlink(item.path)
        report.sent.append(item.event_id)
    return report
