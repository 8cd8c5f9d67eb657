"""Command line: parse, call one action, render, map errors to exit codes. No decisions here.

Only click is imported at start so `certkeeper --version` and `--help` are
instant; everything else is imported by the command that needs it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from certkeeper import __version__, cli_base
from certkeeper.cli_base import (
    ONLY_HELP,
    Ctx,
    guarded,
    loaded,
    say,
    say_line,
    this_certkeeper,
)
from certkeeper.cli_notify import notify_group
from certkeeper.cli_views import metrics, report, status

if TYPE_CHECKING:
    from certkeeper.actions import doctor as doctor_action
    from certkeeper.config import Config


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="certkeeper")
@click.option(
    "--config",
    "-c",
    metavar="PATH",
    envvar="CERTKEEPER_CONFIG",
    help="Global config file. Default: $CERTKEEPER_CONFIG, else /etc/certkeeper/config.yaml.",
)
@click.option(
    "--verbose", "-v", is_flag=True, help="Also log to stderr (logs always go to syslog)."
)
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: bool) -> None:
    """certkeeper watches this host's Let's Encrypt certificates, renews them through
    certbot, reloads nginx, proves nginx serves the new certificate, and e-mails the
    team's Trello board.

    \b
    First look at a host:      certkeeper status
    What would the cron do:    certkeeper check --dry-run
    Renew what is due now:     certkeeper check --no-jitter
    Is my config right:        certkeeper config validate
    Can notices get out:       certkeeper notify test
    Something is wrong:        certkeeper doctor [SERVICE]
    """
    ctx.obj = Ctx(config, verbose)


@cli.command()
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
@click.pass_obj
@loaded()
def check(cfg: Config, only: str | None, no_jitter: bool, dry_run: bool, force: bool) -> int:
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
    1 any failure (or another run holds the lock), 2 configuration error.
    """
    from certkeeper import render
    from certkeeper.actions import check as check_action

    result = check_action.check(
        cfg,
        only,
        dry_run=dry_run,
        force=force,
        no_jitter=no_jitter,
        interactive=sys.stdin.isatty(),
        tell=lambda text: say_line(text, err=True),
    )
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
        # A quiet run stays cheap: structlog is only imported when there is news.
        from certkeeper.log import get_logger

        get_logger(command="check").info(
            "check.done", exit_code=result.exit_code, lines=lines, problems=problems
        )
    return result.exit_code


@cli.command("deploy-hook")
@click.pass_obj
@loaded(tag="certbot-deploy")
def deploy_hook(cfg: Config) -> int:
    """Run by certbot after it renewed a certificate (RENEWED_LINEAGE is set).

    Points the nginx symlinks (<service>.fullchain.crt, .ca-bundle.crt, .key in
    nginx.certs_dir) at the new lineage, runs nginx -t and, only if it passes, the
    reload; then probes that nginx serves the new certificate and notifies. Logs to
    syslog as certbot-deploy: journalctl -t certbot-deploy -n 50
    """
    from certkeeper import render
    from certkeeper.actions.deploy_hook import deploy_hook as run_hook
    from certkeeper.errors import HookRefused

    try:
        result = run_hook(cfg, os.environ.get("RENEWED_LINEAGE"))
    except HookRefused as exc:
        say_line(f"certkeeper deploy-hook: {exc}", err=True)
        return 2
    lines = [result.message, *render.undelivered(result.undelivered)]
    say("\n".join(lines), err=result.exit_code != 0)
    return result.exit_code


@cli.command("install-hook")
@click.pass_obj
@loaded()
def install_hook(cfg: Config) -> int:
    """Write <certbot.config_dir>/renewal-hooks/deploy/certkeeper.sh so that renewals made
    by certbot itself are deployed and verified too. Safe to run again."""
    from certkeeper import hook

    obj = click.get_current_context().find_object(Ctx)
    assert obj is not None  # the group always sets it
    path, changed = hook.install(cfg, this_certkeeper(obj))
    say_line(f"{'wrote' if changed else 'unchanged'}: {path}")
    return 0


