"""proc.run, the one way certkeeper runs a command, against real small processes.

What a caller (and so the user) relies on: at the timeout the whole tree is gone, the
output kept is bounded and ends with the command's last words, secrets never appear
in argv, output or log lines, a missing program is a result and not a traceback, and
nothing goes through a shell.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from certkeeper import proc
from support.hostile import alive, kill_if_alive, pid_from

PY = sys.executable
SRC = Path(__file__).resolve().parents[2] / "src" / "certkeeper"


def _gone(pid: int, within: float = 3.0) -> bool:
    """Dead or a zombie waiting for init, after at most `within` seconds."""
    deadline = time.monotonic() + within
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not alive(pid)


# --------------------------------------------------------------------- timeouts


HELPERS = {
    # The group kill misses a helper in a session of its own.
    "setsid": 'setsid sleep 300 & echo $! > "{pids}"\n',
    # ...and once the command is dead, that helper belongs to init: it is still killed
    # when it shrugs off SIGTERM.
    "setsid, ignoring SIGTERM": (
        "setsid sh -c 'trap \"\" TERM; sleep 300 & wait' &\n"
        'sleep 0.2; pgrep -s $! -x sleep > "{pids}"\n'
    ),
}


@pytest.mark.parametrize("shape", list(HELPERS))
def test_timeout_kills_the_command_and_a_helper_that_left_its_group(
    tmp_path: Path, shape: str
) -> None:
    pids = tmp_path / "helper.pid"
    script = HELPERS[shape].format(pids=pids) + "echo started\nsleep 300\n"
    started = time.monotonic()
    result = proc.run(["sh", "-c", script], timeout=1)
    elapsed = time.monotonic() - started
    helper = pid_from(pids)
    try:
        assert result.timed_out and not result.ok
        assert result.describe() == "sh did not finish within 1s and was killed"
        assert result.stdout == "started\n"  # what it said before the kill is kept
        assert elapsed < 10, elapsed
        assert _gone(helper), f"helper {helper} outlived the timeout"
    finally:
        kill_if_alive(helper)


def test_timeout_reaches_a_double_forked_orphan_when_certkeeper_is_its_subreaper(
    tmp_path: Path,
) -> None:
    # Only the command line entry point adopts orphans (reaper.want()); a pytest process
    # must not, so a small real driver plays certkeeper here.
    pids = tmp_path / "orphan.pid"
    script = f'(setsid sleep 300 & echo $! > "{pids}")\nsleep 300\n'
    driver = (
        "import sys\n"
        "from certkeeper import proc, reaper\n"
        "reaper.want()\n"
        "r = proc.run(['sh', '-c', sys.argv[1]], timeout=1)\n"
        "print(r.timed_out, r.describe())\n"
    )
    done = subprocess.run(
        [PY, "-c", driver, script], capture_output=True, text=True, timeout=60, check=False
    )
    orphan = pid_from(pids)
    try:
        assert done.returncode == 0, done.stderr
        assert done.stdout == "True sh did not finish within 1s and was killed\n"
        assert _gone(orphan), f"orphan {orphan} outlived the timeout"
    finally:
        kill_if_alive(orphan)


def test_a_command_that_ignores_sigterm_is_killed_anyway() -> None:
    code = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(300)"
    started = time.monotonic()
    result = proc.run([PY, "-c", code], timeout=1)
    assert result.timed_out
    assert result.returncode == -9
    assert time.monotonic() - started < 10


def test_stdin_is_closed_so_a_prompt_cannot_wait_for_a_person() -> None:
    result = proc.run([PY, "-c", "import sys; print(repr(sys.stdin.read()))"], timeout=10)
    assert result.ok
    assert result.stdout == "''\n"


# ----------------------------------------------------------------------- output


def test_a_flood_keeps_only_the_tail_and_says_how_much_was_dropped() -> None:
    flood = 3 * proc.OUTPUT_TAIL_BYTES
    code = (
        "import sys\n"
        f"sys.stdout.write('x' * {flood})\n"
        "sys.stdout.write('\\nthe real error: challenge failed\\n')\n"
        "sys.stderr.write('on stderr too\\n')\n"
        "sys.exit(1)\n"
    )
    result = proc.run([PY, "-c", code], timeout=30)
    assert result.returncode == 1 and not result.timed_out
    total = flood + len("\nthe real error: challenge failed\n")
    dropped = total - proc.OUTPUT_TAIL_BYTES
    assert result.stdout.startswith(
        f"[certkeeper: {dropped} earlier bytes of output not kept; "
        f"the last {proc.OUTPUT_TAIL_BYTES} follow]\n"
    )
    assert result.stdout.endswith("\nthe real error: challenge failed\n")
    assert result.stderr == "on stderr too\n"
    tail = result.output_tail(3).splitlines()
    # The one flooded line is cut to its head and tail; the error is whole.
    assert len(tail[0]) < 2 * proc.OUTPUT_LINE_CHARS
    assert "characters cut" in tail[0]
    assert tail[1:] == ["the real error: challenge failed", "on stderr too"]


def test_describe_names_the_exit_code() -> None:
    result = proc.run([PY, "-c", "raise SystemExit(3)"], timeout=10)
    assert not result.ok and not result.timed_out
    assert result.describe() == f"{PY} exited with code 3"


def test_describe_names_the_signal_of_a_crash() -> None:
    result = proc.run(
        [PY, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"], timeout=10
    )
    assert result.describe() == f"{PY} was killed by signal 11 (SIGSEGV)"


# ---------------------------------------------------------------------- secrets

_ECHO = "import sys\nprint(' '.join(sys.argv[1:]))\nprint('stderr:', sys.argv[2], file=sys.stderr)"
SECRET = "c2VjcmV0LWhtYWMta2V5LXZhbHVl"
TOKEN = "api-token-value-42"


def test_secret_values_are_masked_in_argv_and_in_what_the_command_echoes() -> None:
    argv = [
        PY,
        "-c",
        _ECHO,
        "--eab-hmac-key",
        SECRET,
        "--api-token=" + TOKEN,
        "--key-type",
        "ecdsa",
        "--eab-kid",
        "kid-1",
    ]
    result = proc.run(argv, timeout=10)
    assert result.ok
    assert result.argv == (
        PY,
        "-c",
        _ECHO,
        "--eab-hmac-key",
        proc.MASK,
        f"--api-token={proc.MASK}",
        "--key-type",
        "ecdsa",
        "--eab-kid",
        "kid-1",
    )
    shown = result.stdout + result.stderr
    assert SECRET not in shown and TOKEN not in shown
    assert f"--eab-hmac-key {proc.MASK} --api-token={proc.MASK} --key-type ecdsa" in shown
    assert f"stderr: {proc.MASK}" in result.stderr


def test_a_secret_that_looks_like_a_flag_is_masked_too() -> None:
    # A base64url key may start with "-": the value after a secret flag is always hidden.
    assert proc.mask_argv(["certbot", "--eab-hmac-key", "-abc-def", "--quiet"]) == [
        "certbot",
        "--eab-hmac-key",
        proc.MASK,
        "--quiet",
    ]


def test_log_lines_carry_the_masked_argv_only() -> None:
    driver = (
        "import sys\n"
        "from certkeeper import log, proc\n"
        "log.configure(verbose=True)\n"
        "proc.run(sys.argv[1:], timeout=10)\n"
    )
    done = subprocess.run(
        [PY, "-c", driver, PY, "-c", "print('hi')", "--password", SECRET, "--token=" + TOKEN],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "event='run'" in done.stderr and "event='run.done'" in done.stderr
    assert SECRET not in done.stderr and TOKEN not in done.stderr
    assert proc.MASK in done.stderr


# ---------------------------------------------------------- missing, never shell


@pytest.mark.parametrize("kind", ["missing", "not executable"])
def test_a_program_that_cannot_run_is_a_clean_result(tmp_path: Path, kind: str) -> None:
    program = tmp_path / "certbot"
    if kind == "not executable":
        program.write_text("#!/bin/sh\necho hi\n")
        program.chmod(0o644)
    result = proc.run([str(program), "--eab-hmac-key", SECRET], timeout=10)
    assert result.returncode == 127 and not result.ok and not result.timed_out
    reason = "No such file or directory" if kind == "missing" else "Permission denied"
    assert result.describe() == f"cannot run {program}: {reason}"
    assert result.argv == (str(program), "--eab-hmac-key", proc.MASK)


def test_shell_syntax_in_an_argument_is_passed_on_literally(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = f"$(touch {marker}); `touch {marker}` | touch {marker} && echo"
    result = proc.run(["echo", hostile], timeout=10)
    assert result.ok
    assert result.stdout == hostile + "\n"
    assert not marker.exists()


def test_a_program_name_with_a_space_is_one_program(tmp_path: Path) -> None:
    # Through a shell, "my tool" would run `my` with an argument.
    program = tmp_path / "my tool"
    program.write_text('#!/bin/sh\necho ran with "$@"\n')
    program.chmod(0o755)
    result = proc.run([str(program), "a b"], timeout=10)
    assert result.ok
    assert result.stdout == "ran with a b\n"


def test_env_is_added_to_the_callers_environment() -> None:
    code = "import os; print(os.environ['CK_EXTRA'], 'PATH' in os.environ)"
    result = proc.run([PY, "-c", code], timeout=10, env={"CK_EXTRA": "yes"})
    assert result.stdout == "yes True\n"


def test_no_module_runs_a_command_except_through_proc() -> None:
    """Never shell=True, and no subprocess, os.system or os.popen outside proc.py."""
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "shell":
                offenders.append(f"{path.name}: shell= keyword")
            if path.name == "proc.py":
                continue
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if "subprocess" in mods:
                    offenders.append(f"{path.relative_to(SRC)}: imports subprocess")
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("system", "popen", "spawnv")
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
            ):
                offenders.append(f"{path.relative_to(SRC)}: os.{node.attr}")
    assert offenders == []
    assert os.path.basename(proc.__file__) == "proc.py"


def test_commands_run_side_by_side_keep_their_own_exit_codes() -> None:
    """doctor runs its checks in threads, each through proc.run: one run's reaping of its
    orphans must never collect another thread's command, whose Popen would then read exit 0
    (a failing `nginx -t` reported as passed)."""
    import threading

    failures: list[int] = []

    def failing() -> None:
        for _ in range(25):
            result = proc.run(["sh", "-c", "exit 3"], timeout=10)
            if result.returncode != 3:
                failures.append(result.returncode)

    def busy() -> None:
        for _ in range(25):
            proc.run(["true"], timeout=10)

    threads = [threading.Thread(target=f) for f in (failing, busy) * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == [], f"{len(failures)} of 100 failing commands read another exit code"
