"""Put a certificate in front of clients: symlinks, nginx -t, reload, then prove it by probing.

`deploy_and_verify` is the one tail every path shares: `check` after certbot, the
MISMATCH repair, and certbot's deploy hook when certbot renewed on its own. The
ERROR-event constructor lives beside it, since every failed step ends there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from certkeeper import atomic, certbot, nginx
from certkeeper.config import Config, Lineage
from certkeeper.notify.events import Event, Failed
from certkeeper.probe import ProbeResult
from certkeeper.value import Value
from certkeeper.x509info import CertInfo

# What nginx serves for each of these names: the caller's probe (survey.probe_domains
# bound to the config), so deploying never reaches sideways into the survey.
Probe = Callable[[list[str]], list[ProbeResult]]

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
# (suffix of the nginx symlink, the lineage file it points at), for `doctor` to check.
LINK_FILES = _LINKS


class DeployOutcome(Value):
    ok: bool
    step: str | None = None
    output: str = ""


def make_links(cfg: Config, cert_name: str) -> list[Path]:
    """The guide's /etc/nginx/certs/<service>.* symlinks, each swapped in one rename."""
    made = []
    live = certbot.live_dir(cfg, cert_name)
    cfg.nginx.certs_dir.mkdir(parents=True, exist_ok=True)
    for link in cfg.links_for(cert_name):
        for suffix, target in _LINKS:
            path = cfg.nginx.certs_dir / f"{link.name}.{suffix}"
            atomic.symlink(live / target, path)
            made.append(path)
    return made


def server_block_lines(cfg: Config, cert_name: str) -> tuple[str, ...]:
    """The nginx directives that serve this lineage through the guide's symlinks."""
    lines: list[str] = []
    for link in cfg.links_for(cert_name):
        base = cfg.nginx.certs_dir / link.name
        lines += [f"ssl_certificate {base}.fullchain.crt;", f"ssl_certificate_key {base}.key;"]
    return tuple(lines)


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


class Seen(StrEnum):
    """What this host's nginx answered for one name after the reload."""

    NEW = "new"  # the certificate we just put in place
    ABSENT = "absent"  # nothing for this name: no TLS answer, or a certificate without it
    OTHER = "other"  # a different certificate that names it


class Answer(Value):
    domain: str
    seen: Seen
    detail: str  # a sentence for the card and stdout


def _answer(domain: str, result: ProbeResult, serial: int) -> Answer:
    cert = result.cert
    if cert is None:
        return Answer(domain, Seen.ABSENT, f"{domain}: probe failed: {result.error}")
    if cert.serial == serial:
        return Answer(domain, Seen.NEW, f"{domain}: nginx serves the new certificate")
    if not result.covered:
        return Answer(
            domain,
            Seen.ABSENT,
            f"{domain}: nginx does not serve this name yet (it answered with a certificate "
            f"for {', '.join(cert.sans[:3]) or 'another name'})",
        )
    return Answer(
        domain,
        Seen.OTHER,
        f"{domain}: nginx serves a different certificate for this name: serial "
        f"{cert.serial_hex} from {cert.issuer} (expires {cert.not_after:%Y-%m-%d %H:%M} UTC), "
        f"not the new {serial:x}",
    )


def watch_served(
    probe: Probe, domains: tuple[str, ...], serial: int, *, first_issuance: bool = False
) -> list[Answer]:
    """Poll this host's nginx until its answers for every name have settled.

    A renewal has settled when every name serves `serial` in VERIFY_ROUNDS consecutive
    rounds. A first issuance may meet names nginx does not serve yet (Ansible adds the
    server block once the certificate exists), so it has also settled when the same
    answers, none of them an old certificate for the name, repeat for VERIFY_ROUNDS rounds.
    Gives up after VERIFY_SECONDS and returns the last round's answers.
    """
    deadline = time.monotonic() + VERIFY_SECONDS
    previous: list[Seen] = []
    steady = 0
    while True:
        results = probe(list(domains))
        answers = [_answer(d, r, serial) for d, r in zip(domains, results, strict=True)]
        seen = [a.seen for a in answers]
        ok = Seen.OTHER not in seen if first_issuance else all(s is Seen.NEW for s in seen)
        steady = (steady + 1 if seen == previous else 1) if ok else 0
        previous = seen
        if steady >= VERIFY_ROUNDS or time.monotonic() >= deadline:
            return answers
        time.sleep(VERIFY_INTERVAL)


class Attempt(Value):
    """One attempt's story so far: what every event of it carries, whichever way it ends."""

    lineage: Lineage
    at: datetime
    nonce: str
    notes: tuple[str, ...] = ()
    # What clients saw expire before the attempt: the ERROR card's "current expiry".
    current_expiry: datetime | None = None
    issuance: bool = False  # a first issuance: there is no "current" certificate


def failure(cfg: Config, attempt: Attempt, step: str, output: str) -> Failed:
    """An ERROR event, with the lineage's webroot and certbot's log filled in for the card."""
    return Failed(
        cert_name=attempt.lineage.cert_name,
        domains=attempt.lineage.domains,
        at=attempt.at,
        current_expiry=attempt.current_expiry,
        step=step,
        output=output,
        webroot=str(attempt.lineage.webroot),
        certbot_log=certbot.logs_file(cfg),
        notes=attempt.notes,
        nonce=attempt.nonce,
        issuance=attempt.issuance,
    )


def deploy_and_verify(
    cfg: Config,
    attempt: Attempt,
    cert: CertInfo | None,
    succeeded: Callable[[CertInfo, tuple[str, ...]], Event],
    *,
    probe: Probe,
    unreadable: str = "no certificate on disk",
) -> Event:
    """Deploy `cert` (symlinks, nginx -t, reload), watch nginx serve it, and tell how it went.

    The ERROR names the first step that broke; `succeeded` builds the caller's own
    SUCCESS event from the certificate and the names nginx does not serve yet (always
    none for a renewal: a renewal is a SUCCESS only when every name serves the new
    serial). A first issuance often comes before its server block exists (Ansible adds it
    once the certificate does), so it proves disk, links, nginx -t and the reload, and
    says what nginx serves.
    """
    outcome = deploy(cfg, attempt.lineage.cert_name)
    if not outcome.ok:
        assert outcome.step is not None
        return failure(cfg, attempt, outcome.step, outcome.output)
    if cert is None:
        return failure(cfg, attempt, "verification", unreadable)
    answers = watch_served(
        probe, attempt.lineage.domains, cert.serial, first_issuance=attempt.issuance
    )
    not_served = tuple(a.detail for a in answers if a.seen is not Seen.NEW)
    if not_served and not attempt.issuance:
        return failure(cfg, attempt, "post-reload probe", "\n".join(not_served))
    return succeeded(cert, not_served)
