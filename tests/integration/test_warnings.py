"""Expiry warnings scale with the lifetime: walked through time with freezegun, through the
CLI, against a real TLS server serving the certificates."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner
from freezegun import freeze_time

from certkeeper.cli import cli
from support.run import service, write_config
from support.tls import SNIServer, leaf, write_lineage

START = datetime.now(UTC)


@pytest.fixture
def world(tmp_path: Path, ca: trustme.CA) -> Iterator[Path]:
    """Three hand-managed certificates, all fresh at START: 90 days, 160 hours, 6 days.
    Each is valid from START itself, however long after the import the fixture runs: a
    not_before later than START would make the first look NOT_YET_VALID."""
    age = (datetime.now(UTC) - START) / timedelta(days=1)
    certs = {
        "classic": leaf(ca, "classic.example.com", days_left=90 - age, lifetime=90),
        "shortlived": leaf(
            ca, "shortlived.example.com", days_left=160 / 24 - age, lifetime=160 / 24
        ),
        "six": leaf(ca, "six.example.com", days_left=6 - age, lifetime=6),
    }
    for name, cert in certs.items():
        write_lineage(tmp_path / "letsencrypt", name, cert, ca)
    server = SNIServer(
        {f"{name}.example.com": cert for name, cert in certs.items()}, default=certs["classic"]
    ).start()
    services = {name: service(name, f"{name}.example.com", enabled=False) for name in certs}
    yield write_config(tmp_path, services, probe={"port": server.port})
    server.stop()


def run_at(cfg: Path, moment: datetime, *args: str) -> tuple[int, str]:
    with freeze_time(moment, tick=True):
        result = CliRunner().invoke(cli, ["--config", str(cfg), *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def warned(output: str) -> list[str]:
    return [line for line in output.splitlines() if "warning sent" in line]


def test_short_certificates_are_not_warned_on_issue_but_as_they_run_out(world: Path) -> None:
    code, out = run_at(world, START, "check", "--no-jitter")
    assert code == 0 and warned(out) == [], out
    code, out = run_at(world, START, "status", "--json")
    states = {r["cert_name"]: r["monitor_state"] for r in json.loads(out)["certificates"]}
    assert states == {"classic": "OK", "shortlived": "OK", "six": "OK"}, out

    # 1 day on: nothing, though fixed thresholds (30, 14, 7, 3) would all have fired.
    _, out = run_at(world, START + timedelta(days=1), "check", "--no-jitter")
    assert warned(out) == [], out

    # 3 days on: the 160-hour certificate crosses its 3-day threshold (kept: 3 < 80 h).
    _, out = run_at(world, START + timedelta(days=3, hours=1), "check", "--no-jitter")
    assert warned(out) == ["shortlived: expires in 3 days; warning sent"], out

    # 2 days on: the 6-day certificate has only its 1-day threshold; not crossed yet.
    _, out = run_at(world, START + timedelta(days=2, hours=1), "check", "--no-jitter")
    assert warned(out) == [], out

    # 4.5 days on: the 6-day certificate crosses 1 day (1.5 days left, counted down).
    _, out = run_at(world, START + timedelta(days=4, hours=12), "check", "--no-jitter")
    assert warned(out) == ["six: expires in 1 days; warning sent"], out

    # 5.5 days on: the 160-hour one crosses 1 day; the 6-day one was warned already.
    later = START + timedelta(days=5, hours=12)
    _, out = run_at(world, later, "check", "--no-jitter")
    assert warned(out) == ["shortlived: expires in 1 days; warning sent"], out
    _, out = run_at(world, later + timedelta(hours=1), "check", "--no-jitter")
    assert warned(out) == [], out

    # The 90-day certificate keeps the fixed thresholds: 30 days left warns at 30.
    _, out = run_at(world, START + timedelta(days=60, hours=1), "check", "--no-jitter")
    assert "classic: expires in 29 days; warning sent" in warned(out), out
