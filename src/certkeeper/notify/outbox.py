"""The outbox: every notice is written here first and removed only once every channel has it.

A notice is `<event id>.json` (notice.py), with its delivery state per channel. The moment
a channel's receiver accepts it, a marker `<event id>.<channel>.done` is created in one
syscall, before the notice file is rewritten (atomically, with its fsyncs): a kill in
between must not make the next run deliver it twice. Once every channel has it, the event
id is recorded in state before the file is removed, so a crash between the two never sends
a second copy either.

`.eml` files are the e-mails an earlier release spooled. They are read as notices for the
SMTP channel only and sent as they are; the `.sent` rename was that release's marker.
"""

from __future__ import annotations

import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path

from certkeeper import atomic
from certkeeper.inputs import InputFileError, read_regular
from certkeeper.notify.notice import Notice, from_json
from certkeeper.value import Value

SUFFIX = ".json"
LEGACY = ".eml"
LEGACY_SENT = ".sent"
DONE = ".done"
QUARANTINE = "quarantine"
# A notice is a few KiB (60 lines of tool output at most); far larger is not one of ours.
MAX_MESSAGE_BYTES = 1 << 20


class Pending(Value):
    event_id: str
    path: Path
    subject: str


class Unreadable(Exception):
    """An outbox file that is not a notice certkeeper wrote: it goes to quarantine."""


def outbox_dir(state_dir: Path) -> Path:
    return state_dir / "outbox"


def quarantine_dir(state_dir: Path) -> Path:
    return outbox_dir(state_dir) / QUARANTINE


def spool(state_dir: Path, notice: Notice) -> Path:
    folder = outbox_dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{notice.event_id}{SUFFIX}"
    atomic.write_bytes(path, notice.to_json(), mode=0o600)
    return path


def _is_notice(path: Path) -> bool:
    return path.name.endswith((SUFFIX, LEGACY))


def event_id_of(path: Path) -> str:
    return path.name.rsplit(".", 1)[0]


def _read_bounded(path: Path) -> bytes:
    """The notice's bytes through the one bounded reader; a symlink, FIFO or device where a
    notice should be was not put there by certkeeper: Unreadable, so it goes to quarantine."""
    try:
        data = read_regular(path, MAX_MESSAGE_BYTES, follow=False)
    except InputFileError as exc:
        raise Unreadable(str(exc)) from None
    except OSError as exc:
        raise Unreadable(f"cannot read it: {exc.strerror or exc}") from None
    if not data.strip():
        raise Unreadable("empty file")
    return data


def _legacy(data: bytes, event_id: str) -> Notice:
    """An e-mail an earlier release spooled: a notice for the SMTP channel alone."""
    from email.parser import BytesHeaderParser
    from email.policy import default

    try:
        headers = BytesHeaderParser(policy=default).parsebytes(data)
        subject = str(headers.get("Subject", ""))
    except Exception as exc:  # the parser may raise anything on hostile bytes
        raise Unreadable(f"not a notice ({type(exc).__name__})") from None
    if not subject or not headers.get("Message-ID"):
        raise Unreadable("not a notice (no Subject or Message-ID header)")
    created = datetime.fromtimestamp(0, UTC)
    return Notice(event_id, "legacy", subject, "", "", "", (), created, {"smtp": None}, raw=data)


def read(path: Path) -> Notice:
    """The notice in one outbox file with its `.done` markers folded in, or Unreadable:
    never anything else, whatever the file holds."""
    data = _read_bounded(path)
    eid = event_id_of(path)
    if path.name.endswith(LEGACY):
        notice = _legacy(data, eid)
    else:
        try:
            notice = from_json(data, eid)
        except (ValueError, TypeError, RecursionError) as exc:
            raise Unreadable(f"not a notice ({str(exc)[:100] or type(exc).__name__})") from None
    for channel in notice.waiting():
        if _marker(path, channel).exists():
            notice = notice.replace(channels={**notice.channels, channel: "delivered"})
    return notice


def _marker(path: Path, channel: str) -> Path:
    return path.with_name(f"{event_id_of(path)}.{channel}{DONE}")


def accepted(path: Path, channel: str) -> None:
    """The receiver said yes: one syscall, so that a kill right after cannot make the next
    run send it again (record() folds it into the notice at leisure)."""
    with contextlib.suppress(OSError):
        os.close(os.open(_marker(path, channel), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def record(path: Path, notice: Notice) -> None:
    """Write the delivery state into a notice other channels still wait for."""
    if notice.raw is not None or not notice.waiting():
        return  # an .eml has one channel; a finished notice is removed, not rewritten
    atomic.write_bytes(path, notice.to_json(), mode=0o600)
    for channel, done in notice.channels.items():
        if done is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(_marker(path, channel))


def remove(path: Path, notice: Notice) -> None:
    """Remove a notice every channel has, its markers first: a kill in between then leaves
    the notice, whose id state already holds (the next run drops it), never a marker
    without its notice, which nothing would ever remove."""
    for item in (*(_marker(path, channel) for channel in notice.channels), path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(item)


def _quarantine(path: Path, why: str) -> Path:
    """Keep a bad file for a person, out of the way of the good ones; never delete it."""
    folder = quarantine_dir(path.parent.parent)
    folder.mkdir(exist_ok=True, mode=0o700)
    target = folder / path.name
    os.replace(path, target)
    atomic.write_bytes(target.with_name(target.name + ".why"), (why + "\n").encode())
    return target


def set_aside(path: Path, why: str) -> None:
    with contextlib.suppress(OSError):
        _quarantine(path, why)


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


def files(state_dir: Path) -> list[Path]:
    """Every notice file waiting, oldest name first."""
    folder = outbox_dir(state_dir)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _is_notice(p))


def pending(state_dir: Path) -> list[Pending]:
    """Every waiting notice that can be read; the others are quarantined on the way."""
    items = []
    for path in files(state_dir):
        try:
            notice = read(path)
        except Unreadable as exc:
            set_aside(path, str(exc))
            continue
        items.append(Pending(notice.event_id, path, notice.subject))
    return items


def count(state_dir: Path) -> int:
    folder = outbox_dir(state_dir)
    if not folder.is_dir():
        return 0
    return sum(1 for p in folder.iterdir() if _is_notice(p))


def legacy_sent(state_dir: Path) -> list[Path]:
    """E-mails an earlier release saw accepted but died before recording."""
    folder = outbox_dir(state_dir)
    try:
        return [p for p in folder.iterdir() if p.name.endswith(LEGACY_SENT)]
    except OSError:
        return []
