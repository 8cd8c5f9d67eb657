"""The .deb, built from this checkout and installed into fresh Debian 12 and 13 roots.

Slow (debootstrap, then apt installing python3 and the libraries the package depends
on), but never skipped: it is the only proof that the one Architecture: all package
installs on both releases, runs, keeps its config and purges cleanly.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.debroot import chroot, copy_root, require, run

# What the distribution ships, not a private copy: apt keeps these patched.
LIBRARIES = ("python3-click", "python3-cryptography", "python3-yaml", "python3-structlog")


@pytest.fixture(params=["bookworm", "trixie"])
def root(
    request: pytest.FixtureRequest, debian_root: Callable[[str], Path], tmp_path: Path
) -> Iterator[Path]:
    target = copy_root(debian_root(request.param), tmp_path / "root")
    yield target
    shutil.rmtree(target, ignore_errors=True)


@pytest.mark.slow
def test_lintian_reports_no_errors_warnings_or_unused_overrides(deb: Path) -> None:
    require("lintian")
    proc = run("lintian", "--fail-on", "error,warning", "--info", str(deb))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "unused-override" not in proc.stdout, proc.stdout
    assert deb.name.endswith("_all.deb")


@pytest.mark.slow
@pytest.mark.timeout(1200)  # the first of the session debootstraps its release in setup
def test_install_run_upgrade_remove_purge(deb: Path, root: Path) -> None:
    shutil.copy(deb, root / "tmp" / deb.name)
    # certbot already pulled python3-cryptography; nothing in the root needs these two.
    for lib in ("python3-click", "python3-structlog"):
        assert chroot(root, "dpkg-query", "-W", lib).returncode != 0, f"{lib} before the install"
    install = chroot(root, "apt-get", "install", "-y", "-qq", f"/tmp/{deb.name}", timeout=900)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    # apt brought the libraries as the package's Depends; nothing is bundled.
    for lib in LIBRARIES:
        assert chroot(root, "dpkg-query", "-W", lib).returncode == 0, lib
    assert not (root / "usr/lib/certkeeper").exists()
    # postinst byte-compiled the modules for this release's python3.
    assert list((root / "usr/share/certkeeper/certkeeper/cli/__pycache__").glob("__init__.*.pyc"))

    version = chroot(root, "certkeeper", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip().startswith("certkeeper, version ")
    validate = chroot(root, "certkeeper", "config", "validate")
    assert validate.returncode == 0, validate.stderr
    # The installed unit can write every default path: no sandbox warning. The shipped
    # config has no board address yet, and says so loudly.
    warnings = [line for line in validate.stderr.splitlines() if line.startswith("WARNING")]
    assert warnings == [
        "WARNING: notify.to is not set in /etc/certkeeper/config.yaml: notices go nowhere, "
        "so no SUCCESS, ERROR or WARNING card reaches the team; set notify.to to the "
        "board's address"
    ], validate.stderr
    assert validate.stdout.startswith("OK: /etc/certkeeper/config.yaml: 0 service(s)")

    assert (root / "var/lib/certkeeper").stat().st_mode & 0o777 == 0o700
    service = (root / "lib/systemd/system/certkeeper.service").read_text()
    exec_start = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    assert os.access(root / exec_start.split("=", 1)[1].split()[0].lstrip("/"), os.X_OK)
    assert (root / "lib/systemd/system/certkeeper.timer").exists()
    cron = (root / "etc/cron.d/certkeeper").read_text()
    assert all(line.startswith("#") or not line.strip() for line in cron.splitlines())
    hook = root / "etc/letsencrypt/renewal-hooks/deploy/certkeeper.sh"
    assert os.access(hook, os.X_OK)
    assert "exec /usr/bin/certkeeper deploy-hook" in hook.read_text()
    # The packaged hook is what `install-hook` would write: nothing to change.
    same = chroot(root, "certkeeper", "install-hook")
    assert same.returncode == 0 and same.stdout.startswith("unchanged: "), same.stdout + same.stderr

    # An upgrade (here: the same version again) keeps the administrator's config.
    config = root / "etc/certkeeper/config.yaml"
    config.write_text(config.read_text() + "\nhostname: app3\n")
    again = chroot(root, "dpkg", "-i", "--force-confold", f"/tmp/{deb.name}")
    assert again.returncode == 0, again.stderr
    assert "hostname: app3" in config.read_text()

    (root / "var/lib/certkeeper/state.json").write_text("{}")
    remove = chroot(root, "apt-get", "remove", "-y", "-qq", "certkeeper")
    assert remove.returncode == 0, remove.stderr
    assert not (root / "usr/bin/certkeeper").exists()
    # prerm removed the byte-code, so no folder is left behind.
    assert not (root / "usr/share/certkeeper").exists()
    assert config.exists() and (root / "var/lib/certkeeper/state.json").exists()

    purge = chroot(root, "apt-get", "purge", "-y", "-qq", "certkeeper")
    assert purge.returncode == 0, purge.stderr
    assert not config.exists()
    assert not (root / "var/lib/certkeeper").exists()
