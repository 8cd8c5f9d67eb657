"""Host-wide checks of how renewals get triggered: the deploy hook certbot runs, and the
timer (or cron line) that runs `certkeeper check`."""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

from certkeeper import proc
from certkeeper.actions.doctor.base import Options, Result, clean, one_line
from certkeeper.config import DEFAULT_CONFIG_PATH, Config
from certkeeper.hook import HOOK_NAME

CRON_FILE = "etc/cron.d/certkeeper"
TIMER = "certkeeper.timer"


def _same_program(found: list[str], expected: tuple[str, ...]) -> bool:
    if not found or not expected:
        return False
    if expected[1:3] == ("-m", "certkeeper"):
        return found[1:3] == ["-m", "certkeeper"] and os.path.realpath(
            found[0]
        ) == os.path.realpath(expected[0])
    return os.path.realpath(found[0]) == os.path.realpath(expected[0])


def _config_in(argv: list[str]) -> Path:
    for i, arg in enumerate(argv):
        if arg in ("--config", "-c") and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    return DEFAULT_CONFIG_PATH


def check_hook(cfg: Config, opts: Options) -> Result:
    title = "The deploy hook"
    path = cfg.certbot.config_dir / "renewal-hooks" / "deploy" / HOOK_NAME
    install = (
        f"certkeeper --config {opts.config_arg} install-hook"
        if opts.config_arg
        else "certkeeper install-hook"
    )
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:8192]
    except FileNotFoundError:
        return Result(
            "hook",
            title,
            "",
            False,
            f"{path} is missing: a renewal certbot makes on its own is never deployed",
            install,
        )
    except OSError as exc:
        return Result("hook", title, "", False, f"cannot read {path}: {exc.strerror}", install)
    if not os.access(path, os.X_OK):
        return Result(
            "hook",
            title,
            "",
            False,
            f"{path} is not executable: certbot skips it",
            f"chmod 755 {path}",
        )
    argv = _exec_argv(text)
    if not argv or argv[-1] != "deploy-hook":
        return Result(
            "hook",
            title,
            "",
            False,
            f"{path} does not exec `certkeeper deploy-hook`",
            install,
        )
    wrong = _wrong_target(cfg, opts, argv)
    if wrong:
        return Result("hook", title, "", False, f"{path} {wrong}", install)
    return Result(
        "hook", title, "", True, f"{path} is executable and runs this certkeeper with {cfg.path}"
    )


def _exec_argv(script: str) -> list[str]:
    """The argv of the hook script's `exec` line, without `exec`; [] when there is none."""
    line = next((ln.strip() for ln in script.splitlines() if ln.strip().startswith("exec ")), "")
    try:
        return shlex.split(line)[1:]
    except ValueError:
        return []


def _wrong_target(cfg: Config, opts: Options, argv: list[str]) -> str:
    """What the hook runs that is not this certkeeper with this config; "" when right."""
    what = []
    if not _same_program(argv, opts.certkeeper_argv):
        what.append(f"runs {clean(argv[0], 200)}, not this certkeeper ({opts.certkeeper_argv[0]})")
    if _config_in(argv).absolute() != cfg.path:
        what.append(f"reads {_config_in(argv)}, not {cfg.path}")
    return " and ".join(what)


def cron_line(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:65536]
    except OSError:
        return None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", line):
            continue
        if "certkeeper" in line and re.search(r"\bcheck\b", line):
            return line
    return None


def _timer_state(opts: Options) -> tuple[bool, str]:
    """Whether certkeeper.timer is active (or, in an offline root, enabled), and what was seen."""
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return False, "no systemctl on this host"
    if opts.root != Path("/"):
        # A root that is not this machine's: systemctl reads its unit files offline.
        result = proc.run([systemctl, f"--root={opts.root}", "is-enabled", TIMER], timeout=10)
        state = result.stdout.strip() or one_line(result.stderr, 200)
        return result.ok and state == "enabled", f"{TIMER} in {opts.root}: {clean(state, 200)}"
    result = proc.run(
        [
            systemctl,
            "show",
            TIMER,
            "--property=LoadState,ActiveState,UnitFileState,NextElapseUSecRealtime",
        ],
        timeout=10,
    )
    if not result.ok:
        return False, f"systemctl: {one_line(result.output_tail(3), 200) or result.describe()}"
    props = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    active = props.get("ActiveState") == "active"
    said = (
        f"{TIMER}: {props.get('LoadState', '?')}, {props.get('ActiveState', '?')}, "
        f"{props.get('UnitFileState', '?') or '?'}"
    )
    if active and props.get("NextElapseUSecRealtime"):
        said += f", next run {props['NextElapseUSecRealtime']}"
    return active, clean(said, 300)


def check_timer(cfg: Config, opts: Options) -> Result:
    title = "The timer"
    active, said = _timer_state(opts)
    cron_file = opts.root / CRON_FILE
    line = cron_line(cron_file)
    if active:
        extra = f"; {cron_file} also runs it (twice the runs)" if line else ""
        return Result("timer", title, "", True, said + extra)
    if line:
        return Result("timer", title, "", True, f"{cron_file}: {clean(line, 200)} ({said})")
    return Result(
        "timer",
        title,
        "",
        False,
        f"neither is active: {said}; no line in {cron_file} runs certkeeper check: "
        "nothing renews these certificates",
        f"systemctl enable --now {TIMER}, or uncomment one line in {cron_file}",
    )
