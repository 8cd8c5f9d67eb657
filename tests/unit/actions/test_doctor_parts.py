"""The pure parts of `certkeeper doctor`: escaping, --resolve, the cron line, the renewal
conf's webroot_map, rendering. The checks themselves run against real peers in
tests/e2e/test_doctor.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certkeeper import certbot
from certkeeper.actions import doctor
from certkeeper.actions.doctor import host
from certkeeper.render import doctor as words


def test_control_characters_and_bidi_overrides_are_shown_escaped() -> None:
    shown = doctor.clean("ok \x1b[2J\x07 \u202eevil\u202c tab\there é")
    assert shown == "ok \\x1b[2J\\x07 \\u202eevil\\u202c tab\\there é"
    assert doctor.clean("x" * 10, limit=4) == "xxxx..."


def test_resolve_takes_name_colon_address() -> None:
    assert doctor.parse_resolve(
        ("Shop.Example.com:203.0.113.7", "a.example.com:[2001:db8::1]")
    ) == {
        "shop.example.com": "203.0.113.7",
        "a.example.com": "2001:db8::1",
    }
    for bad in ("shop.example.com", "shop.example.com:not-an-ip", "*.example.com:127.0.0.1"):
        with pytest.raises(ValueError, match="NAME:ADDR"):
            doctor.parse_resolve((bad,))


def test_only_an_uncommented_cron_line_running_check_counts(tmp_path: Path) -> None:
    cron = tmp_path / "certkeeper"
    cron.write_text(
        "# 0 3,15 * * * root /usr/bin/certkeeper check\nMAILTO=ops@example.com\n"
        "0 4 * * * root /usr/bin/certkeeper status\n"
    )
    assert host.cron_line(cron) is None
    cron.write_text(cron.read_text() + "0 3,15 * * * root /usr/bin/certkeeper check --only shop\n")
    assert host.cron_line(cron) == "0 3,15 * * * root /usr/bin/certkeeper check --only shop"
    assert host.cron_line(tmp_path / "absent") is None


def test_webroot_map_is_read_from_its_subsection(tmp_path: Path) -> None:
    (tmp_path / "renewal").mkdir()
    (tmp_path / "renewal" / "shop.conf").write_text(
        "version = 5.8.0\n[renewalparams]\nauthenticator = webroot\n"
        "webroot_path = /var/www/letsencrypt,\nserver = https://acme.example/dir\n"
        "[[webroot_map]]\nshop.example.com = /var/www/letsencrypt\n"
        "www.shop.example.com = /srv/other\n[acme_renewal_info]\nari_retry_after = x\n"
    )
    assert certbot.read_webroot_map(tmp_path, "shop") == {
        "shop.example.com": "/var/www/letsencrypt",
        "www.shop.example.com": "/srv/other",
    }
    assert certbot.read_renewalparams(tmp_path, "shop")["server"] == "https://acme.example/dir"
    assert certbot.read_webroot_map(tmp_path, "absent") == {}


def test_rendering_puts_the_verdict_first_then_failures_with_their_fix_then_passes() -> None:
    results = [
        doctor.Result("nginx", "nginx -t", "", True, "syntax is ok"),
        doctor.Result("hook", "The deploy hook", "", False, "missing", "certkeeper install-hook"),
        doctor.Result("history", "History", "shop", True, "last attempt", details=("a", "b")),
    ]
    assert words.text(results) == [
        "1 of 3 checks fail: The deploy hook",
        "\u2717 The deploy hook: missing",
        "    fix: certkeeper install-hook",
        "\u2713 nginx -t: syntax is ok",
        # certbot's log only under a check that failed
        "\u2713 History [shop]: last attempt",
    ]
    assert doctor.exit_code(results) == 1
    doc = json.loads(words.as_json(results))
    assert doc["ok"] is False
    assert doc["verdict"] == "1 of 3 checks fail: The deploy hook"
    assert doc["checks"][1] == {
        "check": "hook",
        "title": "The deploy hook",
        "subject": None,
        "ok": False,
        "could_not_run": False,
        "finding": "missing",
        "fix": "certkeeper install-hook",
        "details": [],
    }


def test_every_line_fits_120_columns_and_json_keeps_the_whole_text() -> None:
    long = "nginx answered 404 for " + "shop.example.com/" * 40
    results = [
        doctor.Result("http01", "HTTP-01 path", "shop", False, long, "add the location " * 20),
        doctor.Result("dns", "DNS", "shop", True, "x" * 400),
        doctor.Result("history", "History", "shop", False, "failed", "read it", ("y" * 300,)),
    ]
    lines = words.text(results)
    assert max(len(line) for line in lines) <= 120, lines
    assert lines[0] == "2 of 3 checks fail: HTTP-01 path, History"
    assert lines[1].startswith("\u2717 HTTP-01 path [shop]: nginx answered 404")
    assert lines[2].startswith("    ")  # the finding wraps onto indented lines
    assert any(line.startswith("    fix: add the location") for line in lines)
    assert "    | " + "y" * 100 in "\n".join(lines)
    doc = json.loads(words.as_json(results))
    assert doc["checks"][0]["finding"] == long
    assert doc["checks"][1]["finding"] == "x" * 400


def test_a_check_that_could_not_run_is_counted_apart_and_is_no_pass() -> None:
    results = [
        doctor.Result("dns", "DNS", "shop", False, "no address", "point DNS here"),
        doctor.needs_root("symlinks", "The symlinks", "shop", "cannot see /etc/x: denied"),
        doctor.Result("nginx", "nginx -t", "", True, "ok"),
    ]
    assert words.text(results) == [
        "1 of 3 checks fail: DNS; 1 could not run (needs root): The symlinks",
        "\u2717 DNS [shop]: no address",
        "    fix: point DNS here",
        "? The symlinks [shop]: cannot see /etc/x: denied",
        "    needs root: sudo certkeeper doctor",
        "\u2713 nginx -t: ok",
    ]
    only_unseen = results[1:]
    assert words.text(only_unseen)[0] == "1 of 2 checks could not run (needs root): The symlinks"
    assert doctor.exit_code(only_unseen) == 1
    assert words.text(results[2:])[0] == "all 1 checks pass"


def test_a_check_that_hangs_is_timed_out_and_one_that_raises_is_a_finding() -> None:
    import threading

    never = threading.Event()

    def hang() -> doctor.Result:
        never.wait(30)
        return doctor.Result("nginx", "nginx -t", "", True, "late")

    def boom() -> doctor.Result:
        raise RuntimeError("\x1b[31mred")

    def fine() -> doctor.Result:
        return doctor.Result("timer", "The timer", "", True, "cron")

    jobs = [
        doctor.Job("nginx", "nginx -t", "", hang),
        doctor.Job("hook", "The deploy hook", "", boom),
        doctor.Job("timer", "The timer", "", fine),
    ]
    try:
        hung, broke, ok = doctor.run_jobs(jobs, budget=0.5)
    finally:
        never.set()
    assert not hung.ok and hung.finding.startswith("timed out")
    assert not broke.ok and "RuntimeError: \\x1b[31mred" in broke.finding
    assert ok.ok and ok.finding == "cron"
