"""`certkeeper check`: the twice-daily job."""

from __future__ import annotations

import sys

import click

from certkeeper import render
from certkeeper.actions import check as check_action
from certkeeper.cli.wrapper import ONLY_HELP, Run, command, say_line
from certkeeper.log import get_logger
from certkeeper.render import metrics as metrics_words


@command()
@click.option("--only", metavar="NAME", help=ONLY_HELP)
@click.option(
    "--no-jitter",
    is_flag=True,
    help="Start now instead of after a random 0..jitter_seconds delay (the systemd "
    "timer passes this; a terminal never waits).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be done; change and send nothing.")
@click.option(
    "--force",
    is_flag=True,
    help="Ignore the one-certbot-attempt-per-20-hours guard and any rate-limit "
    "back-off. Each forced attempt counts against Let's Encrypt's limits.",
)
def check(run: Run, only: str | None, no_jitter: bool, dry_run: bool, force: bool) -> int:
    """The twice-daily job: renew what is due, reload nginx, verify, notify.

    A certificate is due when its remaining lifetime (earliest of what nginx serves and
    what is on disk) is below certbot_renewal_days (1/3 of the lifetime, 1/2 under 10
    days, when those days would cover more than half of it), or earlier when the CA's
    ARI window says so; a window already in the past renews now. A renewal is reported
    SUCCESS only when the disk certificate changed, nginx -t passed, nginx was reloaded
    and a TLS probe shows the new certificate on every name; anything else is an ERROR
    notice naming the step. If nginx serves an older certificate than the disk one, nginx is
    reloaded (MISMATCH repair).

    Prints nothing when there is nothing to do. Exit: 0 nothing due or all verified,
    1 any failure (or another run holds the lock), 2 usage or configuration error.
    """
    flags = check_action.CheckFlags(
        dry_run=dry_run,
        force=force,
        no_jitter=no_jitter,
        interactive=sys.stdin.isatty(),
        tell=lambda text: say_line(text, err=True),
        metrics_words=metrics_words.text,
    )
    result = check_action.check(run.config(), only, flags)
    lines, problems = render.check_lines(result.outcomes)
    delivered, undelivered = render.flushed(result.flushed, quiet=True)
    lines += delivered + result.lines
    problems += undelivered + result.problems
    if dry_run and not lines:
        lines = ["nothing to do: no certificate is due"]
    for line in result.warnings:
        say_line(f"WARNING: {line}", err=True)
    for line in lines:
        say_line(line)
    for line in problems:
        say_line(f"ERROR: {line}", err=True)
    if not dry_run and (lines or problems):
        get_logger(command="check").info(
            "check.done", exit_code=result.exit_code, lines=lines, problems=problems
        )
    return result.exit_code
