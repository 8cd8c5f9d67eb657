"""`certkeeper doctor` against the e2e sandbox: real pebble, certbot, nginx and aiosmtpd.

A healthy service passes every check; each fault a host meets fails its own check and
only that one; the HTTP-01 test token never stays behind. The names resolve nowhere in
the sandbox, so the tests say where "DNS" leads with --resolve, as a person would with
curl's --resolve. The timer check reads a fake root (CERTKEEPER_SYSTEMD_ROOT) with real
systemctl --root and a cron file in it.
"""

from __future__ import annotations

import json
import os
import re
import stat
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from certkeeper.notify import outbox
from support.drip import DripServer
from support.host import SHOP, Host, dump, issue
from support.peers import Nginx
from support.smtp import free_port

ALL_CHECKS = {
    "config",
    "mode",
    "dns",
    "caa",
    "http01",
    "webroot",
    "nginx",
    "lineage",
    "symlinks",
    "served",
    "hook",
    "timer",
    "notify",
    "history",
}
CRON_LINE = "0 3,15 * * * root /usr/bin/certkeeper check\n"


def fake_root(host: Host, cron: bool = True) -> Path:
    """The host's system files as doctor reads them: no systemd unit installed, and the
    package's cron file with its line uncommented (or no cron file at all)."""
    root = host.root / "sysroot"
    (root / "etc" / "cron.d").mkdir(parents=True, exist_ok=True)
    cron_file = root / "etc" / "cron.d" / "certkeeper"
    if cron:
        cron_file.write_text("# certkeeper from cron\n" + CRON_LINE)
    else:
        cron_file.unlink(missing_ok=True)
    return root


def resolve_to(address: str, domains: tuple[str, ...] = SHOP) -> list[str]:
    args = []
    for domain in domains:
        args += ["--resolve", f"{domain}:{address}"]
    return args


def doctor(
    host: Host, *args: str, cron: bool = True, address: str = "127.0.0.1"
) -> tuple[Any, dict[str, Any]]:
    root = fake_root(host, cron)
    proc = host.run_env(
        "doctor", "--json", *resolve_to(address), *args, CERTKEEPER_SYSTEMD_ROOT=str(root)
    )
    assert proc.returncode in (0, 1), dump(proc)
    assert "Traceback" not in proc.stderr, dump(proc)
    return proc, json.loads(proc.stdout)


def failed(doc: dict[str, Any]) -> set[str]:
    return {c["check"] for c in doc["checks"] if not c["ok"]}


