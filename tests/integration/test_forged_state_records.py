"""state.json's records added for pauses, rehearsals and coexistence (`paused`, `rehearsal`,
`told_serial`), forged: huge strings, control characters, wrong types, far dates. The file
is written by certkeeper, but a person or a restore may put anything there; `status` (table
and JSON) still shows every row, with nothing forged raw on the terminal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trustme

from certkeeper.names import has_control_chars
from support.run import certkeeper, service, write_config
from support.tls import SNIServer, leaf, write_lineage

ESC = "\x1b[2J\x1b]0;pwned\x07\r\nFAKE ROW OK\u202e"
FORGED: list[dict[str, object]] = [
    {
        "paused": {"since": "2024-01-01T00:00:00Z", "link": "https://ca.test/" + ESC},
        "rehearsal": {"at": "2024-01-01T00:00:00Z", "ok": False, "reason": ESC * 50_000},
        "told_serial": ESC,
    },
    {
        "paused": {"since": "9999-12-31T23:59:59-05:00", "link": "javascript:alert(1)"},
        "rehearsal": {"at": "0001-01-01T00:00:00+01:00", "ok": "false", "reason": 7},
        "told_serial": 10**400,
    },
    {
        "paused": {"since": "2024-01-01T00:00:00Z", "link": "https://ca.test/" + "a" * 100_000},
        "rehearsal": {"at": "2024-01-01T00:00:00Z", "ok": True, "reason": ["x"] * 10},
        "told_serial": "f" * 10_000,
    },
    {"paused": ["since"], "rehearsal": "yesterday", "told_serial": {"a": 1}},
    {"paused": True, "rehearsal": 1e308, "told_serial": None},
]


@pytest.fixture
def world(tmp_path: Path, ca: trustme.CA) -> tuple[Path, SNIServer]:
    le = tmp_path / "letsencrypt"
    shop, blog = (
        leaf(ca, "shop.example.com", days_left=60),
        leaf(ca, "blog.example.com", days_left=60),
    )
    write_lineage(le, "shop", shop, ca)
    write_lineage(le, "blog", blog, ca)
    server = SNIServer({"shop.example.com": shop, "blog.example.com": blog}, default=shop).start()
    services = {
        "shop": service("shop", "shop.example.com"),
        "blog": service("blog", "blog.example.com"),
    }
    return write_config(tmp_path, services, probe={"port": server.port}), server


@pytest.mark.parametrize("forged", FORGED, ids=["escapes", "far-dates", "huge", "types", "scalars"])
def test_status_shows_every_row_whatever_the_new_records_say(
    world: tuple[Path, SNIServer], forged: dict[str, object]
) -> None:
    cfg, server = world
    state_dir = cfg.parent / "state"
    state_dir.mkdir(mode=0o700, exist_ok=True)
    (state_dir / "state.json").write_text(
        json.dumps({"version": 1, "certs": {"shop": forged, "blog": {}}})
    )
    try:
        table = certkeeper(cfg, "status")
        as_json = certkeeper(cfg, "status", "--json")
    finally:
        server.stop()
    for proc in (table, as_json):
        assert "Traceback" not in proc.stdout + proc.stderr
        assert not has_control_chars(proc.stdout.replace("\n", "")), proc.stdout[:2000]
        assert not has_control_chars(proc.stderr.replace("\n", "")), proc.stderr[:2000]
        assert len(proc.stdout) < 20_000
    rows = {row["cert_name"]: row for row in json.loads(as_json.stdout)["certificates"]}
    assert set(rows) == {"shop", "blog"}
    shop = rows["shop"]
    paused, rehearsal = shop["paused"], shop["rehearsal"]
    # A forged link is dropped (never shown to be clicked); a far date is no pause at all.
    assert paused is None or paused["unpause_link"] is None
    if rehearsal is not None:
        assert isinstance(rehearsal["ok"], bool) and len(rehearsal["reason"] or "") <= 500
    assert "FAKE ROW" not in table.stdout.replace("\\r\\nFAKE ROW", "")
