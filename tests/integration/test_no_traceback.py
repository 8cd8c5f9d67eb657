"""No traceback ever: every command, driven into a failure of its own through its real
inputs (a 995-deep YAML config, a hostile file, a standard output closed before the
answer), says one line on stderr and exits with the code of docs/exit-codes.md."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.run import certkeeper, service, write_config
from support.smtp import Catcher, SMTPServer

# What the wrapper exits with when a command could not give its own answer.
PLUGINS = {"status", "report"}
CLOSED = "certkeeper: standard output was closed before the answer was written"
NO_UNIT = "CERTKEEPER_SYSTEMD_ROOT"  # where config validate and doctor look for the unit

EVERY_COMMAND_WITH_A_CONFIG = [
    ["status"],
    ["check", "--no-jitter"],
    ["doctor"],
    ["metrics"],
    ["config", "validate"],
    ["config", "show"],
    ["notify", "test"],
    ["notify", "flush"],
    ["notify", "outbox"],
    ["install-hook"],
    ["deploy-hook"],
]


def failed_code(command: str) -> int:
    return 3 if command in PLUGINS else 1


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr + (proc.stdout or ""), proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer(Catcher()).start()
    yield server
    server.stop()


@pytest.fixture
def cfg(tmp_path: Path, smtp: SMTPServer) -> Path:
    # Nothing listens on port 9: every probe is refused at once. notify.to is set, so no
    # command adds its "notices go nowhere" warning to the one line.
    (tmp_path / "state").mkdir(mode=0o700)
    return write_config(
        tmp_path,
        {"shop": service("shop", "shop.example.com")},
        probe={"port": 9, "http_port": 9, "timeout_seconds": 1},
        notify={
            "to": "board@example.com",
            "smtp": {"host": "127.0.0.1", "port": smtp.port, "timeout_seconds": 5},
        },
    )


@pytest.mark.parametrize("args", EVERY_COMMAND_WITH_A_CONFIG, ids=" ".join)
def test_a_995_deep_config_is_one_line(tmp_path: Path, args: list[str]) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("hostname: " + "[" * 995 + "]" * 995 + "\n")
    proc = certkeeper(deep, *args, env={"RENEWED_LINEAGE": str(tmp_path), NO_UNIT: str(tmp_path)})
    line = one_line(proc)
    # Refused as a configuration problem, or caught as an internal error by the wrapper:
    # either way one line and the code the table gives it.
    if "internal error" in line:
        assert proc.returncode == failed_code(args[0]), line
        tag = "certbot-deploy" if args[0] == "deploy-hook" else "certkeeper"
        assert line.endswith(f"(the traceback is in syslog: journalctl -t {tag} -n 50)"), line
    else:
        assert proc.returncode == (3 if args[0] in PLUGINS else 2), line
        assert str(deep) in line
    assert proc.stdout == ""


@pytest.mark.parametrize("args", [["status"], ["check", "--no-jitter"], ["config", "validate"]])
def test_a_995_deep_service_file_is_one_line(cfg: Path, tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "services.d" / "deep.yaml").write_text("[" * 995 + "]" * 995 + "\n")
    proc = certkeeper(cfg, *args, env={NO_UNIT: str(tmp_path)})
    line = one_line(proc)
    if "internal error" in line:
        assert proc.returncode == failed_code(args[0]), line
    else:
        assert proc.returncode == (3 if args[0] in PLUGINS else 2), line
        assert "deep.yaml" in line
    assert proc.stdout == ""


def closed_stdout(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """certkeeper writing into a pipe whose reader has gone (`certkeeper ... | head -c0`)."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run(
            [sys.executable, "-m", "certkeeper", *args],
            stdout=writer,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=120,
            check=False,
            env={**{k: v for k, v in os.environ.items() if k != "CERTKEEPER_CONFIG"}, **env},
        )
    finally:
        os.close(writer)


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["status", "--json"],
        ["check", "--dry-run"],
        ["doctor", "--resolve", "shop.example.com:127.0.0.1", "--timeout", "5"],
        ["metrics"],
        ["config", "validate"],
        ["config", "show"],
        ["notify", "test"],
        ["notify", "flush"],
        ["notify", "outbox"],
        ["install-hook"],
    ],
    ids=" ".join,
)
def test_a_closed_stdout_is_one_line(cfg: Path, tmp_path: Path, args: list[str]) -> None:
    proc = closed_stdout("--config", str(cfg), *args, env={NO_UNIT: str(tmp_path)})
    assert one_line(proc) == CLOSED
    assert proc.returncode == failed_code(args[0])


def test_report_with_a_closed_stdout_is_unknown(tmp_path: Path) -> None:
    status = tmp_path / "app1.json"
    status.write_text(
        '{"host": "app1", "generated_at": "2026-01-01T00:00:00Z", "certificates": []}'
    )
    proc = closed_stdout("report", "--max-age", "3650d", str(status), env={})
    assert one_line(proc) == CLOSED
    assert proc.returncode == 3


@pytest.mark.parametrize(
    ("text", "args"),
    [
        ("[" * 100_000 + "]" * 100_000, []),
        (
            '{"host": "a", "generated_at": "2026-01-01T00:00:00Z", "certificates": '
            '[{"days_left": ' + "9" * 5000 + "}]}",
            [],
        ),
    ],
    ids=["100000-deep JSON", "a 5000-digit number"],
)
def test_report_on_a_hostile_file_is_unknown_in_one_line(
    tmp_path: Path, text: str, args: list[str]
) -> None:
    hostile = tmp_path / "app1.json"
    hostile.write_text(text)
    proc = certkeeper(None, "report", *args, str(hostile))
    line = one_line(proc)
    assert proc.returncode == 3, line
    assert line.startswith("certkeeper")
