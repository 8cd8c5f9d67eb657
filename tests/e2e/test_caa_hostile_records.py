"""CAA record sets no operator would write, served by pebble-challtestsrv's DNS: a thousand
issuers, a value of escapes and a fake mail header, a 30 KB value. doctor and the first
issuance's ERROR card stay short, name the record set, and carry no raw control character."""

from __future__ import annotations

import json

from certkeeper.names import has_control_chars
from support.host import SHOP, Host, dump

HOSTILE = "\x1b[2J\x1b]0;pwn\x07\r\nBcc: evil@attacker.test\r\n"


def test_a_thousand_issuers_are_read_as_the_first_64_and_doctor_stays_short(host: Host) -> None:
    host.add("shop", *SHOP)
    host.pebble.set_caa(SHOP[0], [f"ca{n}.test" for n in range(1000)])
    try:
        proc = host.run_env("doctor", "--json")
    finally:
        host.pebble.clear_caa(SHOP[0])
    assert "Traceback" not in proc.stderr, dump(proc)
    [found] = [c for c in json.loads(proc.stdout)["checks"] if c["check"] == "caa"]
    assert found["ok"] is False, found
    assert f"CAA at {SHOP[0]} allows only ca" in found["finding"]
    assert found["finding"].count(".test") <= 64 + 3 and len(found["finding"]) < 2000


def test_a_value_of_escapes_is_shown_escaped_in_doctor_and_in_the_card(host: Host) -> None:
    host.add("shop", *SHOP, site=False)
    host.pebble.set_caa(SHOP[0], [HOSTILE])
    try:
        doctor = host.run_env("doctor")
        proc = host.check()
    finally:
        host.pebble.clear_caa(SHOP[0])
    for said in (doctor, proc):
        assert "Traceback" not in said.stderr, dump(said)
        assert not has_control_chars((said.stdout + said.stderr).replace("\n", "")), dump(said)
    assert proc.returncode == 1, dump(proc)
    [card] = host.mails
    body = card.get_content()
    assert "Failed step: CAA" in body and "\\x1b[2j" in body  # the issuer, lower-cased
    assert "\x1b" not in body and "\nBcc:" not in body and len(body) < 8000
    assert card["Bcc"] is None


def test_a_30_kb_value_is_a_lookup_doctor_names_and_bounds(host: Host) -> None:
    host.add("shop", *SHOP)
    host.pebble.set_caa(SHOP[0], ["x" * 30_000])
    try:
        proc = host.run_env("doctor", "--json")
    finally:
        host.pebble.clear_caa(SHOP[0])
    assert "Traceback" not in proc.stderr, dump(proc)
    [found] = [c for c in json.loads(proc.stdout)["checks"] if c["check"] == "caa"]
    assert len(found["finding"]) < 2000 and not has_control_chars(found["finding"]), found
