"""Command line: parse, call one action, render, exit by the one table. No decisions here.

The group knows its commands by name only (COMMANDS): a command's module, and with it its
action, is imported when that command runs, so `--version` and `--help` import click and
this package, and `status` only what status needs. Every command runs in wrapper.py's
guard and exits by exits.py's table.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple

import click

from certkeeper import __version__, reaper
from certkeeper.cli import exits, wrapper


class Lazy(NamedTuple):
    module: str  # certkeeper.cli.<module>, whose attribute of the command's name is the command
    summary: str  # its line in `certkeeper --help`, shown without importing it


COMMANDS = {
    "check": Lazy("check", "The timer's job: renew what is due, deploy, verify, notify."),
    "config": Lazy("config", "Check (validate) or print (show) the configuration."),
    "deploy-hook": Lazy("deploy_hook", "Run by certbot after it renewed: deploy, verify, notify."),
    "doctor": Lazy("doctor", "Find what is wrong and say how to fix it."),
    "install-hook": Lazy("install_hook", "Write certbot's deploy hook that runs deploy-hook."),
    "metrics": Lazy("metrics", "Every certificate and run fact, for Prometheus."),
    "notify": Lazy("notify", "Notices on every channel: test, flush, or list the outbox."),
    "rehearse": Lazy("rehearse", "Rehearse the renewals now against the CA's staging server."),
    "report": Lazy("report", "Merge many hosts' `status --json` into one fleet table."),
    "status": Lazy("status", "What nginx serves, what is on disk, days left (Nagios plugin)."),
}


class LazyGroup(click.Group):
    """The root: commands imported when run, and usage errors of its own (an unknown
    command, a bad global option) shortened as the commands' are."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            raise wrapper.shortened(exc) from None

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            raise wrapper.shortened(exc) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        lazy = COMMANDS.get(cmd_name)
        if lazy is None:
            return None
        module = importlib.import_module(f"certkeeper.cli.{lazy.module}")
        found: click.Command = getattr(module, lazy.module)
        return found

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, lazy.summary) for name, lazy in sorted(COMMANDS.items())])

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Exit codes"):
            formatter.write_dl(exits.help_rows())


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="certkeeper")
@click.option(
    "--config",
    "-c",
    metavar="PATH",
    envvar="CERTKEEPER_CONFIG",
    help=wrapper.CONFIG_HELP,
)
@click.option("--verbose", "-v", is_flag=True, help=wrapper.VERBOSE_HELP)
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

    The global options may also follow the command: certkeeper status --config PATH.
    """
    ctx.obj = wrapper.Run(config, verbose)


def main(argv: list[str] | None = None, **kwargs: Any) -> None:
    # Whatever certbot or a hook starts stays ours to kill at the timeout, even after
    # setsid or a double fork (proc.py). Asked for here, not in proc: only the real
    # certkeeper process adopts orphans, never a program that imports certkeeper.
    reaper.want()
    wrapper.own_process = True
    cli.main(args=argv, prog_name="certkeeper", **kwargs)


__all__ = ["cli", "main"]
