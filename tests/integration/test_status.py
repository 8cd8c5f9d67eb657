"""`certkeeper status` as the on-call engineer runs it, against real TLS servers on loopback."""

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
from support.run import certkeeper, service, write_config
from support.tls import Blackhole, SNIServer, leaf, write_lineage


@pytest.fixture
def world(tmp_path: Path, ca: trustme.CA) -> Iterator[tuple[Path, SNIServer]]:
    """Six services, each showing one state, behind one SNI server like a real nginx."""
    le = tmp_path / "letsencrypt"
    ok = leaf(ca, "ok.example.com", "www.ok.example.com", days_left=60)
    due = leaf(ca, "due.example.com", days_left=12)
    expired = leaf(ca, "expired.example.com", days_left=-1)
    stale = leaf(ca, "stale.example.com", days_left=20)
    renewed = leaf(ca, "stale.example.com", days_left=89)
    wrong = leaf(ca, "other.example.com", days_left=60)
    manual = leaf(ca, "manual.example.com", days_left=9)
    for name, disk in [
        ("ok", ok),
        ("due", due),
        ("expired", expired),
        ("stale", renewed),
        ("wrong", leaf(ca, "wrong.example.com", days_left=60)),
    ]:
        write_lineage(le, name, disk, ca)
    served = {
        "ok.example.com": ok,
        "www.ok.example.com": ok,
        "due.example.com": due,
        "expired.example.com": expired,
        "stale.example.com": stale,
        "wrong.example.com": wrong,
        "manual.example.com": manual,
    }
    server = SNIServer(served, default=wrong).start()
    services = {
        "ok": service("ok", "ok.example.com", "www.ok.example.com"),
        "due": service("due", "due.example.com"),
        "expired": service("expired", "expired.example.com"),
        "stale": service("stale", "stale.example.com"),
        "wrong": service("wrong", "wrong.example.com"),
        "missing": service("missing", "missing.example.com"),
        "manual": service("manual", "manual.example.com", enabled=False),
    }
    cfg = write_config(tmp_path, services, probe={"port": server.port})
    yield cfg, server
    server.stop()


def test_json_rows_states_and_exit_code(world: tuple[Path, SNIServer]) -> None:
    cfg, _ = world
    proc = certkeeper(cfg, "status", "--json")
    assert proc.returncode == 2, proc.stderr
    doc = json.loads(proc.stdout)
    states = {
        (r["service"], r["domain"]): (r["state"], r["monitor_state"]) for r in doc["certificates"]
    }
    assert states == {
        ("due", "due.example.com"): ("DUE", None),
        ("expired", "expired.example.com"): ("EXPIRED", None),
        ("manual", "manual.example.com"): ("MONITOR", "WARN"),
        ("missing", "missing.example.com"): ("MISSING", None),
        ("ok", "ok.example.com"): ("OK", None),
        ("ok", "www.ok.example.com"): ("OK", None),
        ("stale", "stale.example.com"): ("MISMATCH", None),
        ("wrong", "wrong.example.com"): ("NOT_COVERED", None),
    }
    row = next(r for r in doc["certificates"] if r["domain"] == "due.example.com")
    assert set(row) >= {"service", "cert_name", "domain", "state", "days_left", "served", "disk"}
    assert set(row["served"]) >= {"not_after", "serial", "issuer", "error"}
    assert set(row["disk"]) == {"not_after", "serial"}
    assert row["days_left"] == 11
    assert row["served"]["serial"] == row["disk"]["serial"]
    assert row["served"]["not_after"].endswith("Z")
    assert doc["outbox_waiting"] == 0


def test_exit_codes_per_selection(world: tuple[Path, SNIServer]) -> None:
    cfg, _ = world
    assert certkeeper(cfg, "status", "--only", "ok").returncode == 0
    assert certkeeper(cfg, "status", "--only", "cert_renewal_due").returncode == 1
    assert certkeeper(cfg, "status", "--only", "cert_expiry_manual").returncode == 1
    assert certkeeper(cfg, "status", "--only", "stale").returncode == 2


def test_table_is_aligned_plain_text_without_a_tty(world: tuple[Path, SNIServer]) -> None:
    cfg, _ = world
    proc = certkeeper(cfg, "status", "--only", "stale")
    lines = proc.stdout.splitlines()
    assert lines[0].split() == [
        "SERVICE",
        "CERT",
        "DOMAIN",
        "STATE",
        "DAYS",
        "SERVED",
        "EXPIRY",
        "DISK",
        "EXPIRY",
        "ISSUER",
        "NOTE",
    ]
    assert "MISMATCH" in lines[1]
    # 120 columns: the NOTE gives way (marked), --wide shows it whole.
    assert "nginx serves ano" in lines[1] and lines[1].endswith("...")
    assert max(len(line) for line in lines) <= 120
    assert "(shortened to fit; --wide or --json shows every cell whole)" in lines
    assert lines[0].index("STATE") == lines[1].index("MISMATCH")
    assert "\x1b[" not in proc.stdout
    wide = certkeeper(cfg, "status", "--only", "stale", "--wide").stdout.splitlines()
    assert "nginx serves another certificate than the one on disk" in wide[1]


def test_unreachable_host(tmp_path: Path, ca: trustme.CA, blackhole: Blackhole) -> None:
    write_lineage(tmp_path / "letsencrypt", "ok", leaf(ca, "ok.example.com"), ca)
    cfg = write_config(
        tmp_path,
        {"ok": service("ok", "ok.example.com")},
        probe={"port": blackhole.port, "timeout_seconds": 1},
    )
    proc = certkeeper(cfg, "status", "--json")
    assert proc.returncode == 2
    row = json.loads(proc.stdout)["certificates"][0]
    assert row["state"] == "UNREACHABLE"
    assert "sent no TLS answer" in row["served"]["error"]
    assert row["disk"]["serial"] is not None


def test_time_moves_a_certificate_into_its_window(world: tuple[Path, SNIServer]) -> None:
    cfg, _ = world
    runner = CliRunner()
    now = datetime.now(UTC)
    with freeze_time(now, tick=True):
        result = runner.invoke(cli, ["--config", str(cfg), "status", "--json", "--only", "ok"])
    assert result.exit_code == 0, result.output
    with freeze_time(now + timedelta(days=30), tick=True):
        later = runner.invoke(cli, ["--config", str(cfg), "status", "--json", "--only", "ok"])
    assert later.exit_code == 1
    assert {r["state"] for r in json.loads(later.output)["certificates"]} == {"DUE"}
