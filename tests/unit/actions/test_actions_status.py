"""actions/status.py: the status action's value, against real TLS servers and real lineages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trustme

from certkeeper import config
from certkeeper.actions import status
from certkeeper.errors import ConfigError
from certkeeper.notify import outbox
from support.run import service, write_config
from support.tls import SNIServer, leaf, write_lineage


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def world(tmp_path: Path, ca: trustme.CA) -> Iterator[Path]:
    """ok: served and on disk, 60 days left; short: a 6-day certificate 2 days from expiry whose service
    insists on 31 days; gone: configured but never issued."""
    le = tmp_path / "letsencrypt"
    ok = leaf(ca, "ok.example.com", "www.ok.example.com", days_left=60)
    short = leaf(ca, "short.example.com", days_left=2, lifetime=6)
    write_lineage(le, "ok", ok, ca)
    write_lineage(le, "short", short, ca)
    served = {"ok.example.com": ok, "www.ok.example.com": ok, "short.example.com": short}
    server = SNIServer(served, default=ok).start()
    services = {
        "ok": service("ok", "ok.example.com", "www.ok.example.com"),
        "short": service("short", "short.example.com", renewal_days=31),
        "gone": service("gone", "gone.example.com"),
    }
    path = write_config(tmp_path, services, probe={"port": server.port})
    yield path
    server.stop()


def states(result: status.StatusResult) -> dict[str, str]:
    return {row.domain: row.assessment.state.value for row in result.rows}


def test_status_is_a_value_of_rows_exit_code_and_warnings(world: Path) -> None:
    now = datetime.now(UTC)
    result = status.status(config.load(world), None, now)
    assert states(result) == {
        "ok.example.com": "OK",
        "www.ok.example.com": "OK",
        "short.example.com": "DUE",
        "gone.example.com": "MISSING",
    }
    assert result.exit_code == 2  # MISSING outranks DUE
    assert result.generated_at == now
    assert "probe.connect_host: local" in result.view
    # The explicit 31 days on a 6-day certificate is said once, naming the certificate.
    [warning] = result.warnings
    assert "short" in warning
    assert (result.outbox_waiting, result.quarantined) == (0, 0)


def test_only_limits_the_rows_and_an_unknown_name_is_a_config_error(world: Path) -> None:
    cfg = config.load(world)
    result = status.status(cfg, "ok", datetime.now(UTC))
    assert set(states(result)) == {"ok.example.com", "www.ok.example.com"}
    assert result.exit_code == 0
    assert result.warnings == []
    with pytest.raises(ConfigError) as caught:
        status.status(cfg, "nosuch", datetime.now(UTC))
    assert "nosuch" in str(caught.value)


def test_the_default_renewal_days_gives_way_silently(world: Path) -> None:
    """A service that does not set certbot_renewal_days gets the lifetime rule, no warning."""
    short = service("short", "short.example.com", renewal_days=None)
    write_config(world.parent, {"short": short}, probe={"port": config.load(world).probe.port})
    result = status.status(config.load(world), "short", datetime.now(UTC))
    assert result.warnings == []


def test_waiting_and_quarantined_notices_are_counted(world: Path) -> None:
    cfg = config.load(world)
    # A notice an earlier release spooled as e-mail counts as waiting like any other.
    outbox.outbox_dir(cfg.state_dir).mkdir(mode=0o700, parents=True)
    waiting = outbox.outbox_dir(cfg.state_dir) / "ok.warning7.20260101T000000Z.eml"
    waiting.write_bytes(b"Subject: x\r\n\r\nbody\r\n")
    folder = outbox.quarantine_dir(cfg.state_dir)
    folder.mkdir(mode=0o700)
    (folder / "junk.eml").write_bytes(b"\x00")
    (folder / "junk.eml.why").write_text("not a notice\n")
    result = status.status(cfg, "ok", datetime.now(UTC))
    assert (result.outbox_waiting, result.quarantined) == (1, 1)
