"""The one way certkeeper runs a command: argv list, bounded, logged, never a shell."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from certkeeper.log import get_logger

# How long a process gets to exit after SIGTERM before it is killed outright.
_TERM_GRACE_SECONDS = 2.0


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float
    timeout: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def output_tail(self, lines: int = 60) -> str:
        """The last lines of what the command said, stderr after stdout."""
        text = "\n".join(part.rstrip("\n") for part in (self.stdout, self.stderr) if part.strip())
        return "\n".join(text.splitlines()[-lines:])

    def describe(self) -> str:
        if self.timed_out:
            return f"{self.argv[0]} did not finish within {self.timeout:g}s and was killed"
        if self.returncode == 127 and not self.stdout:
            return self.stderr.strip()
        return f"{self.argv[0]} exited with code {self.returncode}"


def run(
    argv: Sequence[str],
    timeout: float,
    env: Mapping[str, str] | None = None,
) -> Result:
    """Run argv with stdin closed; kill its whole process group at the timeout.

    The group kill matters: certbot and nginx wrappers start children, and a
    hung grandchild holding the pipes open would otherwise outlive us.
    """
    args = tuple(argv)
    log = get_logger()
    log.info("run", argv=list(args), timeout=timeout)
    started = time.monotonic()
    merged_env = dict(os.environ)
    if env:
        merged_env.update(env)
    try:
        child = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=merged_env,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        log.error("run.failed", argv=list(args), error=str(exc))
        return Result(
            args, 127, "", f"cannot run {args[0]}: {exc.strerror or exc}", False, 0.0, timeout
        )
    timed_out = False
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(child)
        try:
            stdout, stderr = child.communicate(timeout=_TERM_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            # A grandchild kept the pipes open after the group kill; give up on them.
            stdout, stderr = "", ""
    seconds = time.monotonic() - started
    result = Result(args, child.returncode, stdout, stderr, timed_out, seconds, timeout)
    log.info(
        "run.done",
        argv=list(args),
        returncode=child.returncode,
        timed_out=timed_out,
        seconds=round(seconds, 3),
    )
    return result


def _kill_group(child: subprocess.Popen[str]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=_TERM_GRACE_SECONDS)
            # The leader is gone; make sure nothing else in its group lingers.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            return
        except subprocess.TimeoutExpired:
            continue
