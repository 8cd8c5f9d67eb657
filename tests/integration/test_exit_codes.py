"""The one exit-code contract (docs/exit-codes.md): status and report are Nagios plugins,
so anything they cannot judge is 3 UNKNOWN, usage errors included; every other command
says 2 for a usage or configuration error; doctor 0 passed, 1 failed, 2 stopped before
any check. Each run is a real `certkeeper` process, as cron, Nagios or a person runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from support.run import certkeeper, service, write_config

DOCS = Path(__file__).resolve().parents[2] / "docs" / "exit-codes.md"
# Config checks that read the installed unit look under this root: an empty one here.
NO_UNIT = "CERTKEEPER_SYSTEMD_ROOT"


def bare(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """certkeeper with exactly these arguments (the global options where the test puts them)."""
    return certkeeper(None, *args, env=env)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return write_config(
        tmp_path,
        {"shop": service("shop", "shop.example.com")},
        probe={"port": 9, "timeout_seconds": 1},
        notify={"to": "board@example.com"},
    )


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    return write_config(tmp_path / "broken", {"shop": service("shop", "shop.example.com")},
                        probe={"port": "eighty"})  # fmt: skip


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["status", "--jsno"], 3),
        (["status", "extra"], 3),
        (["report"], 3),  # FILE... is required
        (["report", "--max-age", "soon", "-"], 3),
        (["report", "--max-age", "99999999999999999999d", "-"], 3),
        (["check", "--jsno"], 2),
        (["doctor", "--resolve", "no-colon"], 2),
        (["doctor", "--timeout", "0"], 2),
        (["config", "validate", "--jsno"], 2),
        (["notify", "flush", "--jsno"], 2),
        (["metrics", "--jsno"], 2),
    ],
)
def test_a_usage_error_is_clicks_message_and_the_commands_code(
    cfg: Path, args: list[str], code: int
) -> None:
    proc = bare(*args[:1], "--config", str(cfg), *args[1:])
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.startswith(f"Usage: certkeeper {args[0]}"), proc.stderr
    assert "Error: " in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_status_jsno_is_unknown_and_names_the_option_it_meant(cfg: Path) -> None:
    proc = bare("status", "--jsno", "--config", str(cfg))
    assert proc.returncode == 3
    # click 8.1.3 (Debian 12) and later word it differently; both name the option meant.
    assert re.search(r"No such option:? '?--jsno'?\.? Did you mean '?--json'?\?", proc.stderr)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["status"], 3),
        (["status", "--json"], 3),
        (["check", "--no-jitter"], 2),
        (["check", "--dry-run"], 2),
        (["config", "validate"], 2),
        (["config", "show"], 2),
        (["metrics"], 2),
        (["notify", "test"], 2),
        (["notify", "flush"], 2),
        (["notify", "outbox"], 2),
        (["install-hook"], 2),
        (["deploy-hook"], 2),
    ],
)
def test_a_config_error_is_one_line_per_problem_and_the_commands_code(
    broken: Path, tmp_path: Path, args: list[str], code: int
) -> None:
    proc = certkeeper(broken, *args, env={NO_UNIT: str(tmp_path)})
    assert proc.returncode == code, proc.stderr
    assert proc.stderr.splitlines() == [
        f"{broken}: probe.port = 'eighty': expected a whole number from 1 to 65535"
    ], proc.stderr
    assert proc.stdout == ""


def test_doctor_says_a_config_error_as_its_config_check_and_exits_2(
    broken: Path, tmp_path: Path
) -> None:
    proc = certkeeper(broken, "doctor", "--json", env={NO_UNIT: str(tmp_path)})
    assert proc.returncode == 2, proc.stderr
    [config] = json.loads(proc.stdout)["checks"]
    assert config["check"] == "config" and not config["ok"]
    assert "probe.port = 'eighty'" in config["finding"]
    text = certkeeper(broken, "doctor", env={NO_UNIT: str(tmp_path)})
    # The finding wraps at 120 columns wherever the temporary path puts the break.
    unwrapped = " ".join(line.strip() for line in text.stdout.splitlines())
    assert text.returncode == 2 and "probe.port = 'eighty'" in unwrapped, text.stdout


def test_doctor_stops_before_any_check_on_an_unknown_service(cfg: Path) -> None:
    proc = certkeeper(cfg, "doctor", "nosuch", "--json")
    assert proc.returncode == 2, proc.stderr
    [config] = json.loads(proc.stdout)["checks"]
    assert config["check"] == "config" and not config["ok"]
    assert "'nosuch'" in config["finding"]


def test_the_global_options_work_after_the_subcommand(cfg: Path, broken: Path) -> None:
    before = bare("--config", str(cfg), "config", "show")
    after = bare("config", "show", "--config", str(cfg))
    assert before.returncode == after.returncode == 0, after.stderr
    assert after.stdout == before.stdout and "board@example.com" in after.stdout
    # After the subcommand it wins over the one before it, as the later word on a line does.
    assert bare("--config", str(broken), "status", "-c", str(cfg)).returncode == 2  # UNREACHABLE
    assert bare("--config", str(cfg), "status", "--config", str(broken)).returncode == 3


def test_verbose_works_after_the_subcommand(tmp_path: Path) -> None:
    # Monitored only (certbot never runs), and no notify.to: check logs that warning.
    watched = service("shop", "shop.example.com", enabled=False)
    cfg = write_config(tmp_path, {"shop": watched}, probe={"port": 9, "timeout_seconds": 1})
    quiet = bare("check", "--no-jitter", "--config", str(cfg))
    loud = bare("check", "--no-jitter", "--config", str(cfg), "-v")
    assert quiet.returncode == loud.returncode, loud.stderr
    assert "notify.unset" not in quiet.stderr and "notify.unset" in loud.stderr, loud.stderr


def test_the_environment_names_the_config_unless_an_option_does(cfg: Path, broken: Path) -> None:
    env = {"CERTKEEPER_CONFIG": str(broken)}
    assert bare("status", env=env).returncode == 3
    assert bare("status", "--config", str(cfg), env=env).returncode == 2


def test_a_host_with_no_service_is_unknown_not_ok(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    proc = certkeeper(cfg, "status")
    assert proc.returncode == 3
    assert proc.stderr.splitlines() == [f"no service configured in {tmp_path / 'services.d'}"]
    assert proc.stdout == ""
    assert certkeeper(cfg, "status", "--json").returncode == 3


def _table(text: str) -> list[str]:
    """The rows of the table, as words: the help wraps them, the Markdown file does not."""
    return re.findall(r"[\w/(),:;.-]+", text)


def test_one_table_in_the_help_and_in_the_docs() -> None:
    from certkeeper.cli.exits import TABLE

    help_words = _table(bare("--help").stdout)
    docs = DOCS.read_text(encoding="utf-8")
    for row in TABLE:
        for cell in (row.plugin, row.command):
            if cell != "-":
                words = _table(cell)
                assert any(
                    help_words[i : i + len(words)] == words for i in range(len(help_words))
                ), cell
        assert f"| {row.code} | {row.plugin} | {row.command} |" in docs, row


def test_version_and_help_are_zero_and_import_no_command() -> None:
    code = (
        "import sys; from certkeeper.cli import main\n"
        "try:\n    main(sys.argv[1:])\n"
        "except SystemExit as exc:\n"
        "    names = sorted(m for m in sys.modules if m.startswith('certkeeper.'))\n"
        "    print(exc.code, *names, file=sys.stderr)\n"
    )
    for flag in ("--version", "--help"):
        proc = subprocess.run(
            [sys.executable, "-c", code, flag],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ},
        )
        code_and_modules = proc.stderr.split()
        assert code_and_modules[0] == "0", proc.stderr
        assert set(code_and_modules[1:]) <= {
            "certkeeper.cli",
            "certkeeper.cli.exits",
            "certkeeper.cli.wrapper",
            "certkeeper.errors",
            "certkeeper.log",
            "certkeeper.reaper",
            "certkeeper.terminal",
        }, proc.stderr
