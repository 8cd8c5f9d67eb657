"""Shared fixtures: pebble for the session (started only when a test asks), a fresh host world per test.

Used by tests/e2e and tests/faults; every peer is real and stops on teardown.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from support.host import SHOP, Host, world
from support.peers import Nginx, Pebble, world_readable_dir
from support.smtp import free_port


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
    with world(tmp_path, pebble, http_port) as one:
        yield one


@pytest.fixture
def other_host(host: Host, tmp_path: Path) -> Iterator[Nginx]:
    """The other host of a pair (app4 to our app3) on 127.0.0.2: the same names on the same
    ports, its own webroot and its own certificate."""
    webroot = world_readable_dir("ck-other-webroot-")
    other = Nginx(
        tmp_path / "other-nginx",
        webroot,
        tmp_path / "other-certs",
        host.nginx.http_port,
        address="127.0.0.2",
        tls_port=host.nginx.tls_port,
    )
    other.add_site("shop", SHOP, trustme.CA())
    other.start()
    try:
        yield other
    finally:
        other.stop()
        shutil.rmtree(webroot, ignore_errors=True)
