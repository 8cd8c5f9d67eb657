"""ACME Renewal Information end to end: a real pebble certificate, real certbot and nginx,
and a small ARI server of the test's own on loopback (Debian's pebble 2.4 has none).

Each case asserts what the team sees: what `check` printed and renewed, the certificate
nginx serves, the e-mail that arrived, and what `status --json` says about the rule.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certkeeper import ari
from support.ari import Answer, AriServer, expected_cert_id, point_renewal_conf
from support.host import SHOP, Host, dump, issue

STAMP = "%Y-%m-%dT%H:%M:%SZ"


def with_ari(host: Host, server: AriServer) -> str:
    """Issue shop from pebble, then let the ARI server speak for its CA. Returns the ID."""
    issue(host)
    point_renewal_conf(host.le, "shop", server.directory)
    host.extra_config = {"ari": {"ca_file": str(server.ca_file), "timeout_seconds": 5}}
    host.write()
    return expected_cert_id(host.le / "live" / "shop" / "cert.pem")


def status_renewal(host: Host) -> dict[str, object]:
    proc = host.run("status", "--json")
    assert proc.returncode in (0, 1), dump(proc)
    renewal = json.loads(proc.stdout)["certificates"][0]["renewal"]
    assert isinstance(renewal, dict)
    return renewal


def stamp(text: object) -> datetime:
    assert isinstance(text, str)
    return datetime.strptime(text, STAMP).replace(tzinfo=UTC)


def test_renews_inside_the_window_asked_for_by_the_pebble_certificates_id(
    host: Host, ari_server: AriServer
) -> None:
    ident = with_ari(host, ari_server)
    now = datetime.now(UTC)
    start, end = now + timedelta(seconds=4), now + timedelta(seconds=14)
    ari_server.answers[ident] = Answer(start, end, retry_after="3600")
    # A day later as far as the 20-hour guard is concerned: only the window holds it back.
    host.edit_state("shop", last_attempt="2000-01-01T00:00:00Z")
    old = host.disk_serial("shop")

    before = host.check()
    assert before.returncode == 0 and before.stdout == "", dump(before)
    assert ari_server.info_requests() == [f"/renewal-info/{ident}"]
    cached = host.state()["certs"]["shop"]["ari"]
    assert cached["cert_id"] == ident
    selected = stamp(cached["selected_at"])
    assert start.replace(microsecond=0) <= selected <= end
    renewal = status_renewal(host)
    assert renewal["rule"] == "ari"
    assert renewal["next_at"] == cached["selected_at"]
    ari = renewal["ari"]
    assert isinstance(ari, dict)
    assert (ari["start"], ari["end"]) == (start.strftime(STAMP), end.strftime(STAMP))
    assert ari["explanation_url"] == "https://ari.example/why"

    time.sleep(max(0.0, (selected - datetime.now(UTC)).total_seconds()) + 1.1)
    proc = host.check()
    assert proc.returncode == 0, dump(proc) + host.certbot_log()[-3000:]
    assert "shop: renewed; nginx now serves it" in proc.stdout
    new = host.disk_serial("shop")
    assert new != old and host.served_serial(SHOP[0]) == new
    attempt = stamp(host.state()["certs"]["shop"]["last_attempt"])
    assert selected <= attempt, "renewed at the chosen moment, not before"
    [mail] = host.mails
    assert mail["Subject"] == "[SUCCESS] testhost \u2013 Cert renewed for shop.example.test"
    # Retry-After (an hour) held: the CA was asked once, however often check ran.
    assert len(ari_server.info_requests()) == 1


def test_retry_after_holds_then_a_window_moved_into_the_past_renews_at_once(
    host: Host, ari_server: AriServer
) -> None:
    ident = with_ari(host, ari_server)
    now = datetime.now(UTC)
    ari_server.answers[ident] = Answer(now + timedelta(days=10), now + timedelta(days=11))
    first = host.check()
    assert first.returncode == 0 and first.stdout == "", dump(first)
    renewal = status_renewal(host)
    assert renewal["rule"] == "ari", "a window earlier than the 31-day rule wins"
    assert 78 < float(renewal["window_days"]) < 80  # type: ignore[arg-type]

    # The CA's revocation drill: the window moves into the past.
    ari_server.answers[ident] = Answer(now - timedelta(days=2), now - timedelta(days=1))
    held = host.check()
    assert held.returncode == 0 and held.stdout == "", dump(held)
    assert len(ari_server.info_requests()) == 1, "asked again before Retry-After"
    assert host.archive_count("shop") == 1

    # The hour of Retry-After has passed. The certificate was issued seconds ago, so the
    # 20-hour guard would hold any other renewal: a window in the past lifts it.
    host.edit_state("shop", ari__retry_after="2000-01-01T00:00:00Z")
    proc = host.check()
    assert proc.returncode == 0, dump(proc) + host.certbot_log()[-3000:]
    assert "shop: renewed; nginx now serves it" in proc.stdout
    assert len(ari_server.info_requests()) == 2
    assert host.archive_count("shop") == 2
    assert host.served_serial(SHOP[0]) == host.disk_serial("shop")
    [mail] = host.mails
    assert mail["Subject"] == "[SUCCESS] testhost \u2013 Cert renewed for shop.example.test"
    # The new certificate has a new ID: the old window is never applied to it.
    after = status_renewal(host)
    assert after["rule"] == "configured" and after["ari"] is None


def test_falls_back_to_the_rule_when_the_directory_has_no_renewal_info(host: Host) -> None:
    """pebble itself offers no renewalInfo: the team's rule decides, and nothing breaks."""
    issue(host)
    host.edit_state("shop", last_attempt="2000-01-01T00:00:00Z")
    proc = host.run("-v", "check", "--no-jitter")
    assert proc.returncode == 0, dump(proc)
    assert proc.stdout == ""
    assert "offers no renewalInfo" in proc.stderr
    assert host.archive_count("shop") == 1
    assert host.state()["certs"]["shop"]["ari"] is None
    renewal = status_renewal(host)
    assert renewal["rule"] == "configured" and renewal["window_days"] == 31
    assert renewal["ari"] is None


