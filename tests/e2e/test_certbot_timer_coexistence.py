"""certbot's own timer renews beside certkeeper: one renewal is one story.

Debian's certbot.timer runs `certbot renew` on its own; certkeeper's deploy hook (written
by `certkeeper install-hook`) then waits for the host lock. Whether `check` or the hook
gets the lock first, the team gets exactly one card, "Cert renewed", and nginx serves
the new serial. Real certbot against pebble, the real installed hook, a real process
holding the real lock (flock), real nginx and a real SMTP sink; nothing is monkeypatched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from support.host import SHOP, Host, dump, issue

RENEWED = "[SUCCESS] testhost \u2013 Cert renewed for shop.example.test"
HOLD = (
    "import fcntl, os, sys\n"
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
    "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    "os.pwrite(fd, b'%d check 0\\n' % os.getpid(), 0)\n"
    "print('held', flush=True)\n"
    "sys.stdin.readline()\n"
)


@contextmanager
def lock_held(host: Host) -> Iterator[subprocess.Popen[str]]:
    """A real process holding the host lock until the block ends (it is then released)."""
    lock = host.root / "run" / "certkeeper.lock"
    lock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lock)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)


def certbot_in_background(host: Host) -> subprocess.Popen[str]:
    """`certbot renew` as certbot.timer runs it: no certkeeper parent, hooks on, in its
    own process group so that the test can pause it (and the hook it runs) as a whole."""
    argv = [
        *host.certbot_command,
        "renew",
        "--cert-name",
        "shop",
        "--force-renewal",
        "--no-random-sleep-on-renew",
        "--non-interactive",
        "--config-dir",
        str(host.le),
        "--work-dir",
        str(host.root / "work"),
        "--logs-dir",
        str(host.root / "logs"),
        "--server",
        host.pebble.directory,
    ]
    env = {k: v for k, v in os.environ.items() if k != "CERTKEEPER_PARENT_PID"}
    env.update(host.env)
    return subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_for_new_disk_serial(host: Host, old: int | None, certbot: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            serial = host.disk_serial("shop")
        except (OSError, ValueError):  # certbot is swapping the links right now
            serial = None
        if serial not in (None, old):
            assert serial is not None
            return serial
        assert certbot.poll() is None, certbot.communicate()[0]
        time.sleep(0.1)
    raise AssertionError("certbot never wrote the renewed certificate")


def prepared(host: Host) -> int | None:
    """shop issued by check (told), the real deploy hook installed; the served serial."""
    issue(host)
    hook = host.run("install-hook")
    assert hook.returncode == 0, dump(hook)
    return host.served_serial(SHOP[0])


def test_check_first_tells_the_renewal_once_and_the_waiting_hook_steps_aside(host: Host) -> None:
    old = prepared(host)
    with lock_held(host):
        certbot = certbot_in_background(host)
        new = wait_for_new_disk_serial(host, old, certbot)
        # The hook is behind the lock; freeze certbot and its hook so check goes first.
        os.killpg(certbot.pid, signal.SIGSTOP)
    try:
        proc = host.check()
    finally:
        os.killpg(certbot.pid, signal.SIGCONT)
    output, _ = certbot.communicate(timeout=120)
    assert proc.returncode == 0, dump(proc)
    assert "shop: renewed; nginx now serves it" in proc.stdout, dump(proc)
    assert certbot.returncode == 0, output
    assert "already deployed, verified and told this renewal" in output, output
    assert host.served_serial(SHOP[0]) == new == host.served_serial(SHOP[1])
    [mail] = host.mails
    assert mail["Subject"] == RENEWED
    body = mail.get_content()
    assert "renewed by certbot outside certkeeper" in body
    assert format(old, "x") in body  # the serial nginx was still serving
    assert host.state()["certs"]["shop"]["told_serial"] == format(new, "x")
    again = host.check()
    assert again.returncode == 0 and again.stdout == "", dump(again)
    assert len(host.mails) == 1


def test_hook_first_tells_the_renewal_once_and_check_says_nothing(host: Host) -> None:
    old = prepared(host)
    with lock_held(host):
        certbot = certbot_in_background(host)
        new = wait_for_new_disk_serial(host, old, certbot)
    output, _ = certbot.communicate(timeout=120)
    assert certbot.returncode == 0, output
    proc = host.check()
    assert proc.returncode == 0 and proc.stdout == "", dump(proc)
    assert host.served_serial(SHOP[0]) == new == host.served_serial(SHOP[1])
    [mail] = host.mails
    assert mail["Subject"] == RENEWED
    assert "deployed by the certkeeper deploy hook" in mail.get_content()
    assert host.state()["certs"]["shop"]["told_serial"] == format(new, "x")


def test_check_and_hook_racing_for_the_lock_tell_one_story(host: Host) -> None:
    old = prepared(host)
    with lock_held(host):
        certbot = certbot_in_background(host)
        new = wait_for_new_disk_serial(host, old, certbot)
        check = subprocess.Popen(
            host.check_argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        time.sleep(0.5)  # both wait for the lock now; whoever polls first wins
    out, err = check.communicate(timeout=120)
    output, _ = certbot.communicate(timeout=120)
    assert check.returncode == 0, out + err
    assert certbot.returncode == 0, output
    assert host.served_serial(SHOP[0]) == new == host.served_serial(SHOP[1])
    assert [m["Subject"] for m in host.mails] == [RENEWED]
