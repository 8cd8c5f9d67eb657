"""No wait the user did not ask for goes unsaid: the jitter, the host lock, and a dry run
beside a run that is acting now. Real `check` processes and a real certbot stand-in
that takes its time; nothing is monkeypatched."""

from __future__ import annotations

import re
import subprocess
import time

from support.host import SHOP, Host, dump, issue

WAITING = re.compile(r"waiting for the lock held by pid (\d+) \(check since \d\d:\d\d UTC\)")


def slow_certbot(host: Host, seconds: int = 30) -> None:
    path = host.root / "certbot-slow"
    path.write_text(f"#!/bin/sh\nsleep {seconds}\n")
    path.chmod(0o755)
    host.certbot_command = [str(path)]
    host.certbot_timeout = 6


def holder(host: Host) -> subprocess.Popen[bytes]:
    """A real `check` that takes the host lock and holds it while its certbot sleeps."""
    proc = subprocess.Popen(
        host.check_argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    lock = host.root / "run" / "certkeeper.lock"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if lock.exists() and lock.read_text().startswith(f"{proc.pid} check "):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the holder never recorded itself in {lock}")


def test_a_check_off_a_terminal_says_its_jitter_before_it_sleeps(host: Host) -> None:
    issue(host)
    host.extra_config = {"jitter_seconds": 2}
    host.write()
    proc = host.run("check")  # stdin is not a terminal: the cron's case
    assert proc.returncode == 0, dump(proc)
    assert proc.stdout == ""  # nothing was due
    assert re.fullmatch(r"waiting [12] s \(jitter; --no-jitter to skip\)\n", proc.stderr), dump(
        proc
    )
    quick = host.check()
    assert quick.returncode == 0 and quick.stderr == "", dump(quick)


def test_a_second_check_says_once_whose_lock_it_waits_for_then_runs(host: Host) -> None:
    slow_certbot(host)
    host.add("shop", *SHOP)
    first = holder(host)
    try:
        second = host.check()
    finally:
        first.wait(timeout=60)
    # The second waited for the first, then ran (what it decided is not the point here).
    assert second.returncode in (0, 1), dump(second)
    said = WAITING.findall(second.stderr)
    assert said == [str(first.pid)], dump(second)
    assert second.stderr.index("waiting for the lock") == 0


def test_a_dry_run_while_a_run_holds_the_lock_says_so_not_the_20_hour_guard(host: Host) -> None:
    slow_certbot(host)
    host.add("shop", *SHOP)
    first = holder(host)
    try:
        dry = host.run("check", "--dry-run")
    finally:
        first.wait(timeout=60)
    assert dry.returncode == 1, dump(dry)
    assert "hours" not in dry.stdout + dry.stderr
    [line] = dry.stderr.splitlines()
    assert re.fullmatch(
        r"certkeeper: another certkeeper run holds the lock \S+certkeeper\.lock: "
        rf"pid {first.pid} \(check since \d\d:\d\d UTC\), acting now; "
        r"run --dry-run again when it is done",
        line,
    ), line
    # Once it is done, the dry run answers again.
    again = host.run("check", "--dry-run")
    assert "holds the lock" not in again.stderr, dump(again)
