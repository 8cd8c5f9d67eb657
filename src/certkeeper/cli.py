"""Command line: parse, call `app`, render. No decisions live here.

Only click is imported at start so `certkeeper --version` and `--help` are
instant; everything else is imported by the command that needs it.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from certkeeper import __version__

if TYPE_CHECKING:
    from certkeeper.app import CheckResult
    from certkeeper.config import Config

CONFIG_ERROR = 2
STATUS_UNKNOWN = 3  # monitoring-plugin UNKNOWN


class Ctx:
    def __init__(self, config: str | None, verbose: bool) -> None:
        self.config_arg = config
        self.verbose = verbose

    def load(self, error_code: int = CONFIG_ERROR, tag: str = "certkeeper") -> Config:
        from certkeeper import config, log
        from certkeeper.errors import ConfigError

        log.configure(tag=tag, verbose=self.verbose)
        try:
            return config.load(config.config_path(self.config_arg))
        except ConfigError as exc:
            fail(exc.problems, error_code)


def say(text: str, err: bool = False, nl: bool = True) -> None:
    """A block of our own lines. Everything a person reads goes out through say() or
    say_line(), escaped: certificates, certbot, SMTP servers and file names are written
    by others and must not drive the terminal (terminal.py says how)."""
    from certkeeper import terminal

    click.echo(terminal.lines(text), err=err, nl=nl)


def say_line(text: str, err: bool = False) -> None:
    """One item (a problem, a result line): a LF inside it is escaped too, so nothing
    it quotes can start a line of its own that looks like ours."""
    from certkeeper import terminal

    click.echo(terminal.line(text), err=err)


def fail(lines: list[str], code: int) -> NoReturn:
    for line in lines:
        say_line(line, err=True)
    sys.exit(code)


def guarded(func: Callable[[], int], error_code: int = CONFIG_ERROR) -> NoReturn:
    """Run a command body; expected failures become one line on stderr, never a traceback."""
    from certkeeper.errors import ConfigError, LockBusy

    try:
        code = func()
    except ConfigError as exc:
        fail(exc.problems, error_code)
    except LockBusy as exc:
        fail([f"certkeeper: {exc}"], 1 if error_code == CONFIG_ERROR else STATUS_UNKNOWN)
    except PermissionError as exc:
        fail(
            [f"certkeeper: permission denied: {exc.filename} (run as root?)"],
            1 if error_code == CONFIG_ERROR else STATUS_UNKNOWN,
        )
    except Exception as exc:  # the last guard: never a traceback on the terminal
        from certkeeper.log import get_logger

        get_logger().exception("internal_error", error=repr(exc)[:500])
        fail(
            [
                f"certkeeper: internal error: {type(exc).__name__}: {str(exc)[:200]} "
                "(the traceback is in syslog: journalctl -t certkeeper -n 50)"
            ],
            1 if error_code == CONFIG_ERROR else STATUS_UNKNOWN,
        )
    sys.exit(code)


def show(result: CheckResult) -> int:
    """What happened on stdout, what went wrong on stderr; the exit code to return."""
    for line in result.lines:
        say_line(line)
    for line in result.problems:
        say_line(f"ERROR: {line}", err=True)
    return result.exit_code


ONLY_HELP = (
    "Limit to one service: its file name in services_dir without .yaml, the old "
    "cron spelling cert_renewal_<service> / cert_expiry_<service>, or a cert_name "
    "(as an ERROR card prints it)."
)


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
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output with stable keys.")
@click.option("--only", metavar="NAME", help=ONLY_HELP)
@click.pass_obj
def status(obj: Ctx, as_json: bool, only: str | None) -> None:
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
    from certkeeper.probe import preload_trust_store

    # Every row gets a trust verdict: load the CA store on the other core while the
    # config is parsed, instead of after it.
    preload_trust_store()
    cfg = obj.load(STATUS_UNKNOWN)

    def body() -> int:
        from certkeeper import app, render
        from certkeeper.survey import probe_view

        result = app.status(cfg, only)
        view = probe_view(cfg)
        for line in result.warnings:
            say_line(f"warning: {line}", err=True)
        if as_json:
            say(
                render.status_json(
                    result.rows,
                    result.outbox_waiting,
                    view,
                    host=cfg.hostname,
                    generated_at=app.now(),
                    quarantined=result.quarantined,
                )
            )
        else:
            # render.status_table escapes each cell itself (before padding and colours).
            click.echo(
                render.status_table(
                    result.rows,
                    result.outbox_waiting,
                    colour=sys.stdout.isatty(),
                    view=view,
                    quarantined=result.quarantined,
                )
            )
        return result.exit_code

    guarded(body, STATUS_UNKNOWN)


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
def check(obj: Ctx, only: str | None, no_jitter: bool, dry_run: bool, force: bool) -> None:
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
    cfg = obj.load()

    def body() -> int:
        from certkeeper import render
        from certkeeper.actions import check as check_action

        result = check_action.check(
            cfg,
            only,
            dry_run=dry_run,
            force=force,
            no_jitter=no_jitter,
            interactive=sys.stdin.isatty(),
        )
        lines, problems = render.check_lines(result.outcomes)
        lines += result.lines
        problems += result.problems
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

    guarded(body)


@cli.command()
@click.option(
    "--output",
    "-o",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write FILE atomically, mode 0644, instead of printing (node_exporter's textfile "
    "folder: /var/lib/prometheus/node-exporter/certkeeper.prom).",
)
@click.pass_obj
def metrics(obj: Ctx, output: Path | None) -> None:
    """Print every certificate, renewal and check-run fact in the Prometheus text format,
    for node_exporter's textfile collector. Probes like `status`; changes nothing else.

    Every `check` writes the same to metrics_file when the config sets it. Alert rules
    that use each certificate's lifetime: examples/prometheus/certkeeper.rules.yml.
    Exit: 0 written, 1 FILE could not be written, 2 configuration error.
    """
    cfg = obj.load()

    def body() -> int:
        from certkeeper import app
        from certkeeper.actions import metrics as metrics_action

        text = metrics_action.run(cfg, app.now())
        if output is None:
            say(text, nl=False)
            return 0
        try:
            metrics_action.write(output, text)
        except OSError as exc:
            say_line(f"certkeeper: cannot write {output}: {exc.strerror or exc}", err=True)
            return 1
        return 0

    guarded(body)


@cli.command()
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


@cli.command("deploy-hook")
@click.pass_obj
def deploy_hook(obj: Ctx) -> None:
    """Run by certbot after it renewed a certificate (RENEWED_LINEAGE is set).

    Points the nginx symlinks (<service>.fullchain.crt, .ca-bundle.crt, .key in
    nginx.certs_dir) at the new lineage, runs nginx -t and, only if it passes, the
    reload; then probes that nginx serves the new certificate and notifies. Logs to
    syslog as certbot-deploy: journalctl -t certbot-deploy -n 50
    """
    cfg = obj.load(tag="certbot-deploy")

    def body() -> int:
        from certkeeper.actions.deploy_hook import deploy_hook as run_hook
        from certkeeper.errors import HookRefused

        try:
            message, code = run_hook(cfg, os.environ.get("RENEWED_LINEAGE"))
        except HookRefused as exc:
            say_line(f"certkeeper deploy-hook: {exc}", err=True)
            return 2
        say(message, err=code != 0)
        return code

    guarded(body)


@cli.command("install-hook")
@click.pass_obj
def install_hook(obj: Ctx) -> None:
    """Write <certbot.config_dir>/renewal-hooks/deploy/certkeeper.sh so that renewals made
    by certbot itself are deployed and verified too. Safe to run again."""
    cfg = obj.load()

    def body() -> int:
        from certkeeper import hook

        path, changed = hook.install(cfg, this_certkeeper(obj))
        say_line(f"{'wrote' if changed else 'unchanged'}: {path}")
        return 0

    guarded(body)


def this_certkeeper(obj: Ctx) -> list[str]:
    """This certkeeper as the deploy hook script runs it (install-hook writes, doctor checks)."""
    exe = shutil.which("certkeeper")
    argv = [exe] if exe else [sys.executable, "-m", "certkeeper"]
    if obj.config_arg:
        argv += ["--config", str(Path(obj.config_arg).absolute())]
    return argv


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
    budget: float,
) -> None:
    """Run the guide's troubleshooting in seconds and say what to fix: config, DNS,
    the HTTP-01 path through this host's nginx (a test token, always removed), the
    webroot under the unit's sandbox, nginx -t, certbot's lineage and renewal conf, the
    symlinks, disk vs served, the deploy hook, the timer or cron line, notifications
    (outbox, SMTP EHLO) and the last attempt with certbot's log.

    SERVICE limits it to one service (its file name in services_dir, or a cert_name).
    Changes nothing else, never asks the CA, sends nothing unless --send-test.
    Exit: 0 every check passed, 1 any failed.
    """
    from certkeeper import config, log, sandbox
    from certkeeper.actions import doctor as doctor_action
    from certkeeper.errors import ConfigError

    def emit(results: list[doctor_action.Result]) -> int:
        if as_json:
            say(doctor_action.as_json(results))
        else:
            for line in doctor_action.text(results):
                say_line(line)
        return doctor_action.exit_code(results)

    try:
        names = doctor_action.parse_resolve(resolve)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--resolve") from None

    def body() -> int:
        log.configure(tag="certkeeper", verbose=obj.verbose)
        try:
            cfg = config.load(config.config_path(obj.config_arg))
            services = config.select(cfg, service)
        except ConfigError as exc:
            return emit(doctor_action.config_failed(exc.problems))
        opts = doctor_action.Options(
            resolve=names,
            send_test=send_test,
            budget=budget,
            root=Path(os.environ.get(sandbox.ROOT_ENV) or "/"),
            certkeeper_argv=tuple(this_certkeeper(obj)),
            config_arg=obj.config_arg,
        )
        return emit(doctor_action.run(cfg, services, opts))

    guarded(body)


@cli.group("config")
def config_group() -> None:
    """Check or print the configuration (global file plus services_dir/*.yaml)."""


@config_group.command("validate")
@click.pass_obj
def config_validate(obj: Ctx) -> None:
    """Load every file and report every problem, one line each. Exit 0 valid, 2 invalid.

    Also warns (on stderr, exit code unchanged) about every configured path that the
    installed certkeeper.service's sandbox would not let the job write, and about a
    service whose certbot_renewal_days its certificate on disk cannot honour."""
    cfg = obj.load()
    count = sum(len(s.lineages) for s in cfg.services)
    say_line(f"OK: {cfg.path}: {len(cfg.services)} service(s), {count} certificate(s)")
    from certkeeper import app

    unsent = app.unsent_warning(cfg)
    if unsent:
        say_line(f"WARNING: {unsent}", err=True)
    for line in app.config_warnings(cfg):
        say_line(f"warning: {line}", err=True)
    # The job runs under certkeeper.service's sandbox, not as this shell: say now what
    # it will not be allowed to write, instead of certbot saying it at 03:00.
    from certkeeper import sandbox

    unit = sandbox.installed_unit(Path(os.environ.get(sandbox.ROOT_ENV) or "/"))
    for item in sandbox.blocked(cfg, unit) if unit is not None else []:
        say_line(item.warning(), err=True)


@config_group.command("show")
@click.pass_obj
def config_show(obj: Ctx) -> None:
    """Print the effective configuration as YAML, defaults filled in. Secrets are never shown."""
    import yaml

    from certkeeper import config

    cfg = obj.load()
    say(yaml.safe_dump(config.as_dict(cfg), sort_keys=False), nl=False)


@cli.group("notify")
def notify_group() -> None:
    """The e-mail notices: test delivery, look at and flush the outbox."""


@notify_group.command("test")
@click.pass_obj
def notify_test(obj: Ctx) -> None:
    """Send a test notice to notify.to now and print each step of the SMTP exchange.
    Exit 0 delivered, 1 not (the server's reply is shown)."""
    cfg = obj.load()

    def body() -> int:
        from certkeeper import app

        ok, transcript = app.notify_test(cfg)
        for line in transcript:
            say_line(line, err=not ok)
        return 0 if ok else 1

    guarded(body)


@notify_group.command("flush")
@click.pass_obj
def notify_flush(obj: Ctx) -> None:
    """Try to deliver every notice waiting in the outbox now (check does this on every run)."""
    cfg = obj.load()

    def body() -> int:
        from certkeeper import app

        return show(app.notify_flush(cfg))

    guarded(body)


@notify_group.command("outbox")
@click.pass_obj
def notify_outbox(obj: Ctx) -> None:
    """List the notices waiting in <state_dir>/outbox and why each is still there."""
    cfg = obj.load()

    def body() -> int:
        from certkeeper import app

        waiting = app.notify_outbox(cfg)
        set_aside = app.notify_quarantine(cfg)
        if not waiting and not set_aside:
            say_line("the outbox is empty")
        for event_id, subject, error in waiting:
            say_line(f"{event_id}  {subject}")
            if error:
                say_line(f"    last attempt: {error}")
        for path, why in set_aside:
            say_line(f"QUARANTINED {path}: {why} (kept for a person; not sent)")
        return 1 if set_aside else 0

    guarded(body)


def main(argv: list[str] | None = None, **kwargs: Any) -> None:
    from certkeeper import reaper

    # Whatever certbot or a hook starts stays ours to kill at the timeout, even after
    # setsid or a double fork (proc.py). Asked for here, not in proc: only the real
    # certkeeper process adopts orphans, never a program that imports certkeeper.
    reaper.want()
    cli.main(args=argv, prog_name="certkeeper", **kwargs)