@pytest.mark.parametrize(
    "answer",
    [
        Answer(status=500, raw=b"oops"),
        Answer(raw=b"[" * 50_000),
        Answer(
            raw=b'{"suggestedWindow": {"start": "2026-12-02T00:00:00Z", "end": "2026-12-01T00:00:00Z"}}'
        ),
        Answer(raw=b"x" * 200_000),
    ],
    ids=["http-500", "nested-json", "inverted-window", "huge-body"],
)
def test_a_broken_ari_answer_never_blocks_the_rule(
    host: Host, ari_server: AriServer, answer: Answer
) -> None:
    ident = with_ari(host, ari_server)
    ari_server.answers[ident] = answer
    host.edit_state("shop", last_attempt="2000-01-01T00:00:00Z")
    proc = host.run("-v", "check", "--no-jitter")
    assert proc.returncode == 0, dump(proc)
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert "ari.error" in proc.stderr
    assert host.archive_count("shop") == 1
    assert status_renewal(host)["rule"] == "configured"


def test_a_request_to_the_cas_own_port_names_the_host_alone(tmp_path: Path) -> None:
    """`Host: ca.example`, as every HTTPS client sends it: a CA's front end may route on the
    header, and `ca.example:443` is not the name it serves."""
    if os.geteuid() != 0:
        pytest.fail("listening on port 443 needs root (make test runs as root in CI)")
    server = AriServer(tmp_path, address=("127.0.0.2", 443)).start()
    try:
        assert server.directory == "https://127.0.0.2/dir"
        now = datetime.now(UTC)
        # No window for "ident": the CA's 404 ends the exchange after both requests.
        with pytest.raises(ari.AriError, match="HTTP 404"):
            ari.fetch(server.directory, "ident", ca_file=server.ca_file, timeout=5, now=now)
    finally:
        server.stop()
    assert server.hosts == ["127.0.0.2", "127.0.0.2"], server.hosts
