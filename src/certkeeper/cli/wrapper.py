"""The one wrapper every command runs in: the global options, the config load, the one
escaping way to the terminal, and the guard that turns whatever stops a command into one
line on stderr and the exit code of exits.py. No command catches its own errors.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from certkeeper import log, terminal
from certkeeper.cli.exits import COMMAND, Contract
from certkeeper.errors import ConfigError, HookRefused, LockBusy

if TYPE_CHECKING:
    from certkeeper.config import Config

F = TypeVar("F", bound=Callable[..., int])

CONFIG_HELP = "Global config file. Default: $CERTKEEPER_CONFIG, else /etc/certkeeper/config.yaml."
VERBOSE_HELP = "Also log to stderr (logs always go to syslog)."
ONLY_HELP = (
    "Limit to one service: its file name in services_dir without .yaml, the old "
    "cron spelling cert_renewal_<service> / cert_expiry_<service>, or a cert_name "
    "(as an ERROR card prints it)."
)

# Set by main(): this is the certkeeper process itself, not a program (a test's CliRunner)
# that runs a command in its own process and goes on afterwards.
own_process = False


class Run:
    """What the global options said (before or after the subcommand), and the config they
    name, loaded on the first call to config(): inside the guard, like everything else."""

    def __init__(self, config_arg: str | None = None, verbose: bool = False) -> None:
        self.config_arg = config_arg
        self.verbose = verbose
        self._config: Config | None = None

    def config(self) -> Config:
        if self._config is None:
            # The config room (PyYAML and the key table) is not imported by --version, --help
            # or report, which need no config.
            from certkeeper import config

            self._config = config.load(config.config_path(self.config_arg))
        return self._config


def say(text: str, err: bool = False, nl: bool = True) -> None:
    """A block of our own lines. Everything a person reads goes out through say() or
    say_line(), escaped: certificates, certbot, SMTP servers and file names are written
    by others and must not drive the terminal (terminal.py says how)."""
    click.echo(fit(terminal.lines(text), err), err=err, nl=nl)


def say_line(text: str, err: bool = False) -> None:
    """One item (a problem, a result line): a LF inside it is escaped too, so nothing
    it quotes can start a line of its own that looks like ours."""
    click.echo(fit(terminal.line(text), err), err=err)


def fit(text: str, err: bool) -> str:
    """What the stream can encode: a latin-1 or ASCII locale gets ASCII marks, not a
    UnicodeEncodeError that would cost the whole answer."""
    stream = sys.stderr if err else sys.stdout
    return terminal.for_stream(text, getattr(stream, "encoding", None))


class Command(click.Command):
    """A command run by the wrapper: its usage errors and its failures exit by its Contract."""

    def __init__(
        self, *args: Any, contract: Contract = COMMAND, tag: str = "certkeeper", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.contract = contract
        self.tag = tag

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            raise _exits(shortened(exc), self.contract.usage) from None

    def invoke(self, ctx: click.Context) -> None:
        log.configure(tag=self.tag, verbose=ctx.ensure_object(Run).verbose)
        try:
            code = guarded(lambda: super(Command, self).invoke(ctx), self.contract, self.tag)
        finally:
            answered()
        ctx.exit(code)


def command(
    name: str | None = None, *, contract: Contract = COMMAND, tag: str = "certkeeper", **attrs: Any
) -> Callable[[F], Command]:
    """A command whose body takes the Run and returns its exit code.

    The global options are accepted after the subcommand too (`status --config X`).
    """

    def wrap(body: F) -> Command:
        cmd = click.command(name, cls=Command, contract=contract, tag=tag, **attrs)(
            click.pass_obj(body)
        )
        click.option("--config", "-c", metavar="PATH", expose_value=False, callback=_config,
                     help=CONFIG_HELP)(cmd)  # fmt: skip
        click.option("--verbose", "-v", is_flag=True, expose_value=False, callback=_verbose,
                     help=VERBOSE_HELP)(cmd)  # fmt: skip
        return cmd

    return wrap


def _config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(Run).config_arg = value


def _verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Run).verbose = True


def guarded(body: Callable[[], int], contract: Contract, tag: str = "certkeeper") -> int:
    """Run a command body; whatever stops it becomes one line on stderr (one per config
    problem) and the code its Contract names, never a traceback."""
    try:
        return body()
    except click.UsageError as exc:  # a bad option value the body found (report's --max-age)
        raise _exits(shortened(exc), contract.usage) from None
    except ConfigError as exc:
        return _said(exc.problems, contract.config)
    except HookRefused as exc:  # certbot shows the hook's output under its own name
        return _said([f"certkeeper deploy-hook: {exc}"], contract.config)
    except LockBusy as exc:
        return _said([f"certkeeper: {exc}"], contract.failed)
    except PermissionError as exc:
        said = f"certkeeper: permission denied: {exc.filename} (run as root?)"
        return _said([said], contract.failed)
    except BrokenPipeError:
        _stdout_to_devnull()
        said = "certkeeper: standard output was closed before the answer was written"
        return _said([said], contract.failed)
    except KeyboardInterrupt:
        return _said(["certkeeper: interrupted"], contract.failed)
    except Exception as exc:  # the last guard: never a traceback on the terminal
        _log_internal(exc)
        return _said(
            [
                f"certkeeper: internal error: {type(exc).__name__}: {str(exc)[:200]} "
                f"(the traceback is in syslog: journalctl -t {tag} -n 50)"
            ],
            contract.failed,
        )


# A usage error quotes what was typed (an unknown command, option or value); a word past
# this many characters is cut, so a 100 kB argument never comes back whole.
ECHO_CHARS = 60


def short_echo(message: str) -> str:
    """`message` with every word longer than ECHO_CHARS cut to it (ending in "...") and
    every control or invisible character escaped: click quotes some values with repr()
    but joins extra arguments as they are."""
    words = message.split(" ")
    cut = [w if len(w) <= ECHO_CHARS else w[: ECHO_CHARS - 3] + "..." for w in words]
    return terminal.line(" ".join(cut))


def shortened(exc: click.UsageError) -> click.UsageError:
    """The same usage error, its echo of the command line shortened (short_echo)."""
    short = click.UsageError(short_echo(exc.format_message()), exc.ctx)
    setattr(short, "exit_code", exc.exit_code)  # noqa: B010 - click reads the instance's
    return short


def _exits(exc: click.UsageError, code: int) -> click.UsageError:
    """click's usage message, with the command's own code (click declares exit_code on the
    class; an instance may carry its own, which click's main() exits with)."""
    setattr(exc, "exit_code", code)  # noqa: B010 - mypy refuses the plain assignment
    return exc


def _said(lines: list[str], code: int) -> int:
    # When stderr is gone too, the exit code is all that is left to say it.
    with contextlib.suppress(OSError):
        for line in lines:
            say_line(line, err=True)
    return code


def _stdout_to_devnull() -> None:
    # What is still buffered for the closed pipe would fail again at exit, with Python's own
    # "Exception ignored" lines: the rest of the answer goes nowhere instead.
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _log_internal(exc: Exception) -> None:
    # Logging must not turn the guard itself into a traceback.
    with contextlib.suppress(Exception):
        log.get_logger().exception("internal_error", error=repr(exc)[:500])


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
        gc.freeze()
