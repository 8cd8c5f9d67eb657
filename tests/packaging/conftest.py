"""Fixtures shared by the packaging tests: the .deb, built once per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from support.debroot import run

TOP = Path(__file__).parents[2]


@pytest.fixture(scope="session")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """certkeeper_<version>_<arch>.deb built from this checkout by packaging/deb/build.sh."""
    out = tmp_path_factory.mktemp("dist")
    proc = run(
        str(TOP / "packaging/deb/build.sh"),
        env={**os.environ, "PYTHON": sys.executable, "OUT": str(out)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [built] = out.glob("certkeeper_*_*.deb")
    return built
