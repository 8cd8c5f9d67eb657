"""Names that are not what they look like are refused, never rewritten.

Each case is a config a hostile or careless hand could write; the user must see exit 2
and one line naming the bad value, and certbot must never be called with it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from support.hostile import calls, host, no_traceback
from support.run import OMIT, certkeeper, service


def _problem_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def _svc(**changes: object) -> dict[str, object]:
    doc = service("shop", "shop.example.com")
    entry = dict(doc["certbot_domains"][0])  # type: ignore[index]
    link = dict(doc["certbot_services"][0])  # type: ignore[index]
    for key, value in changes.items():
        if key in entry:
            entry[key] = value
        elif key in link:
            link[key] = value
        else:
            doc[key] = value
    doc["certbot_domains"] = [entry]
    doc["certbot_services"] = [link]
    return doc


TRAILING_LF = [
    ("cert_name", _svc(cert_name="shop\n"), "cert_name = 'shop\\n'"),
    ("link name", _svc(name="shop\n"), "name = 'shop\\n'"),
    ("domain", _svc(domains=["shop.example.com\n"]), "domains[0] = 'shop.example.com\\n'"),
    ("account e-mail", _svc(certbot_email="ops@example.com\n"), "certbot_email"),
]


@pytest.mark.parametrize(("what", "doc", "named"), TRAILING_LF, ids=[t[0] for t in TRAILING_LF])
def test_trailing_newline_in_a_service_value_is_refused(
    tmp_path: Path, what: str, doc: dict[str, object], named: str
) -> None:
    cfg = host(tmp_path, services={"shop": doc})
    proc = certkeeper(cfg, "check", "--no-jitter")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = _problem_lines(proc.stderr)
    assert len(lines) == 1 and named in lines[0], proc.stderr
    no_traceback(proc)
    assert calls(tmp_path) == []
    assert not (tmp_path / "letsencrypt").exists()


def test_trailing_newline_in_the_service_file_name_is_refused(tmp_path: Path) -> None:
    cfg = host(tmp_path, services={"shop\n": _svc()})
    proc = certkeeper(cfg, "check", "--no-jitter")
    assert proc.returncode == 2
    lines = _problem_lines(proc.stderr)
    assert len(lines) == 1 and "service name (the file name) 'shop\\n'" in lines[0], lines
    no_traceback(proc)
    assert calls(tmp_path) == []


@pytest.mark.parametrize(
    ("key", "value"),
    [("hostname", "testhost\n"), ("notify.to", "board@example.com\n"), ("notify.from", "a@b.c\n")],
)
def test_trailing_newline_in_a_global_value_is_refused(
    tmp_path: Path, key: str, value: str
) -> None:
    section, _, leaf = key.rpartition(".")
    cfg = host(tmp_path, **({section: {leaf: value}} if section else {leaf: value}))
    proc = certkeeper(cfg, "config", "validate")
    assert proc.returncode == 2
    lines = _problem_lines(proc.stderr)
    assert len(lines) == 1 and f"{key} = {value!r}" in lines[0], lines
    no_traceback(proc)


IDN_CHANGED = [
    ("sharp s", "ß.example.com", "'ss.example.com'"),
    ("final sigma", "ς.example.com", "'σ.example.com'"),
    ("fullwidth letters", "ｓｈｏｐ.example.com", "'shop.example.com'"),
    ("ideographic full stop", "shop\u3002example.com", "'shop.example.com'"),
]


@pytest.mark.parametrize(("what", "name", "becomes"), IDN_CHANGED, ids=[t[0] for t in IDN_CHANGED])
def test_idn_name_that_idna2003_would_change_is_refused_not_rewritten(
    tmp_path: Path, what: str, name: str, becomes: str
) -> None:
    cfg = host(tmp_path, services={"shop": _svc(domains=[name])})
    proc = certkeeper(cfg, "check", "--no-jitter")
    assert proc.returncode == 2
    lines = _problem_lines(proc.stderr)
    assert len(lines) == 1, lines
    assert f"would silently become {becomes}" in lines[0] and "xn--" in lines[0], lines[0]
    no_traceback(proc)
    assert calls(tmp_path) == []


@pytest.mark.parametrize(
    "invisible", ["\u200d", "\u200b", "\u202e", "\ufeff"], ids=["ZWJ", "ZWSP", "RLO", "BOM"]
)
def test_invisible_character_in_a_domain_is_refused_not_dropped(
    tmp_path: Path, invisible: str
) -> None:
    cfg = host(tmp_path, services={"shop": _svc(domains=[f"sh{invisible}op.example.com"])})
    proc = certkeeper(cfg, "check", "--no-jitter")
    assert proc.returncode == 2
    lines = _problem_lines(proc.stderr)
    assert len(lines) == 1 and "invisible characters" in lines[0], lines
    assert invisible not in proc.stderr  # shown escaped, never raw
    no_traceback(proc)
    assert calls(tmp_path) == []


def test_idn_name_that_round_trips_is_used_as_its_a_label(tmp_path: Path) -> None:
    cfg = host(tmp_path, services={"shop": _svc(domains=["bücher.example"])})
    proc = certkeeper(cfg, "check", "--no-jitter")
    no_traceback(proc)
    assert proc.returncode == 1  # the scripted certbot fails; the name it got is the point
    assert "-d xn--bcher-kva.example" in calls(tmp_path)[0]


def test_system_host_name_with_control_characters_is_refused(tmp_path: Path) -> None:
    # The kernel takes any bytes as a host name, and hostname(1) is not the only caller
    # of sethostname(). Without `hostname:` in the config it would reach every subject.
    cfg = host(tmp_path, hostname=OMIT)
    evil = "app3\x1b[2J\nBcc: attacker@example.com"
    proc = subprocess.run(
        ["unshare", "--uts", sys.executable, "-c",
         "import socket, sys; socket.sethostname(sys.argv[1]);"
         " from certkeeper.cli import main; main(sys.argv[2:])",
         evil, "--config", str(cfg), "check", "--no-jitter"],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line]
    assert len(lines) == 1 and "system host name 'app3\\x1b[2J\\nBcc: " in lines[0], lines
    assert "\x1b" not in proc.stderr
    no_traceback(proc)
    assert calls(tmp_path) == []
