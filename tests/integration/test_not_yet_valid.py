"""A certificate whose not_before is still ahead, served by a real TLS socket and lying
on disk: every client rejects it, so it is NOT_YET_VALID (CRITICAL) in `status`,
`status --json`, `report` and the metrics the alert rule reads."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trustme

from certkeeper.x509info import read_file
from support.fleet import Metrics
from support.run import certkeeper, service, write_config
from support.tls import SNIServer, leaf, write_lineage


@pytest.fixture
def early(tmp_path: Path, ca: trustme.CA) -> Iterator[Path]:
    """`early` (managed) and `watch` (monitor-only) valid only from 10 days on; `fine`
    valid now, beside them."""
    le = tmp_path / "letsencrypt"
    certs = {
        "early": leaf(ca, "early.example.com", days_left=100, lifetime=90),
        "watch": leaf(ca, "watch.example.com", days_left=100, lifetime=90),
        "fine": leaf(ca, "fine.example.com", days_left=60),
    }
    for name, cert in certs.items():
        write_lineage(le, name, cert, ca)
    server = SNIServer({f"{n}.example.com": c for n, c in certs.items()}, certs["fine"]).start()
    services = {
        "early": service("early", "early.example.com"),
        "watch": service("watch", "watch.example.com", enabled=False),
        "fine": service("fine", "fine.example.com"),
    }
    yield write_config(tmp_path, services, probe={"port": server.port})
    server.stop()


def test_status_report_and_metrics_call_it_critical(early: Path, tmp_path: Path) -> None:
    proc = certkeeper(early, "status", "--json")
    assert proc.returncode == 2, proc.stderr
    rows = {r["service"]: r for r in json.loads(proc.stdout)["certificates"]}
    assert (rows["early"]["state"], rows["early"]["monitor_state"]) == ("NOT_YET_VALID", None)
    assert (rows["watch"]["state"], rows["watch"]["monitor_state"]) == ("MONITOR", "NOT_YET_VALID")
    assert rows["fine"]["state"] == "OK"
    not_before = read_file(tmp_path / "letsencrypt/live/early/cert.pem").not_before
    assert rows["early"]["reason"] == (
        f"not valid before {not_before:%Y-%m-%d %H:%M} UTC: every client rejects it"
    )
    assert certkeeper(early, "status", "--only", "fine").returncode == 0
    assert certkeeper(early, "status", "--only", "early").returncode == 2
    table = certkeeper(early, "status", "--only", "early").stdout
    assert "NOT_YET_VALID" in table

    saved = tmp_path / "app1.json"
    saved.write_text(proc.stdout)
    fleet = subprocess.run(
        [sys.executable, "-m", "certkeeper", "report", "--json", str(saved)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert fleet.returncode == 2, fleet.stderr
    states = [r["state"] for r in json.loads(fleet.stdout)["certificates"]]
    # Worst first: both CRITICAL rows before the OK one.
    assert sorted(states[:2]) == ["MONITOR/NOT_YET_VALID", "NOT_YET_VALID"]
    assert states[2:] == ["OK"]

    metrics = certkeeper(early, "metrics")
    assert metrics.returncode == 0, metrics.stderr
    m = Metrics(metrics.stdout)
    now = datetime.now(UTC).timestamp()
    for name in ("early", "watch"):
        for source in ("served", "disk"):
            labels = {"cert_name": name, "domain": f"{name}.example.com", "source": source}
            # What the CertkeeperCertificateNotYetValid rule compares with time().
            value = m.value("certkeeper_cert_not_before_timestamp_seconds", **labels)
            assert value == float(int(not_before.timestamp())) or name == "watch"
            assert value > now + 9 * 86400
    fine = {"cert_name": "fine", "domain": "fine.example.com", "source": "served"}
    assert m.value("certkeeper_cert_not_before_timestamp_seconds", **fine) < now
