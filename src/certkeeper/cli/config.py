"""`certkeeper config validate|show`: check or print the configuration."""

from __future__ import annotations

import os
from pathlib import Path

import click
import yaml

from certkeeper import sandbox
from certkeeper.actions import config as config_action
from certkeeper.cli.wrapper import Run, command, say, say_line
from certkeeper.config import config_path
from certkeeper.errors import ConfigError


@click.group("config")
def config() -> None:
    """Check or print the configuration (global file plus services_dir/*.yaml)."""


@command("validate")
@click.option(
    "--service-file",
    metavar="CANDIDATE",
    help="Check only this file, as if it were services_dir/NAME.yaml (with --as NAME), "
    "against the other live service files; for Ansible's validate: before it replaces "
    "the live file. Problems elsewhere are warnings.",
)
@click.option("--as", "as_name", metavar="NAME", help="The service CANDIDATE would be.")
def config_validate(run: Run, service_file: str | None, as_name: str | None) -> int:
    """Load every file and report every problem, one line each. Exit 0 valid, 2 invalid.

    Also warns (on stderr, exit code unchanged) about every configured path that the
    installed certkeeper.service's sandbox would not let the job write, and about a
    service whose certbot_renewal_days its certificate on disk cannot honour."""
    if service_file is not None or as_name is not None:
        return _validate_candidate(run, service_file, as_name)
    found = config_action.validate(run.config(), Path(os.environ.get(sandbox.ROOT_ENV) or "/"))
    say_line(f"OK: {found.path}: {found.services} service(s), {found.certificates} certificate(s)")
    if found.unsent:
        say_line(f"WARNING: {found.unsent}", err=True)
    for mistake in found.mistakes:
        say_line(f"WARNING: {mistake}", err=True)
    for line in found.windows:
        say_line(f"warning: {line}", err=True)
    for item in found.blocked:
        say_line(item.warning(), err=True)
    return 0


def _validate_candidate(run: Run, service_file: str | None, as_name: str | None) -> int:
    if not service_file or not as_name:
        raise ConfigError(["certkeeper: --service-file CANDIDATE and --as NAME go together"])
    found = config_action.validate_candidate(
        config_path(run.config_arg), Path(service_file), as_name
    )
    for line in found.warnings:
        say_line(f"WARNING: {line}", err=True)
    say_line(f"OK: {service_file} as {found.target}: {found.certificates} certificate(s)")
    return 0


@command("show")
def config_show(run: Run) -> int:
    """Print the effective configuration as YAML, defaults filled in. Secrets are never shown."""
    say(yaml.safe_dump(config_action.show(run.config()), sort_keys=False), nl=False)
    return 0


config.add_command(config_validate)
config.add_command(config_show)
