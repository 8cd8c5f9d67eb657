"""doctor (root) never writes through a symlink the webroot's owner planted.

www-data owns the webroot and can replace `.well-known` or `.well-known/acme-challenge`
with a link to /root/.ssh or /etc/cron.d. doctor's HTTP-01 check must create nothing at
the far end of the link, fail that check, and say why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support.host import SHOP, Host, dump


def doctor(host: Host) -> tuple[Any, dict[str, Any]]:
    args = []
    for domain in SHOP:
        args += ["--resolve", f"{domain}:127.0.0.1"]
    sysroot = host.root / "sysroot"
    sysroot.mkdir(exist_ok=True)
    proc = host.run_env("doctor", "--json", *args, CERTKEEPER_SYSTEMD_ROOT=str(sysroot))
    assert proc.returncode in (0, 1), dump(proc)
    assert "Traceback" not in proc.stderr, dump(proc)
    return proc, json.loads(proc.stdout)


@pytest.mark.parametrize("planted", [".well-known", ".well-known/acme-challenge"])
def test_a_symlinked_component_is_refused_and_nothing_is_written_beyond_it(
    host: Host, tmp_path: Path, planted: str
) -> None:
    host.add("shop", *SHOP)
    outside = tmp_path / "root-ssh"
    outside.mkdir()
    (outside / "authorized_keys").write_text("ssh-ed25519 AAAA root@host\n")
    if planted == ".well-known":
        (outside / "acme-challenge").mkdir()
    link = host.nginx.webroot / planted
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)
    before = sorted(str(p) for p in outside.rglob("*"))

    proc, doc = doctor(host)

    assert proc.returncode == 1
    [http01] = [c for c in doc["checks"] if c["check"] == "http01"]
    assert http01["ok"] is False
    assert f"{link} is a symlink to {outside}" in http01["finding"], http01
    assert "never writes through a link" in http01["finding"]
    assert "plain folder" in http01["fix"]
    assert sorted(str(p) for p in outside.rglob("*")) == before
    assert link.is_symlink()  # refused, not "repaired" behind the owner's back
