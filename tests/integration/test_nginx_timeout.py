"""nginx.timeout_seconds: a hanging `nginx -t` is killed at the configured deadline, nginx
is not reloaded, and the team gets an ERROR card that says why.

Driven through the deploy hook, as certbot runs it after renewing on its own, with a
lineage on disk and a test command that never finishes (a real script, first in argv).
"""

from __future__ import annotations

import time
from pathlib import Path

import trustme

from support.run import certkeeper, service, write_config
from support.smtp import Catcher, SMTPServer

BOARD = "board@example.com"


def lineage(root: Path, ca: trustme.CA) -> Path:
    live = root / "letsencrypt" / "live" / "shop"
    live.mkdir(parents=True)
    leaf = ca.issue_cert("shop.example.com")
    (live / "cert.pem").write_bytes(leaf.cert_chain_pems[0].bytes())
    (live / "chain.pem").write_bytes(ca.cert_pem.bytes())
    (live / "fullchain.pem").write_bytes(b"".join(p.bytes() for p in leaf.cert_chain_pems))
    (live / "privkey.pem").write_bytes(leaf.private_key_pem.bytes())
    return live


def script(path: Path, body: str) -> str:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return str(path)


def test_a_hanging_nginx_test_is_killed_at_the_configured_timeout(
    tmp_path: Path, ca: trustme.CA
) -> None:
    reloads = tmp_path / "reloads"
    server = SMTPServer(Catcher()).start()
    try:
        cfg = write_config(
            tmp_path,
            {"shop": service("shop", "shop.example.com")},
            nginx={
                "test_command": [script(tmp_path / "hang", "exec sleep 60")],
                "reload_command": [script(tmp_path / "reload", f"echo reload >> {reloads}")],
                "timeout_seconds": 1,
            },
            # A closed port: the after-failure probe answers at once.
            probe={"port": 9, "timeout_seconds": 1},
            notify={"to": BOARD, "smtp": {"host": "127.0.0.1", "port": server.port}},
        )
        live = lineage(tmp_path, ca)
        started = time.monotonic()
        proc = certkeeper(cfg, "deploy-hook", env={"RENEWED_LINEAGE": str(live)})
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    assert proc.returncode == 1, proc.stderr
    assert "shop: nginx -t failed" in proc.stderr
    assert "Traceback" not in proc.stderr
    # Killed at 1 s, not at the old hard-coded 60 s (the rest is Python starting twice).
    assert elapsed < 20, elapsed
    assert not reloads.exists(), "nginx was reloaded after a test that never finished"
    [mail] = server.catcher.messages
    assert mail["Subject"].startswith("[ERROR]")
    body = mail.get_body(("plain",))
    assert body is not None
    assert "did not finish within 1s and was killed" in body.get_content()
