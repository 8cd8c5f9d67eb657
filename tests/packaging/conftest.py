"""Fixtures shared by the packaging tests: the .deb, the 0.1.0 .deb in the field, and one
debootstrapped root per Debian release, each built once per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.debroot import debootstrap, require, run

TOP = Path(__file__).parents[2]
# The release in the field: 0.1.0 as built from this commit, with its own build.sh.
V010_COMMIT = "11819d9"
# A booted host with nginx and the distribution's certbot. The package's own Depends
# (python3, python3-cryptography, ...) are left to apt, so installing it proves them.
# Debian's certbot pulls a virtual package debootstrap cannot resolve without cffi named.
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "ca-certificates",
    "nginx-light",
    "certbot",
    "python3-cffi-backend",
)


def build(script: Path, out: Path) -> Path:
    proc = run(str(script), env={**os.environ, "PYTHON": sys.executable, "OUT": str(out)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    [built] = out.glob("certkeeper_*_*.deb")
    return built


@pytest.fixture(scope="session")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """certkeeper_<version>_all.deb built from this checkout by packaging/deb/build.sh."""
    return build(TOP / "packaging/deb/build.sh", tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def old_deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """certkeeper_0.1.0_<arch>.deb as 0.1.0's own build.sh made it (bundling its libraries)."""
    tree = tmp_path_factory.mktemp("v010")
    archive = subprocess.run(
        ["git", "-C", str(TOP), "archive", V010_COMMIT],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert archive.returncode == 0, archive.stderr.decode(errors="replace")
    unpacked = subprocess.run(
        ["tar", "-x", "-C", str(tree)], input=archive.stdout, timeout=120, check=False
    )
    assert unpacked.returncode == 0
    built = build(tree / "packaging/deb/build.sh", tree / "dist")
    assert built.name.startswith("certkeeper_0.1.0_"), built.name
    return built


@pytest.fixture(scope="session")
def debian_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Path]]:
    """debian_root("bookworm") / ("trixie"): that release with PACKAGES, debootstrapped on
    first use and shared by the session's tests, which each work on a copy."""
    made: dict[str, Path] = {}

    def get(suite: str) -> Path:
        if suite not in made:
            require("debootstrap", "chroot")
            root = tmp_path_factory.mktemp(f"debootstrap-{suite}") / "root"
            debootstrap(root, *PACKAGES, suite=suite)
            made[suite] = root
        return made[suite]

    yield get
    for root in made.values():
        shutil.rmtree(root, ignore_errors=True)
