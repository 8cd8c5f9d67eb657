"""The outbox's own files are read through the one bounded reader: a FIFO where a
quarantined notice's reason (`.why`) should be never hangs `status` or `notify outbox`."""

from __future__ import annotations

import os
import time
from pathlib import Path

from support.run import certkeeper, write_config


def test_a_fifo_as_a_quarantine_reason_never_hangs_the_listing(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    state = tmp_path / "state"
    folder = state / "outbox" / "quarantine"
    folder.mkdir(parents=True)
    state.chmod(0o700)
    (state / "outbox").chmod(0o700)
    folder.chmod(0o700)
    (folder / "bad.eml").write_bytes(b"not a notice\n")
    os.mkfifo(folder / "bad.eml.why")

    started = time.monotonic()
    proc = certkeeper(cfg, "notify", "outbox", timeout=30)
    assert time.monotonic() - started < 10
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "bad.eml" in proc.stdout + proc.stderr
    assert "unreadable" in proc.stdout + proc.stderr

    status = certkeeper(cfg, "status", "--json", timeout=30)
    assert "Traceback" not in status.stderr, status.stderr
    assert status.returncode in (0, 1, 2, 3), status.stderr
