"""Issue 11, family 5: everything bounded.

A peer that trickles, floods, forks away or is not a file at all must cost a bounded
time and bounded memory; the user sees one clear line and the exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from support.hostile import (
    alive,
    calls,
    host,
    kill_if_alive,
    no_traceback,
    notice_text,
    outbox,
    pid_from,
)
from support.run import certkeeper, service
from support.smtp import Trickler

# ------------------------------------------------------------------ process trees


TREES = {
    # certbot starts a helper in a new session and hangs: the group kill misses it.
    "setsid child, parent hangs": 'setsid sleep 300 & echo $! > "{pids}"\nsleep 300\n',
    # The helper's parent exits at once: the orphan leaves the tree for init, unless
    # certkeeper is its subreaper.
    "double-forked setsid orphan": '(setsid sleep 300 & echo $! > "{pids}")\nsleep 300\n',
    # A helper that ignores SIGTERM needs the SIGKILL pass.
    "setsid child ignoring SIGTERM": (
        "setsid sh -c 'trap \"\" TERM; sleep 300 & wait' &\n"
        'sleep 0.2; pgrep -s $! -x sleep > "{pids}"\nsleep 300\n'
    ),
    # The hanging process itself ignores SIGTERM and keeps the pipes.
    "certbot ignoring SIGTERM": 'trap "" TERM\nsleep 300 & echo $! > "{pids}"\nwait\n',
}


@pytest.mark.parametrize("shape", list(TREES), ids=list(TREES))
def test_nothing_of_a_hung_certbot_tree_outlives_the_timeout(tmp_path: Path, shape: str) -> None:
    pids = tmp_path / "helper.pid"
    cfg = host(tmp_path, TREES[shape].format(pids=pids), certbot_timeout=2)
    started = time.monotonic()
    proc = certkeeper(cfg, "check", "--no-jitter", timeout=60)
    elapsed = time.monotonic() - started
    helper = pid_from(pids)
    try:
        assert proc.returncode == 1, proc.stderr
        assert "did not finish within 2s and was killed" in proc.stderr
        assert elapsed < 20, elapsed
        no_traceback(proc)
        # The helper is gone (or a zombie waiting for init): nothing of the tree runs on.
        deadline = time.monotonic() + 3
        while alive(helper) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(helper), f"pid {helper} ({shape}) outlived the timeout"
        assert len(outbox(tmp_path)) == 1  # and the ERROR notice was spooled
    finally:
        kill_if_alive(helper)


def test_command_that_closes_its_pipes_and_hangs_is_still_killed(tmp_path: Path) -> None:
    cfg = host(tmp_path, "exec >/dev/null 2>&1\nsleep 300\n", certbot_timeout=2)
    started = time.monotonic()
    proc = certkeeper(cfg, "check", "--no-jitter", timeout=60)
    assert time.monotonic() - started < 20
    assert proc.returncode == 1
    assert "did not finish within 2s and was killed" in proc.stderr
    no_traceback(proc)


# ----------------------------------------------------------------- output floods

_MEASURE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True, stdin=subprocess.DEVNULL)
print(proc.returncode)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.stderr.write(proc.stderr)
"""


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_flooding_certbot_costs_bounded_memory_and_keeps_the_last_error(
    tmp_path: Path, stream: str
) -> None:
    # 400 MiB of output, then the one line that says what went wrong.
    redirect = "" if stream == "stdout" else " >&2"
    body = (
        f"head -c 419430400 /dev/zero | tr '\\0' 'x'{redirect}\n"
        "echo\necho 'Some challenges have failed.' >&2\nexit 1\n"
    )
    cfg = host(tmp_path, body, certbot_timeout=120)
    run_check = [sys.executable, "-m", "certkeeper", "--config", str(cfg), "check", "--no-jitter"]
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURE, *run_check],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    code, max_rss_kib = (int(x) for x in measured.stdout.split())
    assert code == 1, measured.stderr
    assert "Traceback" not in measured.stderr
    assert "ERROR: shop: certbot failed" in measured.stderr
    assert max_rss_kib < 200 * 1024, f"certkeeper peaked at {max_rss_kib} KiB"
    (notice,) = outbox(tmp_path)
    assert "Some challenges have failed." in notice_text(notice)
    assert len(notice) < 200 * 1024  # the notice quotes a tail, not the flood


# ------------------------------------------------------------------- input files


def _one_line(proc: subprocess.CompletedProcess[str], *expected: str) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for part in expected:
        assert part in lines[0], lines[0]
    no_traceback(proc)
    return lines[0]


