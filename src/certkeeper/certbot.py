"""certbot's world: argv builders, the one place certbot is run, and its disk layout.

The layout (live/, archive/, renewal/, the log) is read only here, so a change in how
certbot keeps its files touches one module.

certkeeper owns the schedule. certbot's own "not yet due" (its 2/3-lifetime
rule, renew_before_expiry, ARI) would otherwise exit 0 having renewed nothing,
so every renewal is forced, and the random sleep certbot adds without a TTY is
switched off: a due renewal must take seconds, not up to eight minutes.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from certkeeper.certcache import CertCache
from certkeeper.config import Config, Lineage, Service
from certkeeper.x509info import MAX_CERT_FILE_BYTES, CertInfo, parse_pem_leaf, read_file

if TYPE_CHECKING:
    # Only check and doctor run certbot: status reads its files and no subprocess.
    from certkeeper import proc

# Set for certbot's children so our own deploy hook knows the parent check run
# will deploy and verify, and does not reload nginx or notify a second time.
PARENT_ENV = "CERTKEEPER_PARENT_PID"
DEFAULT_LOGS_DIR = "/var/log/letsencrypt"
# --preferred-profile exists since certbot 4.0 (and is kept in the renewal conf since 4.1).
PROFILE_MIN_VERSION = (4, 0)


def _common(cfg: Config) -> list[str]:
    return [
        "--non-interactive",
        "--config-dir",
        str(cfg.certbot.config_dir),
        *cfg.certbot.extra_args,
    ]


def issue_argv(cfg: Config, service: Service, lineage: Lineage) -> list[str]:
    argv = [*cfg.certbot.command, "certonly", "--webroot", "-w", str(lineage.webroot)]
    for domain in lineage.domains:
        argv += ["-d", domain]
    argv += ["--cert-name", lineage.cert_name, "--agree-tos"]
    argv += ["-m", service.email] if service.email else ["--register-unsafely-without-email"]
    if lineage.profile:
        argv += ["--preferred-profile", lineage.profile]
    return argv + _common(cfg)


def renew_argv(cfg: Config, lineage: Lineage) -> list[str]:
    """Renewal argv. The profile is passed only when the renewal conf lacks it: certbot 4.1+
    keeps it there, and a conf written by an older certbot (or by hand) would lose it."""
    argv = [
        *cfg.certbot.command,
        "renew",
        "--cert-name",
        lineage.cert_name,
        "--force-renewal",
        "--no-random-sleep-on-renew",
    ]
    stored = read_renewalparams(cfg.certbot.config_dir, lineage.cert_name)
    if (
        lineage.profile
        and not stored.get("preferred_profile")
        and not stored.get("required_profile")
    ):
        argv += ["--preferred-profile", lineage.profile]
    return argv + _common(cfg)


def live_dir(cfg: Config, cert_name: str) -> Path:
    return cfg.certbot.config_dir / "live" / cert_name


def read_disk(
    cfg: Config, cert_name: str, cache: CertCache | None = None
) -> tuple[CertInfo | None, str | None]:
    """The lineage's certificate, or why not: None for no lineage at all, else the reason
    an existing one cannot be read (which must never be mistaken for "issue a new one")."""
    cert, _, error = read_disk_keyed(cfg, cert_name, cache or CertCache(None))
    return cert, error


def read_disk_keyed(
    cfg: Config, cert_name: str, cache: CertCache
) -> tuple[CertInfo | None, str | None, str | None]:
    """read_disk, plus the sha256 of the leaf's DER (to know it again when served)."""
    from certkeeper.inputs import read_regular

    path = live_dir(cfg, cert_name) / "cert.pem"
    try:
        data = read_regular(path, MAX_CERT_FILE_BYTES)
        known = cache.get(data)
        if known is None:
            info, der = parse_pem_leaf(data)
            known = cache.put(data, info, der)
        return known.info, known.der_sha256, None
    except FileNotFoundError:
        return None, None, None
    except (OSError, ValueError) as exc:
        return None, None, f"cannot read {path}: {exc}"


def previous_cert(live: Path) -> CertInfo | None:
    """The certificate a renewal replaced: certN-1.pem beside the one live/cert.pem names."""
    try:
        current = (live / "cert.pem").resolve()
    except OSError:
        return None
    match = re.fullmatch(r"cert(\d+)\.pem", current.name)
    if not match or int(match.group(1)) <= 1:
        return None
    try:
        return read_file(current.with_name(f"cert{int(match.group(1)) - 1}.pem"))
    except (OSError, ValueError):
        return None


def renewal_conf(config_dir: Path, cert_name: str) -> Path:
    return config_dir / "renewal" / f"{cert_name}.conf"


_SECTION = re.compile(r"^\s*(\[+)\s*([^\]]*?)\s*\]+\s*$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*$")


