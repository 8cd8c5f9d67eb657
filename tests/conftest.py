"""Shared fixtures: pebble for the session (started only when a test asks), a fresh host world per test.

Used by tests/e2e and tests/faults; every peer is real and stops on teardown.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from support.host import Host
from support.peers import Nginx, Pebble, world_readable_dir
from support.smtp import Catcher, SMTPServer, free_port


@pytest.fixture(scope="session")
def http_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def pebble(tmp_path_factory: pytest.TempPathFactory, http_port: int) -> Iterator[Pebble]:
    server = Pebble(tmp_path_factory.mktemp("pebble"), http_port).start()
    yield server
    server.stop()


@pytest.fixture
def host(tmp_path: Path, pebble: Pebble, http_port: int) -> Iterator[Host]:
    webroot = world_readable_dir("ck-webroot-")
    nginx = Nginx(tmp_path / "nginx", webroot, tmp_path / "nginx-certs", http_port).start()
    smtp = SMTPServer(Catcher()).start()
    world = Host(tmp_path, pebble, nginx, smtp, trustme.CA())
    world.write()
    try:
        yield world
    finally:
        nginx.stop()
        smtp.stop()
        shutil.rmtree(webroot, ignore_errors=True)
