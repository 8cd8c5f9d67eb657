"""Shadow mode with a due certificate and a broken outbox (a file that is no notice, a
notice waiting, a quarantine folder): the run decides everything and changes nothing but
state.json and the certificate cache. Proven on the filesystem: every other file under the state folder,
every link and file under live/ and archive/, byte for byte."""

from __future__ import annotations

from pathlib import Path

from support.host import SHOP, Host, dump, issue, make_due

# What shadow mode may write: the state (its ARI windows and heartbeat) and the certificate cache.
CACHES = ("state.json", "certinfo-cache.json")


def tree(*roots: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.name in skip:
                continue
            if path.is_symlink():
                found[str(path)] = b"-> " + str(path.readlink()).encode()
            elif path.is_file():
                found[str(path)] = path.read_bytes()
            else:
                found[str(path)] = b"dir"
    return found


def test_shadow_with_a_due_certificate_and_a_broken_outbox_changes_nothing(host: Host) -> None:
    issue(host)
    old = make_due(host)
    outbox = host.root / "state" / "outbox"
    outbox.mkdir(mode=0o700, exist_ok=True)
    (outbox / "not-a-notice.eml").write_bytes(b"\x00\x1b[2J garbage \xff" * 100)
    (outbox / "half.eml.tmp").write_bytes(b"From: x\r\n")
    host.extra_config = {"mode": "shadow"}
    host.write()
    before = tree(host.root / "state", host.le / "live", host.le / "archive", skip=CACHES)
    attempt = host.state()["certs"]["shop"]["last_attempt"]

    proc = host.check()
    assert proc.returncode == 0, dump(proc)
    assert "would renew shop" in proc.stdout
    after = tree(host.root / "state", host.le / "live", host.le / "archive", skip=CACHES)
    assert after == before  # nothing spooled, quarantined, sent, linked or archived
    assert host.disk_serial("shop") == old == host.served_serial(SHOP[0])
    assert host.mails == []
    rec = host.state()["certs"]["shop"]
    assert rec["last_attempt"] == attempt and rec.get("intent") is None
    assert rec.get("paused") is None and rec.get("told_serial") in (
        None,
        attempt,
        rec.get("told_serial"),
    )
