"""The CLI's plumbing, shared by every command module: the config load, the one
escaping way to the terminal, and the guard that maps errors to exit codes.

Only click is imported here, like in cli.py: `--version` and `--help` stay instant.
"""

from __future__ import annotations

import functools
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, NoReturn, ParamSpec

import click

if TYPE_CHECKING:
    from certkeeper.config import Config

CONFIG_ERROR = 2
STATUS_UNKNOWN = 3  # monitoring-plugin UNKNOWN

# Set by cli.main: this is the certkeeper process itself, not a program (a test's
# CliRunner) that runs a command in its own process and goes on afterwards.
own_process = False


def answered() -> None:
    """A command has given its answer and the process is about to end.

    What is left is the interpreter's teardown, whose garbage collections walk every
    object the run created: ~9 ms of a 10-name `status` (a tenth of it). Nothing the
    command leaves needs the collector to be released (its files are closed, the lock is
    let go, logging flushes at exit), so the objects are frozen out of its sight. From
    here on no finalizer (`__del__`, a weakref callback) of an object in a reference
    cycle runs: nothing may be left to one.
    """
    if own_process:
        import gc

        gc.freeze()


class Ctx:
    def __init__(self, config: str | None, verbose: bool) -> None:
        self.config_arg = config
        self.verbose = verbose

    def load(self, error_code: int = CONFIG_ERROR, tag: str = "certkeeper") -> Config:
        from certkeeper import config, log
        from certkeeper.errors import ConfigError

        log.configure(tag=tag, verbose=self.verbose)
        try:
            return config.load(config.config_path(self.config_arg))
        except ConfigError as exc:
            fail(exc.problems, error_code)


def say(text: str, err: bool = False, nl: bool = True) -> None:
    """A block of our own lines. Everything a person reads goes out through say() or
    say_line(), escaped: certificates, certbot, SMTP servers and file names are written
    by others and must not drive the terminal (terminal.py says how)."""
    from certkeeper import terminal

    click.echo(fit(terminal.lines(text), err), err=err, nl=nl)


def say_line(text: str, err: bool = False) -> None:
    """One item (a problem, a result line): a LF inside it is escaped too, so nothing
    it quotes can start a line of its own that looks like ours."""
    from certkeeper import terminal

    click.echo(fit(terminal.line(text), err), err=err)


def fit(text: str, err: bool) -> str:
    """What the stream can encode: a latin-1 or ASCII locale gets ASCII marks, not a
    UnicodeEncodeError that would cost the whole answer."""
    from certkeeper import terminal

    stream = sys.stderr if err else sys.stdout
    return terminal.for_stream(text, getattr(stream, "encoding", None))


def fail(lines: list[str], code: int) -> NoReturn:
    for line in lines:
        say_line(line, err=True)
    sys.exit(code)


def guarded(func: Callable[[], int], error_code: int = CONFIG_ERROR) -> NoReturn:
    """Run a command body; expected failures become one line on stderr, never a traceback."""
    from certkeeper.errors import ConfigError, LockBusy

    try:
        code = func()
    except ConfigError as exc:
        fail(exc.problems, error_code)
    except LockBusy as exc:
        fail([f"certkeeper: {exc}"], 1 if error_code == CONFIG_ERROR else STATUS_UNKNOWN)
    except PermissionError as exc:
        fail(
            [f"certkeeper: permission denied: {exc.filename} (run as root?)"],
            1 if error_code == CONFIG_ERROR else STATUS_UNKNOWN,
        )
    except Exception as exc:  # the last guard: never a traceback on the terminal
        from certkeeper.log import get_logger

        get_logger().exception("internal_error", error=repr(exc)[:500])
        fail(
            [
                f"certkeeper: internal error: {type(exc).__name__}: {str(exc)[:200]} "
                "(the traceback is in syslog: journalctl -t certkeeper -n 50)"
            ],
            1 if error_code == CONFIG_ERROR else STATUS_UNKNOWN,
        )
    sys.exit(code)


P = ParamSpec("P")


def loaded(
    error_code: int = CONFIG_ERROR,
    tag: str = "certkeeper",
    before: Callable[[], object] | None = None,
) -> Callable[[Callable[Concatenate[Config, P], int]], Callable[Concatenate[Ctx, P], None]]:
    """A command whose body takes the loaded Config and returns its exit code.

    Stacked under @click.pass_obj. A config problem exits `error_code` before the body
    runs; whatever the body raises goes through guarded(), so no command can forget
    either. `before` starts work that overlaps the config parse (status's CA preload).
    """

    def wrap(body: Callable[Concatenate[Config, P], int]) -> Callable[Concatenate[Ctx, P], None]:
        @functools.wraps(body)
        def command(obj: Ctx, /, *args: P.args, **kwargs: P.kwargs) -> None:
            if before is not None:
                before()
            cfg = obj.load(error_code, tag)
            try:
                guarded(lambda: body(cfg, *args, **kwargs), error_code)
            finally:
                answered()

        return command

    return wrap


ONLY_HELP = (
    "Limit to one service: its file name in services_dir without .yaml, the old "
    "cron spelling cert_renewal_<service> / cert_expiry_<service>, or a cert_name "
    "(as an ERROR card prints it)."
)


def this_certkeeper(obj: Ctx) -> list[str]:
    """This certkeeper as the deploy hook script runs it (install-hook writes, doctor checks)."""
    exe = shutil.which("certkeeper")
    argv = [exe] if exe else [sys.executable, "-m", "certkeeper"]
    if obj.config_arg:
        argv += ["--config", str(Path(obj.config_arg).absolute())]
    return argv
