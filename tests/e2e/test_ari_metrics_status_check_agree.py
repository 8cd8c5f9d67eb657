"""With the CA's ARI window in force, `status --json`, the metrics (the `metrics` command
and the metrics_file `check` writes) and what `check` does tell the same story: the same
next renewal, and "due" exactly when check renews. A real pebble certificate, real
certbot and nginx, and the test's own ARI server on loopback."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.ari import Answer, AriServer, expected_cert_id, point_renewal_conf
from support.fleet import Metrics
from support.host import SHOP, Host, dump, issue

STAMP = "%Y-%m-%dT%H:%M:%SZ"
NEXT = "certkeeper_cert_next_renewal_timestamp_seconds"
DUE = "certkeeper_cert_renewal_due"


def seconds(text: object) -> float:
    assert isinstance(text, str)
    return datetime.strptime(text, STAMP).replace(tzinfo=UTC).timestamp()


def status(host: Host, code: int) -> list[dict[str, object]]:
    proc = host.run("status", "--json")
    assert proc.returncode == code, dump(proc)
    rows = json.loads(proc.stdout)["certificates"]
    assert isinstance(rows, list)
    return rows


def agree(host: Host, metrics_text: str, code: int, due: bool) -> dict[str, object]:
    """Every row of status and of the metrics: one next renewal, one verdict."""
    rows = status(host, code)
    m = Metrics(metrics_text)
    for row in rows:
        renewal = row["renewal"]
        assert isinstance(renewal, dict)
        labels = {"service": "shop", "cert_name": "shop", "domain": str(row["domain"])}
        assert m.value(NEXT, **labels) == seconds(renewal["next_at"]), (renewal, m.text)
        assert m.value(DUE, **labels) == (1.0 if due else 0.0)
        assert row["state"] == ("DUE" if due else "OK")
    first = rows[0]["renewal"]
    assert isinstance(first, dict)
    return first


def test_status_metrics_and_check_agree_under_an_ari_window(
    host: Host, ari_server: AriServer, tmp_path: Path
) -> None:
    issue(host)
    point_renewal_conf(host.le, "shop", ari_server.directory)
    metrics_file = tmp_path / "certkeeper.prom"
    host.extra_config = {
        "ari": {"ca_file": str(ari_server.ca_file), "timeout_seconds": 5},
        "metrics_file": str(metrics_file),
    }
    host.write()
    ident = expected_cert_id(host.le / "live" / "shop" / "cert.pem")
    now = datetime.now(UTC)
    # Ten days out: long before the 31-day rule of a 90-day certificate, so the CA decides.
    ari_server.answers[ident] = Answer(now + timedelta(days=10), now + timedelta(days=11))

    quiet = host.check()
    assert quiet.returncode == 0 and quiet.stdout == "", dump(quiet)
    selected = host.state()["certs"]["shop"]["ari"]["selected_at"]
    by_file = agree(host, metrics_file.read_text(), code=0, due=False)
    assert by_file["rule"] == "ari" and by_file["next_at"] == selected
    command = host.run("metrics")
    assert command.returncode == 0, dump(command)
    agree(host, command.stdout, code=0, due=False)

    # The CA moves the window into the past (a revocation is coming). Retry-After still
    # holds, so check acts on the window it cached, as status and the metrics read it.
    past = now - timedelta(days=1)
    host.edit_state(
        "shop",
        ari__start=(past - timedelta(hours=1)).strftime(STAMP),
        ari__end=past.strftime(STAMP),
        ari__selected_at=(past - timedelta(minutes=30)).strftime(STAMP),
    )
    urgent = host.run("metrics")
    assert urgent.returncode == 0, dump(urgent)
    due_now = agree(host, urgent.stdout, code=1, due=True)
    assert due_now["rule"] == "ari"

    old = host.disk_serial("shop")
    renewed = host.check()
    assert renewed.returncode == 0, dump(renewed) + host.certbot_log()[-3000:]
    assert "shop: renewed; nginx now serves it" in renewed.stdout
    assert host.disk_serial("shop") != old and host.served_serial(SHOP[0]) != old
    assert len(ari_server.info_requests()) == 1, "the cached window decided, as status said"

    # The new certificate has its own ID: the old window no longer applies to anyone.
    after = agree(host, metrics_file.read_text(), code=0, due=False)
    assert after["rule"] == "configured"
