"""Load and validate the global config and the per-service group_vars files.

Everything is checked before anything runs, and every problem is reported as
one line: `FILE: KEY = VALUE: expected WHAT`. The result is frozen dataclasses
so no later step can change what was validated.
"""

from __future__ import annotations

import difflib
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from certkeeper import names
from certkeeper.errors import ConfigError
from certkeeper.inputs import InputFileError, check_regular, read_regular

DEFAULT_CONFIG_PATH = Path("/etc/certkeeper/config.yaml")
CONFIG_ENV = "CERTKEEPER_CONFIG"

# group_vars files are small; anything bigger is a mistake or an attack.
MAX_YAML_BYTES = 1024 * 1024
# Aliases make a small file expand exponentially when walked ("billion laughs").
MAX_YAML_NODES = 100_000

SECURITY_MODES = ("none", "starttls", "tls")
CRON_PREFIXES = ("cert_renewal_", "cert_expiry_")
# node_exporter's textfile collector folder as Debian's prometheus-node-exporter sets it up.
NODE_EXPORTER_TEXTFILE = Path("/var/lib/prometheus/node-exporter/certkeeper.prom")
METRICS_AUTO = "auto"
DEFAULT_PROBE_CONCURRENCY = 128
MAX_PROBE_CONCURRENCY = 256


@dataclass(frozen=True)
class CertbotSettings:
    command: tuple[str, ...] = ("certbot",)
    config_dir: Path = Path("/etc/letsencrypt")
    extra_args: tuple[str, ...] = ()
    timeout_seconds: float = 600.0


@dataclass(frozen=True)
class NginxSettings:
    test_command: tuple[str, ...] = ("nginx", "-t")
    reload_command: tuple[str, ...] = ("systemctl", "reload", "nginx")
    certs_dir: Path = Path("/etc/nginx/certs")


@dataclass(frozen=True)
class ProbeSettings:
    port: int = 443
    # Where this host's nginx answers plain HTTP (the HTTP-01 challenge): 80 in production,
    # a free port in tests. `doctor` fetches its test token there.
    http_port: int = 80
    # "local": this host's nginx on loopback, by SNI (hosts come in pairs that serve the
    # same names, so following DNS may land on the other host). "dns": follow public DNS,
    # an explicit opt-in. Anything else: that host or address.
    connect_host: str = "local"
    timeout_seconds: float = 10.0
    # Probes at once. A probe mostly waits on round trips, so this is sized for the
    # network, not the cores: 128 puts a typical host's names in one wave at 50 ms RTT
    # and costs nothing measurable on loopback (docs/benchmarks.md, row 10).
    concurrency: int = DEFAULT_PROBE_CONCURRENCY


@dataclass(frozen=True)
class AriSettings:
    """ACME Renewal Information: ask the CA when to renew (RFC 9773)."""

    enabled: bool = True
    # The CA bundle trusted for the ARI request; None: the system store. A test CA
    # (pebble's) or a private ACME server needs its own.
    ca_file: Path | None = None
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    security: str = "none"
    username: str | None = None
    password_file: Path | None = None
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class NotifySettings:
    to: str | None = None
    sender: str | None = None
    warn_days: tuple[int, ...] = (30, 14, 7, 3, 1)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)


@dataclass(frozen=True)
class Lineage:
    """One `certbot_domains` entry: one certificate with its names."""

    cert_name: str
    domains: tuple[str, ...]
    webroot: Path
    # ACME profile (classic, tlsserver, shortlived, or any name the CA offers).
    profile: str | None = None


@dataclass(frozen=True)
class Link:
    """One `certbot_services` entry: the nginx symlinks named after `name`."""

    name: str
    cert_source: str


@dataclass(frozen=True)
class Service:
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


@dataclass(frozen=True)
class Config:
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
    ari: AriSettings = field(default_factory=AriSettings)
    # Where `check` writes the Prometheus metrics; None: nowhere.
    metrics_file: Path | None = None

    def links_for(self, cert_name: str) -> list[Link]:
        return [
            link for svc in self.services for link in svc.links if link.cert_source == cert_name
        ]

    def service_of(self, cert_name: str) -> Service | None:
        for svc in self.services:
            if any(lin.cert_name == cert_name for lin in svc.lineages):
                return svc
        return None


