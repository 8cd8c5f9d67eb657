"""The channels a notice goes out through, and the table that names them.

Each channel is one module here with the same four names (borgmatic's
hooks/monitoring/<channel>.py shows the pattern):

    enabled(settings: NotifySettings) -> bool      is it configured?
    target(cfg) -> str                             where it goes, for a person; no secret
    deliver(cfg, notice, on_accepted) -> Outcome   one bounded attempt; never raises
    reach(cfg) -> str | None                       doctor: None when the receiver answers

A new channel is one module plus its keys in config/keys.py and one line in CHANNELS.
Modules are imported only when a notice goes out, so `status` never loads smtplib or
http.client.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from certkeeper.value import Record, field

if TYPE_CHECKING:
    from certkeeper.config import Config, NotifySettings
    from certkeeper.notify.notice import Notice

# name -> module, in the order a notice goes out: e-mail first, the board is the record.
CHANNELS: dict[str, str] = {
    "smtp": "certkeeper.notify.channels.smtp",
    "webhook": "certkeeper.notify.channels.webhook",
}


class Outcome(Record):
    """One attempt through one channel. `permanent`: the receiver refused it (retrying
    the same bytes cannot help); otherwise it was not reached or too slow."""

    ok: bool
    permanent: bool = False
    detail: str = ""
    transcript: list[str] = field(default_factory=list)


class Channel(Protocol):
    def enabled(self, settings: NotifySettings) -> bool: ...

    def target(self, cfg: Config) -> str: ...

    def deliver(
        self, cfg: Config, notice: Notice, on_accepted: Callable[[], None] | None = None
    ) -> Outcome: ...

    def reach(self, cfg: Config) -> str | None: ...


def channel(name: str) -> Channel:
    module: Channel = importlib.import_module(CHANNELS[name])
    return module


def enabled(settings: NotifySettings) -> list[str]:
    """The channels this config sends through, in CHANNELS' order."""
    return [name for name in CHANNELS if channel(name).enabled(settings)]


def guarded(name: str, send: Callable[[], Outcome]) -> Outcome:
    """A channel's attempt, whatever it raises: one notice's trouble is an outcome."""
    try:
        return send()
    except Exception as exc:  # isolation is the point: the other channels still go
        return Outcome(False, False, f"{name}: {type(exc).__name__}: {exc}"[:300])
