"""Put a certificate in front of clients: symlinks, nginx -t, reload, then prove it by probing.

Used by `check` after certbot, by the MISMATCH repair, and by certbot's deploy
hook when certbot renewed on its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from certkeeper import atomic, nginx
from certkeeper.config import Config
from certkeeper.survey import live_dir, probe_domains

# nginx applies a reload asynchronously; give it this long to answer with the new certificate.
VERIFY_SECONDS = 15.0
VERIFY_INTERVAL = 0.2
# Old workers keep accepting for a moment after a reload; one good round can be luck.
VERIFY_ROUNDS = 2

_LINKS = (
    ("fullchain.crt", "fullchain.pem"),
    ("ca-bundle.crt", "chain.pem"),
    ("key", "privkey.pem"),
)


@dataclass(frozen=True)
class DeployOutcome:
    ok: bool
    step: str | None = None
    output: str = ""


def make_links(cfg: Config, cert_name: str) -> list[Path]:
    """The guide's /etc/nginx/certs/<service>.* symlinks, each swapped in one rename."""
    made = []
    live = live_dir(cfg, cert_name)
    cfg.nginx.certs_dir.mkdir(parents=True, exist_ok=True)
    for link in cfg.links_for(cert_name):
        for suffix, target in _LINKS:
            path = cfg.nginx.certs_dir / f"{link.name}.{suffix}"
            atomic.symlink(live / target, path)
            made.append(path)
    return made


def deploy(cfg: Config, cert_name: str) -> DeployOutcome:
    try:
        make_links(cfg, cert_name)
    except OSError as exc:
        return DeployOutcome(False, "symlinks", f"cannot write {cfg.nginx.certs_dir}: {exc}")
    tested = nginx.test_config(cfg)
    if not tested.ok:
        return DeployOutcome(
            False,
            "nginx -t",
            f"{tested.describe()}; nginx was NOT reloaded\n{tested.output_tail()}",
        )
    reloaded = nginx.reload(cfg)
    if not reloaded.ok:
        return DeployOutcome(False, "reload", f"{reloaded.describe()}\n{reloaded.output_tail()}")
    return DeployOutcome(True)


def verify_served(cfg: Config, domains: tuple[str, ...], serial: int) -> list[str]:
    """Poll until every domain serves `serial` in consecutive rounds.

    Returns one problem line per domain that doesn't; empty means verified.
    """
    deadline = time.monotonic() + VERIFY_SECONDS
    good_rounds = 0
    while True:
        problems = []
        for domain, result in zip(domains, probe_domains(cfg, list(domains)), strict=True):
            if result.cert is None:
                problems.append(f"{domain}: probe failed: {result.error}")
            elif result.cert.serial != serial:
                problems.append(
                    f"{domain}: nginx still serves serial {result.cert.serial_hex} "
                    f"(expires {result.cert.not_after:%Y-%m-%d %H:%M} UTC), not {serial:x}"
                )
        good_rounds = 0 if problems else good_rounds + 1
        if good_rounds >= VERIFY_ROUNDS or time.monotonic() >= deadline:
            return problems
        time.sleep(VERIFY_INTERVAL)
