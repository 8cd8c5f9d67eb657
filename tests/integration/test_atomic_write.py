"""Writes into a folder another user can write: a real attacker process swaps every temp
file it sees for a symlink to a file root owns, while certkeeper writes again and again.

node_exporter's textfile folder is often owned by `prometheus` or group-writable; a write
that sets the mode by path after the fact would chmod whatever the path points at by then.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.run import certkeeper, write_config

ATTACKER = textwrap.dedent(
    """
    import os, sys
    folder, victim = sys.argv[1], sys.argv[2]
    while True:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            if not name.endswith(".tmp"):
                continue
            path = os.path.join(folder, name)
            try:
                os.unlink(path)
                os.symlink(victim, path)
            except OSError:
                pass
    """
)


@pytest.fixture
def attacker(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(the shared folder, the victim file) with the attacker looping over the folder."""
    shared = tmp_path / "textfile"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # writable by anyone, no sticky bit
    victim = tmp_path / "secret" / "shadow"
    victim.parent.mkdir()
    victim.write_text("root:$6$secret\n")
    victim.chmod(0o600)
    proc = subprocess.Popen([sys.executable, "-c", ATTACKER, str(shared), str(victim)])
    try:
        time.sleep(0.2)
        yield shared, victim
    finally:
        proc.kill()
        proc.wait(timeout=5)


def test_a_swapped_temp_file_never_changes_the_mode_of_what_it_points_at(
    tmp_path: Path, attacker: tuple[Path, Path]
) -> None:
    shared, victim = attacker
    cfg = write_config(tmp_path / "host")
    for _ in range(20):
        proc = certkeeper(cfg, "metrics", "--output", str(shared / "certkeeper.prom"))
        assert "Traceback" not in proc.stderr, proc.stderr
        assert oct(victim.stat().st_mode & 0o777) == oct(0o600)
    assert victim.read_text() == "root:$6$secret\n"


def test_many_writes_under_attack_keep_the_victim_and_land_whole(
    attacker: tuple[Path, Path],
) -> None:
    from certkeeper import atomic

    shared, victim = attacker
    target = shared / "certkeeper.prom"
    written = 0
    for i in range(400):
        try:
            atomic.write_bytes(target, f"run {i}\n".encode() * 100, mode=0o644)
            written += 1
        except OSError:
            pass  # the attacker won the name; a failed write is told, never a chmod
        assert oct(victim.stat().st_mode & 0o777) == oct(0o600)
    assert victim.read_text() == "root:$6$secret\n"
    assert written > 0
