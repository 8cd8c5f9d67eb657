"""Shared fixtures: pebble for the session (started only when a test asks), a fresh host world per test,
and the tiers every test is sorted into by what it costs.

Used by tests/e2e and tests/faults; every peer is real and stops on teardown.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from support.ari import AriServer
from support.host import SHOP, Host, world
from support.peers import Nginx, Pebble, world_readable_dir
from support.smtp import free_port

# The tiers, cheapest first; `make quick` runs the first two, `make test` all four.
#   pure       tests/unit: values, files and small real processes, no server
#   socket     real TLS, SMTP and HTTP servers on loopback, started by the test itself
#   peers      pebble, nginx, certbot or promtool from Debian or PyPI
#   packaging  the .deb, debootstrapped roots, booted systemd, Ansible, the demo, the benchmark
TIERS = ("pure", "socket", "peers", "packaging")
# Modules that start a Debian peer without asking for the `pebble` fixture.
PEER_MODULES = {"test_alert_rules.py"}


def tier_of(item: pytest.Item) -> str:
    path = Path(str(item.fspath))
    if "packaging" in path.parts:
        return "packaging"
    if "e2e" in path.parts or path.name in PEER_MODULES:
        return "peers"
    if "pebble" in getattr(item, "fixturenames", ()):
        return "peers"
    if "unit" in path.parts:
        return "pure"
    return "socket"


# Modules that share a session fixture too costly to make twice run in one group:
# test_deb and test_nspawn both work on copies of tests/packaging's debootstrapped releases.
SHARED = {"test_deb": "debian-roots", "test_nspawn": "debian-roots"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    parallel = config.pluginmanager.hasplugin("xdist")
    for item in items:
        tier = tier_of(item)
        item.add_marker(getattr(pytest.mark, tier))
        if tier == "packaging" and parallel:
            # A module's tests run in turn in one worker: they share its session fixtures
            # (the built .deb, a debootstrapped root) and the checkout's demo-run/ or
            # bench-run/. Different modules run side by side.
            module = Path(str(item.fspath)).stem
            item.add_marker(pytest.mark.xdist_group(f"packaging-{SHARED.get(module, module)}"))


@pytest.fixture
def ari_server(tmp_path: Path) -> Iterator[AriServer]:
    """A CA directory with renewalInfo on loopback (Debian's pebble has no ARI)."""
    server = AriServer(tmp_path).start()
    yield server
    server.stop()


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
