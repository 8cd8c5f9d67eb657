"""What every doctor check shares: the `Result` it returns, the `Options` it runs with,
the escaping of text that came from the network or a log, and a few constants."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path

from certkeeper import names
from certkeeper.config import Config, Lineage, Service
from certkeeper.config.checker import show
from certkeeper.value import Value, field

DEFAULT_BUDGET_SECONDS = 20.0
CHALLENGE_PATH = "/.well-known/acme-challenge/"


class Result(Value):
    check: str  # stable id: config, dns, http01, webroot, nginx, lineage, ...
    title: str  # what a person reads
    subject: str  # the cert_name for per-certificate checks, "" for host-wide ones
    ok: bool
    finding: str
    fix: str = ""
    details: tuple[str, ...] = ()  # extra lines (the certbot log), already escaped
    # The check could not see what it needs (not root): neither passed nor failed, and
    # its `fix` is to run doctor as root, never a repair of something it did not see.
    could_not_run: bool = False


NEEDS_ROOT = "needs root: sudo certkeeper doctor"


def needs_root(check: str, title: str, subject: str, what: str) -> Result:
    return Result(check, title, subject, False, clean(what, 400), NEEDS_ROOT, could_not_run=True)


def unseen(path: Path, mode: int = os.R_OK) -> str | None:
    """Why this user cannot use `path` as a check needs it (`mode`: os.R_OK, os.W_OK),
    None when it can or when the path simply does not exist (the check says so itself).
    Following a symlink too: a link into a folder the user cannot search is unseen."""
    try:
        os.stat(path)
    except PermissionError:
        return f"cannot see {path}: permission denied"
    except OSError:
        return None
    if not os.access(path, mode):
        verb = "write" if mode & os.W_OK else "read"
        return f"cannot {verb} {path}: permission denied"
    return None


class Options(Value):
    resolve: Mapping[str, str] = field(default_factory=dict)
    send_test: bool = False
    budget: float = DEFAULT_BUDGET_SECONDS
    # Where the host's system files live: "/" except in tests (CERTKEEPER_SYSTEMD_ROOT).
    root: Path = Path("/")
    # This certkeeper as `install-hook` would write it into the hook script.
    certkeeper_argv: tuple[str, ...] = ("certkeeper",)
    config_arg: str | None = None
    # `--nameserver ADDR[:PORT]`: the DNS server asked for CAA instead of dns.nameserver.
    nameserver: str | None = None


def clean(text: str, limit: int = 600) -> str:
    """Printable text only: control characters, escape sequences and bidi overrides from
    the network or certbot's log are shown as \\x1b-style escapes, never interpreted
    (terminal.line, the one escaping function), and cut at `limit` characters."""
    from certkeeper.terminal import line

    return line(text[:limit]) + ("..." if len(text) > limit else "")


def one_line(text: str, limit: int = 600) -> str:
    return clean(" | ".join(line.strip() for line in text.splitlines() if line.strip()), limit)


def lineage_ids(svc: Service, lin: Lineage) -> str:
    """The --only argument that selects this lineage in a fix a person copies."""
    return f"--only {svc.name}" if len(svc.lineages) == 1 else f"--only {lin.cert_name}"


def local_address(cfg: Config) -> str:
    """Where this host's own nginx answers, as the probe settings say."""
    mode = cfg.probe.connect_host
    return names.LOOPBACK if mode in (names.PROBE_LOCAL, names.PROBE_DNS) else mode


def parse_resolve(values: tuple[str, ...]) -> dict[str, str]:
    """`NAME:ADDR` pairs (curl's --resolve without the port); raises ValueError."""
    found = {}
    for value in values:
        name, sep, addr = value.partition(":")
        if not sep:
            raise ValueError(
                f"{show(value)}: expected NAME:ADDR, e.g. shop.example.com:203.0.113.7"
            )
        try:
            found[names.dns_name(name, allow_wildcard=False)] = str(
                ipaddress.ip_address(addr.strip("[]"))
            )
        except ValueError:
            raise ValueError(
                f"{show(value)}: expected NAME:ADDR with a DNS name and an IP address"
            ) from None
    return found


def exit_code(results: list[Result]) -> int:
    """0 only when every check ran and passed: a check that could not run is no pass."""
    return 0 if all(r.ok for r in results) else 1
