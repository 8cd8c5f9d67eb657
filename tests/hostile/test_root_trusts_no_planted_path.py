"""certkeeper runs as root: it trusts no directory others can write, follows no planted
symlink, relays no mail to addresses it did not configure, and deploys no lineage that
certbot did not renew.

Each case asserts what the user sees (exit code, one line naming the problem, no
traceback) and that nothing happened that should not have: no mail at the SMTP
server, no reload, a foreign file untouched.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from support.host import SHOP, Host, dump, issue, make_due

ATTACKER = "attacker@evil.example"


def attacker_mail() -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = "[SUCCESS] app3 \u2013 Cert renewed for shop.example.test"
    msg["From"] = "operations@example.com"
    msg["To"] = ATTACKER
    msg["Message-ID"] = "<x@evil>"
    msg.set_content("free relay\n")
    return msg.as_bytes()


def one_line_refusal(proc: object, *needles: str) -> None:
    stderr = getattr(proc, "stderr", "")
    assert getattr(proc, "returncode", None) == 2, dump(proc)
    assert "Traceback" not in stderr
    for needle in needles:
        assert needle in stderr, dump(proc)


def test_a_world_writable_outbox_is_refused_and_relays_nothing(host: Host) -> None:
    issue(host)
    outbox = host.root / "state" / "outbox"
    outbox.mkdir(exist_ok=True)
    outbox.chmod(0o777)
    (outbox / "evil.eml").write_bytes(attacker_mail())
    proc = host.check()
    one_line_refusal(proc, f"refusing the outbox {outbox}: writable by group or others (mode 0777)")
    assert host.mails == []
    flush = host.run("notify", "flush")
    one_line_refusal(flush, "refusing the outbox")
    assert host.mails == []


def test_recipients_come_from_the_config_never_from_the_file(host: Host) -> None:
    issue(host)
    outbox = host.root / "state" / "outbox"
    outbox.mkdir(mode=0o700, exist_ok=True)
    (outbox / "planted.eml").write_bytes(attacker_mail())
    proc = host.run("notify", "flush")
    assert proc.returncode == 0, dump(proc)
    assert len(host.smtp.catcher.raw) == 1
    mail_from, rcpts = host.smtp.catcher.envelopes[-1]
    assert rcpts == ["board+e2e@boards.example.com"] and ATTACKER not in rcpts
    assert mail_from == "operations@example.com"


def test_a_forged_state_in_a_group_writable_state_dir_is_refused(host: Host) -> None:
    issue(host)
    make_due(host)
    state = host.root / "state"
    doc = json.loads((state / "state.json").read_text())
    doc["certs"]["shop"]["backoff_until"] = "2099-01-01T00:00:00Z"
    (state / "state.json").write_text(json.dumps(doc))
    state.chmod(0o770)
    proc = host.check()
    one_line_refusal(proc, f"refusing state_dir {state}: writable by group or others (mode 0770)")
    state.chmod(0o700)
    # In a private directory the forged back-off is beyond any Let's Encrypt gives: ignored.
    ok = host.check()
    assert ok.returncode == 0 and "shop: renewed" in ok.stdout, dump(ok)


def test_a_state_dir_owned_by_someone_else_is_refused(host: Host) -> None:
    issue(host)
    nobody = pwd.getpwnam("nobody").pw_uid
    state = host.root / "state"
    os.chown(state, nobody, -1)
    proc = host.check("--dry-run")
    one_line_refusal(proc, f"refusing state_dir {state}: owned by uid {nobody}")


def test_a_planted_lock_symlink_is_never_followed(host: Host) -> None:
    issue(host)
    foreign = host.root / "foreign-root-file"
    foreign.write_text("precious\n")
    lock = host.root / "run" / "certkeeper.lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(foreign)
    proc = host.check()
    one_line_refusal(proc, f"refusing lock_file {lock}", "a symlink is never followed")
    assert foreign.read_text() == "precious\n"


def test_a_planted_pid_sidecar_is_not_written_either(host: Host) -> None:
    """The old `<lock_file>.pid` sidecar followed symlinks; there is no sidecar any more."""
    issue(host)
    foreign = host.root / "foreign-root-file"
    foreign.write_text("precious\n")
    sidecar = host.root / "run" / "certkeeper.lock.pid"
    sidecar.symlink_to(foreign)
    assert host.check().returncode == 0
    assert foreign.read_text() == "precious\n"


def test_the_deploy_hook_refuses_a_lineage_outside_certbots_live_dir(host: Host) -> None:
    issue(host)
    reloads = host.root / "reloads"
    reloads.write_text("")
    counter = host.root / "count-reload"
    real_reload = " ".join(shlex.quote(arg) for arg in host.nginx.reload_command)
    counter.write_text(f"#!/bin/sh\necho reload >> {reloads}\nexec {real_reload}\n")
    counter.chmod(0o755)
    host.nginx_reload_command = [str(counter)]
    host.write()
    decoy = host.root / "decoy" / "shop"
    decoy.mkdir(parents=True)
    for lineage in (
        "/nonexistent/shop",
        str(decoy),
        str(host.le / "live" / "shop") + "/../../x/shop",
    ):
        proc = host.run_env("deploy-hook", RENEWED_LINEAGE=lineage)
        one_line_refusal(proc, "RENEWED_LINEAGE = ", "expected the existing lineage directory")
        assert "nothing was reloaded or sent" in proc.stderr
    assert reloads.read_text() == "" and host.mails == []
    # The real one is still accepted, for a renewal nobody told yet (as certbot runs it).
    assert host.certbot_renew("--no-directory-hooks").returncode == 0
    real = host.run_env("deploy-hook", RENEWED_LINEAGE=str(host.le / "live" / "shop"))
    assert real.returncode == 0, dump(real)
    assert reloads.read_text() == "reload\n"
    assert host.served_serial(SHOP[0]) == host.disk_serial("shop")


def test_a_lock_file_owned_by_someone_else_is_refused(host: Host) -> None:
    issue(host)
    lock = host.root / "run" / "certkeeper.lock"
    lock.parent.mkdir(exist_ok=True)
    lock.touch()
    os.chown(lock, pwd.getpwnam("nobody").pw_uid, -1)
    proc = host.check()
    one_line_refusal(proc, f"refusing lock_file {lock}: not a regular file owned by uid 0")


def test_the_lock_directory_may_be_a_root_owned_sticky_one(tmp_path: Path) -> None:
    from certkeeper.trust import private_dir_problem

    sticky = tmp_path / "lock"
    sticky.mkdir()
    sticky.chmod(0o1777)
    assert private_dir_problem(sticky, "the lock directory", sticky_ok=True) is None
    assert "writable by group or others (mode 1777)" in str(
        private_dir_problem(sticky, "state_dir")
    )
