"""`status`, `metrics` and `report`: the commands that look and change nothing.

Each parses, calls its action, and renders; cli.py adds them to the command group.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from certkeeper.cli_base import (
    ONLY_HELP,
    STATUS_UNKNOWN,
    loaded,
    say,
    say_line,
)

if TYPE_CHECKING:
    from certkeeper.config import Config


def _preload_trust_store() -> None:
    from certkeeper.tlsctx import preload_trust_store

    # Every row gets a trust verdict: build the verifying context (which may parse a CA
    # bundle, tlsctx.py) on the other core while the config is parsed, not after it.
    preload_trust_store()


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output with stable keys.")
@click.option("--only", metavar="NAME", help=ONLY_HELP)
@click.option(
    "--wide", is_flag=True, help="Every cell whole, however wide (lines fit 120 columns otherwise)."
)
@click.pass_obj
@loaded(STATUS_UNKNOWN, before=_preload_trust_store)
def status(cfg: Config, as_json: bool, only: str | None, wide: bool) -> int:
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
      0 all OK   1 DUE or WARN   2 EXPIRED/UNREACHABLE/MISSING/MISMATCH/NOT_COVERED
      3 configuration error
    """
    from certkeeper import render
    from certkeeper.actions import status as status_action
    from certkeeper.times import now

    result = status_action.run(cfg, only, now())
    for line in result.warnings:
        say_line(f"warning: {line}", err=True)
    if as_json:
        say(render.status_json(result, host=cfg.hostname))
    else:
        from certkeeper import terminal
        from certkeeper.cli_base import fit

        # render.status_table escapes each cell itself (before padding and colours).
        table = render.status_table(result, colour=terminal.colour_wanted(sys.stdout), wide=wide)
        click.echo(fit(table, err=False))
    return result.exit_code


@click.command()
@click.option(
    "--output",
    "-o",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write FILE atomically, mode 0644, instead of printing (node_exporter's textfile "
    "folder: /var/lib/prometheus/node-exporter/certkeeper.prom).",
)
@click.pass_obj
@loaded()
def metrics(cfg: Config, output: Path | None) -> int:
    """Print every certificate, renewal and check-run fact in the Prometheus text format,
    for node_exporter's textfile collector. Probes like `status`; changes nothing else.

    Every `check` writes the same to metrics_file when the config sets it. Alert rules
    that use each certificate's lifetime: examples/prometheus/certkeeper.rules.yml.
    Exit: 0 written, 1 FILE could not be written, 2 configuration error.
    """
    from certkeeper.actions import metrics as metrics_action
    from certkeeper.times import now

    text = metrics_action.run(cfg, now())
    if output is None:
        say(text, nl=False)
        return 0
    try:
        metrics_action.write(output, text)
    except OSError as exc:
        say_line(f"certkeeper: cannot write {output}: {exc.strerror or exc}", err=True)
        return 1
    return 0


@click.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--max-age",
    default="36h",
    show_default=True,
    metavar="AGE",
    help="A host whose status is older than this is STALE (exit 3): 36h, 90m, 2d, 3600.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def report(files: tuple[str, ...], max_age: str, as_json: bool) -> None:
    """Merge the `certkeeper status --json` output of many hosts into one fleet table,
    worst first. FILE is one host's output, or JSON lines (one host per line); `-` reads
    standard input. Needs no certkeeper config: run it on the control node.

    \b
    Gather and report in one go: ansible-playbook examples/ansible/fleet-status.yml
    By hand:  for h in app1 app2; do ssh $h certkeeper status --json; done | certkeeper report -

    \b
    Exit: the worst row decides, as in `status`: 0 OK, 1 DUE or WARN,
      2 EXPIRED/UNREACHABLE/MISSING/MISMATCH/NOT_COVERED (outranks 3),
      3 a host is STALE or an input is not status output (named on stderr).
    """
    from certkeeper.actions import report as report_action

    try:
        age = report_action.parse_age(max_age)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-age") from None
    fleet = report_action.run(list(files), sys.stdin, age, report_action.utc_now())
    # Other hosts' answers are input like any other: escaped on the way to the terminal.
    for line in fleet.errors:
        say_line(f"certkeeper report: {line}", err=True)
    say(report_action.as_json(fleet) if as_json else report_action.table(fleet))
    sys.exit(fleet.exit_code)
