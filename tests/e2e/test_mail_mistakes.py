"""A mistake on the mail side never stops a renewal: real certbot against pebble, real
nginx, a real SMTP server that takes AUTH.

Certificates are the job, mail is the report. A world-readable or missing password file,
or a missing ARI CA file, is said loudly and the renewal still happens; the notice waits
in the outbox and is delivered exactly once when the mistake is fixed. A mistake in what
decides the renewal itself still refuses the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.host import SHOP, Host, dump, issue, make_due
from support.smtp import Catcher, SMTPServer

PASSWORD = "right-horse"
RENEWED = "[SUCCESS] testhost \u2013 Cert renewed for shop.example.test"


class Logins(dict[str, str]):
    """The server's user table, remembering every login it was asked to check: AUTH
    attempts as the SMTP server saw them."""

    def __init__(self, users: dict[str, str]) -> None:
        super().__init__(users)
        self.asked: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.append(key)
        return super().get(key, default)


@pytest.fixture
def logins(host: Host) -> Iterator[Logins]:
    """Point the host at an SMTP server that takes AUTH (and mail without it, as a relay
    for this host would); the world's own catcher stays idle and is stopped by the world."""
    table = Logins({"certkeeper": PASSWORD})
    host.smtp = SMTPServer(Catcher(), users=table).start()
    host.write()
    try:
        yield table
    finally:
        host.smtp.stop()


def with_password(host: Host, secret: Path) -> None:
    doc = yaml.safe_load(host.config.read_text())
    doc["notify"]["smtp"].update(username="certkeeper", password_file=str(secret))
    host.config.write_text(yaml.safe_dump(doc, sort_keys=False))


def waiting_subjects(host: Host) -> str:
    listing = host.run("notify", "outbox")
    return str(listing.stdout)


def renewed_despite(host: Host, old: int, mistake: str) -> Any:
    """check renewed and served the due certificate, said the mistake, and exits 1."""
    proc = host.check()
    assert proc.returncode == 1, dump(proc) + host.certbot_log()[-3000:]
    assert "Traceback" not in proc.stderr
    assert f"WARNING: {host.config}: {mistake}" in proc.stderr, dump(proc)
    new = host.disk_serial("shop")
    assert new not in (None, old)
    assert host.served_serial(SHOP[0]) == new == host.served_serial(SHOP[1])
    assert "shop: renewed; nginx now serves it" in proc.stdout
    return proc


def test_a_world_readable_password_is_never_used_and_the_notice_waits(
    host: Host, logins: Logins
) -> None:
    issue(host)
    secret = host.root / "smtp-password"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o644)
    with_password(host, secret)
    old = make_due(host)

    mistake = (
        f"notify.smtp.password_file = '{secret}': expected a file that is not world-readable"
        f" (run: chmod 600 {secret}); notices wait in the outbox until it is fixed"
    )
    proc = renewed_despite(host, old, mistake)
    assert host.mails == [] and logins.asked == []
    assert "Cert renewed for shop.example.test" in waiting_subjects(host)
    validate = host.run("config", "validate")
    assert validate.returncode == 0, dump(validate)
    status = host.run("status")
    assert status.returncode == 1, dump(status)
    assert mistake in status.stderr
    metrics = host.run("metrics").stdout.splitlines()
    assert 'certkeeper_config_mistake{key="notify.smtp.password_file"} 1' in metrics
    assert "certkeeper_check_success 0" in metrics
    doctor = host.run("doctor")
    assert "\u2717 Mode and config mistakes: " in doctor.stdout
    held = host.run("notify", "flush")
    assert held.returncode == 1 and host.mails == [] and logins.asked == []
    for out in (proc, validate, status, doctor, held):
        assert PASSWORD not in out.stdout + out.stderr

    secret.chmod(0o600)
    fixed = host.check()
    assert fixed.returncode == 0, dump(fixed)
    [mail] = host.mails
    assert mail["Subject"] == RENEWED
    assert logins.asked == ["certkeeper"]
    assert host.run("notify", "flush").stdout == "the outbox is empty\n"
    assert host.check().returncode == 0
    assert len(host.mails) == 1


def test_a_missing_password_file_holds_the_notice_until_flush(host: Host, logins: Logins) -> None:
    issue(host)
    secret = host.root / "smtp-password"
    with_password(host, secret)
    old = make_due(host)
    renewed_despite(host, old, f"notify.smtp.password_file = '{secret}': expected a readable file")
    assert host.mails == [] and logins.asked == []

    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    flush = host.run("notify", "flush")
    assert flush.returncode == 0, dump(flush)
    [mail] = host.mails
    assert mail["Subject"] == RENEWED
    assert host.run("notify", "flush").stdout == "the outbox is empty\n"
    quiet = host.check()
    assert quiet.returncode == 0 and quiet.stdout == "", dump(quiet)
    assert len(host.mails) == 1 and host.run("status").returncode == 0


def test_a_missing_ari_ca_file_skips_ari_and_the_teams_rule_renews(host: Host) -> None:
    issue(host)
    missing = host.root / "no-such-ca.pem"
    host.extra_config = {"ari": {"ca_file": str(missing)}}
    host.write()
    old = make_due(host)
    renewed_despite(
        host,
        old,
        f"ari.ca_file = '{missing}': expected a readable PEM file of CA certificates;"
        " ARI is skipped until it is fixed (the team's rule still renews)",
    )
    [mail] = host.mails  # mail itself is fine: the notice went out
    assert mail["Subject"] == RENEWED
    assert host.run("config", "validate").returncode == 0


@pytest.mark.parametrize(
    "section",
    [
        {"nginx": {"test_command": "nginx -t"}},
        {"certbot": {"command": []}},
    ],
)
def test_a_mistake_in_what_decides_renewal_still_refuses(
    host: Host, section: dict[str, Any]
) -> None:
    issue(host)
    old = make_due(host)
    doc = yaml.safe_load(host.config.read_text())
    for key, values in section.items():
        doc[key].update(values)
    host.config.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = host.check()
    assert proc.returncode == 2, dump(proc)
    assert host.disk_serial("shop") == old == host.served_serial(SHOP[0])
    assert host.mails == []
