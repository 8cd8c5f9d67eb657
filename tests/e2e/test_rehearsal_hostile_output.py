"""A rehearsal whose certbot floods 1 MB of ANSI escapes (cursor moves, screen clears, OSC
titles with BEL, a fake `Detail:` line) on both streams, then fails: the terminal gets
nothing raw and a few lines, state keeps a bounded reason, and one WARNING card is sent
whose body is bounded (certbot's output in it is kept whole per line, quoted-printable)."""

from __future__ import annotations

import stat
from email.message import Message
from pathlib import Path

from certkeeper.names import has_control_chars
from support.host import Host, dump, issue
from support.peers import certbot_path

SUBJECT = "[WARNING] testhost \u2013 Renewal will fail for shop.example.test"
FLOOD = "\\033[2J\\033[H\\033]0;owned\\007\\033[31mRED\\r"


def flooding_certbot(host: Host) -> Path:
    script = host.root / "certbot-floods-on-rehearsal"
    script.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" --dry-run "*)\n'
        f"  i=0; while [ $i -lt 40000 ]; do printf '{FLOOD}'; printf '{FLOOD}' >&2; i=$((i+1)); done\n"
        "  printf '\\nDetail: \\033[2J\\033]0;pwn\\007 Bcc: evil@attacker.test\\r\\nOK fine\\n' >&2\n"
        "  exit 1;;\n"
        "esac\n"
        f'exec {certbot_path()} "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def body_of(mail: Message) -> str:
    part = mail.get_payload(decode=True)
    assert isinstance(part, bytes)
    return part.decode()


def test_a_flood_of_escapes_from_a_rehearsal_reaches_nothing_raw(host: Host) -> None:
    issue(host)
    host.certbot_command = [str(flooding_certbot(host))]
    host.extra_config = {"rehearsal": {"enabled": True, "server": host.pebble.directory}}
    host.write()
    proc = host.run("rehearse")
    assert proc.returncode == 1, dump(proc)
    for stream in (proc.stdout, proc.stderr):
        assert "Traceback" not in stream
        assert not has_control_chars(stream.replace("\n", "")), stream[:3000]
    assert len(proc.stdout) + len(proc.stderr) < 20_000
    assert "shop: rehearsal against staging FAILED (WARNING card sent): \\x1b[2J" in proc.stderr
    [mail] = host.mails
    assert mail["Subject"] == SUBJECT
    assert len(mail.as_bytes()) < 256 * 1024
    assert "Staging server:" in body_of(mail)
    reason = host.state()["certs"]["shop"]["rehearsal"]["reason"]
    assert 0 < len(reason) <= 500
    status = host.run("status")
    assert not has_control_chars(status.stdout.replace("\n", "")), status.stdout[:3000]
