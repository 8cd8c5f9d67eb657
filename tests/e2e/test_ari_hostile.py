"""Hostile ARI answers against a real host: pebble, certbot, nginx, and the loopback ARI
server of tests/support/ari.py (or a server that drips its headers).

Whatever the CA's renewalInfo says, and however slowly it says it, the promise holds:
any ARI failure is logged and the team's rule decides, and one certificate's trouble
never stops another's renewal.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.ari import Answer, AriServer, expected_cert_id, point_renewal_conf
from support.drip import DripServer
from support.host import SHOP, Host, dump, issue, make_due

BLOG = ("blog.example.test",)
STAMP = "%Y-%m-%dT%H:%M:%SZ"


def _window(start: str, end: str) -> bytes:
    return json.dumps({"suggestedWindow": {"start": start, "end": end}}).encode()


def _hostile(case: str) -> Answer:
    now = datetime.now(UTC)
    soon, later = (
        (now + timedelta(days=10)).strftime(STAMP),
        (now + timedelta(days=11)).strftime(STAMP),
    )
    if case == "year-1":
        return Answer(raw=_window("0001-01-01T00:10:00+01:00", later))
    if case == "year-9999":
        return Answer(raw=_window(soon, "9999-12-31T20:00:00-05:00"))
    return Answer(raw=_window(soon, later), retry_after="\u00b2\u00b3")


@pytest.mark.parametrize("case", ["year-1", "year-9999", "superscript-retry-after"])
def test_a_hostile_ari_answer_for_one_lineage_never_stops_the_others_renewal(
    host: Host, ari_server: AriServer, case: str
) -> None:
    # blog is checked first and its CA answers hostile ARI; shop is due by the team's rule.
    issue(host)
    issue(host, "blog", BLOG)
    point_renewal_conf(host.le, "blog", ari_server.directory)
    host.extra_config = {"ari": {"ca_file": str(ari_server.ca_file), "timeout_seconds": 5}}
    host.write()
    ari_server.answers[expected_cert_id(host.le / "live" / "blog" / "cert.pem")] = _hostile(case)
    old = make_due(host)

    proc = host.check()

    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr, dump(proc)
    assert proc.returncode == 0, dump(proc) + host.certbot_log()[-3000:]
    assert "shop: renewed; nginx now serves it" in proc.stdout
    assert host.served_serial(SHOP[0]) == host.disk_serial("shop") != old
    [mail] = host.mails
    assert mail["Subject"] == "[SUCCESS] testhost \u2013 Cert renewed for shop.example.test"
    assert ari_server.info_requests(), "blog's CA was asked"
    assert host.archive_count("blog") == 1


def test_a_server_that_drips_its_headers_is_cut_off_at_the_ari_timeout(
    host: Host, tmp_path: Path
) -> None:
    drip = DripServer(tmp_path).start()
    try:
        issue(host)
        point_renewal_conf(host.le, "shop", drip.directory)
        host.extra_config = {"ari": {"ca_file": str(drip.ca_file), "timeout_seconds": 3}}
        host.write()
        started = time.monotonic()
        proc = host.run("-v", "check", "--no-jitter", timeout=120)
        took = time.monotonic() - started
    finally:
        drip.stop()
    assert drip.connections == 1
    assert proc.returncode == 0 and proc.stdout == "", dump(proc)
    assert "ari.error" in proc.stderr and "timed out" in proc.stderr, dump(proc)
    # 3 s for the exchange, the rest is certkeeper starting, surveying and probing.
    assert took < 3 + 5, f"check took {took:.1f} s"
    status = host.run("status", "--json")
    renewal = json.loads(status.stdout)["certificates"][0]["renewal"]
    assert renewal["rule"] == "configured" and renewal["ari"] is None
