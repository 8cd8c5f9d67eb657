"""The job certkeeper exists for, end to end: real certbot against pebble, real nginx, real SMTP.

Every case asserts what the team would see: the exit code, the state file, the
certificate nginx serves afterwards and the e-mail that arrived.
"""

from __future__ import annotations

import json
import subprocess

from support.host import SHOP, Host, dump, issue, make_due


def test_first_issuance_then_status_ok(host: Host) -> None:
    host.add("shop", *SHOP)
    before = host.served_serial(SHOP[0])
    proc = host.check()
    assert proc.returncode == 0, dump(proc) + host.certbot_log()[-3000:]
    serial = host.disk_serial("shop")
    assert serial is not None and serial != before
    assert host.served_serial(SHOP[0]) == serial == host.served_serial(SHOP[1])
    link = host.nginx.certs_dir / "shop.fullchain.crt"
    assert link.is_symlink() and link.resolve() == (host.le / "live/shop/fullchain.pem").resolve()
    assert (host.nginx.certs_dir / "shop.ca-bundle.crt").readlink().name == "chain.pem"
    assert (host.nginx.certs_dir / "shop.key").readlink().name == "privkey.pem"
    [mail] = host.mails
    assert mail["Subject"] == "[SUCCESS] testhost \u2013 Cert issued for shop.example.test"
    assert "Nginx has been reloaded with the new certificate." in mail.get_content()
    assert host.state()["certs"]["shop"]["last_result"] == "success"
    status = host.run("status", "--json")
    assert status.returncode == 0, dump(status)
    rows = json.loads(status.stdout)["certificates"]
    assert [r["state"] for r in rows] == ["OK", "OK"]
    assert {r["served"]["serial"] for r in rows} == {format(serial, "x")}


def _renewed_served_and_told(
    host: Host, proc: subprocess.CompletedProcess[str], old: int | None
) -> str:
    """check renewed shop: a new serial on disk, served on both names, said on stdout and
    in exactly one SUCCESS mail, whose body is returned."""
    assert proc.returncode == 0, dump(proc) + host.certbot_log()[-3000:]
    new = host.disk_serial("shop")
    assert new not in (None, old), dump(proc)
    assert host.served_serial(SHOP[0]) == new == host.served_serial(SHOP[1])
    assert "shop: renewed; nginx now serves it" in proc.stdout
    [mail] = host.mails
    assert mail["Subject"] == "[SUCCESS] testhost \u2013 Cert renewed for shop.example.test"
    return str(mail.get_content())


def test_due_certificate_is_renewed_served_and_announced_once(host: Host) -> None:
    import time

    issue(host)
    old = make_due(host)
    started = time.monotonic()
    proc = host.check()
    elapsed = time.monotonic() - started
    assert elapsed < 30, "a due renewal against a local ACME server takes seconds"
    body = _renewed_served_and_told(host, proc, old)
    assert "(5 days remaining)" in body and "(~90 days)" in body
    assert "Domains covered: shop.example.test, www.shop.example.test" in body
    rec = host.state()["certs"]["shop"]
    assert rec["last_result"] == "success" and rec["consecutive_failures"] == 0
    assert rec["previous_expiry"] < rec["new_expiry"]
    assert host.archive_count("shop") == 2


def test_certificate_not_due_runs_nothing_and_prints_nothing(host: Host) -> None:
    issue(host)
    proc = host.check()
    assert proc.returncode == 0
    assert proc.stdout == "" and proc.stderr == ""
    assert host.mails == []
    assert host.archive_count("shop") == 1
    assert host.state()["certs"]["shop"]["last_check"] is not None


def test_dry_run_changes_and_sends_nothing(host: Host) -> None:
    issue(host)
    make_due(host)
    state_before = (host.root / "state" / "state.json").read_bytes()
    proc = host.check("--dry-run")
    assert proc.returncode == 0, dump(proc)
    assert proc.stdout.strip() == "would renew shop (5 days left on disk; service shop)"
    assert host.archive_count("shop") == 1
    assert host.mails == []
    assert (host.root / "state" / "state.json").read_bytes() == state_before