# --------------------------------------------------------------------------- YAML


# A bad value is quoted so the user can find it, but only a short prefix: a file may
# hold something it should not (a password pasted into the wrong key), and repr()
# escapes control characters and bidi overrides on the way.
SHOW_CHARS = 60


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOW_CHARS else text[: SHOW_CHARS - 3] + "..."


def _describe(value: Any) -> str:
    """What a value is, without any of its content."""
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return f"a value of type {type(value).__name__}"


def _count_nodes(node: Any, memo: dict[int, int]) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # guards against recursive aliases while counting
    total = 1
    value = node.value
    if isinstance(value, list):
        for item in value:
            if isinstance(item, tuple):
                total += _count_nodes(item[0], memo) + _count_nodes(item[1], memo)
            else:
                total += _count_nodes(item, memo)
            if total > MAX_YAML_NODES:
                break
    memo[key] = total
    return total


def load_yaml(path: Path) -> Any:
    """Safe-load one YAML file, refusing huge files and alias bombs. Raises ConfigError."""
    import yaml

    try:
        text = read_regular(path, MAX_YAML_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except InputFileError as exc:
        raise ConfigError([f"{path}: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [f"{path}: cannot read: not UTF-8 text (byte {exc.start} is not valid UTF-8)"]
        ) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    # libyaml's parser when PyYAML has it: 100 service files parse in a tenth of the time.
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _count_nodes(node, {}) > MAX_YAML_NODES:
            raise ConfigError(
                [f"{path}: YAML expands to more than {MAX_YAML_NODES} nodes (alias bomb?)"]
            )
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"{path}: {where}not valid YAML: {problem}"]) from None
    finally:
        loader.dispose()


# --------------------------------------------------------------------- checking


