"""`certkeeper report`: the fleet table, a Nagios plugin like status. Needs no config."""

from __future__ import annotations

import sys

import click

from certkeeper.actions import report as report_action
from certkeeper.cli.exits import PLUGIN
from certkeeper.cli.wrapper import Run, command, say, say_line
from certkeeper.render import report as words
from certkeeper.times import now


@command(contract=PLUGIN)
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option(
    "--max-age",
    default="36h",
    show_default=True,
    metavar="AGE",
    help="A host whose status is older than this is STALE (exit 3): 36h, 90m, 2d, 3600.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def report(_run: Run, files: tuple[str, ...], max_age: str, as_json: bool) -> int:
    """Merge the `certkeeper status --json` output of many hosts into one fleet table,
    worst first. FILE is one host's output, or JSON lines (one host per line); `-` reads
    standard input. Needs no certkeeper config: run it on the control node.

    \b
    Gather and report in one go: ansible-playbook examples/ansible/fleet-status.yml
    By hand:  for h in app1 app2; do ssh $h certkeeper status --json; done | certkeeper report -

    \b
    Exit: the worst row decides, as in `status`: 0 OK, 1 DUE, WARN or PAUSED,
      2 EXPIRED/UNREACHABLE/MISSING/MISMATCH/NOT_COVERED (outranks 3),
      3 a host is STALE, an input is not status output (named on stderr), or report
        could not judge (a usage error, an internal error).
    """
    try:
        age = report_action.parse_age(max_age)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--max-age") from None
    fleet = report_action.report(list(files), sys.stdin, age, now())
    # Other hosts' answers are input like any other: escaped on the way to the terminal.
    for line in fleet.errors:
        say_line(f"certkeeper report: {line}", err=True)
    say(words.as_json(fleet) if as_json else words.table(fleet))
    return fleet.exit_code
