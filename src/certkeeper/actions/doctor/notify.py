"""The notification path: notify.to, the outbox, the SMTP server's EHLO and, when asked,
a test notice."""

from __future__ import annotations

import smtplib
import ssl

from certkeeper.actions.doctor.base import Options, Result, clean
from certkeeper.config import Config
from certkeeper.notify import outbox
from certkeeper.notify.smtp import hang_up
from certkeeper.tlsctx import verifying_context


def _ehlo(cfg: Config) -> str | None:
    """None when the SMTP server answered EHLO, else what happened."""
    settings = cfg.notify.smtp
    timeout = min(settings.timeout_seconds, 10.0)
    client: smtplib.SMTP | None = None
    try:
        if settings.security == "tls":
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=timeout, context=verifying_context()
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        code, reply = client.ehlo()
        if code != 250:
            return f"EHLO answered {code} {clean(reply.decode(errors='replace'), 200)}"
        return None
    except (smtplib.SMTPException, OSError, ssl.SSLError, ValueError, UnicodeError) as exc:
        return clean(str(exc) or type(exc).__name__, 200)
    finally:
        hang_up(client)


def check_notify(cfg: Config, opts: Options) -> Result:
    title = "Notifications"
    smtp = cfg.notify.smtp
    problems, fixes, good = [], [], []
    if cfg.notify.to is None:
        problems.append("notify.to is not set: no card reaches the team")
        fixes.append(f"set notify.to in {cfg.path} to the board's address")
    else:
        good.append(f"notify.to {cfg.notify.to}")
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
    refused = _ehlo(cfg)
    if refused:
        problems.append(f"SMTP {smtp.host}:{smtp.port} ({smtp.security}): {refused}")
        fixes.append("check notify.smtp and that the server runs; certkeeper notify test")
    else:
        good.append(f"SMTP {smtp.host}:{smtp.port} answers EHLO")
    if opts.send_test and cfg.notify.to is not None:
        from certkeeper.notify import send_test
        from certkeeper.times import now

        delivered, transcript = send_test(cfg, now())
        last = clean(transcript[-1] if transcript else "", 200)
        if delivered:
            good.append(f"test notice {last}")
        else:
            problems.append(f"test notice {last}")
            fixes.append("certkeeper notify test shows the whole exchange")
    if problems:
        return Result("notify", title, "", False, "; ".join(problems + good), "; ".join(fixes))
    return Result("notify", title, "", True, "; ".join(good))