class _Checker:
    """Collects every problem of one file instead of stopping at the first."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.problems: list[str] = []

    def bad(self, key: str, value: Any, expected: str) -> None:
        self.problems.append(f"{self.file}: {key} = {_show(value)}: expected {expected}")

    def unknown_keys(self, data: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
        for key in data:
            if key in known:
                continue
            path = f"{where}.{key}" if where else str(key)
            hint = difflib.get_close_matches(str(key), known, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            self.problems.append(
                f"{self.file}: {path}: unknown key{suggestion}; known keys: {', '.join(known)}"
            )

    def mapping(self, data: Any, key: str) -> Mapping[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            if not key:
                # A whole file that is not a mapping may be anything: a service file can be
                # a symlink to a password file. Say what it is, never what it holds.
                self.problems.append(
                    f"{self.file}: expected a YAML mapping of keys to values, found"
                    f" {_describe(data)} (content not shown)"
                )
            else:
                self.bad(key, data, "a mapping of keys to values")
            return {}
        return data

    def integer(
        self, data: Mapping[str, Any], key: str, where: str, default: int, lo: int, hi: int
    ) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.bad(_join(where, key), value, f"a whole number from {lo} to {hi}")
            return default
        return value

    def seconds(
        self, data: Mapping[str, Any], key: str, where: str, default: float, hi: float = 86400
    ) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= hi:
            self.bad(_join(where, key), value, f"a number of seconds above 0 and at most {hi:g}")
            return default
        return float(value)

    def boolean(self, data: Mapping[str, Any], key: str, where: str, default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.bad(_join(where, key), value, "true or false")
            return default
        return value

    def text(
        self,
        data: Mapping[str, Any],
        key: str,
        where: str,
        default: str | None,
        check: Callable[[str], str] = names.plain_text,
    ) -> str | None:
        value = data.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str):
            self.bad(_join(where, key), value, "a string")
            return default
        try:
            return check(value)
        except ValueError as exc:
            self.bad(_join(where, key), value, str(exc))
            return default

    def path(
        self, data: Mapping[str, Any], key: str, where: str, default: Path | None, base: Path
    ) -> Path | None:
        value = data.get(key, default)
        if value is None:
            return None
        if isinstance(value, Path):
            return value
        if not isinstance(value, str) or not value or names.has_control_chars(value):
            self.bad(_join(where, key), value, "a file system path")
            return default
        # Lexically normalised, never resolved: resolving would follow a symlink planted
        # where the lock or state file should be, and write through it as root.
        return Path(os.path.normpath(base / os.path.expanduser(value)))

    def argv(
        self,
        data: Mapping[str, Any],
        key: str,
        where: str,
        default: tuple[str, ...],
        base: Path,
        allow_empty: bool = False,
    ) -> tuple[str, ...]:
        value = data.get(key, list(default))
        ok = isinstance(value, list) and all(
            isinstance(item, str) and item and not names.has_control_chars(item) for item in value
        )
        if not ok or (not value and not allow_empty):
            what = "a list of arguments" if allow_empty else "a non-empty list: program, arguments"
            if isinstance(value, list):
                from certkeeper.proc import mask_argv

                # An argv may hold --eab-hmac-key VALUE: quote it masked, like the logs do.
                value = mask_argv(str(item) for item in value)
            self.bad(_join(where, key), value, f"{what} (strings without control characters)")
            return default
        items = list(value)
        # A relative program path means "next to this config file", not "wherever cron is".
        if not allow_empty and "/" in items[0] and not os.path.isabs(items[0]):
            items[0] = str((base / items[0]).resolve())
        return tuple(items)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


# ------------------------------------------------------------------- global file

_TOP_KEYS = (
    "hostname",
    "services_dir",
    "state_dir",
    "lock_file",
    "lock_timeout_seconds",
    "jitter_seconds",
    "certbot",
    "nginx",
    "probe",
    "notify",
    "ari",
    "metrics_file",
)
_CERTBOT_KEYS = ("command", "config_dir", "extra_args", "timeout_seconds")
_NGINX_KEYS = ("test_command", "reload_command", "certs_dir")
_PROBE_KEYS = ("port", "http_port", "connect_host", "timeout_seconds", "concurrency")
_NOTIFY_KEYS = ("to", "from", "warn_days", "smtp")
_ARI_KEYS = ("enabled", "ca_file", "timeout_seconds")
_SMTP_KEYS = ("host", "port", "security", "username", "password_file", "timeout_seconds")


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
    raw = load_yaml(path)
    chk = _Checker(path)
    base = path.parent
    top = chk.mapping(raw, "")
    chk.unknown_keys(top, _TOP_KEYS, "")

    hostname = chk.text(top, "hostname", "", None, names.host_name) or default_hostname()
    if names.has_control_chars(hostname) or not hostname.isascii():
        # The kernel takes any bytes as a host name; this one would reach every subject.
        chk.problems.append(
            f"{path}: hostname is not set and the system host name {_show(hostname)} holds"
            " control or non-ASCII characters: expected hostname set to e.g. app3"
        )
    services_dir = chk.path(top, "services_dir", "", Path("/etc/certkeeper/services.d"), base)
    state_dir = chk.path(top, "state_dir", "", Path("/var/lib/certkeeper"), base)
    lock_file = chk.path(top, "lock_file", "", Path("/run/lock/certkeeper.lock"), base)
    lock_timeout = chk.seconds(top, "lock_timeout_seconds", "", 900.0)
    jitter = chk.integer(top, "jitter_seconds", "", 900, 0, 86400)
    metrics_file = _metrics_file(chk, top, base)

    cb = chk.mapping(top.get("certbot"), "certbot")
    chk.unknown_keys(cb, _CERTBOT_KEYS, "certbot")
    certbot = CertbotSettings(
        command=chk.argv(cb, "command", "certbot", CertbotSettings.command, base),
        config_dir=chk.path(cb, "config_dir", "certbot", CertbotSettings.config_dir, base)
        or CertbotSettings.config_dir,
        extra_args=chk.argv(cb, "extra_args", "certbot", (), base, allow_empty=True),
        timeout_seconds=chk.seconds(cb, "timeout_seconds", "certbot", 600.0),
    )

    ng = chk.mapping(top.get("nginx"), "nginx")
    chk.unknown_keys(ng, _NGINX_KEYS, "nginx")
    nginx = NginxSettings(
        test_command=chk.argv(ng, "test_command", "nginx", NginxSettings.test_command, base),
        reload_command=chk.argv(ng, "reload_command", "nginx", NginxSettings.reload_command, base),
        certs_dir=chk.path(ng, "certs_dir", "nginx", NginxSettings.certs_dir, base)
        or NginxSettings.certs_dir,
    )

    pr = chk.mapping(top.get("probe"), "probe")
    chk.unknown_keys(pr, _PROBE_KEYS, "probe")
    probe = ProbeSettings(
        port=chk.integer(pr, "port", "probe", 443, 1, 65535),
        http_port=chk.integer(pr, "http_port", "probe", 80, 1, 65535),
        # null (the old default, which followed DNS) now means the default: this host's nginx.
        connect_host=chk.text(pr, "connect_host", "probe", "local", names.probe_host) or "local",
        timeout_seconds=chk.seconds(pr, "timeout_seconds", "probe", 10.0, hi=300),
        concurrency=chk.integer(
            pr, "concurrency", "probe", DEFAULT_PROBE_CONCURRENCY, 1, MAX_PROBE_CONCURRENCY
        ),
    )

    nt = chk.mapping(top.get("notify"), "notify")
    chk.unknown_keys(nt, _NOTIFY_KEYS, "notify")
    sm = chk.mapping(nt.get("smtp"), "notify.smtp")
    chk.unknown_keys(sm, _SMTP_KEYS, "notify.smtp")
    security = chk.text(sm, "security", "notify.smtp", "none") or "none"
    if security not in SECURITY_MODES:
        chk.bad("notify.smtp.security", security, "one of: " + ", ".join(SECURITY_MODES))
        security = "none"
    password_file = chk.path(sm, "password_file", "notify.smtp", None, base)
    username = chk.text(sm, "username", "notify.smtp", None)
    if password_file is not None:
        _check_password_file(chk, password_file)
    if password_file is not None and username is None:
        chk.bad("notify.smtp.username", None, "a user name, since password_file is set")
    smtp = SmtpSettings(
        host=chk.text(sm, "host", "notify.smtp", "localhost", names.host_or_address) or "localhost",
        port=chk.integer(sm, "port", "notify.smtp", 25, 1, 65535),
        security=security,
        username=username,
        password_file=password_file,
        timeout_seconds=chk.seconds(sm, "timeout_seconds", "notify.smtp", 30.0, hi=600),
    )
    notify = NotifySettings(
        to=chk.text(nt, "to", "notify", None, names.email_address),
        sender=chk.text(nt, "from", "notify", None, names.email_address),
        warn_days=_warn_days(chk, nt),
        smtp=smtp,
    )

    ar = chk.mapping(top.get("ari"), "ari")
    chk.unknown_keys(ar, _ARI_KEYS, "ari")
    ca_file = chk.path(ar, "ca_file", "ari", None, base)
    if ca_file is not None and not ca_file.is_file():
        chk.bad("ari.ca_file", str(ca_file), "a readable PEM file of CA certificates")
    ari = AriSettings(
        enabled=chk.boolean(ar, "enabled", "ari", True),
        ca_file=ca_file,
        timeout_seconds=chk.seconds(ar, "timeout_seconds", "ari", 10.0, hi=120),
    )

    problems = list(chk.problems)
    services: tuple[Service, ...] = ()
    if services_dir is not None:
        try:
            services = load_services(services_dir)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    assert state_dir is not None and lock_file is not None and services_dir is not None
    return Config(
        path=path,
        hostname=hostname,
        services_dir=services_dir,
        state_dir=state_dir,
        lock_file=lock_file,
        lock_timeout_seconds=lock_timeout,
        jitter_seconds=jitter,
        certbot=certbot,
        nginx=nginx,
        probe=probe,
        notify=notify,
        services=services,
        ari=ari,
        metrics_file=metrics_file,
    )


def _metrics_file(chk: _Checker, top: Mapping[str, Any], base: Path) -> Path | None:
    """`auto` (the shipped config) means node_exporter's textfile folder when it exists, so
    one config serves hosts with and without node_exporter; null means no metrics file."""
    if top.get("metrics_file") == METRICS_AUTO:
        folder = NODE_EXPORTER_TEXTFILE.parent
        return NODE_EXPORTER_TEXTFILE if folder.is_dir() else None
    return chk.path(top, "metrics_file", "", None, base)


def _warn_days(chk: _Checker, nt: Mapping[str, Any]) -> tuple[int, ...]:
    value = nt.get("warn_days", [30, 14, 7, 3, 1])
    if not isinstance(value, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 365 for d in value
    ):
        chk.bad("notify.warn_days", value, "a list of whole days from 1 to 365, e.g. [30, 14, 7]")
        return (30, 14, 7, 3, 1)
    return tuple(sorted(set(value), reverse=True))


def _check_password_file(chk: _Checker, path: Path) -> None:
    where = f"{chk.file}: notify.smtp.password_file = {str(path)!r}"
    try:
        mode = check_regular(path).st_mode
    except InputFileError as exc:
        chk.problems.append(f"{where}: {exc}")
        return
    except OSError as exc:
        chk.problems.append(f"{where}: expected a readable file ({exc.strerror})")
        return
    if mode & 0o004:
        chk.problems.append(
            f"{where}: expected a file that is not world-readable (run: chmod 600 {path})"
        )


# ----------------------------------------------------------------- service files

_SERVICE_KEYS = (
    "certbot_enabled",
    "certbot_email",
    "certbot_install_method",
    "certbot_renewal_days",
    "certbot_domains",
    "certbot_services",
)
_DOMAIN_ENTRY_KEYS = ("domains", "webroot", "cert_name", "profile")
_LINK_KEYS = ("name", "cert_source")
DEFAULT_WEBROOT = Path("/var/www/letsencrypt")


def load_services(folder: Path) -> tuple[Service, ...]:
    if not folder.is_dir():
        raise ConfigError([f"{folder}: services_dir does not exist or is not a folder"])
    # Every *.yaml entry is looked at, not only regular files: a service file that turned
    # into a directory, a FIFO or a dangling symlink would otherwise vanish silently, and
    # with it that service's renewals.
    entries = sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml"})
    problems: list[str] = []
    services: list[Service] = []
    files: list[Path] = []
    for entry in entries:
        try:
            check_regular(entry)
        except InputFileError as exc:
            problems.append(f"{entry}: {exc}; this service's certificates are not handled")
            continue
        except OSError as exc:
            problems.append(f"{entry}: cannot read: {exc.strerror or exc}")
            continue
        files.append(entry)
    for file in files:
        try:
            services.append(load_service(file))
        except ConfigError as exc:
            problems.extend(exc.problems)
    problems.extend(_cross_checks(services))
    if problems:
        raise ConfigError(problems)
    return tuple(services)


def _cross_checks(services: list[Service]) -> list[str]:
    problems: list[str] = []
    seen_certs: dict[str, Path] = {}
    seen_links: dict[str, Path] = {}
    seen_names: dict[str, Path] = {}
    for svc in services:
        if svc.name in seen_names:
            problems.append(
                f"{svc.file}: service name {svc.name!r} is also used by {seen_names[svc.name]}:"
                " expected one file per service"
            )
        seen_names[svc.name] = svc.file
        for i, lin in enumerate(svc.lineages):
            if lin.cert_name in seen_certs:
                problems.append(
                    f"{svc.file}: certbot_domains[{i}].cert_name = {lin.cert_name!r}: expected a"
                    f" cert_name not already used by {seen_certs[lin.cert_name]}"
                )
            seen_certs[lin.cert_name] = svc.file
        for i, link in enumerate(svc.links):
            if link.name in seen_links:
                problems.append(
                    f"{svc.file}: certbot_services[{i}].name = {link.name!r}: expected a name not"
                    f" already used by {seen_links[link.name]} (the nginx symlinks would collide)"
                )
            seen_links[link.name] = svc.file
    return problems


def load_service(file: Path) -> Service:
    raw = load_yaml(file)
    chk = _Checker(file)
    data = chk.mapping(raw, "")
    if chk.problems:
        raise ConfigError(chk.problems)
    # group_vars files carry other variables too; only certbot_* keys are ours.
    ours = {k: v for k, v in data.items() if isinstance(k, str) and k.startswith("certbot_")}
    chk.unknown_keys(ours, _SERVICE_KEYS, "")
    name = file.stem
    try:
        names.path_component(name)
    except ValueError as exc:
        chk.problems.append(f"{file}: service name (the file name) {name!r}: expected {exc}")

    enabled = chk.boolean(ours, "certbot_enabled", "", True)
    email = chk.text(ours, "certbot_email", "", None, names.email_address)
    chk.text(ours, "certbot_install_method", "", None)  # accepted for group_vars parity
    renewal_days = chk.integer(ours, "certbot_renewal_days", "", 31, 1, 365)
    if enabled and email is None and "certbot_email" not in ours:
        chk.bad("certbot_email", None, "the ACME account e-mail (required when certbot_enabled)")

    lineages = _lineages(chk, ours, file.parent)
    links = _links(chk, ours, lineages)
    if chk.problems:
        raise ConfigError(chk.problems)
    return Service(
        name,
        file,
        enabled,
        email,
        renewal_days,
        tuple(lineages),
        tuple(links),
        renewal_days_set="certbot_renewal_days" in ours,
    )


def _lineages(chk: _Checker, ours: Mapping[str, Any], base: Path) -> list[Lineage]:
    entries = ours.get("certbot_domains")
    if not isinstance(entries, list) or not entries:
        chk.bad("certbot_domains", entries, "a list of {domains, webroot, cert_name} entries")
        return []
    result: list[Lineage] = []
    for i, entry in enumerate(entries):
        where = f"certbot_domains[{i}]"
        if not isinstance(entry, dict):
            chk.bad(where, entry, "a mapping with domains, webroot and cert_name")
            continue
        chk.unknown_keys(entry, _DOMAIN_ENTRY_KEYS, where)
        cert_name = chk.text(entry, "cert_name", where, None, names.path_component)
        if cert_name is None and "cert_name" not in entry:
            chk.bad(f"{where}.cert_name", None, "the certbot lineage name, e.g. foxycart-sandbox")
        webroot = chk.path(entry, "webroot", where, DEFAULT_WEBROOT, base) or DEFAULT_WEBROOT
        profile = chk.text(entry, "profile", where, None, names.acme_profile)
        raw_domains = entry.get("domains")
        domains: list[str] = []
        if not isinstance(raw_domains, list) or not raw_domains:
            chk.bad(f"{where}.domains", raw_domains, "a non-empty list of DNS names")
        else:
            for j, dom in enumerate(raw_domains):
                if not isinstance(dom, str):
                    chk.bad(f"{where}.domains[{j}]", dom, "a DNS name as a string")
                    continue
                try:
                    normalised = names.dns_name(dom)
                except ValueError as exc:
                    chk.bad(f"{where}.domains[{j}]", dom, str(exc))
                    continue
                if normalised in domains:
                    chk.bad(f"{where}.domains[{j}]", dom, "each domain once")
                    continue
                domains.append(normalised)
        if cert_name and domains:
            result.append(Lineage(cert_name, tuple(domains), webroot, profile))
    return result


def _links(chk: _Checker, ours: Mapping[str, Any], lineages: list[Lineage]) -> list[Link]:
    entries = ours.get("certbot_services", [])
    if entries is None:
        return []
    if not isinstance(entries, list):
        chk.bad("certbot_services", entries, "a list of {name, cert_source} entries")
        return []
    cert_names = [lin.cert_name for lin in lineages]
    result: list[Link] = []
    for i, entry in enumerate(entries):
        where = f"certbot_services[{i}]"
        if not isinstance(entry, dict):
            chk.bad(where, entry, "a mapping with name and cert_source")
            continue
        chk.unknown_keys(entry, _LINK_KEYS, where)
        name = chk.text(entry, "name", where, None, names.path_component)
        source = chk.text(entry, "cert_source", where, None, names.path_component)
        if name is None and "name" not in entry:
            chk.bad(f"{where}.name", None, "the nginx symlink prefix, e.g. foxycart-sandbox")
        if source is not None and cert_names and source not in cert_names:
            chk.bad(
                f"{where}.cert_source",
                source,
                "one of this file's cert_name values: " + ", ".join(cert_names),
            )
            continue
        if source is None and "cert_source" not in entry:
            chk.bad(f"{where}.cert_source", None, "the cert_name whose files nginx uses")
        if name and source:
            result.append(Link(name, source))
    return result


# ------------------------------------------------------------------ selections


def select(cfg: Config, only: str | None) -> tuple[Service, ...]:
    """The services `--only` names: a service (its file name), the cron spellings
    cert_renewal_X / cert_expiry_X, or a cert_name (as the ERROR card prints it), which
    selects that one certificate of its service."""
    if not only:
        return cfg.services
    wanted = only
    for prefix in CRON_PREFIXES:
        if only.startswith(prefix) and only[len(prefix) :]:
            wanted = only[len(prefix) :]
            break
    chosen = tuple(svc for svc in cfg.services if svc.name == wanted)
    if chosen:
        return chosen
    for svc in cfg.services:
        lineages = tuple(lin for lin in svc.lineages if lin.cert_name == wanted)
        if lineages:
            return (replace(svc, lineages=lineages),)
    known = ", ".join(svc.name for svc in cfg.services) or "(none)"
    certs = ", ".join(lin.cert_name for svc in cfg.services for lin in svc.lineages) or "(none)"
    raise ConfigError(
        [
            f"--only = {only!r}: expected a service file in {cfg.services_dir} or a cert_name; "
            f"services: {known}; cert_names: {certs}"
        ]
    )


def as_dict(cfg: Config) -> dict[str, Any]:
    """The effective configuration for `config show`. Holds no secret: the password is
    only ever read from password_file at send time."""
    from certkeeper.proc import mask_argv

    smtp = cfg.notify.smtp
    return {
        "config_file": str(cfg.path),
        "hostname": cfg.hostname,
        "services_dir": str(cfg.services_dir),
        "state_dir": str(cfg.state_dir),
        "lock_file": str(cfg.lock_file),
        "lock_timeout_seconds": cfg.lock_timeout_seconds,
        "jitter_seconds": cfg.jitter_seconds,
        "metrics_file": str(cfg.metrics_file) if cfg.metrics_file else None,
        "certbot": {
            "command": list(cfg.certbot.command),
            "config_dir": str(cfg.certbot.config_dir),
            # Masked like every log line: extra_args may carry --eab-hmac-key.
            "extra_args": mask_argv(cfg.certbot.extra_args),
            "timeout_seconds": cfg.certbot.timeout_seconds,
        },
        "nginx": {
            "test_command": list(cfg.nginx.test_command),
            "reload_command": list(cfg.nginx.reload_command),
            "certs_dir": str(cfg.nginx.certs_dir),
        },
        "probe": {
            "port": cfg.probe.port,
            "http_port": cfg.probe.http_port,
            "connect_host": cfg.probe.connect_host,
            "timeout_seconds": cfg.probe.timeout_seconds,
            "concurrency": cfg.probe.concurrency,
        },
        "notify": {
            "to": cfg.notify.to,
            "from": cfg.notify.sender,
            "warn_days": list(cfg.notify.warn_days),
            "smtp": {
                "host": smtp.host,
                "port": smtp.port,
                "security": smtp.security,
                "username": smtp.username,
                "password_file": str(smtp.password_file) if smtp.password_file else None,
                "password": "<redacted>" if smtp.password_file else None,
                "timeout_seconds": smtp.timeout_seconds,
            },
        },
        "ari": {
            "enabled": cfg.ari.enabled,
            "ca_file": str(cfg.ari.ca_file) if cfg.ari.ca_file else None,
            "timeout_seconds": cfg.ari.timeout_seconds,
        },
        "services": [
            {
                "name": svc.name,
                "file": str(svc.file),
                "certbot_enabled": svc.enabled,
                "certbot_email": svc.email,
                "certbot_renewal_days": svc.renewal_days,
                "certbot_domains": [
                    {
                        "cert_name": lin.cert_name,
                        "domains": list(lin.domains),
                        "webroot": str(lin.webroot),
                        "profile": lin.profile,
                    }
                    for lin in svc.lineages
                ],
                "certbot_services": [
                    {"name": link.name, "cert_source": link.cert_source} for link in svc.links
                ],
            }
            for svc in cfg.services
        ],
    }
