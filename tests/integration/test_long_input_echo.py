"""Every echo of what the user typed is short: a 100 kB argument never comes back whole.

Real `certkeeper` processes; the output is what a person or a cron mail would get.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.run import certkeeper, service, write_config

BIG = "x" * 100_000
# The echoed value is cut at 60 characters; the rest of a line is certkeeper's own words.
SHORT = 600


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, {"shop": service("shop", "shop.example.test")})


def _short(text: str) -> None:
    assert len(text) < SHORT, text[:300]
    assert "Traceback" not in text
    assert "x" * 61 not in text


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (("status", "--only", BIG), 3, "--only = 'xxx"),
        (("check", "--only", BIG), 2, "--only = 'xxx"),
        (("check", "--dry-run", "--only", BIG), 2, "--only = 'xxx"),
        (("doctor", BIG), 2, "--only = 'xxx"),
        ((BIG,), 2, "No such command 'xxx"),
        # status and report are Nagios plugins: a usage error is 3 UNKNOWN.
        (("status", f"--{BIG}"), 3, "--xxx"),  # click 8.1.3 quotes it differently
        (("status", BIG), 3, "Got unexpected extra argument (xxx"),
        (("doctor", "--resolve", BIG), 2, "Invalid value for --resolve: 'xxx"),
        (("report", "--max-age", BIG, "-"), 3, "expected an age such as 36h"),
    ],
)
def test_a_100_kb_argument_is_echoed_cut_to_a_few_dozen_characters(
    config: Path, args: tuple[str, ...], code: int, said: str
) -> None:
    proc = certkeeper(config, *args)
    assert proc.returncode == code, (proc.returncode, proc.stdout[:300], proc.stderr[:300])
    _short(proc.stdout)
    _short(proc.stderr)
    assert said in proc.stdout + proc.stderr
    assert "..." in proc.stdout + proc.stderr


def test_an_echoed_value_shows_control_characters_as_escapes(config: Path) -> None:
    proc = certkeeper(config, "status", "extra\x1b[2J\u202e")
    assert proc.returncode == 3
    assert "\x1b" not in proc.stderr and "\u202e" not in proc.stderr
    assert "extra\\x1b[2J\\u202e" in proc.stderr


def test_a_long_config_value_is_echoed_cut(tmp_path: Path) -> None:
    config = write_config(tmp_path, lock_timeout_seconds="y" * 100_000)
    proc = certkeeper(config, "config", "validate")
    assert proc.returncode == 2, proc.stderr[:300]
    _short(proc.stdout)
    _short(proc.stderr.replace("y", "x"))
    assert "lock_timeout_seconds = 'yyy" in proc.stderr


def test_a_path_longer_than_path_max_is_refused_and_echoed_cut(tmp_path: Path) -> None:
    config = write_config(tmp_path, state_dir="/" + "x" * 100_000)
    proc = certkeeper(config, "status")
    assert proc.returncode == 3, proc.stderr[:300]
    _short(proc.stdout)
    _short(proc.stderr.replace(str(tmp_path), "T"))
    assert "state_dir = '/xxx" in proc.stderr and "expected a file system path" in proc.stderr
