"""Short-lived certificates and ACME profiles, tried as a user would: pebble issuing 6-day
certificates, real certbot and nginx, and certbot's renewal conf read back."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.host import SHOP, Host, dump, issue, make_due, world
from support.peers import DAY, Pebble

BLOG = ("blog.example.test",)


@pytest.fixture(scope="module")
def pebble6(tmp_path_factory: pytest.TempPathFactory, http_port: int) -> Iterator[Pebble]:
    """Let's Encrypt's `shortlived` profile, as pebble 2.4 can play it: 6-day certificates."""
    server = Pebble(tmp_path_factory.mktemp("pebble6"), http_port, validity_seconds=6 * DAY)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def host6(tmp_path: Path, pebble6: Pebble, http_port: int) -> Iterator[Host]:
    with world(tmp_path, pebble6, http_port) as one:
        yield one


def test_six_day_certificates_with_and_without_31_days(host6: Host) -> None:
    host6.add("shop", *SHOP, renewal_days=31)
    host6.add("blog", *BLOG, renewal_days=None)
    issued = host6.check()
    assert issued.returncode == 0, dump(issued) + host6.certbot_log()[-3000:]
    assert len(host6.mails) == 2
    host6.smtp.catcher.raw.clear()
    # As if a day had passed: the 20-hour guard is not what holds them back.
    for name in ("shop", "blog"):
        host6.edit_state(name, last_attempt="2000-01-01T00:00:00Z")

    proc = host6.check()
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == "", dump(proc)
    assert host6.archive_count("shop") == 1 and host6.archive_count("blog") == 1
    assert host6.mails == [], "and no WARNING on issue either"
    dry = host6.check("--dry-run")
    assert dry.stdout.strip() == "nothing to do: no certificate is due", dump(dry)

    status = host6.run("status", "--wide")  # the rule whole, not shortened to 120 columns
    assert status.returncode == 0, dump(status)
    assert re.search(
        r"^shop +- +1/2 of 6 days \(lifetime rule: the configured 31 days would renew at once\)"
        r" +\d{4}-\d{2}-\d{2} \d{2}:\d{2} +never$",
        status.stdout,
        re.M,
    ), status.stdout
    assert re.search(
        r"^blog +- +1/2 of 6 days \(lifetime rule: the default 31 days", status.stdout, re.M
    )
    warning = (
        "warning: service shop: certbot_renewal_days: 31 is not honoured for certificate shop, "
        "whose lifetime is 6 days: a 31-day window would cover most or all of it and renew on "
        "every run, so 1/2 of the lifetime (3 days) is used instead"
    )
    assert status.stderr.splitlines() == [warning], "blog sets no days of its own: no warning"

    doc = json.loads(host6.run("status", "--json").stdout)
    renewals = {r["cert_name"]: r["renewal"] for r in doc["certificates"]}
    assert renewals["shop"]["rule"] == renewals["blog"]["rule"] == "lifetime"
    assert renewals["shop"]["window_days"] == 3.0 and renewals["shop"]["ari"] is None

    validate = host6.run("config", "validate")
    assert validate.returncode == 0, dump(validate)
    assert validate.stderr.splitlines() == [warning]


def test_profile_reaches_certbot_and_its_renewal_conf(host: Host) -> None:
    """pebble 2.4 offers no profiles, so certbot keeps the preference but the CA issues its
    90-day default: exactly the drift the SUCCESS card must point out."""
    host.add("shop", *SHOP, profile="shortlived")
    proc = host.check()
    assert proc.returncode == 0, dump(proc) + host.certbot_log()[-3000:]
    conf = host.le / "renewal" / "shop.conf"
    assert "preferred_profile = shortlived" in conf.read_text()
    [mail] = host.mails
    body = mail.get_content()
    assert (
        "Note: profile drift: profile 'shortlived' gives 6.7-day certificates, but this one is valid for 90 days"
        in body
    )
    status = host.run("status")
    assert re.search(r"^shop +shortlived +31 days \(configured\)", status.stdout, re.M), dump(
        status
    )
    assert json.loads(host.run("status", "--json").stdout)["certificates"][0]["profile"] == (
        "shortlived"
    )

    # A renewal conf that lost the profile (written by an older certbot, or by hand):
    # the renewal passes it again and certbot keeps it.
    conf.write_text(conf.read_text().replace("preferred_profile = shortlived\n", ""))
    host.smtp.catcher.raw.clear()
    make_due(host)
    renewed = host.check()
    assert renewed.returncode == 0, dump(renewed) + host.certbot_log()[-3000:]
    assert "shop: renewed" in renewed.stdout
    assert "preferred_profile = shortlived" in conf.read_text()


OLD_CERTBOT = """#!/bin/sh
# Debian 12's certbot: no --preferred-profile. Anything but --version must not happen.
if [ "$1" = "--version" ]; then echo "certbot 2.1.0"; exit 0; fi
echo "certkeeper ran an old certbot with: $*" >&2
exit 3
"""


def test_an_old_certbot_with_a_profile_is_a_clear_error(host: Host, tmp_path: Path) -> None:
    issue(host)
    script = tmp_path / "bin" / "certbot"
    script.parent.mkdir()
    script.write_text(OLD_CERTBOT)
    script.chmod(0o755)
    host.certbot_command = [str(script)]
    host.add("shop", *SHOP, profile="tlsserver")
    make_due(host)
    proc = host.check()
    assert proc.returncode == 1, dump(proc)
    assert proc.stderr.strip() == (
        "ERROR: shop: certbot failed: certbot 2.1: profile 'tlsserver' needs certbot 4.0 or "
        "newer (--preferred-profile); Debian 12's certbot is 2.1. Install a newer certbot (pip "
        "or snap) and point certbot.command at it, or remove `profile:` from the service file"
    )
    assert "Traceback" not in proc.stderr
    [mail] = host.mails
    assert mail["Subject"] == "[ERROR] testhost \u2013 Cert renewal FAILED for shop.example.test"
    assert "needs certbot 4.0 or newer" in mail.get_content()
    assert host.archive_count("shop") == 1
