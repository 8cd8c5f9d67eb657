"""CAA (RFC 8659) in doctor: asked of pebble-challtestsrv's DNS, which serves the records a
test sets (`/add-caa`), climbing from the name to its parents as a CA does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from support.host import SHOP, Host, dump
from support.smtp import free_port


def caa_check(host: Host, *args: str) -> tuple[int, dict[str, Any]]:
    proc = host.run_env("doctor", "--json", *args)
    assert "Traceback" not in proc.stderr, dump(proc)
    doc = json.loads(proc.stdout)
    [found] = [c for c in doc["checks"] if c["check"] == "caa"]
    return proc.returncode, found


@pytest.fixture
def shop(host: Host) -> Host:
    host.add("shop", *SHOP)
    return host


def test_no_caa_records_anywhere_allows_any_ca(shop: Host) -> None:
    _, found = caa_check(shop)
    assert found["ok"] is True, found
    assert "no CAA records" in found["finding"]


def test_a_parent_that_allows_only_another_ca_fails_with_the_record_to_add(shop: Host) -> None:
    parent = SHOP[0].split(".", 1)[1]  # example.test: the lookup climbs to it
    shop.pebble.set_caa(parent, ["sectigo.com"])
    try:
        code, found = caa_check(shop)
    finally:
        shop.pebble.clear_caa(parent)
    assert code == 1
    assert found["ok"] is False, found
    assert f"CAA at {parent} allows only sectigo.com, not letsencrypt.org" in found["finding"]
    assert f'{parent}. CAA 0 issue "letsencrypt.org"' in found["fix"]


def test_the_configured_identity_is_what_must_be_allowed(shop: Host) -> None:
    shop.pebble.set_caa(SHOP[0], ["letsencrypt.org"])
    try:
        _, allowed = caa_check(shop)
        shop.extra_config["ca"] = {"caa_identity": "pebble.example"}
        shop.write()
        _, refused = caa_check(shop)
    finally:
        shop.pebble.clear_caa(SHOP[0])
    assert allowed["ok"] is True, allowed
    assert f"CAA at {SHOP[0]} allows letsencrypt.org" in allowed["finding"]
    assert refused["ok"] is False, refused
    assert "not pebble.example" in refused["finding"]


def test_an_empty_issuer_forbids_every_ca(shop: Host) -> None:
    shop.pebble.set_caa(SHOP[0], [";"])
    try:
        _, found = caa_check(shop)
    finally:
        shop.pebble.clear_caa(SHOP[0])
    assert found["ok"] is False, found
    assert "allows only no CA" in found["finding"]


def test_a_silent_nameserver_is_named_and_bounded(shop: Host) -> None:
    """--nameserver overrides the config, as dig @server does; a server that never answers
    costs at most dns.timeout_seconds and says so, and the other checks still report."""
    silent = f"127.0.0.1:{free_port()}"
    shop.extra_config["dns"] = {"nameserver": shop.pebble.nameserver, "timeout_seconds": 2}
    shop.write()
    code, found = caa_check(shop, "--nameserver", silent)
    assert code == 1
    assert found["ok"] is False, found
    assert "timed out after 2 s" in found["finding"]
    assert f"(asked {silent})" in found["finding"]


def test_a_bad_nameserver_is_a_usage_error(shop: Host) -> None:
    proc = shop.run_env("doctor", "--nameserver", "not-an-address")
    assert proc.returncode == 2, dump(proc)
    assert "--nameserver" in proc.stderr and "Traceback" not in proc.stderr


def test_a_first_issuance_that_caa_forbids_never_reaches_the_ca(host: Host) -> None:
    """check asks CAA before a first issuance: a forbidding record set is the issuance
    ERROR card with the CAA reason, and certbot (so the CA) is never run."""
    host.add("shop", *SHOP, site=False)
    host.pebble.set_caa(SHOP[0], ["sectigo.com"])
    try:
        proc = host.check()
    finally:
        host.pebble.clear_caa(SHOP[0])
    assert proc.returncode == 1, dump(proc)
    assert "CAA forbids the CA" in proc.stderr, dump(proc)
    assert not (host.le / "accounts").exists()  # certbot never ran: no ACME account either
    assert not (host.le / "live" / "shop").exists()
    [card] = host.mails
    assert card["Subject"].endswith(f"Cert issuance FAILED for {SHOP[0]}")
    body = card.get_content()
    assert "Failed step: CAA" in body
    assert f"CAA at {SHOP[0]} allows only sectigo.com, not letsencrypt.org" in body
    assert f'{SHOP[0]}. CAA 0 issue "letsencrypt.org"' in body
    # Once CAA allows it, the next run issues.
    assert host.check("--force").returncode == 0
