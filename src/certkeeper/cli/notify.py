"""`certkeeper notify test|flush|outbox`: the notices, on every channel (e-mail, webhook)."""

from __future__ import annotations

import click

from certkeeper import render
from certkeeper.actions import notify as notify_action
from certkeeper.cli.wrapper import Run, command, say_line
from certkeeper.times import now


@click.group("notify")
def notify() -> None:
    """Notices on every channel: test delivery, look at and flush the outbox."""


@command("test")
def notify_test(run: Run) -> int:
    """Send a test notice to notify.to now and print each step of the SMTP exchange.
    Exit 0 delivered, 1 not (the server's reply is shown), 2 usage or configuration error."""
    ok, transcript = notify_action.send_test(run.config(), now())
    for line in transcript:
        say_line(line, err=not ok)
    return 0 if ok else 1


@command("flush")
def notify_flush(run: Run) -> int:
    """Try to deliver every notice waiting in the outbox now (check does this on every run)."""
    result = notify_action.flush(run.config(), now())
    lines, problems = render.flushed(result)
    for line in lines:
        say_line(line)
    for line in problems:
        say_line(f"ERROR: {line}", err=True)
    return result.exit_code


@command("outbox")
def notify_outbox(run: Run) -> int:
    """List the notices waiting in <state_dir>/outbox and why each is still there."""
    view = notify_action.outbox(run.config(), now())
    for line in render.outbox(view):
        say_line(line)
    return view.exit_code


for _command in (notify_test, notify_flush, notify_outbox):
    notify.add_command(_command)