@cli.command()
@click.argument("service", required=False, metavar="[SERVICE]")
@click.option(
    "--json", "as_json", is_flag=True, help="One object per check: check, ok, finding, fix."
)
@click.option(
    "--send-test",
    is_flag=True,
    help="Also send a test notice to notify.to (otherwise doctor sends nothing).",
)
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
@click.option(
    "--timeout",
    "budget",
    type=click.FloatRange(1, 600),
    default=20,
    show_default=True,
    metavar="SECONDS",
    help="A check still running after this is reported as timed out.",
)
@click.pass_obj
def doctor(
    obj: Ctx,
    service: str | None,
    as_json: bool,
    send_test: bool,
    resolve: tuple[str, ...],
    nameserver: str | None,
    budget: float,
) -> None:
    """Run the guide's troubleshooting in seconds and say what to fix: config, DNS,
    the HTTP-01 path through this host's nginx (a test token, always removed), the
    webroot under the unit's sandbox, nginx -t, certbot's lineage and renewal conf, the
    symlinks, disk vs served, CAA for every name, the deploy hook, the timer or cron
    line, notifications (outbox, SMTP EHLO) and the last attempt with certbot's log.

    SERVICE limits it to one service (its file name in services_dir, or a cert_name).
    Changes nothing else, never asks the CA, sends nothing unless --send-test.
    Exit: 0 every check passed, 1 any failed or could not run (needs root).
    """
    from certkeeper import config, log, sandbox
    from certkeeper.actions import doctor as doctor_action
    from certkeeper.errors import ConfigError

    try:
        names = doctor_action.parse_resolve(resolve)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--resolve") from None
    if nameserver is not None:
        from certkeeper import names as name_checks

        try:
            nameserver = name_checks.nameserver(nameserver)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--nameserver") from None

    def body() -> int:
        log.configure(tag="certkeeper", verbose=obj.verbose)
        try:
            cfg = config.load(config.config_path(obj.config_arg))
            services = config.select(cfg, service)
        except (ConfigError, PermissionError) as exc:
            return _doctor_said(doctor_action.config_failed(exc), as_json)
        opts = doctor_action.Options(
            resolve=names,
            send_test=send_test,
            budget=budget,
            root=Path(os.environ.get(sandbox.ROOT_ENV) or "/"),
            certkeeper_argv=tuple(this_certkeeper(obj)),
            config_arg=obj.config_arg,
            nameserver=nameserver,
        )
        return _doctor_said(doctor_action.run(cfg, services, opts), as_json)

    guarded(body)


def _doctor_said(results: list[doctor_action.Result], as_json: bool) -> int:
    from certkeeper.actions import doctor as doctor_action

    if as_json:
        say(doctor_action.as_json(results))
    else:
        for line in doctor_action.text(results):
            say_line(line)
    return doctor_action.exit_code(results)


@cli.group("config")
def config_group() -> None:
    """Check or print the configuration (global file plus services_dir/*.yaml)."""


@config_group.command("validate")
@click.option(
    "--service-file",
    metavar="CANDIDATE",
    help="Check only this file, as if it were services_dir/NAME.yaml (with --as NAME), "
    "against the other live service files; for Ansible's validate: before it replaces "
    "the live file. Problems elsewhere are warnings.",
)
@click.option("--as", "as_name", metavar="NAME", help="The service CANDIDATE would be.")
@click.pass_obj
def config_validate(obj: Ctx, service_file: str | None, as_name: str | None) -> None:
    """Load every file and report every problem, one line each. Exit 0 valid, 2 invalid.

    Also warns (on stderr, exit code unchanged) about every configured path that the
    installed certkeeper.service's sandbox would not let the job write, and about a
    service whose certbot_renewal_days its certificate on disk cannot honour."""
    from certkeeper import sandbox

    if service_file is not None or as_name is not None:
        _validate_candidate(obj, service_file, as_name)
    from certkeeper.actions import config as config_action

    cfg = obj.load()
    found = config_action.validate(cfg, Path(os.environ.get(sandbox.ROOT_ENV) or "/"))
    say_line(f"OK: {found.path}: {found.services} service(s), {found.certificates} certificate(s)")
    if found.unsent:
        say_line(f"WARNING: {found.unsent}", err=True)
    for mistake in found.mistakes:
        say_line(f"WARNING: {mistake}", err=True)
    for line in found.windows:
        say_line(f"warning: {line}", err=True)
    for item in found.blocked:
        say_line(item.warning(), err=True)


def _validate_candidate(obj: Ctx, service_file: str | None, as_name: str | None) -> NoReturn:
    from certkeeper.actions import config as config_action
    from certkeeper.config import config_path
    from certkeeper.errors import ConfigError

    def body() -> int:
        if not service_file or not as_name:
            raise ConfigError(["certkeeper: --service-file CANDIDATE and --as NAME go together"])
        found = config_action.validate_candidate(
            config_path(obj.config_arg), Path(service_file), as_name
        )
        for line in found.warnings:
            say_line(f"WARNING: {line}", err=True)
        say_line(f"OK: {service_file} as {found.target}: {found.certificates} certificate(s)")
        return 0

    guarded(body)


@config_group.command("show")
@click.pass_obj
def config_show(obj: Ctx) -> None:
    """Print the effective configuration as YAML, defaults filled in. Secrets are never shown."""
    import yaml

    from certkeeper.actions import config as config_action

    cfg = obj.load()
    say(yaml.safe_dump(config_action.show(cfg), sort_keys=False), nl=False)


# Defined in their own modules to keep this one readable; the order of --help is click's
# (alphabetical), not the order of these lines.
cli.add_command(status)
cli.add_command(metrics)
cli.add_command(report)
cli.add_command(notify_group)


def main(argv: list[str] | None = None, **kwargs: Any) -> None:
    from certkeeper import reaper

    # Whatever certbot or a hook starts stays ours to kill at the timeout, even after
    # setsid or a double fork (proc.py). Asked for here, not in proc: only the real
    # certkeeper process adopts orphans, never a program that imports certkeeper.
    reaper.want()
    cli_base.own_process = True
    cli.main(args=argv, prog_name="certkeeper", **kwargs)
