"""`notify test|flush|outbox`: the e-mail notices. cli.py adds the group."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from certkeeper.cli_base import loaded, say_line

if TYPE_CHECKING:
    from certkeeper.config import Config


@click.group("notify")
def notify_group() -> None:
    """The e-mail notices: test delivery, look at and flush the outbox."""


@notify_group.command("test")
@click.pass_obj
@loaded()
def notify_test(cfg: Config) -> int:
    """Send a test notice to notify.to now and print each step of the SMTP exchange.
    Exit 0 delivered, 1 not (the server's reply is shown)."""
    from certkeeper.actions import notify as notify_action
    from certkeeper.times import now

    ok, transcript = notify_action.send_test(cfg, now())
    for line in transcript:
        say_line(line, err=not ok)
    return 0 if ok else 1


@notify_group.command("flush")
@click.pass_obj
@loaded()
def notify_flush(cfg: Config) -> int:
    """Try to deliver every notice waiting in the outbox now (check does this on every run)."""
    from certkeeper import render
    from certkeeper.actions import notify as notify_action
    from certkeeper.times import now

    result = notify_action.flush(cfg, now())
    lines, problems = render.flushed(result)
    for line in lines:
        say_line(line)
    for line in problems:
        say_line(f"ERROR: {line}", err=True)
    return result.exit_code


@notify_group.command("outbox")
@click.pass_obj
@loaded()
def notify_outbox(cfg: Config) -> int:
    """List the notices waiting in <state_dir>/outbox and why each is still there."""
    from certkeeper import render
    from certkeeper.actions import notify as notify_action
    from certkeeper.times import now

    view = notify_action.outbox(cfg, now())
    for line in render.outbox(view):
        say_line(line)
    return view.exit_code
