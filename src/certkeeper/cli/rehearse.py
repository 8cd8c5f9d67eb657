"""`certkeeper rehearse [SERVICE]`: the renewals, now, against the CA's staging server."""

from __future__ import annotations

import click

from certkeeper import render
from certkeeper.actions.rehearse import rehearse as rehearse_action
from certkeeper.cli.wrapper import Run, command, say_line


@command()
@click.argument("service", required=False, metavar="[SERVICE]")
def rehearse(run: Run, service: str | None) -> int:
    """Rehearse the renewals now against the CA's staging server (rehearsal.server).

    Runs certbot's dry run for each managed certificate of SERVICE (a service, the cron
    spelling or a cert_name; default: all), ignoring the schedule: run it after fixing
    what a "Renewal will fail" card named. Nothing live changes: no certificate, renewal
    conf, hook, nginx or production CA is touched. A failure sends one WARNING card per
    cause; a pass clears it. Exit: 0 all passed, 1 any failed, 2 usage or configuration
    error.
    """
    result = rehearse_action(run.config(), service, tell=lambda text: say_line(text, err=True))
    delivered, undelivered = render.flushed(result.flushed, quiet=True)
    for outcome in result.outcomes:
        say_line(render.rehearsed_line(outcome), err=not outcome.ok)
    for line in delivered:
        say_line(line)
    for line in [*undelivered, *result.problems]:
        say_line(f"ERROR: {line}", err=True)
    return result.exit_code
