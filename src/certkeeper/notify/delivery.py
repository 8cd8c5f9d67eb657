"""One attempt at the whole outbox: each notice through each channel it still waits for.

The promises hold per channel: a notice a receiver missed waits for that receiver alone,
and a channel that has it is never tried again, whatever the others do. A receiver that
is down or too slow is not tried again in the same attempt: the other notices would each
wait out the same deadline while the host lock is held. They stay for the next run.
"""

from __future__ import annotations

import contextlib
import functools
import os
from datetime import datetime
from pathlib import Path

from certkeeper.config import Config
from certkeeper.log import get_logger
from certkeeper.notify import Flushed, channels, outbox
from certkeeper.notify.notice import Notice
from certkeeper.state import State


def flush(cfg: Config, state: State, now: datetime) -> Flushed:
    """Call with the host lock held."""
    result = Flushed()
    _settle_legacy_sent(cfg, state, now)
    active = set(channels.enabled(cfg.notify))
    down: set[str] = set()
    for path in outbox.files(cfg.state_dir):
        eid = outbox.event_id_of(path)
        try:
            notice = outbox.read(path)
        except outbox.Unreadable as exc:
            result.undelivered.append((eid, f"quarantined: {exc}", True))
            outbox.set_aside(path, str(exc))
            continue
        if eid in state.delivered:
            # The one duplicate rule: an id already delivered was sent by an earlier run
            # that died before removing the file. Ids are unique per event, so this only
            # ever drops a true second copy.
            outbox.remove(path, notice)
            continue
        before = notice
        notice, failures = _through(cfg, path, notice, active - down, now)
        down |= {name for name, _, permanent in failures if not permanent}
        if notice != before and notice.waiting():
            # Keep what this attempt achieved in the notice itself while others wait.
            outbox.record(path, notice)
        _settle(state, path, notice, failures, now, result)
    return result


def _through(
    cfg: Config, path: Path, notice: Notice, active: set[str], now: datetime
) -> tuple[Notice, list[tuple[str, str, bool]]]:
    """The notice through each channel that waits for it and can be tried now."""
    log = get_logger()
    failures = []
    for name in notice.waiting():
        if name not in active:
            continue  # not configured now, or down: the notice waits for it
        way = channels.channel(name)
        accepted = functools.partial(outbox.accepted, path, name)
        outcome = channels.guarded(name, functools.partial(way.deliver, cfg, notice, accepted))
        if outcome.ok:
            notice = notice.delivered_by(name, now)
            log.info("notice.delivered", notice=notice.event_id, channel=name)
        else:
            failures.append((name, outcome.detail, outcome.permanent))
            log.warning(
                "notice.waiting", notice=notice.event_id, channel=name,
                reason=outcome.detail, permanent=outcome.permanent,
            )  # fmt: skip
    return notice, failures


def _settle(
    state: State,
    path: Path,
    notice: Notice,
    failures: list[tuple[str, str, bool]],
    now: datetime,
    result: Flushed,
) -> None:
    eid = notice.event_id
    if failures:
        state.outbox_errors[eid] = "; ".join(reason for _, reason, _ in failures)[:2000]
        result.undelivered += [(eid, reason, permanent) for _, reason, permanent in failures]
    if notice.waiting():
        return
    state.mark_delivered(eid, now)
    state.outbox_errors.pop(eid, None)
    state.save(now)  # before the unlink: a crash here must not cause a resend
    outbox.remove(path, notice)
    result.delivered.append(eid)


def _settle_legacy_sent(cfg: Config, state: State, now: datetime) -> None:
    """Record the e-mails an earlier release saw accepted but died before recording."""
    accepted = outbox.legacy_sent(cfg.state_dir)
    if not accepted:
        return
    for path in accepted:
        state.mark_delivered(outbox.event_id_of(path), now)
    state.save(now)
    for path in accepted:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
