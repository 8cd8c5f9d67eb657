from __future__ import annotations

from collections.abc import Iterator

import pytest
import trustme

from support.tls import Blackhole, Garbage


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def blackhole() -> Iterator[Blackhole]:
    server = Blackhole().start()
    yield server
    server.stop()


@pytest.fixture
def garbage() -> Iterator[Garbage]:
    server = Garbage().start()
    yield server
    server.stop()
