"""`certkeeper doctor`: the guide's troubleshooting, each check with its fix."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from certkeeper import config, sandbox
from certkeeper import names as name_checks
from certkeeper.actions import doctor as doctor_action
from certkeeper.cli.exits import Code
from certkeeper.cli.hook_argv import this_certkeeper
from certkeeper.cli.wrapper import Run, command, say, say_line
from certkeeper.errors import ConfigError
from certkeeper.render import doctor as words
from certkeeper.value import Value


class Dns(Value):
    """Where doctor's DNS questions lead: --resolve's answers and --nameserver's server."""

    resolve: dict[str, str]
    nameserver: str | None


def _where_dns_leads(func: Callable[..., int]) -> Callable[..., int]:
    """--resolve and --nameserver, parsed and checked, handed to the command as one Dns."""

    @click.option(
        "--resolve",
        "resolve",
        multiple=True,
        metavar="NAME:ADDR",
        help="Take ADDR as NAME's address instead of asking DNS, like curl's --resolve "
        "(to see where Let's Encrypt would land before DNS changes, or in tests). Repeatable.",
    )
    @click.option(
        "--nameserver",
        metavar="ADDR[:PORT]",
        help="Ask this DNS server for CAA records instead of dns.nameserver, like dig @server.",
    )
    @functools.wraps(func)
    def parsed(*args: Any, resolve: tuple[str, ...], nameserver: str | None, **kw: Any) -> int:
        try:
            names = doctor_action.parse_resolve(resolve)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--resolve") from None
        try:
            server = None if nameserver is None else name_checks.nameserver(nameserver)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--nameserver") from None
        return func(*args, dns=Dns(names, server), **kw)

    return parsed


@command()
@click.argument("service", required=False, metavar="[SERVICE]")
@click.option(
    "--json", "as_json", is_flag=True, help="One object per check: check, ok, finding, fix."
)
@click.option(
    "--send-test",
    is_flag=True,
    help="Also send a test notice to notify.to (otherwise doctor sends nothing).",
)
@_where_dns_leads
@click.option(
    "--timeout",
    "budget",
    type=click.FloatRange(1, 600),
    default=20,
    show_default=True,
    metavar="SECONDS",
    help="A check still running after this is reported as timed out.",
)
def doctor(
    run: Run,
    service: str | None,
    as_json: bool,
    send_test: bool,
    dns: Dns,
    budget: float,
) -> int:
    """Run the guide's troubleshooting in seconds and say what to fix: config, DNS,
    the HTTP-01 path through this host's nginx (a test token, always removed), the
    webroot under the unit's sandbox, nginx -t, certbot's lineage and renewal conf, the
    symlinks, disk vs served, CAA for every name, the deploy hook, the timer or cron
    line, notifications (outbox, SMTP EHLO) and the last attempt with certbot's log.

    SERVICE limits it to one service (its file name in services_dir, or a cert_name).
    Changes nothing else, never asks the CA, sends nothing unless --send-test.
    Exit: 0 every check passed, 1 any failed or could not run (needs root), 2 a usage
    or configuration error (or an unknown SERVICE) stopped it before any check.
    """
    try:
        cfg = run.config()
        services = config.select(cfg, service)
    except (ConfigError, PermissionError) as exc:
        # Said as doctor's own Config check, with its fix; it stopped doctor before any
        # other check: a config error (or an unknown SERVICE) is 2, a config this user may
        # not read is a check that could not run, 1.
        results = doctor_action.config_failed(exc)
        _said(results, as_json)
        return Code.FAILED if all(r.could_not_run for r in results) else Code.USAGE
    opts = doctor_action.Options(
        resolve=dns.resolve,
        send_test=send_test,
        budget=budget,
        root=Path(os.environ.get(sandbox.ROOT_ENV) or "/"),
        certkeeper_argv=tuple(this_certkeeper(run)),
        config_arg=run.config_arg,
        nameserver=dns.nameserver,
    )
    results = doctor_action.doctor(cfg, services, opts)
    _said(results, as_json)
    return doctor_action.exit_code(results)


def _said(results: list[doctor_action.Result], as_json: bool) -> None:
    if as_json:
        say(words.as_json(results))
    else:
        for line in words.text(results):
            say_line(line)