# certbot's renewal confs are a few hundred bytes; a quarter MiB is not one.
MAX_RENEWAL_CONF_BYTES = 256 * 1024


def _read_renewal_conf(config_dir: Path, cert_name: str) -> str:
    """The renewal conf's text through the one bounded reader: a FIFO or a device in its
    place never blocks, and a file beyond the cap is not read. Raises like read_regular."""
    from certkeeper.inputs import read_regular

    data = read_regular(renewal_conf(config_dir, cert_name), MAX_RENEWAL_CONF_BYTES)
    return data.decode("utf-8", errors="replace")


def _renewal_conf_text(config_dir: Path, cert_name: str) -> str:
    """The renewal conf's text, or "" when there is none or it cannot be read (see
    renewal_conf_problem for what is wrong with it)."""
    try:
        return _read_renewal_conf(config_dir, cert_name)
    except (OSError, ValueError):
        return ""


def renewal_conf_problem(config_dir: Path, cert_name: str) -> str | None:
    """Why certbot's renewal conf for the lineage cannot be read; None when it can, or when
    there is none yet (a first issuance writes it)."""
    try:
        _read_renewal_conf(config_dir, cert_name)
    except FileNotFoundError:
        return None
    except OSError as exc:
        why = f"cannot be read ({exc.strerror or exc})"
    except ValueError as exc:  # inputs.InputFileError: says what the path is instead
        why = str(exc)
    else:
        return None
    return (
        f"certbot's renewal conf {renewal_conf(config_dir, cert_name)} {why[:200]}: "
        "certbot would hang or fail on it "
        "too; restore it as a regular file (see `certbot certificates`)"
    )


def read_renewalparams(config_dir: Path, cert_name: str) -> dict[str, str]:
    """The `[renewalparams]` keys of certbot's renewal conf for the lineage ({} if none).

    certbot writes it with configobj; only flat `key = value` lines of that one
    section matter here (`server`, `preferred_profile`), so a small reader does.
    """
    text = _renewal_conf_text(config_dir, cert_name)
    found: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        if match := _SECTION.match(line):
            # [[webroot_map]] is a subsection: its keys are domains, not renewal params.
            section = match.group(2) if len(match.group(1)) == 1 else section + "/"
            continue
        if section == "renewalparams" and (match := _KEY.match(line)):
            found.setdefault(match.group(1), match.group(2))
    return found


def read_webroot_map(config_dir: Path, cert_name: str) -> dict[str, str]:
    """The `[[webroot_map]]` of the renewal conf: domain -> the webroot certbot renew uses."""
    text = _renewal_conf_text(config_dir, cert_name)
    found: dict[str, str] = {}
    inside = False
    for line in text.splitlines():
        if match := _SECTION.match(line):
            inside = len(match.group(1)) == 2 and match.group(2) == "webroot_map"
            continue
        if inside and "=" in line:
            domain, _, root = line.partition("=")
            found.setdefault(domain.strip(), root.strip())
    return found


@functools.cache
def version(command: tuple[str, ...], timeout: float) -> tuple[tuple[int, int] | None, str]:
    """certbot's (major, minor) and what it said; asked once per run."""
    from certkeeper import proc

    result = proc.run([*command, "--version"], timeout=min(timeout, 120))
    said = (result.stdout + result.stderr).strip()
    match = re.search(r"(\d+)\.(\d+)", said) if result.ok else None
    return ((int(match.group(1)), int(match.group(2))) if match else None), (
        said[:200] or result.describe()
    )


def profile_support_problem(cfg: Config, lineage: Lineage) -> str | None:
    """Why this certbot cannot honour the lineage's `profile:`, or None when it can."""
    if not lineage.profile:
        return None
    found, said = version(cfg.certbot.command, cfg.certbot.timeout_seconds)
    if found is not None and found >= PROFILE_MIN_VERSION:
        return None
    what = f"certbot {found[0]}.{found[1]}" if found else f"cannot tell certbot's version ({said})"
    return (
        f"{what}: profile {lineage.profile!r} needs certbot 4.0 or newer (--preferred-profile); "
        "Debian 12's certbot is 2.1. Install a newer certbot (pip or snap) and point "
        "certbot.command at it, or remove `profile:` from the service file"
    )


def run(cfg: Config, argv: list[str]) -> proc.Result:
    from certkeeper import proc

    return proc.run(argv, timeout=cfg.certbot.timeout_seconds, env={PARENT_ENV: str(os.getpid())})


def logs_file(cfg: Config) -> str:
    args = list(cfg.certbot.extra_args)
    for i, arg in enumerate(args):
        if arg == "--logs-dir" and i + 1 < len(args):
            return str(Path(args[i + 1]) / "letsencrypt.log")
        if arg.startswith("--logs-dir="):
            return str(Path(arg.split("=", 1)[1]) / "letsencrypt.log")
    return f"{DEFAULT_LOGS_DIR}/letsencrypt.log"
