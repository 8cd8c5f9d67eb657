"""Rehearsals against pebble as the staging server, on a real host world (certbot, nginx,
SMTP): a renewal that would fail is told weeks ahead, and nothing live changes.

pebble fetches the HTTP-01 challenge from this host's nginx, so a broken challenge path is
nginx without its acme-challenge location, as in production.
"""

from __future__ import annotations

import json
import re
import stat
import time
from datetime import date, datetime
from pathlib import Path

import yaml

from support.host import SHOP, Host, dump, issue, make_due
from support.peers import age_lineage, certbot_path

SUBJECT = "[WARNING] testhost \u2013 Renewal will fail for shop.example.test"


def broken_challenge_path(host: Host) -> str:
    conf = host.nginx.conf.read_text()
    cut = re.sub(r"    location /\.well-known/acme-challenge/ \{.*?\}\n", "", conf, flags=re.S)
    assert cut != conf
    host.nginx.conf.write_text(cut)
    host.nginx.reload()
    return conf


def rehearsals_on(host: Host, **more: object) -> None:
    host.extra_config = {
        "rehearsal": {"enabled": True, "server": host.pebble.directory},
        **more,
    }
    host.write()


def lineage_bytes(host: Host, name: str = "shop") -> dict[str, bytes]:
    """Every file of the lineage certbot keeps: live/ (through its links), archive/ and the
    renewal conf, with the links' targets."""
    found: dict[str, bytes] = {}
    for folder in (host.le / "live" / name, host.le / "archive" / name):
        for path in sorted(folder.iterdir()):
            key = str(path.relative_to(host.le))
            found[key] = path.read_bytes()
            if path.is_symlink():
                found[key + " ->"] = str(path.readlink()).encode()
    conf = host.le / "renewal" / f"{name}.conf"
    found[str(conf.relative_to(host.le))] = conf.read_bytes()
    return found


def production_unreachable(host: Host) -> None:
    doc = yaml.safe_load(host.config.read_text())
    args = doc["certbot"]["extra_args"]
    args[args.index("--server") + 1] = "https://127.0.0.1:9/directory"
    host.config.write_text(yaml.safe_dump(doc))


def sixty_days_from_due(host: Host) -> int:
    """A 100-day certificate with 91 days left: due (at 31 days left) in 60 days."""
    serial = age_lineage(host.le, "shop", days_left=91, lifetime=100)
    host.nginx.reload()
    assert host.served_serial(SHOP[0]) == serial
    return serial


def test_a_broken_challenge_path_is_one_warning_weeks_ahead_and_nothing_live_changes(
    host: Host,
) -> None:
    issue(host)
    serial = sixty_days_from_due(host)
    good = broken_challenge_path(host)
    rehearsals_on(host)
    before = lineage_bytes(host)

    proc = host.check()
    assert proc.returncode == 0, dump(proc)
    assert "shop: rehearsal against staging FAILED" in proc.stdout, dump(proc)
    assert all(len(line) <= 120 for line in proc.stdout.splitlines()), dump(proc)
    [mail] = host.mails
    assert mail["Subject"] == SUBJECT
    body = mail.get_content()
    assert re.search(
        r"The renewal of shop\.example\.test due on \d{4}-\d\d-\d\d \d\d:\d\d UTC"
        r" will fail unless fixed\.",
        body,
    ), body
    assert "404" in body, body
    due = re.search(r"due on (\d{4}-\d\d-\d\d)", body)
    assert due and (datetime.strptime(due.group(1), "%Y-%m-%d").date() - date.today()).days in (
        59,
        60,
    )
    assert "First: sudo certkeeper doctor shop" in body
    assert lineage_bytes(host) == before
    assert host.served_serial(SHOP[0]) == serial == host.disk_serial("shop")
    first = host.state()["certs"]["shop"]["rehearsal"]
    assert first["ok"] is False and "404" in first["reason"]

    # The next run repeats nothing: no second rehearsal, no second card.
    again = host.check()
    assert again.returncode == 0, dump(again)
    assert "rehearsal" not in again.stdout
    assert len(host.mails) == 1
    assert host.state()["certs"]["shop"]["rehearsal"] == first

    # After the fix, on-call rehearses at once: it passes, and status shows it. The CA of
    # certbot.extra_args (production's place) is unreachable now: only rehearsal.server,
    # given last, can be asked, or the rehearsal fails.
    host.nginx.conf.write_text(good)
    host.nginx.reload()
    production_unreachable(host)
    fixed = host.run("rehearse", "shop")
    assert fixed.returncode == 0, dump(fixed)
    assert "shop: rehearsal against staging passed" in fixed.stdout
    assert len(host.mails) == 1
    assert lineage_bytes(host) == before
    assert host.served_serial(SHOP[0]) == serial

    status = host.run("status")
    assert re.search(r"REHEARSAL \(UTC\)", status.stdout), dump(status)
    assert re.search(r"passed \d{4}-\d\d-\d\d \d\d:\d\d", status.stdout), dump(status)
    assert max(len(line) for line in status.stdout.splitlines()) <= 120
    assert "OK" in status.stdout and "NOT_YET_VALID" not in status.stdout, dump(status)
    doc = json.loads(host.run("status", "--json").stdout)
    [row] = [r for r in doc["certificates"] if r["domain"] == SHOP[0]]
    assert row["rehearsal"]["ok"] is True and row["rehearsal"]["reason"] is None
    assert row["rehearsal"]["at"].endswith("Z")


