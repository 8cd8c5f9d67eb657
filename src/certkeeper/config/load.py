"""Load the global file: every key read through the key table, then the checks that
look at more than one key, then the service files. Nothing runs until all of it passed."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from certkeeper import names
from certkeeper.config.checker import Checker, load_yaml, show
from certkeeper.config.keys import GLOBAL_KEYS, children, in_section
from certkeeper.config.model import (
    AriSettings,
    CaSettings,
    CertbotSettings,
    Config,
    DnsSettings,
    Mistake,
    NginxSettings,
    NotifySettings,
    ProbeSettings,
    Service,
    SmtpSettings,
    WebhookSettings,
)
from certkeeper.config.services import load_services
from certkeeper.errors import ConfigError

DEFAULT_CONFIG_PATH = Path("/etc/certkeeper/config.yaml")
CONFIG_ENV = "CERTKEEPER_CONFIG"


def config_path(cli_value: str | None) -> Path:
    if cli_value:
        return Path(cli_value)
    env = os.environ.get(CONFIG_ENV)
    return Path(env) if env else DEFAULT_CONFIG_PATH


def default_hostname() -> str:
    return socket.gethostname().split(".")[0] or "localhost"


def load(path: Path) -> Config:
    """Load the global file and every service file; raise ConfigError listing every problem."""
    path = path.absolute()
    chk = Checker(path)
    values = read_keys(chk, load_yaml(path))
    cross_checks(chk, values)
    problems = list(chk.problems)
    services: tuple[Service, ...] = ()
    try:
        services = load_services(values["services_dir"])
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return build(path, values, services, _mistakes(chk))


# What a mistake in a section costs, said after the mistake itself.
_HELD = "; notices wait in the outbox until it is fixed (the password is not read)"


def _mistakes(chk: Checker) -> tuple[Mistake, ...]:
    return tuple(
        Mistake(key, text + (_HELD if key.startswith("notify.") else ""))
        for key, text in chk.mistakes
    )


def read_keys(chk: Checker, raw: Any) -> dict[str, Any]:
    """Every global key's checked value (or its default), by dotted path.

    Each section is checked as a mapping, and for unknown keys, when its first key is
    read, so its problems come in the table's order."""
    sections: dict[str, Mapping[str, Any]] = {}
    values: dict[str, Any] = {}
    for key in GLOBAL_KEYS:
        values[key.path] = chk.read(_section(chk, sections, raw, key.section), key, key.section)
    return values


def _section(
    chk: Checker, sections: dict[str, Mapping[str, Any]], raw: Any, name: str
) -> Mapping[str, Any]:
    if name not in sections:
        if name:
            parent, _, leaf = name.rpartition(".")
            data = chk.mapping(_section(chk, sections, raw, parent).get(leaf), name)
        else:
            data = chk.mapping(raw, "")
        chk.unknown_keys(data, children(name), name)
        sections[name] = data
    return sections[name]


def cross_checks(chk: Checker, values: dict[str, Any]) -> None:
    """What one key alone cannot say; fills in the host name when it is not set."""
    if values["hostname"] is None:
        hostname = default_hostname()
        if names.has_control_chars(hostname) or not hostname.isascii():
            # The kernel takes any bytes as a host name; this one would reach every subject.
            chk.problems.append(
                f"{chk.file}: hostname is not set and the system host name {show(hostname)}"
                " holds control or non-ASCII characters: expected hostname set to e.g. app3"
            )
        values["hostname"] = hostname
    if values["notify.smtp.password_file"] is not None and values["notify.smtp.username"] is None:
        chk.bad("notify.smtp.username", None, "a user name, since password_file is set")
    ca_file = values["ari.ca_file"]
    if ca_file is not None and not ca_file.is_file():
        # ARI only ever brings a renewal forward: without it the team's rule still renews.
        chk.mistake(
            "ari.ca_file",
            f"{chk.file}: ari.ca_file = {str(ca_file)!r}: expected a readable PEM file of"
            " CA certificates; ARI is skipped until it is fixed (the team's rule still renews)",
        )


def fields(values: Mapping[str, Any], section: str) -> dict[str, Any]:
    """One section's values by the model's field names (sub-sections not included)."""
    return {key.field: values[key.path] for key in in_section(section)}


def build(
    path: Path,
    values: Mapping[str, Any],
    services: tuple[Service, ...],
    mistakes: tuple[Mistake, ...],
) -> Config:
    held = [m.text for m in mistakes if m.key.startswith("notify.smtp.")]
    hooked = [m.text for m in mistakes if m.key.startswith("notify.webhook.")]
    skipped = [m.text for m in mistakes if m.key.startswith("ari.")]
    smtp = SmtpSettings(**fields(values, "notify.smtp"), held=held[0] if held else None)
    return Config(
        path=path,
        certbot=CertbotSettings(**fields(values, "certbot")),
        nginx=NginxSettings(**fields(values, "nginx")),
        probe=ProbeSettings(**fields(values, "probe")),
        notify=NotifySettings(
            smtp=smtp,
            webhook=WebhookSettings(
                **fields(values, "notify.webhook"), held=hooked[0] if hooked else None
            ),
            **fields(values, "notify"),
        ),
        ari=AriSettings(**fields(values, "ari"), skipped=skipped[0] if skipped else None),
        ca=CaSettings(**fields(values, "ca")),
        dns=DnsSettings(**fields(values, "dns")),
        services=services,
        mistakes=mistakes,
        **fields(values, ""),
    )
