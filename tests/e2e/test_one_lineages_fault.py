"""One lineage's real fault never stops another's renewal.

Two lineages are due in one `check`: blog meets a fault at one step of its story (certbot
crashes, `nginx -t` hangs, its webroot's disk is full) and shop is still renewed, deployed,
verified and told. The faults are real processes and a real full filesystem, never a
patched function. The ARI and renewal-conf faults live beside their own rooms
(test_ari_hostile.py, test_renewal_conf_fifo.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.host import SHOP, Host, dump, issue, make_due
from support.peers import age_lineage, certbot_path

BLOG = ("blog.example.test",)
SHOP_RENEWED = "[SUCCESS] testhost \u2013 Cert renewed for shop.example.test"


def both_due(host: Host) -> int:
    """blog and shop issued, both 85 days on; returns shop's aged serial."""
    issue(host)
    issue(host, "blog", BLOG)
    age_lineage(host.le, "blog", days_left=5.5)
    host.edit_state("blog", last_attempt="2000-01-01T00:00:00Z")
    return make_due(host)


def script(host: Host, name: str, body: str) -> list[str]:
    path = host.root / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return [str(path)]


def assert_shop_renewed_and_told(
    host: Host, proc: subprocess.CompletedProcess[str], old: int
) -> None:
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, dump(proc)
    assert "shop: renewed; nginx now serves it" in proc.stdout, dump(proc)
    new = host.disk_serial("shop")
    assert new not in (None, old)
    assert host.served_serial(SHOP[0]) == new
    subjects = sorted(str(m["Subject"]) for m in host.mails)
    assert SHOP_RENEWED in subjects, subjects
    blog = [s for s in subjects if "blog.example.test" in s]
    assert blog and all(s.startswith("[ERROR]") for s in blog), subjects


def test_certbot_crashing_on_one_lineage_leaves_the_other_renewed(host: Host) -> None:
    old = both_due(host)
    # certbot dies of SIGSEGV for blog, as a broken Python extension would make it.
    host.certbot_command = script(
        host,
        "certbot-crashes-on-blog",
        f'case " $* " in *" blog "*) kill -SEGV $$;; esac\nexec {certbot_path()} "$@"\n',
    )
    host.write()
    proc = host.check()
    assert proc.returncode == 1, dump(proc)
    assert "blog: certbot failed" in proc.stderr, dump(proc)
    assert "certbot-crashes-on-blog was killed by signal 11 (SIGSEGV)" in proc.stderr, dump(proc)
    assert_shop_renewed_and_told(host, proc, old)


def test_nginx_t_hanging_on_one_deploy_leaves_the_other_renewed(host: Host) -> None:
    old = both_due(host)
    # The first `nginx -t` of the run (blog's deploy: lineages go in name order) hangs.
    marker = host.root / "nginx-t-hung-once"
    real = " ".join(host.nginx.test_command)
    host.nginx_test_command = script(
        host,
        "nginx-t-hangs-once",
        f"[ -e {marker} ] || {{ : > {marker}; exec sleep 600; }}\nexec {real}\n",
    )
    host.extra_config = {"nginx": {"timeout_seconds": 3}}
    host.write()
    started = time.monotonic()
    proc = host.check()
    took = time.monotonic() - started
    assert marker.exists()
    assert proc.returncode == 1, dump(proc)
    assert "blog:" in proc.stderr and "did not finish within 3s" in proc.stderr, dump(proc)
    assert took < 90, took
    assert_shop_renewed_and_told(host, proc, old)


@pytest.fixture
def full_disk() -> Iterator[Callable[[Path], None]]:
    """full_disk(folder): the folder's files moved onto a real filesystem with no inode
    left, mounted over it; creating anything there is then ENOSPC."""
    if os.geteuid() != 0:
        pytest.fail("mounting a full filesystem needs root (make test runs as root in CI)")
    mounted: list[Path] = []

    def fill(folder: Path) -> None:
        saved = folder.with_name(folder.name + ".saved")
        shutil.copytree(folder, saved, symlinks=True)
        inodes = 1 + sum(1 for _ in saved.rglob("*"))  # the root, then one per entry
        options = f"size=1m,nr_inodes={inodes},mode=0755"
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        mounted.append(folder)
        shutil.copytree(saved, folder, symlinks=True, dirs_exist_ok=True)
        with pytest.raises(OSError, match="No space left"):
            (folder / "probe").touch()

    yield fill
    for folder in mounted:
        subprocess.run(["umount", "-l", str(folder)], timeout=30, check=False)


def test_a_full_disk_under_one_lineages_archive_leaves_the_other_renewed(
    host: Host, full_disk: Callable[[Path], None]
) -> None:
    old = both_due(host)
    # certbot has blog's new certificate from the CA, and no room to save it.
    full_disk(host.le / "archive" / "blog")
    proc = host.check()
    assert proc.returncode == 1, dump(proc)
    assert "blog: certbot failed" in proc.stderr, dump(proc)
    assert "[Errno 28] No space left on device" in proc.stderr, dump(proc)
    [card] = [m for m in host.mails if "blog.example.test" in str(m["Subject"])]
    assert "No space left on device" in card.get_content(), card.get_content()
    assert_shop_renewed_and_told(host, proc, old)
