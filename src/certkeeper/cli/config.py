"""`certkeeper config validate|show`: check or print the configuration."""

from __future__ import annotations

import os
from pathlib import Path

import click
import yaml

from certkeeper import sandbox
from certkeeper.actions import config as config_action
from certkeeper.cli.wrapper import Run, command, say, say_line


@click.group("config")
def config() -> None:
    """Check or print the configuration (global file plus services_dir/*.yaml)."""


@command("validate")
def config_validate(run: Run) -> int:
    """Load every file and report every problem, one line each. Exit 0 valid, 2 invalid.

    Also warns (on stderr, exit code unchanged) about every configured path that the
    installed certkeeper.service's sandbox would not let the job write, and about a
    service whose certbot_renewal_days its certificate on disk cannot honour."""
    found = config_action.validate(run.config(), Path(os.environ.get(sandbox.ROOT_ENV) or "/"))
    say_line(f"OK: {found.path}: {found.services} service(s), {found.certificates} certificate(s)")
    if found.unsent:
        say_line(f"WARNING: {found.unsent}", err=True)
    for line in found.windows:
        say_line(f"warning: {line}", err=True)
    for item in found.blocked:
        say_line(item.warning(), err=True)
    return 0


@command("show")
def config_show(run: Run) -> int:
    """Print the effective configuration as YAML, defaults filled in. Secrets are never shown."""
    say(yaml.safe_dump(config_action.show(run.config()), sort_keys=False), nl=False)
    return 0


config.add_command(config_validate)
config.add_command(config_show)
