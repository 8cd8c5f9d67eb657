"""Faults no real peer produces on demand, played by real processes: a hanging certbot, a
rate-limited certbot, a failing `nginx -t`; plus the lock under ten concurrent runs and
certbot's own deploy hook."""

from __future__ import annotations

import os
import re
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.host import SHOP, Host, dump, issue, make_due


def script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_hanging_certbot_is_killed_at_the_timeout(host: Host) -> None:
    pids = host.root / "pids"
    host.certbot_command = [
        script(
            host.root / "certbot-hangs", f"echo $$ > {pids}\nsleep 300 &\necho $! >> {pids}\nwait\n"
        )
    ]
    host.certbot_timeout = 2
    host.add("shop", *SHOP)
    started = time.monotonic()
    proc = host.check()
    elapsed = time.monotonic() - started
    assert proc.returncode == 1, dump(proc)
    assert elapsed < 15
    assert (
        "shop: certbot failed: certbot-hangs did not finish within 2s and was killed"
        in proc.stderr.replace(str(host.root) + "/", "")
    )
    for pid in map(int, pids.read_text().split()):
        assert not alive(pid), f"pid {pid} outlived the timeout"
    [mail] = host.mails
    assert "Failed step: certbot" in mail.get_content()
    assert "did not finish within 2s and was killed" in mail.get_content()
    assert host.state()["certs"]["shop"]["consecutive_failures"] == 1


def test_rate_limit_is_recorded_and_announced(host: Host) -> None:
    retry = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")
    host.certbot_command = [
        script(
            host.root / "certbot-limited",
            (
                "echo 'An unexpected error occurred:' >&2\n"
                "echo 'Error creating new order :: too many certificates (5) already issued for this "
                f"exact set of identifiers in the last 168h0m0s, retry after {retry} UTC' >&2\n"
                "exit 1\n"
            ),
        )
    ]
    host.add("shop", *SHOP)
    proc = host.check()
    assert proc.returncode == 1, dump(proc)
    rec = host.state()["certs"]["shop"]
    assert rec["backoff_until"] == retry.replace(" ", "T") + "Z"
    body = host.mails[0].get_content()
    assert f"Note: Let's Encrypt rate limit hit: no new attempt before {retry[:16]} UTC" in body
    assert "too many certificates (5)" in body
    forced_later = host.check()
    assert "rate-limit back-off until" in forced_later.stderr
    assert len(host.mails) == 1


def test_ten_concurrent_checks_renew_exactly_once(host: Host) -> None:
    issue(host)
    make_due(host)
    argv = host.check_argv
    env = {**os.environ, **host.env}
    procs = [
        subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(10)
    ]
    results = [(p.wait(timeout=240), *p.communicate()) for p in procs]
    assert [code for code, _, _ in results] == [0] * 10, results
    assert sum("renewed" in out for _, out, _ in results) == 1
    assert host.archive_count("shop") == 2
    assert len(host.mails) == 1
    assert host.served_serial(SHOP[0]) == host.disk_serial("shop")


def test_second_run_gives_up_on_a_held_lock_naming_the_holder(host: Host) -> None:
    host.certbot_command = [script(host.root / "certbot-slow", "sleep 30\n")]
    host.certbot_timeout = 8
    host.add("shop", *SHOP)
    cfg = host.config.read_text().replace("lock_timeout_seconds: 120", "lock_timeout_seconds: 1")
    host.config.write_text(cfg)
    argv = host.check_argv
    holder = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
    )
    try:
        time.sleep(1.5)
        proc = host.check()
    finally:
        holder.wait(timeout=60)
    assert proc.returncode == 1
    lock = f"{host.root}/run/certkeeper.lock"
    [waiting, gave_up] = proc.stderr.strip().splitlines()
    # Said once, before the wait; then who holds it and since when.
    assert re.fullmatch(
        rf"waiting for the lock held by pid {holder.pid} \(check since \d\d:\d\d UTC\)", waiting
    ), proc.stderr
    assert re.fullmatch(
        rf"certkeeper: another certkeeper run holds the lock {re.escape(lock)}: "
        rf"pid {holder.pid} \(check since \d\d:\d\d UTC\); gave up after waiting 1s",
        gave_up,
    ), proc.stderr


def test_deploy_hook_deploys_verifies_and_announces_certbots_own_renewal(host: Host) -> None:
    issue(host)
    first = host.run("install-hook")
    assert first.returncode == 0 and first.stdout.startswith("wrote: ")
    again = host.run("install-hook")
    assert again.stdout.startswith("unchanged: ")
    hook = host.le / "renewal-hooks" / "deploy" / "certkeeper.sh"
    assert os.access(hook, os.X_OK)
    old = host.served_serial(SHOP[0])
    renewed = host.certbot_renew()
    assert renewed.returncode == 0, renewed.stderr
    new = host.disk_serial("shop")
    assert new != old
    assert host.served_serial(SHOP[0]) == new == host.served_serial(SHOP[1])
    [mail] = host.mails
    assert mail["Subject"] == "[SUCCESS] testhost \u2013 Cert renewed for shop.example.test"
    assert (
        "renewed by certbot on its own; deployed by the certkeeper deploy hook"
        in mail.get_content()
    )


def test_failing_nginx_test_in_the_hook_is_an_error_although_certbot_exits_0(host: Host) -> None:
    issue(host)
    host.nginx_test_command = [
        script(
            host.root / "nginx-t-fails",
            (
                "echo 'nginx: [emerg] cannot load certificate \"/etc/nginx/certs/x.crt\"' >&2\n"
                "echo 'nginx: configuration file /etc/nginx/nginx.conf test failed' >&2\nexit 1\n"
            ),
        )
    ]
    host.write()
    assert host.run("install-hook").returncode == 0
    old = host.served_serial(SHOP[0])
    renewed = host.certbot_renew()
    assert renewed.returncode == 0  # certbot ignores a failing deploy hook
    assert host.served_serial(SHOP[0]) == old
    [mail] = host.mails
    assert mail["Subject"] == "[ERROR] testhost \u2013 Cert renewal FAILED for shop.example.test"
    body = mail.get_content()
    assert "Failed step: nginx -t" in body
    assert "nginx: [emerg] cannot load certificate" in body


def test_deploy_hook_outside_certbot_says_what_is_missing(host: Host) -> None:
    proc = host.run("deploy-hook")
    assert proc.returncode == 2
    assert "RENEWED_LINEAGE is not set" in proc.stderr