def test_config_that_is_dev_zero_is_refused_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = certkeeper(Path("/dev/zero"), "config", "validate", timeout=30)
    assert time.monotonic() - started < 10
    assert proc.returncode == 2
    _one_line(proc, "/dev/zero: is a character device: expected a regular file")


def test_config_that_is_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "config.yaml"
    os.mkfifo(fifo)
    proc = certkeeper(fifo, "check", "--no-jitter", timeout=30)
    assert proc.returncode == 2
    _one_line(proc, f"{fifo}: is a FIFO (named pipe): expected a regular file")


def test_config_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    proc = certkeeper(tmp_path, "status", timeout=30)
    assert proc.returncode == 3  # status: configuration error is UNKNOWN
    _one_line(proc, f"{tmp_path}: is a directory: expected a regular file")


SERVICE_ENTRIES = {
    "directory": lambda p: p.mkdir(),
    "FIFO": lambda p: os.mkfifo(p),
    "dangling symlink": lambda p: p.symlink_to(p.parent / "gone.yaml"),
    "symlink to /dev/zero": lambda p: p.symlink_to("/dev/zero"),
}


@pytest.mark.parametrize("kind", list(SERVICE_ENTRIES), ids=list(SERVICE_ENTRIES))
def test_service_file_that_is_not_a_file_is_reported_not_skipped(tmp_path: Path, kind: str) -> None:
    cfg = host(tmp_path)
    SERVICE_ENTRIES[kind](tmp_path / "services.d" / "api.yaml")
    proc = certkeeper(cfg, "check", "--no-jitter", timeout=30)
    assert proc.returncode == 2
    _one_line(proc, "services.d/api.yaml: ", "this service's certificates are not handled")
    assert calls(tmp_path) == []  # nothing runs on a config that lost a service


def test_oversized_service_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    cfg = host(tmp_path)
    big = tmp_path / "services.d" / "api.yaml"
    with big.open("wb") as fh:
        fh.truncate(2 * 1024 * 1024 * 1024)  # 2 GiB, sparse
    proc = certkeeper(cfg, "config", "validate", timeout=30)
    assert proc.returncode == 2
    _one_line(proc, "api.yaml: is 2147483648 bytes: expected at most 1048576 bytes")


def test_password_file_that_is_a_fifo_is_never_read(tmp_path: Path) -> None:
    """A mail-side mistake: nothing is sent (exit 1) and the FIFO is never opened."""
    cfg = host(tmp_path)
    fifo = tmp_path / "smtp-password"
    os.mkfifo(fifo, 0o600)
    doc = yaml.safe_load(cfg.read_text())
    doc["notify"]["smtp"].update(username="certkeeper", password_file=str(fifo))
    cfg.write_text(yaml.safe_dump(doc))
    proc = certkeeper(cfg, "notify", "test", timeout=30)
    assert proc.returncode == 1
    _one_line(proc, "not sent: ", "notify.smtp.password_file", "is a FIFO (named pipe)")


def test_cert_pem_symlinked_to_dev_zero_is_one_bad_row(tmp_path: Path) -> None:
    cfg = host(tmp_path, services={"shop": service("shop", "shop.example.com")})
    live = tmp_path / "letsencrypt" / "live" / "shop"
    live.mkdir(parents=True)
    (live / "cert.pem").symlink_to("/dev/zero")
    started = time.monotonic()
    proc = certkeeper(cfg, "status", timeout=30)
    assert time.monotonic() - started < 15
    no_traceback(proc)
    assert proc.returncode == 2
    assert "shop" in proc.stdout


def test_status_against_a_trickling_tls_server_is_bounded(tmp_path: Path) -> None:
    # The probed endpoint belongs to whoever controls the name: it may drip its handshake.
    server = Trickler("tls").start()
    try:
        cfg = host(tmp_path)
        doc = yaml.safe_load(cfg.read_text())
        doc["probe"] = {"port": server.port, "timeout_seconds": 2}
        cfg.write_text(yaml.safe_dump(doc))
        started = time.monotonic()
        proc = certkeeper(cfg, "status", "--json", timeout=120)
        elapsed = time.monotonic() - started
    finally:
        server.stop()
    no_traceback(proc)
    assert proc.returncode == 2
    (row,) = json.loads(proc.stdout)["certificates"]
    assert "sent no TLS answer in time" in row["served"]["error"]
    assert elapsed < 15, elapsed