def by_check(doc: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [c for c in doc["checks"] if c["check"] == name]
    return found


def tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def ready(host: Host) -> None:
    """A healthy host: the certificate issued and served, the deploy hook installed."""
    issue(host)
    proc = host.run("install-hook")
    assert proc.returncode == 0, dump(proc)


@pytest.fixture
def healthy(host: Host) -> Host:
    ready(host)
    return host


def test_a_healthy_service_passes_every_check(healthy: Host) -> None:
    host = healthy
    before = tree(host.nginx.webroot)
    # certbot's log is read back to the terminal: a hostile line must arrive escaped.
    with (host.root / "logs" / "letsencrypt.log").open("a") as log:
        log.write("2026-11-30 03:00:00 shop.example.test \x1b[2J\x1b]0;owned\x07 said hi\n")
    proc, doc = doctor(host)
    assert proc.returncode == 0, json.dumps(doc, indent=1)
    assert {c["check"] for c in doc["checks"]} == ALL_CHECKS
    assert failed(doc) == set()
    assert doc["ok"] is True
    for item in doc["checks"]:
        assert set(item) >= {"check", "ok", "finding", "fix"}
    assert "this host's nginx" in by_check(doc, "http01")["finding"]
    assert "token served" in by_check(doc, "http01")["finding"]
    assert CRON_LINE.strip() in by_check(doc, "timer")["finding"]
    assert "answers EHLO" in by_check(doc, "notify")["finding"]
    assert tree(host.nginx.webroot) == before
    assert host.mails == []  # nothing is sent without --send-test

    # The same as a person reads it: one line per check, the log tail escaped.
    text = host.run_env(
        "doctor", *resolve_to("127.0.0.1"), CERTKEEPER_SYSTEMD_ROOT=str(fake_root(host))
    )
    assert text.returncode == 0, dump(text)
    lines = text.stdout.splitlines()
    marks = [line for line in lines if line.startswith(("\u2713", "\u2717"))]
    assert len(marks) == len(ALL_CHECKS)
    assert all(line.startswith("\u2713 ") for line in marks), text.stdout
    assert lines[0] == f"all {len(ALL_CHECKS)} checks pass"
    assert "\x1b" not in text.stdout and "\x07" not in text.stdout
    # certbot's log is shown under a failed check only; --json has it, escaped.
    assert "said hi" not in text.stdout
    assert any(
        "\\x1b[2J\\x1b]0;owned\\x07 said hi" in d for d in by_check(doc, "history")["details"]
    )
    assert tree(host.nginx.webroot) == before


def test_send_test_sends_one_notice(healthy: Host) -> None:
    proc, doc = doctor(healthy, "--send-test")
    assert proc.returncode == 0, json.dumps(doc, indent=1)
    assert "test notice delivered" in by_check(doc, "notify")["finding"]
    [mail] = healthy.mails
    assert mail["Subject"] == "[TEST] testhost \u2013 certkeeper notification test"


# ------------------------------------------------------------------ the faults


def remove_challenge_location(host: Host, request: pytest.FixtureRequest) -> dict[str, str]:
    conf = host.nginx.conf.read_text()
    cut = re.sub(r"    location /\.well-known/acme-challenge/ \{.*?\}\n", "", conf, flags=re.S)
    assert cut != conf
    host.nginx.conf.write_text(cut)
    host.nginx.reload()
    return {}


def challenge_on_the_other_host(host: Host, request: pytest.FixtureRequest) -> dict[str, str]:
    request.getfixturevalue("other_host")
    return {"address": "127.0.0.2"}


def break_nginx_config(host: Host, request: pytest.FixtureRequest) -> dict[str, str]:
    (host.nginx.sites / "broken.conf").write_text("server { listen 127.0.0.1:1 ssl; nonsense; }\n")
    return {}


def remove_hook(host: Host, request: pytest.FixtureRequest) -> dict[str, str]:
    (host.le / "renewal-hooks" / "deploy" / "certkeeper.sh").unlink()
    return {}


def lose_lineage(host: Host, request: pytest.FixtureRequest) -> dict[str, str]:
    # certbot knows a lineage by its renewal conf: without it `certbot certificates` and
    # `certbot renew` skip it, while nginx keeps serving the files in live/.
    (host.le / "renewal" / "shop.conf").unlink()
    return {}


def point_symlink_elsewhere(host: Host, request: pytest.FixtureRequest) -> dict[str, str]:
    link = host.nginx.certs_dir / "shop.ca-bundle.crt"
    link.unlink()
    link.symlink_to(host.le / "live" / "shop" / "cert.pem")
    return {}


def serve_older_certificate(host: Host, request: pytest.FixtureRequest) -> dict[str, str]:
    # certbot renews on its own without hooks: a new certificate on disk, never reloaded.
    old = host.disk_serial("shop")
    renewed = host.certbot_renew("--no-directory-hooks")
    assert renewed.returncode == 0, renewed.stderr
    assert host.disk_serial("shop") != old and host.served_serial(SHOP[0]) == old
    return {}


def stop_smtp(host: Host, request: pytest.FixtureRequest) -> dict[str, str]:
    host.smtp.stop()

    def running_again() -> None:
        # The host fixture stops this server at teardown: give it a running one to stop.
        host.smtp.controller = Controller(host.smtp.catcher, hostname="127.0.0.1", port=free_port())
        host.smtp.controller.start()

    request.addfinalizer(running_again)
    return {}


def hold_a_notice(host: Host, request: pytest.FixtureRequest) -> dict[str, str]:
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = "[ERROR] testhost \u2013 Cert renewal FAILED for shop.example.test"
    msg["From"] = "operations@example.com"
    msg["To"] = "board+e2e@boards.example.com"
    msg["Message-ID"] = "<shop.error.1@testhost.certkeeper>"
    msg.set_content("waiting\n")
    # As an earlier release spooled it: an e-mail waiting in the outbox.
    folder = outbox.outbox_dir(host.root / "state")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    (folder / "shop.error.20261130T030000Z.eml").write_bytes(msg.as_bytes())
    return {}


FAULTS: list[tuple[str, Callable[[Host, pytest.FixtureRequest], dict[str, str]], str, str]] = [
    ("challenge-location-removed", remove_challenge_location, "http01", "404 on ACME challenge"),
    (
        "challenge-on-other-host",
        challenge_on_the_other_host,
        "http01",
        "HTTP-01 needs the challenge path shared or proxied between the pair",
    ),
    ("nginx-config-broken", break_nginx_config, "nginx", "fix the configuration nginx names"),
    ("hook-removed", remove_hook, "hook", "install-hook"),
    ("lineage-missing", lose_lineage, "lineage", "renewal/shop.conf"),
    ("symlink-elsewhere", point_symlink_elsewhere, "symlinks", "ln -sfn"),
    ("older-certificate-served", serve_older_certificate, "served", "MISMATCH"),
    ("smtp-down", stop_smtp, "notify", "certkeeper notify test"),
    ("outbox-holds-a-notice", hold_a_notice, "notify", "certkeeper notify flush"),
]


@pytest.mark.parametrize(
    ("introduce", "check", "words"),
    [pytest.param(f, c, w, id=name) for name, f, c, w in FAULTS],
)
def test_each_fault_fails_its_own_check_and_only_that_one(
    healthy: Host,
    request: pytest.FixtureRequest,
    introduce: Callable[[Host, pytest.FixtureRequest], dict[str, str]],
    check: str,
    words: str,
) -> None:
    host = healthy
    before = tree(host.nginx.webroot)
    options = introduce(host, request)
    proc, doc = doctor(host, **options)
    assert proc.returncode == 1, json.dumps(doc, indent=1)
    assert failed(doc) == {check}, json.dumps(doc, indent=1)
    [bad] = [c for c in doc["checks"] if not c["ok"]]
    assert words in bad["finding"] + " " + bad["fix"], bad
    assert tree(host.nginx.webroot) == before


def test_the_other_host_is_named_in_the_finding(healthy: Host, other_host: Nginx) -> None:
    proc, doc = doctor(healthy, address="127.0.0.2")
    assert proc.returncode == 1
    http01 = by_check(doc, "http01")
    assert "the challenge reached another host" in http01["finding"]
    assert "via 127.0.0.2 (--resolve) answered HTTP 404" in http01["finding"]
    assert tree(other_host.webroot) == set()


# ------------------------------------------------------------- the rest


def test_the_token_is_always_removed_also_when_a_fetch_fails(healthy: Host) -> None:
    host = healthy
    before = tree(host.nginx.webroot)
    # Nothing listens where doctor fetches the challenge: the fetch itself fails.
    host.write()
    config = host.config.read_text()
    config = config.replace(f"http_port: {host.nginx.http_port}", "http_port: 9")
    host.config.write_text(config)
    proc, doc = doctor(host)
    assert proc.returncode == 1
    assert failed(doc) == {"http01"}, json.dumps(doc, indent=1)
    http01 = by_check(doc, "http01")
    assert "no answer" in http01["finding"] and "Connection refused" in http01["fix"]
    assert tree(host.nginx.webroot) == before


def test_the_token_folders_it_made_are_removed_too(host: Host) -> None:
    # Before the first issuance the webroot is empty: doctor makes .well-known/acme-challenge/
    # for its token and removes all of it again.
    host.add("shop", *SHOP)
    assert tree(host.nginx.webroot) == set()
    proc, doc = doctor(host)
    assert proc.returncode == 1
    assert by_check(doc, "http01")["ok"] is True, json.dumps(doc, indent=1)
    assert by_check(doc, "lineage")["ok"] is False
    assert tree(host.nginx.webroot) == set()


def test_two_services_sharing_a_webroot_each_pass_and_leave_it_as_found(host: Host) -> None:
    # Their HTTP-01 checks run at once in one webroot: neither may remove the other's token
    # or the folders they share.
    blog = ("blog.example.test",)
    issue(host)
    issue(host, "blog", blog)
    assert host.run("install-hook").returncode == 0
    before = tree(host.nginx.webroot)
    proc, doc = doctor(host, *resolve_to("127.0.0.1", blog))
    assert proc.returncode == 0, json.dumps(doc, indent=1)
    assert {c["subject"] for c in doc["checks"] if c["check"] == "http01"} == {"shop", "blog"}
    assert tree(host.nginx.webroot) == before


def test_no_timer_and_no_cron_line_is_a_failure_with_its_fix(healthy: Host) -> None:
    proc, doc = doctor(healthy, cron=False)
    assert proc.returncode == 1
    assert failed(doc) == {"timer"}, json.dumps(doc, indent=1)
    timer = by_check(doc, "timer")
    assert "nothing renews these certificates" in timer["finding"]
    assert timer["fix"].startswith("systemctl enable --now certkeeper.timer, or uncomment")


def test_a_hanging_check_times_out_and_the_others_still_report(healthy: Host) -> None:
    host = healthy
    script = host.root / "hanging-nginx"
    script.write_text("#!/bin/sh\nsleep 60\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    host.nginx_test_command = [str(script)]
    host.write()
    proc, doc = doctor(host, "--timeout", "3")
    assert proc.returncode == 1
    assert failed(doc) == {"nginx"}, json.dumps(doc, indent=1)
    assert by_check(doc, "nginx")["finding"].startswith("timed out")


def test_a_peer_that_drips_its_headers_is_cut_off_by_the_fetchs_own_deadline(
    healthy: Host, tmp_path: Path
) -> None:
    """doctor's HTTP-01 fetch has one deadline for the whole exchange (5 s), not one per
    read: a server answering a byte a second is cut off there, well inside --timeout."""
    drip = DripServer(tmp_path, tls=False).start()
    try:
        healthy.extra_config = {"probe": {"http_port": drip.port}}
        healthy.write()
        started = time.monotonic()
        _, doc = doctor(healthy, "--timeout", "60")
        took = time.monotonic() - started
    finally:
        drip.stop()
    assert drip.connections >= 1
    assert "http01" in failed(doc), json.dumps(doc, indent=1)
    assert "no answer within 5s" in by_check(doc, "http01")["finding"], json.dumps(doc, indent=1)
    assert took < 30, f"doctor took {took:.0f} s"


def test_doctor_service_limits_it_to_one_service(healthy: Host) -> None:
    host = healthy
    proc, doc = doctor(host, "shop")
    assert proc.returncode == 0, json.dumps(doc, indent=1)
    assert {c["subject"] for c in doc["checks"]} == {"shop", None}
    # An unknown SERVICE stops doctor before any check: said as its Config check, exit 2.
    proc = host.run("doctor", "nosuch", "--json")
    assert proc.returncode == 2, dump(proc)
    [config] = json.loads(proc.stdout)["checks"]
    assert config["check"] == "config" and not config["ok"]
    assert "nosuch" in config["finding"]


def test_a_broken_config_stops_doctor_before_any_check(tmp_path: Path) -> None:
    from support.run import certkeeper

    bad = tmp_path / "config.yaml"
    bad.write_text("probe:\n  http_port: eighty\n")
    proc = certkeeper(bad, "doctor", env={"CERTKEEPER_SYSTEMD_ROOT": os.fspath(tmp_path)})
    # It stopped doctor before any other check: a configuration error, 2.
    assert proc.returncode == 2, dump(proc)
    verdict, line, *rest = proc.stdout.splitlines()
    assert verdict == "1 of 1 checks fail: Config"
    assert line.startswith("\u2717 Config: ")
    assert "probe.http_port" in proc.stdout
    assert any(fix.startswith("    fix: fix each problem named") for fix in rest)
    assert max(len(each) for each in proc.stdout.splitlines()) <= 120
