"""Shared fixtures: pebble for the session (started only when a test asks), a fresh host world per test.

Used by tests/e2e and tests/faults; every peer is real and stops on teardown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.host import Host, world
from support.peers import Pebble
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
