"""`certkeeper status`: a Nagios plugin; anything it cannot judge is 3 UNKNOWN."""

from __future__ import annotations

import sys

import click

from certkeeper import render, terminal
from certkeeper.actions import status as status_action
from certkeeper.cli.exits import PLUGIN
from certkeeper.cli.wrapper import ONLY_HELP, Run, command, fit, say, say_line
from certkeeper.times import now
from certkeeper.tlsctx import preload_trust_store


@command(contract=PLUGIN)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output with stable keys.")
@click.option("--only", metavar="NAME", help=ONLY_HELP)
@click.option(
    "--wide", is_flag=True, help="Every cell whole, however wide (lines fit 120 columns otherwise)."
)
def status(run: Run, as_json: bool, only: str | None, wide: bool) -> int:
    """Show every certificate this host should serve: what this host's nginx serves (TLS
    probe with SNI on 127.0.0.1; probe.connect_host: dns follows DNS instead), what is on
    disk, days left and what is wrong; then, per certificate, its ACME profile, the
    renewal rule in force (configured days, the lifetime rule, or the CA's ARI window as
    last fetched by check) and the next planned renewal. Changes nothing.

    A service whose certbot_renewal_days its certificate cannot honour (a 31-day window
    on a 6-day certificate) gets a "warning:" line on stderr.

    \b
    States: OK, DUE (inside the renewal window), EXPIRED, MISMATCH (nginx serves
    another certificate than the disk one: renewed but not reloaded), NOT_COVERED
    (served certificate lacks the name), UNREACHABLE, MISSING (no certbot lineage),
    MONITOR/OK|WARN|EXPIRED (certbot_enabled: false services).

    \b
    Exit status (Nagios/Icinga plugin convention):
      0 all OK   1 DUE/WARN/PAUSED
      2 EXPIRED/NOT_YET_VALID/UNREACHABLE/MISSING/MISMATCH/NOT_COVERED
      3 UNKNOWN: could not judge (a usage or configuration error, no service
        configured, an internal error)
    """
    # Every row gets a trust verdict: the verifying context (which may parse a CA bundle,
    # tlsctx.py) is built on the other core while the config is parsed, not after it.
    preload_trust_store()
    cfg = run.config()
    result = status_action.status(cfg, only, now())
    for line in result.warnings:
        say_line(f"warning: {line}", err=True)
    if as_json:
        say(render.status_json(result, host=cfg.hostname))
    else:
        # render.status_table escapes each cell itself (before padding and colours).
        table = render.status_table(result, colour=terminal.colour_wanted(sys.stdout), wide=wide)
        click.echo(fit(table, err=False))
    return result.exit_code
