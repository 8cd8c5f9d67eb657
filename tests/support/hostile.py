"""Shared by tests/hostile and tests/faults: a host with a scripted certbot, and the
checks every case makes on what the user sees."""

from __future__ import annotations

import email
import json
import os
import socket
import subprocess
import time
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from support.run import service, write_config

BOARD = "board@boards.example.com"


def closed_port() -> int:
    """A loopback port nobody listens on (nothing is probed, no mail leaves)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def script(path: Path, body: str) -> Path:
    """A small real program standing in for certbot (or another peer)."""
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def host(
    root: Path,
    certbot_body: str = "exit 1\n",
    *,
    certbot_timeout: float = 30,
    extra_args: list[str] | None = None,
    smtp_port: int | None = None,
    smtp_timeout: float = 5,
    services: dict[str, object] | None = None,
) -> Path:
    """A config whose one service is due (nothing on disk, nothing served): `check`
    runs the scripted certbot at once. The certbot script logs its argv to calls.log."""
    certbot = script(
        root / "fake-certbot",
        f'printf "%s\\n" "$*" >> "{root}/calls.log"\n' + certbot_body,
    )
    return write_config(
        root,
        services if services is not None else {"shop": service("shop", "shop.example.com")},
        certbot={
            "command": [str(certbot)],
            "config_dir": "letsencrypt",
            "timeout_seconds": certbot_timeout,
            "extra_args": extra_args or [],
        },
        probe={"port": closed_port(), "timeout_seconds": 1},
        notify={
            "to": BOARD,
            "from": "certkeeper@testhost.example.com",
            "smtp": {
                "host": "127.0.0.1",
                "port": smtp_port or closed_port(),
                "timeout_seconds": smtp_timeout,
            },
        },
    )


def calls(root: Path) -> list[str]:
    log = root / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def outbox(root: Path) -> list[bytes]:
    folder = root / "state" / "outbox"
    return [p.read_bytes() for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    text = proc.stdout + proc.stderr
    assert "Traceback" not in text, text


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def kill_if_alive(pid: int) -> None:
    if alive(pid):
        os.kill(pid, 9)


def notice_text(raw: bytes) -> str:
    """A spooled notice as the board shows it: subject and body. The outbox keeps JSON; an
    e-mail (quoted-printable, whose soft line breaks would split what a test looks for) is
    decoded."""
    if raw.startswith(b"{"):
        doc = json.loads(raw)
        return f"{doc['subject']}\n{doc['body']}"
    msg = email.message_from_bytes(raw, policy=default)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(("plain",))
    assert body is not None
    return f"{msg['Subject']}\n{body.get_content()}"


def pid_from(path: Path) -> int:
    """The pid a test's helper process wrote to `path`, waiting up to 5 s for it."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} never written")
