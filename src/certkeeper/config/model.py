"""The validated configuration: frozen values, so no later step changes what was checked.

The settings' defaults come from keys.py, the one place they are written: `_defaults`
puts them on the class, so `ProbeSettings()` has the table's defaults and no field here
repeats one.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

from certkeeper.config.keys import in_section

_T = TypeVar("_T")
_MISSING = object()


@dataclass_transform(frozen_default=True)
class _Value:
    """What @dataclass(frozen=True) gave these classes, without its cost at import.

    Python 3.11 compiles six generated methods for every frozen dataclass when the
    class is created: ~0.7 ms a class, ~8 ms for this module, paid by every command
    (status included) before it reads a byte of config. Here the methods are written
    once and read the fields from the annotations; the behaviour is the dataclass's:
    construction by position or keyword with the class's defaults, TypeError for an
    unknown, repeated or missing field, == and hash over the fields in order (same
    class only), the same repr, FrozenInstanceError on assignment, and replace()
    for what `dataclasses.replace` did.
    """

    _fields: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        # The class's own annotations, in order: its fields (click has imported inspect).
        cls._fields = tuple(inspect.get_annotations(cls))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = type(self)
        names = cls._fields
        if len(args) > len(names):
            raise TypeError(
                f"{cls.__name__}.__init__() takes {len(names) + 1} positional arguments "
                f"but {len(args) + 1} were given"
            )
        values = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(
                    f"{cls.__name__}.__init__() got an unexpected keyword argument {name!r}"
                )
            if name in values:
                raise TypeError(
                    f"{cls.__name__}.__init__() got multiple values for argument {name!r}"
                )
            values[name] = value
        for name in names:
            value = values.get(name, _MISSING)
            if value is _MISSING:
                value = getattr(cls, name, _MISSING)
                if value is _MISSING:
                    raise TypeError(
                        f"{cls.__name__}.__init__() missing 1 required positional "
                        f"argument: {name!r}"
                    )
            object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed, as `dataclasses.replace` makes it."""
        return type(self)(**{name: getattr(self, name) for name in self._fields} | changes)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({inner})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Value) and other.__class__ is self.__class__:
            return self._values() == other._values()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")


def _defaults(section: str) -> Callable[[type[_T]], type[_T]]:
    def apply(cls: type[_T]) -> type[_T]:
        for key in in_section(section):
            setattr(cls, key.field, key.default)
        return cls

    return apply


@_defaults("certbot")
class CertbotSettings(_Value):
    """How certbot is run: the `certbot:` section."""

    command: tuple[str, ...]
    config_dir: Path
    extra_args: tuple[str, ...]
    timeout_seconds: float


@_defaults("nginx")
class NginxSettings(_Value):
    """How nginx is tested and reloaded: the `nginx:` section."""

    test_command: tuple[str, ...]
    reload_command: tuple[str, ...]
    certs_dir: Path
    timeout_seconds: float


@_defaults("probe")
class ProbeSettings(_Value):
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
class AriSettings(_Value):
    """ACME Renewal Information: ask the CA when to renew (RFC 9773)."""

    enabled: bool
    # The CA bundle trusted for the ARI request; None: the system store. A test CA
    # (pebble's) or a private ACME server needs its own.
    ca_file: Path | None
    timeout_seconds: float


@_defaults("notify.smtp")
class SmtpSettings(_Value):
    """Where notices are sent: the `notify.smtp:` section."""

    host: str
    port: int
    security: str
    username: str | None
    password_file: Path | None
    timeout_seconds: float


@_defaults("notify")
class NotifySettings(_Value):
    """Who gets the notices and when: the `notify:` section."""

    smtp: SmtpSettings  # first: the only field without a default
    to: str | None
    sender: str | None
    warn_days: tuple[int, ...]


class Lineage(_Value):
    """One `certbot_domains` entry: one certificate with its names."""

    cert_name: str
    domains: tuple[str, ...]
    webroot: Path
    # ACME profile (classic, tlsserver, shortlived, or any name the CA offers).
    profile: str | None = None


class Link(_Value):
    """One `certbot_services` entry: the nginx symlinks named after `name`."""

    name: str
    cert_source: str


class Service(_Value):
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


class Config(_Value):
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
    # Where `check` writes the Prometheus metrics; None: nowhere.
    metrics_file: Path | None

    def links_for(self, cert_name: str) -> list[Link]:
        return [
            link for svc in self.services for link in svc.links if link.cert_source == cert_name
        ]

    def service_of(self, cert_name: str) -> Service | None:
        for svc in self.services:
            if any(lin.cert_name == cert_name for lin in svc.lineages):
                return svc
        return None
