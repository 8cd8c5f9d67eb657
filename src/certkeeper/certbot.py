"""certbot invocations: argv builders and the one place certbot is run.

certkeeper owns the schedule. certbot's own "not yet due" (its 2/3-lifetime
rule, renew_before_expiry, ARI) would otherwise exit 0 having renewed nothing,
so every renewal is forced, and the random sleep certbot adds without a TTY is
switched off: a due renewal must take seconds, not up to eight minutes.
"""

from __future__ import annotations

import os
from pathlib import Path

from certkeeper import proc
from certkeeper.config import Config, Lineage, Service

# Set for certbot's children so our own deploy hook knows the parent check run
# will deploy and verify, and does not reload nginx or notify a second time.
PARENT_ENV = "CERTKEEPER_PARENT_PID"
DEFAULT_LOGS_DIR = "/var/log/letsencrypt"


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
    return argv + _common(cfg)


def renew_argv(cfg: Config, lineage: Lineage) -> list[str]:
    return [
        *cfg.certbot.command,
        "renew",
        "--cert-name",
        lineage.cert_name,
        "--force-renewal",
        "--no-random-sleep-on-renew",
        *_common(cfg),
    ]


def run(cfg: Config, argv: list[str]) -> proc.Result:
    return proc.run(argv, timeout=cfg.certbot.timeout_seconds, env={PARENT_ENV: str(os.getpid())})


def logs_file(cfg: Config) -> str:
    args = list(cfg.certbot.extra_args)
    for i, arg in enumerate(args):
        if arg == "--logs-dir" and i + 1 < len(args):
            return str(Path(args[i + 1]) / "letsencrypt.log")
        if arg.startswith("--logs-dir="):
            return str(Path(arg.split("=", 1)[1]) / "letsencrypt.log")
    return f"{DEFAULT_LOGS_DIR}/letsencrypt.log"