def test_failed_validation_reports_certbot_reason_and_backs_off(host: Host) -> None:
    issue(host)
    old = make_due(host)
    # nginx now answers the challenge path from an empty folder: 404 for every token.
    host.nginx.challenge_root = host.root / "empty"
    host.nginx.challenge_root.mkdir()
    host.nginx.write_conf()
    host.nginx.reload()
    proc = host.check()
    assert proc.returncode == 1, dump(proc)
    assert "shop: certbot failed" in proc.stderr
    assert host.served_serial(SHOP[0]) == old
    [mail] = host.mails
    assert mail["Subject"] == "[ERROR] testhost \u2013 Cert renewal FAILED for shop.example.test"
    body = mail.get_content()
    assert "Failed step: certbot" in body
    assert "Some challenges have failed." in body
    assert f"4. Certbot logs: {host.root}/logs/letsencrypt.log" in body
    rec = host.state()["certs"]["shop"]
    assert rec["consecutive_failures"] == 1 and rec["failed_step"] == "certbot"
    attempts = host.certbot_log().count("Renewing an existing certificate")

    again = host.check()
    assert again.returncode == 1
    assert "still failing since" in again.stderr and "--force" in again.stderr
    assert host.certbot_log().count("Renewing an existing certificate") == attempts
    assert len(host.mails) == 1
    assert host.state()["certs"]["shop"]["last_attempt"] == rec["last_attempt"]


def test_nginx_config_broken_after_renewal_means_no_reload(host: Host) -> None:
    issue(host)
    old = make_due(host)
    (host.nginx.sites / "zz-broken.conf").write_text(
        "server { listen 127.0.0.1:1 ssl; ssl_bogus_directive on; }\n"
    )
    proc = host.check()
    assert proc.returncode == 1, dump(proc)
    assert "shop: nginx -t failed" in proc.stderr
    assert host.disk_serial("shop") != old  # certbot did renew
    assert host.served_serial(SHOP[0]) == old  # but nginx was left alone
    [mail] = host.mails
    body = mail.get_content()
    assert "Failed step: nginx -t" in body
    assert 'unknown directive "ssl_bogus_directive"' in body
    assert "nginx was NOT reloaded" in body


def test_renewal_nobody_deployed_is_deployed_and_told_as_the_renewal_it_was(host: Host) -> None:
    issue(host)
    old = host.served_serial(SHOP[0])
    # certbot renews by hand with hooks off: the classic "renewed but never reloaded".
    renewed = host.certbot_renew("--no-directory-hooks")
    assert renewed.returncode == 0, renewed.stderr
    disk = host.disk_serial("shop")
    assert disk != old and host.served_serial(SHOP[0]) == old
    status = host.run("status", "--only", "shop")
    assert status.returncode == 2 and "MISMATCH" in status.stdout
    proc = host.check()
    assert proc.returncode == 0, dump(proc)
    assert host.served_serial(SHOP[0]) == disk == host.served_serial(SHOP[1])
    [mail] = host.mails
    assert mail["Subject"] == "[SUCCESS] testhost \u2013 Cert renewed for shop.example.test"
    assert "renewed by certbot outside certkeeper" in mail.get_content()
    assert format(old, "x") in mail.get_content()
    assert host.run("status").returncode == 0


def test_missed_reload_of_a_told_certificate_is_repaired_by_reloading(host: Host) -> None:
    issue(host)
    renewed = host.certbot_renew("--no-directory-hooks")
    assert renewed.returncode == 0, renewed.stderr
    assert host.check().returncode == 0  # told as the renewal it was
    host.smtp.catcher.raw.clear()
    told = host.disk_serial("shop")
    # Someone reloads nginx while its links point at the old files, then puts them back.
    links = {
        host.nginx.certs_dir / "shop.fullchain.crt": "fullchain1.pem",
        host.nginx.certs_dir / "shop.key": "privkey1.pem",
    }
    targets = {link: link.readlink() for link in links}
    for link, old_file in links.items():
        link.unlink()
        link.symlink_to(host.le / "archive" / "shop" / old_file)
    host.nginx.reload()
    for link, target in targets.items():
        link.unlink()
        link.symlink_to(target)
    old = host.served_serial(SHOP[0])
    assert old not in (None, told)
    proc = host.check()
    assert proc.returncode == 0, dump(proc)
    assert host.served_serial(SHOP[0]) == told == host.served_serial(SHOP[1])
    [mail] = host.mails
    assert mail["Subject"] == "[SUCCESS] testhost \u2013 Nginx reloaded for shop.example.test"
    assert format(old, "x") in mail.get_content()


def test_renewal_outside_certbots_own_window_is_forced(host: Host) -> None:
    """30.5 of 90 days left: the team's 31-day rule says due, certbot's own 1/3 rule says
    "not yet due" and would exit 0 having renewed nothing. Only --force-renewal in
    certkeeper's argv makes this renewal happen; without it the check would fail its
    "the disk changed" verification."""
    issue(host)
    old = make_due(host, days_left=30.5)
    # The premise, shown by certbot itself: unforced, it leaves this certificate alone.
    unforced = host.certbot_renew(force=False)
    assert unforced.returncode == 0, unforced.stdout + unforced.stderr
    assert "not yet due" in unforced.stdout + unforced.stderr
    assert host.disk_serial("shop") == old

    proc = host.check()
    assert "(30 days remaining)" in _renewed_served_and_told(host, proc, old)
