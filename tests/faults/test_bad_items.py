"""One bad item stops nothing but itself: a malformed certificate on disk or on the wire, a
broken outbox file, an unreadable password file, a corrupt field in state.json.

Each case has a second certificate, `shop`, that is due: it must be renewed, served and
announced whatever the bad item is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from support.host import SHOP, Host, dump, issue, make_due
from support.hostile_certs import duplicated_extension, unsupported_general_name
from support.run import service

RENEWED = "[SUCCESS] testhost \u2013 Cert renewed for shop.example.test"


def renewed_anyway(host: Host, old: int, proc: object) -> None:
    assert "Traceback" not in getattr(proc, "stderr", ""), dump(proc)
    assert host.disk_serial("shop") != old, dump(proc)
    assert host.served_serial(SHOP[0]) == host.disk_serial("shop")
    assert RENEWED in [str(m["Subject"]) for m in host.mails], dump(proc)


def plant_duplicated_extension_lineage(host: Host, name: str, domain: str) -> None:
    """An existing lineage whose certificate carries subjectAltName twice."""
    pem, key = duplicated_extension(domain)
    live = host.le / "live" / name
    live.mkdir(parents=True)
    for file, data in (("cert.pem", pem), ("fullchain.pem", pem), ("chain.pem", pem)):
        (live / file).write_bytes(data)
    (live / "privkey.pem").write_bytes(key)
    host.services[name] = service(name, domain, webroot=str(host.nginx.webroot))
    host.write()


def test_a_malformed_certificate_on_disk_costs_only_its_own_rows(host: Host) -> None:
    issue(host)
    plant_duplicated_extension_lineage(host, "evil", "evil.example.test")
    old = make_due(host)
    proc = host.check()
    assert proc.returncode == 1, dump(proc)
    renewed_anyway(host, old, proc)
    assert "evil: verification failed: cannot read" in proc.stderr
    assert "DuplicateExtension" in proc.stderr
    status = host.run("status", "--json")
    assert status.returncode == 2 and "Traceback" not in status.stderr
    rows = {r["cert_name"]: r for r in json.loads(status.stdout)["certificates"]}
    assert rows["evil"]["state"] == "MISSING" and "malformed certificate" in rows["evil"]["reason"]
    assert rows["shop"]["state"] == "OK"
    # The unreadable lineage is never "issued" afresh over the top of it.
    assert not (host.le / "archive" / "evil").exists()


def test_a_malformed_certificate_on_the_wire_costs_only_its_own_rows(host: Host) -> None:
    issue(host)
    pem, key = unsupported_general_name("evil.example.test")
    crt, keyfile = host.root / "evil.crt", host.root / "evil.key"
    crt.write_bytes(pem)
    keyfile.write_bytes(key)
    host.nginx.add_site("evil", ("evil.example.test",), host.placeholder, files=(crt, keyfile))
    host.nginx.reload()
    # A monitored name served by anyone who wants to stop our renewals.
    host.services["evil"] = service("evil", "evil.example.test", enabled=False)
    host.write()
    old = make_due(host)
    proc = host.check()
    assert proc.returncode == 0, dump(proc)
    renewed_anyway(host, old, proc)
    status = host.run("status", "--json")
    assert status.returncode == 2 and "Traceback" not in status.stderr
    rows = {r["cert_name"]: r for r in json.loads(status.stdout)["certificates"]}
    assert rows["shop"]["state"] == "OK"
    assert rows["evil"]["state"] == "UNREACHABLE", rows["evil"]
    assert "malformed certificate (UnsupportedGeneralNameType" in rows["evil"]["reason"]


@pytest.mark.parametrize("content", [b"", b"\x00\xff\xfe binary \x81\x00" * 40, b"\r\n\r\n"])
def test_a_broken_outbox_file_is_quarantined_and_renewals_go_on(host: Host, content: bytes) -> None:
    issue(host)
    outbox = host.root / "state" / "outbox"
    outbox.mkdir(mode=0o700, exist_ok=True)
    (outbox / "junk.eml").write_bytes(content)
    old = make_due(host)
    proc = host.check()
    renewed_anyway(host, old, proc)
    kept = outbox / "quarantine" / "junk.eml"
    assert kept.read_bytes() == content  # kept for a person, never deleted
    listing = host.run("notify", "outbox")
    assert listing.returncode == 1
    assert f"QUARANTINED {kept}: " in listing.stdout
    status = host.run("status")
    assert "1 unreadable outbox file(s) set aside in quarantine" in status.stdout


def test_a_non_utf8_password_file_never_blocks_a_renewal(host: Host) -> None:
    issue(host)
    secret = host.root / "smtp-password"
    secret.write_bytes(b"p\xe4ssw\xf6rd\n")  # Latin-1, not UTF-8
    secret.chmod(0o600)
    doc = host.config.read_text()
    host.config.write_text(
        doc.replace("  smtp:\n", f"  smtp:\n    username: ops\n    password_file: {secret}\n")
    )
    old = make_due(host)
    proc = host.check()
    assert proc.returncode == 1, dump(proc)
    assert "Traceback" not in proc.stderr
    assert host.disk_serial("shop") != old
    assert f"AUTH not attempted: {secret} is not UTF-8 text" in proc.stderr
    waiting = host.run("notify", "outbox")
    assert "Cert renewed for shop.example.test" in waiting.stdout
    # Every later run still renews and still says why the notice waits.
    make_due(host)
    again = host.check()
    assert "Traceback" not in again.stderr and "shop: renewed" in again.stdout, dump(again)


@pytest.mark.parametrize(
    "field,value",
    [
        ("last_attempt", "2026-11-30T01:00:00"),  # naive
        ("last_attempt", "2026-11-30"),  # a date without a time
        ("backoff_until", "9999-12-31T23:59:59Z"),  # far future
        ("last_attempt", "+275760-09-13T00:00:00Z"),
        ("consecutive_failures", "many"),
        ("warned_thresholds", {"7": True}),
        ("intent", {"action": "renew", "started": 17, "nonce": "../../x"}),
    ],
)
def test_a_bad_field_in_state_is_ignored_and_the_run_goes_on(
    host: Host, field: str, value: object
) -> None:
    issue(host)
    old = make_due(host)
    path = host.root / "state" / "state.json"
    doc = json.loads(path.read_text())
    doc["certs"]["shop"][field] = value
    path.write_text(json.dumps(doc))
    proc = host.check()
    assert proc.returncode == 0, dump(proc)
    renewed_anyway(host, old, proc)


def test_a_fifo_in_place_of_state_is_moved_aside_not_waited_on(host: Host) -> None:
    issue(host)
    old = make_due(host)
    path = host.root / "state" / "state.json"
    path.unlink()
    os.mkfifo(path)
    proc = host.run("check", "--no-jitter", timeout=60)
    assert "Traceback" not in proc.stderr
    assert "was unreadable" in proc.stderr and "moved aside" in proc.stderr
    assert host.disk_serial("shop") != old
    aside = list(Path(path.parent).glob("state.json.corrupt-*"))
    assert len(aside) == 1
