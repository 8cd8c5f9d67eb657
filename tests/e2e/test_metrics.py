"""`certkeeper metrics` and the metrics file `check` writes, read back with
prometheus_client's parser and compared with the sandbox's real certificates."""

from __future__ import annotations

import subprocess
import time
from datetime import timedelta
from pathlib import Path

from certkeeper import __version__
from certkeeper.x509info import read_file
from support.fleet import Metrics, configure, read_metrics
from support.host import SHOP, Host, dump, issue, make_due
from support.peers import age_lineage

NOT_AFTER = "certkeeper_cert_not_after_timestamp_seconds"
NOT_BEFORE = "certkeeper_cert_not_before_timestamp_seconds"


def stamp(moment: object) -> float:
    return float(int(moment.timestamp()))  # type: ignore[attr-defined]


def script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_metrics_describe_the_real_certificates_of_the_sandbox(host: Host) -> None:
    issue(host)
    # A 6-day `shortlived` certificate beside the 90-day one, 4 days left.
    host.add("short", "short.example.test")
    assert host.check().returncode == 0
    age_lineage(host.le, "short", days_left=4, lifetime=6)
    host.nginx.reload()
    host.settle()

    proc = host.run("metrics")
    assert proc.returncode == 0, dump(proc)
    assert proc.stderr == ""
    m = Metrics(proc.stdout)

    shop = read_file(host.le / "live/shop/cert.pem")
    for domain in SHOP:
        for source in ("served", "disk"):
            labels = {"service": "shop", "cert_name": "shop", "domain": domain, "source": source}
            assert m.value(NOT_AFTER, **labels) == stamp(shop.not_after)
            assert m.value(NOT_BEFORE, **labels) == stamp(shop.not_before)
        row = {"service": "shop", "cert_name": "shop", "domain": domain}
        assert m.value("certkeeper_cert_served_matches_disk", **row) == 1
        assert m.value("certkeeper_cert_renewal_due", **row) == 0
        # 90 days with certbot_renewal_days 31: the window is 31 days.
        assert m.value("certkeeper_cert_next_renewal_timestamp_seconds", **row) == stamp(
            shop.not_after - timedelta(days=31)
        )

    short = read_file(host.le / "live/short/cert.pem")
    row = {"service": "short", "cert_name": "short", "domain": "short.example.test"}
    served = m.value(NOT_AFTER, **row, source="served")
    lifetime = served - m.value(NOT_BEFORE, **row, source="served")
    assert lifetime == 6 * 86400
    # A fixed 31-day window would call a 6-day certificate due from birth; it is not.
    assert m.value("certkeeper_cert_renewal_due", **row) == 0
    assert m.value("certkeeper_cert_next_renewal_timestamp_seconds", **row) == stamp(
        short.not_after - timedelta(days=3)
    )
    assert 0.6 < (served - time.time()) / lifetime < 0.7

    state = host.state()
    for name in ("shop", "short"):
        rec = state["certs"][name]
        assert m.value("certkeeper_renewal_consecutive_failures", cert_name=name) == 0
        last_success = m.value("certkeeper_renewal_last_success_timestamp_seconds", cert_name=name)
        assert last_success == m.value(
            "certkeeper_renewal_last_attempt_timestamp_seconds", cert_name=name
        )
        assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last_success)) == rec["last_success"]
    assert m.value("certkeeper_outbox_messages") == 0
    assert m.value("certkeeper_check_success") == 1
    assert time.time() - m.value("certkeeper_check_last_run_timestamp_seconds") < 120
    assert m.find("certkeeper_info", version=__version__)[0].value == 1
    # Every family says what it is, and Prometheus' own linter has nothing to say.
    assert all(f.documentation and f.type == "gauge" for f in m.families.values())
    lint = subprocess.run(
        ["promtool", "check", "metrics"],
        input=proc.stdout,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_check_writes_the_metrics_file_and_records_a_failing_run(host: Host) -> None:
    issue(host)
    folder = host.root / "node-exporter"
    folder.mkdir()
    target = folder / "certkeeper.prom"
    configure(host, metrics_file=str(target))

    quiet = host.check()
    assert quiet.returncode == 0 and quiet.stdout == "" and quiet.stderr == "", dump(quiet)
    assert target.stat().st_mode & 0o777 == 0o644
    first = read_metrics(target)
    assert first.value("certkeeper_check_success") == 1
    success = first.value("certkeeper_renewal_last_success_timestamp_seconds", cert_name="shop")

    make_due(host)
    host.nginx_test_command = [
        script(host.root / "nginx-t-fails", "echo 'test failed' >&2\nexit 1\n")
    ]
    host.write()
    configure(host, metrics_file=str(target))
    failing = host.check()
    assert failing.returncode == 1, dump(failing)
    m = read_metrics(target)
    assert m.value("certkeeper_check_success") == 0
    assert m.value("certkeeper_renewal_consecutive_failures", cert_name="shop") == 1
    assert m.value("certkeeper_renewal_last_success_timestamp_seconds", cert_name="shop") == success
    attempt = m.value("certkeeper_renewal_last_attempt_timestamp_seconds", cert_name="shop")
    assert time.time() - attempt < 120
    # certbot renewed the disk certificate, nginx -t stopped the reload: the old one is
    # still served, so served != disk, and the aged one is still due.
    row = {"service": "shop", "cert_name": "shop", "domain": SHOP[0]}
    assert m.value("certkeeper_cert_served_matches_disk", **row) == 0
    # Nothing half-written is left beside it for node_exporter to trip over.
    assert sorted(p.name for p in folder.iterdir()) == ["certkeeper.prom"]


def test_served_not_disk_after_a_renewal_without_reload(host: Host) -> None:
    issue(host)
    renewed = host.certbot_renew()
    assert renewed.returncode == 0, renewed.stderr
    m = Metrics(host.run("metrics").stdout)
    disk = read_file(host.le / "live/shop/cert.pem")
    for domain in SHOP:
        row = {"service": "shop", "cert_name": "shop", "domain": domain}
        assert m.value("certkeeper_cert_served_matches_disk", **row) == 0
        assert m.value(NOT_AFTER, **row, source="disk") == stamp(disk.not_after)
        assert m.value(NOT_AFTER, **row, source="served") < stamp(disk.not_after)


def test_metrics_output_file_and_an_unwritable_one(host: Host) -> None:
    issue(host)
    out = host.root / "out.prom"
    proc = host.run("metrics", "--output", str(out))
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == "", dump(proc)
    assert out.stat().st_mode & 0o777 == 0o644
    assert read_metrics(out).value("certkeeper_outbox_messages") == 0

    missing = host.root / "no-such-dir" / "certkeeper.prom"
    bad = host.run("metrics", "--output", str(missing))
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr.strip() == f"certkeeper: cannot write {missing}: No such file or directory"
