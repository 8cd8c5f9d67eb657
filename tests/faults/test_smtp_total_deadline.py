"""The SMTP exchange is bounded as a whole.

notify.smtp.timeout_seconds is the deadline for the whole exchange of one notice. A
server that trickles a byte every half second answers each read in time, so a deadline
per read alone would keep `notify test`, and `check` with the host lock, busy for minutes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.hostile import host, no_traceback, outbox
from support.run import certkeeper
from support.smtp import Trickler

TIMEOUT = 2


@pytest.fixture
def trickler(request: pytest.FixtureRequest) -> Iterator[Trickler]:
    server = Trickler(request.param).start()
    yield server
    server.stop()


def _config(tmp_path: Path, port: int, security: str = "none") -> Path:
    return host(
        tmp_path, smtp_port=port, smtp_timeout=TIMEOUT, notify={"smtp": {"security": security}}
    )


STAGES = [
    ("greeting", "none"),
    ("ehlo", "none"),
    ("data", "none"),
    ("starttls", "starttls"),
    ("tls", "tls"),
]


@pytest.mark.parametrize(
    ("trickler", "security"), STAGES, ids=[s[0] for s in STAGES], indirect=["trickler"]
)
def test_notify_test_gives_up_at_the_total_deadline(
    tmp_path: Path, trickler: Trickler, security: str
) -> None:
    cfg = _config(tmp_path, trickler.port, security)
    started = time.monotonic()
    proc = certkeeper(cfg, "notify", "test", timeout=120)
    elapsed = time.monotonic() - started
    no_traceback(proc)
    assert proc.returncode == 1
    assert f"failed: no answer from 127.0.0.1:{trickler.port} within {TIMEOUT}s" in proc.stderr
    # The deadline plus start-up; the trickle itself would last 30 s or more.
    assert elapsed < TIMEOUT + 8, elapsed


@pytest.mark.parametrize("trickler", ["greeting"], indirect=True)
def test_check_with_a_trickling_server_keeps_the_notice_and_ends_in_time(
    tmp_path: Path, trickler: Trickler
) -> None:
    cfg = _config(tmp_path, trickler.port)
    started = time.monotonic()
    proc = certkeeper(cfg, "check", "--no-jitter", timeout=120)
    elapsed = time.monotonic() - started
    no_traceback(proc)
    assert proc.returncode == 1
    assert "ERROR: shop: certbot failed" in proc.stderr
    assert "not delivered, kept in the outbox: no answer from" in proc.stderr
    assert len(outbox(tmp_path)) == 1
    assert elapsed < TIMEOUT + 10, elapsed
