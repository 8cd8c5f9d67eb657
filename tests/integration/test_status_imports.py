"""What on-call's `status` imports on a healthy host: what it needs, held under a budget.

The click group loads a command's module only when that command runs, so `status` does
not import check's, doctor's or notify's rooms. DEFERRED names the few imports that stay
inside functions of the rooms below, because only some runs need them; a healthy status
imports none of them. Measured as the user runs it: `python -X importtime -m certkeeper
status` in a real process, one line on stderr per module imported.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from support.run import service, write_config
from support.tls import SNIServer, leaf, write_lineage

DEFERRED = {
    # x509info: only a certificate the cache has not seen is parsed (docs/benchmarks.md).
    "cryptography": "a certificate not in state_dir/certinfo-cache.json",
    # notify/: composing and sending a notice.
    "email": "composing a notice (check, deploy-hook, notify)",
    "smtplib": "sending a notice (check, deploy-hook, notify, doctor --send-test)",
    # ari.py and doctor's HTTP-01 fetch.
    "http.client": "asking the CA's ARI endpoint (check) or fetching a challenge (doctor)",
}
# A healthy status imports 196 modules (183 before atomic.py's `secrets` brought random,
# hmac, hashlib and bisect along; 205 before the lazy group, which also dropped shutil,
# bz2 and lzma). A few more fit; a jump past the budget means some room started
# importing what status does not use.
BUDGET = 200


@pytest.fixture
def healthy(tmp_path: Path, ca: trustme.CA) -> Iterator[Path]:
    """Two services, served as on disk, the certificate cache already warm."""
    le = tmp_path / "letsencrypt"
    shop = leaf(ca, "shop.example.com", "www.shop.example.com", days_left=60)
    blog = leaf(ca, "blog.example.com", days_left=60)
    write_lineage(le, "shop", shop, ca)
    write_lineage(le, "blog", blog, ca)
    served = {"shop.example.com": shop, "www.shop.example.com": shop, "blog.example.com": blog}
    server = SNIServer(served, default=shop).start()
    cfg = write_config(
        tmp_path,
        {
            "shop": service("shop", "shop.example.com", "www.shop.example.com"),
            "blog": service("blog", "blog.example.com"),
        },
        probe={"port": server.port},
    )
    (tmp_path / "state").mkdir(mode=0o700)
    assert imported(cfg, "status")[0] == 0  # fills the certificate cache
    yield cfg
    server.stop()


def imported(cfg: Path | None, *args: str) -> tuple[int, list[str]]:
    """The exit code and the modules `certkeeper ARGS` imported, in order."""
    argv = [sys.executable, "-X", "importtime", "-m", "certkeeper"]
    if cfg is not None:
        argv += ["--config", str(cfg)]
    proc = subprocess.run(
        [*argv, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    lines = [line for line in proc.stderr.splitlines() if line.startswith("import time:")]
    modules = [line.rsplit("|", 1)[1].strip() for line in lines[1:]]  # [0] is the header
    return proc.returncode, modules


def _deferred(modules: list[str]) -> set[str]:
    return {m for m in modules if any(m == d or m.startswith(d + ".") for d in DEFERRED)}


def test_a_healthy_status_imports_what_it_needs_and_no_more(healthy: Path) -> None:
    code, modules = imported(healthy, "status")
    assert code == 0
    assert "certkeeper.actions.status" in modules  # the measurement saw the command run
    assert not _deferred(modules), sorted(_deferred(modules))
    others = {
        m
        for m in modules
        if m.startswith(("certkeeper.cli.", "certkeeper.actions."))
        and m
        not in {
            "certkeeper.cli.status",
            "certkeeper.cli.wrapper",
            "certkeeper.cli.exits",
            "certkeeper.actions.status",
            "certkeeper.actions.common",
        }
    }
    assert not others, f"status imported other commands' rooms: {sorted(others)}"
    assert len(modules) <= BUDGET, f"{len(modules)} modules: {modules}"


def test_version_imports_no_command() -> None:
    code, modules = imported(None, "--version")
    assert code == 0
    ours = {m for m in modules if m.startswith("certkeeper.")}
    assert ours <= {"certkeeper.cli", "certkeeper.cli.exits", "certkeeper.cli.wrapper",
                    "certkeeper.errors", "certkeeper.log", "certkeeper.reaper",
                    "certkeeper.terminal"}, sorted(ours)  # fmt: skip
    assert not _deferred(modules)
