"""The notification path: a channel configured, the outbox, each channel's receiver
(the SMTP server's EHLO, the webhook's connection) and, when asked, a test notice."""

from __future__ import annotations

from certkeeper.actions.doctor.base import Options, Result, clean
from certkeeper.config import Config
from certkeeper.notify import channels, outbox


def _outbox(cfg: Config, problems: list[str], fixes: list[str], good: list[str]) -> None:
    waiting = outbox.count(cfg.state_dir)
    set_aside = outbox.quarantined(cfg.state_dir)
    if waiting:
        problems.append(f"{waiting} notice(s) waiting in {outbox.outbox_dir(cfg.state_dir)}")
        fixes.append("certkeeper notify outbox shows why; certkeeper notify flush retries")
    if set_aside:
        problems.append(f"{len(set_aside)} unreadable notice(s) set aside in quarantine")
        fixes.append("certkeeper notify outbox lists them")
    if not waiting and not set_aside:
        good.append("the outbox is empty")


def _receivers(cfg: Config, problems: list[str], fixes: list[str], good: list[str]) -> None:
    """Each channel's receiver answers, without sending anything. The SMTP server is
    asked even without notify.to: it is the default way out."""
    names = channels.enabled(cfg.notify)
    for name in dict.fromkeys(["smtp", *names]):
        way = channels.channel(name)
        refused = way.reach(cfg)
        if name == "smtp":
            smtp = cfg.notify.smtp
            where, answer = f"SMTP {smtp.host}:{smtp.port} ({smtp.security})", "answers EHLO"
        else:
            where, answer = way.target(cfg), "takes a connection"
        if refused:
            problems.append(f"{where}: {clean(refused, 200)}")
            fixes.append(f"check notify.{name} and that the receiver runs; certkeeper notify test")
        else:
            good.append(f"{where} {answer}")


# The last line of each channel's exchange in `send_test`'s transcript.
ENDINGS = ("delivered: ", "failed: ", "webhook: delivered: ", "webhook: failed: ")


def check_notify(cfg: Config, opts: Options) -> Result:
    title = "Notifications"
    problems: list[str] = []
    fixes: list[str] = []
    good: list[str] = []
    if cfg.notify.to is None:
        problems.append("notify.to is not set: no card reaches the team")
        fixes.append(f"set notify.to in {cfg.path} to the board's address")
    else:
        good.append(f"notify.to {cfg.notify.to}")
    _outbox(cfg, problems, fixes, good)
    _receivers(cfg, problems, fixes, good)
    if opts.send_test and channels.enabled(cfg.notify):
        from certkeeper.notify import send_test
        from certkeeper.times import now

        delivered, transcript = send_test(cfg, now())
        last = [clean(line, 200) for line in transcript if line.startswith(ENDINGS)]
        if delivered:
            good.append("test notice " + "; ".join(last))
        else:
            problems.append("test notice " + "; ".join(last))
            fixes.append("certkeeper notify test shows the whole exchange")
    if problems:
        return Result("notify", title, "", False, "; ".join(problems + good), "; ".join(fixes))
    return Result("notify", title, "", True, "; ".join(good))
