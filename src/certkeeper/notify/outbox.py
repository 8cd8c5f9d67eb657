"""The outbox: every notice is written here first and removed only once delivered.

A notice survives a dead mail server, a crash and a reboot. Delivered event ids
are recorded in state before the file is removed, so a crash between the two
never sends a second copy.
"""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from certkeeper import atomic
from certkeeper.inputs import InputFileError, read_regular
from certkeeper.value import Record

if TYPE_CHECKING:
    from certkeeper.config import SmtpSettings
    from certkeeper.state import State

SUFFIX = ".eml"
# A notice the SMTP server accepted, renamed in one syscall the moment it said 250, before
# the state (with its fsyncs) records it: a kill in between must not cause a second send.
SENT = ".sent"


class Pending(Record):
    event_id: str
    path: Path
    subject: str


class FlushReport(Record):
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


QUARANTINE = "quarantine"
# A notice is a few KiB (60 lines of tool output at most); far larger is not one of ours.
MAX_MESSAGE_BYTES = 1 << 20


class Unreadable(Exception):
    """An outbox file that is not a notice certkeeper wrote: it goes to quarantine."""


def _read_notice(path: Path) -> tuple[bytes, str]:
    """The message and its subject, or Unreadable: never anything else, whatever the file."""
    from email.parser import BytesHeaderParser
    from email.policy import default

    try:
        data = read_regular(path, MAX_MESSAGE_BYTES, follow=False)
    except InputFileError as exc:
        raise Unreadable(str(exc)) from None
    except OSError as exc:
        raise Unreadable(f"cannot read it: {exc.strerror or exc}") from None
    if not data.strip():
        raise Unreadable("empty file")
    try:
        headers = BytesHeaderParser(policy=default).parsebytes(data)
        subject = str(headers.get("Subject", ""))
    except Exception as exc:  # the parser may raise anything on hostile bytes
        raise Unreadable(f"not a notice ({type(exc).__name__})") from None
    if not subject or not headers.get("Message-ID"):
        raise Unreadable("not a notice (no Subject or Message-ID header)")
    return data, subject


def quarantine_dir(state_dir: Path) -> Path:
    return outbox_dir(state_dir) / QUARANTINE


def _quarantine(path: Path, why: str) -> Path:
    """Keep a bad file for a person, out of the way of the good ones; never delete it."""
    folder = quarantine_dir(path.parent.parent)
    folder.mkdir(exist_ok=True, mode=0o700)
    target = folder / path.name
    os.replace(path, target)
    atomic.write_bytes(target.with_name(target.name + ".why"), (why + "\n").encode())
    return target


def quarantined(state_dir: Path) -> list[tuple[Path, str]]:
    """(file, why) for each outbox file set aside as unreadable."""
    folder = quarantine_dir(state_dir)
    if not folder.is_dir():
        return []
    items = []
    for path in sorted(folder.iterdir()):
        if path.name.endswith(".why"):
            continue
        try:
            why_file = path.with_name(path.name + ".why")
            why = read_regular(why_file, 4096, follow=False).decode(errors="replace")
            why = why.strip()[:300]
        except (OSError, InputFileError):
            why = "unreadable"
        items.append((path, why))
    return items


def pending(state_dir: Path) -> list[Pending]:
    """Every waiting notice that can be read; the others are quarantined on the way."""
    folder = outbox_dir(state_dir)
    if not folder.is_dir():
        return []
    items = []
    for path in sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIX)):
        try:
            _, subject = _read_notice(path)
        except Unreadable as exc:
            with contextlib.suppress(OSError):
                _quarantine(path, str(exc))
            continue
        items.append(Pending(path.name[: -len(SUFFIX)], path, subject))
    return items


def count(state_dir: Path) -> int:
    folder = outbox_dir(state_dir)
    if not folder.is_dir():
        return 0
    return sum(1 for p in folder.iterdir() if p.name.endswith(SUFFIX))


def flush(
    state_dir: Path, smtp: SmtpSettings, state: State, now: datetime, sender: str, to: str
) -> FlushReport:
    """Try to deliver everything waiting, each notice on its own. Call with the host lock held.

    The envelope comes from the config, never from the file: whoever could drop a file
    here must not be able to relay mail through the team's SMTP account.
    """
    from certkeeper.notify.smtp import send

    report = FlushReport()
    _settle_sent(state_dir, state, now)
    for item in pending(state_dir):
        if item.event_id in state.delivered:
            # The one duplicate rule: an id already delivered was sent by an earlier run
            # that died before removing the file. Ids are unique per event, so this only
            # ever drops a true second copy.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(item.path)
            continue
        try:
            data, _ = _read_notice(item.path)
        except Unreadable as exc:
            report.failed.append((item.event_id, f"quarantined: {exc}", True))
            with contextlib.suppress(OSError):
                _quarantine(item.path, str(exc))
            continue
        sent = item.path.with_name(item.event_id + SENT)
        accepted = functools.partial(_mark_sent, item.path, sent)
        outcome = send(smtp, data, sender, [to], on_accepted=accepted)
        if not outcome.ok:
            state.outbox_errors[item.event_id] = outcome.detail
            report.failed.append((item.event_id, outcome.detail, outcome.permanent))
            if not outcome.permanent:
                # The server is down or too slow: the others would each wait out the same
                # deadline while the host lock is held. They stay for the next run.
                break
            continue
        state.mark_delivered(item.event_id, now)
        state.outbox_errors.pop(item.event_id, None)
        state.save(now)  # before the unlink: a crash here must not cause a resend
        for path in (item.path, sent):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        report.sent.append(item.event_id)
    return report


def _mark_sent(path: Path, sent: Path) -> None:
    with contextlib.suppress(OSError):
        os.rename(path, sent)


def _settle_sent(state_dir: Path, state: State, now: datetime) -> None:
    """Record the notices an earlier run saw accepted but died before recording."""
    folder = outbox_dir(state_dir)
    try:
        accepted = [p for p in folder.iterdir() if p.name.endswith(SENT)]
    except OSError:
        return
    if not accepted:
        return
    for path in accepted:
        state.mark_delivered(path.name[: -len(SENT)], now)
    state.save(now)
    for path in accepted:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
