"""The validated configuration: frozen values, so no later step changes what was checked.

The settings' defaults come from keys.py, the one place they are written: `_defaults`
puts them on the class, so `ProbeSettings()` has the table's defaults and no field here
repeats one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from certkeeper.config.keys import in_section
from certkeeper.value import Value

_T = TypeVar("_T")


def _defaults(section: str) -> Callable[[type[_T]], type[_T]]:
    def apply(cls: type[_T]) -> type[_T]:
        for key in in_section(section):
            setattr(cls, key.field, key.default)
        return cls

    return apply


@_defaults("certbot")
class CertbotSettings(Value):
    """How certbot is run: the `certbot:` section."""

    command: tuple[str, ...]
    config_dir: Path
    extra_args: tuple[str, ...]
    timeout_seconds: float


@_defaults("nginx")
class NginxSettings(Value):
    """How nginx is tested and reloaded: the `nginx:` section."""

    test_command: tuple[str, ...]
    reload_command: tuple[str, ...]
    certs_dir: Path
    timeout_seconds: float


@_defaults("probe")
class ProbeSettings(Value):
    """How the TLS probe reaches nginx: the `probe:` section."""

    port: int
    # Where this host's nginx answers plain HTTP (the HTTP-01 challenge): 80 in production,
    # a free port in tests. `doctor` fetches its test token there.
    http_port: int
    # "local": this host's nginx on loopback, by SNI (hosts come in pairs that serve the
    # same names, so following DNS may land on the other host). "dns": follow public DNS,
    # an explicit opt-in. Anything else: that host or address.
    connect_host: str
    timeout_seconds: float
    # Probes at once; sized for the network, not the cores (keys.py says why).
    concurrency: int


@_defaults("ari")
class AriSettings(Value):
    """ACME Renewal Information: ask the CA when to renew (RFC 9773)."""

    enabled: bool
    # The CA bundle trusted for the ARI request; None: the system store. A test CA
    # (pebble's) or a private ACME server needs its own.
    ca_file: Path | None
    timeout_seconds: float
    # Why ARI is not asked this run (ca_file is missing); the team's rule decides alone.
    skipped: str | None = None


@_defaults("ca")
class CaSettings(Value):
    """What certkeeper knows of its CA without asking it: the `ca:` section."""

    caa_identity: str


@_defaults("dns")
class DnsSettings(Value):
    """Where CAA records are asked for: the `dns:` section."""

    nameserver: str | None
    timeout_seconds: float


@_defaults("notify.smtp")
class SmtpSettings(Value):
    """Where notices are sent: the `notify.smtp:` section."""

    host: str
    port: int
    security: str
    username: str | None
    password_file: Path | None
    timeout_seconds: float
    # Why no notice may be sent (a password file that is missing or world-readable): they
    # wait in the outbox and the password is never read. None: send.
    held: str | None = None


@_defaults("notify.webhook")
class WebhookSettings(Value):
    """The JSON webhook channel: the `notify.webhook:` section. Paths only: the URL and
    headers are read from their files when a notice is sent."""

    url_file: Path | None
    headers_file: Path | None
    timeout_seconds: float
    # A config mistake that makes the URL or headers untrustworthy: nothing is posted, the
    # notices wait (load.py sets it, as for SMTP's password).
    held: str | None = None


@_defaults("notify")
class NotifySettings(Value):
    """Who gets the notices and when: the `notify:` section."""

    smtp: SmtpSettings  # first: the only fields without a default
    webhook: WebhookSettings
    to: str | None
    sender: str | None
    warn_days: tuple[int, ...]


class Mistake(Value):
    """A config mistake that only costs the report (mail, ARI), never a renewal: said
    loudly by every command, while certificates are still renewed."""

    key: str  # dotted, as keys.py names it
    text: str  # the line a person reads: file, key, what is wrong, how to fix it


class Lineage(Value):
    """One `certbot_domains` entry: one certificate with its names."""

    cert_name: str
    domains: tuple[str, ...]
    webroot: Path
    # ACME profile (classic, tlsserver, shortlived, or any name the CA offers).
    profile: str | None = None


class Link(Value):
    """One `certbot_services` entry: the nginx symlinks named after `name`."""

    name: str
    cert_source: str


class Service(Value):
    name: str
    file: Path
    enabled: bool
    email: str | None
    renewal_days: int
    lineages: tuple[Lineage, ...]
    links: tuple[Link, ...]
    # Whether the file says certbot_renewal_days itself (31 is also the default); only
    # then is a window the lifetime rule overrides worth a warning.
    renewal_days_set: bool = False


class Config(Value):
    path: Path
    hostname: str
    services_dir: Path
    state_dir: Path
    lock_file: Path
    lock_timeout_seconds: float
    jitter_seconds: int
    certbot: CertbotSettings
    nginx: NginxSettings
    probe: ProbeSettings
    notify: NotifySettings
    services: tuple[Service, ...]
    ari: AriSettings
    ca: CaSettings
    dns: DnsSettings
    # Where `check` writes the Prometheus metrics; None: nowhere.
    metrics_file: Path | None
    # "shadow": decide and say, never renew, link, reload or send. "active": renew.
    mode: str
    mistakes: tuple[Mistake, ...] = ()

    @property
    def shadow(self) -> bool:
        return self.mode == "shadow"

    def links_for(self, cert_name: str) -> list[Link]:
        return [
            link for svc in self.services for link in svc.links if link.cert_source == cert_name
        ]

    def service_of(self, cert_name: str) -> Service | None:
        for svc in self.services:
            if any(lin.cert_name == cert_name for lin in svc.lineages):
                return svc
        return None