def test_status_shows_a_failed_rehearsal_and_metrics_export_it(host: Host) -> None:
    issue(host)
    sixty_days_from_due(host)
    broken_challenge_path(host)
    metrics = host.root / "certkeeper.prom"
    rehearsals_on(host, metrics_file=str(metrics))
    never = json.loads(host.run("status", "--json").stdout)["certificates"]
    assert [row["rehearsal"] for row in never] == [None, None]
    failed = host.run("rehearse")
    assert failed.returncode == 1, dump(failed)
    assert "FAILED" in failed.stderr
    status = host.run("status")
    assert "FAILED " in status.stdout, dump(status)
    assert max(len(line) for line in status.stdout.splitlines()) <= 120
    assert host.check().returncode == 0
    text = metrics.read_text()
    assert re.search(r'^certkeeper_rehearsal_success\{cert_name="shop"\} 0$', text, re.M), text
    assert re.search(
        r'^certkeeper_rehearsal_last_timestamp_seconds\{cert_name="shop"\} \d+', text, re.M
    ), text


def test_shadow_mode_still_rehearses_and_logs_the_card_instead_of_sending_it(host: Host) -> None:
    issue(host)
    sixty_days_from_due(host)
    broken_challenge_path(host)
    rehearsals_on(host, mode="shadow")
    before = lineage_bytes(host)
    proc = host.check()
    assert proc.returncode == 0, dump(proc)
    assert "shop: rehearsal against staging FAILED" in proc.stdout, dump(proc)
    assert host.mails == []
    assert not list((host.root / "state" / "outbox").glob("*"))
    assert host.state()["certs"]["shop"]["rehearsal"]["ok"] is False
    assert lineage_bytes(host) == before


def hanging_certbot(host: Host) -> Path:
    """certbot, except that a rehearsal of alpha hangs (a staging server that never answers)."""
    script = host.root / "certbot-hangs-on-rehearsal"
    script.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" --dry-run "*" alpha "*|*" alpha "*" --dry-run "*) exec sleep 600;; esac\n'
        f'exec {certbot_path()} "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_a_hanging_rehearsal_is_bounded_and_another_lineage_still_renews(host: Host) -> None:
    issue(host)
    issue(host, "alpha", ("alpha.example.test",))
    old = make_due(host)
    host.certbot_command = [str(hanging_certbot(host))]
    host.certbot_timeout = 20
    rehearsals_on(host)
    started = time.monotonic()
    proc = host.check()
    took = time.monotonic() - started
    assert proc.returncode == 0, dump(proc)
    new = host.disk_serial("shop")
    assert new not in (None, old)
    assert host.served_serial(SHOP[0]) == new
    assert re.search(
        r"alpha: rehearsal against staging FAILED.*did not finish within"
        r" 20s",
        proc.stdout,
    ), dump(proc)
    # shop's renewal just ran against the CA: no rehearsal of it, its SUCCESS card told it.
    assert "shop: rehearsal" not in proc.stdout
    assert host.state()["certs"]["shop"]["rehearsal"] is None
    assert took < 20 + 90, took
    subjects = sorted(m["Subject"] for m in host.mails)
    assert subjects == [
        "[SUCCESS] testhost \u2013 Cert renewed for shop.example.test",
        "[WARNING] testhost \u2013 Renewal will fail for alpha.example.test",
    ]
