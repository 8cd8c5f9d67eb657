"""The one way certkeeper runs a command: argv list, bounded, logged masked, never a shell.

Bounded means three things:
- time: the command and everything it started are killed at the timeout, including
  processes that left its process group with setsid (see _kill_tree);
- memory: only the last OUTPUT_TAIL_BYTES of stdout and of stderr are kept, the rest
  is counted (a certbot flooding stdout must not grow certkeeper without bound);
- secrets: values of secret-looking flags (--eab-hmac-key ...) are masked in every log
  line, in Result.argv, and wherever the command's own output repeats them.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence

from certkeeper import reaper
from certkeeper.log import get_logger
from certkeeper.value import Value

# How long a process gets to exit after SIGTERM before it is killed outright.
_TERM_GRACE_SECONDS = 2.0
# After the command exits, how long a process it left behind may keep its pipes open
# before we stop reading (that process is left alone: the command succeeded).
_PIPE_GRACE_SECONDS = 2.0
# Enough for any error certbot or nginx prints; the notice quotes the last 60 lines.
OUTPUT_TAIL_BYTES = 256 * 1024

OUTPUT_LINE_CHARS = 1000

MASK = "********"

# The commands run() is waiting for right now, in any thread (doctor runs its checks side
# by side). Another run's orphan-reaping and tree-killing must never touch one of them: a
# command reaped by someone else reads as exit 0 to its own Popen (ChildProcessError), so a
# failing `nginx -t` would pass.
_RUNNING: set[int] = set()
_RUNNING_LOCK = threading.Lock()


def _others(command: int) -> set[int]:
    with _RUNNING_LOCK:
        return _RUNNING - {command}


# A flag whose name contains one of these carries a secret in its value...
_SECRET_WORDS = ("key", "secret", "password", "passwd", "passphrase", "token", "hmac")
# ...except these certbot flags, whose values (a type, a size, a path) or absence of
# one (--reuse-key is a switch) are needed to debug a renewal and reveal nothing.
# --eab-kid is not matched at all: the key identifier is not secret (RFC 8555 7.3.4
# sends it in the clear inside the JWS), and it tells which EAB account was used.
_NOT_SECRET = frozenset(
    {
        "--key-type",
        "--rsa-key-size",
        "--key-path",
        "--reuse-key",
        "--no-reuse-key",
        "--new-key",
        "--elliptic-curve",
    }
)
# Shorter values are not replaced inside output text: masking every "1" hides nothing.
_MIN_REDACT_LEN = 4


def _secret_flag(arg: str) -> bool:
    if not arg.startswith("-"):
        return False
    name = arg.split("=", 1)[0].lower()
    return name not in _NOT_SECRET and any(word in name for word in _SECRET_WORDS)


def _split_secrets(argv: Iterable[str]) -> tuple[list[str], list[str]]:
    masked: list[str] = []
    secrets: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            # Always the next argument, even when it starts with "-": a base64url key can.
            masked.append(MASK)
            secrets.append(arg)
            hide_next = False
        elif _secret_flag(arg):
            name, eq, value = arg.partition("=")
            if eq:
                masked.append(f"{name}={MASK}")
                secrets.append(value)
            else:
                masked.append(arg)
                hide_next = True
        else:
            masked.append(arg)
    return masked, [s for s in secrets if s]


def mask_argv(argv: Iterable[str]) -> list[str]:
    """argv as it may be shown: `--eab-hmac-key X` and `--api-token=X` become ********."""
    return _split_secrets(argv)[0]


def redact(text: str, argv: Iterable[str]) -> str:
    """`text` with every secret value of argv replaced (a tool may echo its arguments)."""
    for secret in sorted(_split_secrets(argv)[1], key=len, reverse=True):
        if len(secret) >= _MIN_REDACT_LEN:
            text = text.replace(secret, MASK)
    return text


def _cut(line: str) -> str:
    """Head and tail of an over-long line: an error printed after a flood without a
    newline in between ends up at the end of the flood's line."""
    if len(line) <= OUTPUT_LINE_CHARS:
        return line
    half = OUTPUT_LINE_CHARS // 2
    return f"{line[:half]} [... {len(line) - 2 * half} characters cut ...] {line[-half:]}"


class Result(Value):
    argv: tuple[str, ...]  # masked: safe to log and to show
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
        """The last lines of what the command said, stderr after stdout, each line cut
        at OUTPUT_LINE_CHARS: the notice and the state quote this, and one flooded line
        of 256 KiB is no more readable than its first kilobyte."""
        text = "\n".join(part.rstrip("\n") for part in (self.stdout, self.stderr) if part.strip())
        return "\n".join(_cut(line) for line in text.splitlines()[-lines:])

    def describe(self) -> str:
        if self.timed_out:
            return f"{self.argv[0]} did not finish within {self.timeout:g}s and was killed"
        if self.returncode == 127 and not self.stdout:
            return self.stderr.strip()
        return f"{self.argv[0]} {self.ending()}"

    def ending(self) -> str:
        """How the command ended, in words: a crash names its signal, not a negative code."""
        if self.returncode < 0:
            number = -self.returncode
            try:
                name = signal.Signals(number).name
            except ValueError:
                return f"was killed by signal {number}"
            return f"was killed by signal {number} ({name})"
        return f"exited with code {self.returncode}"


class _Tail:
    """The last `limit` bytes of a stream, and how many came before them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.buf = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        self.buf += chunk
        excess = len(self.buf) - self.limit
        if excess > 0:
            del self.buf[:excess]
            self.dropped += excess

    def text(self) -> str:
        body = bytes(self.buf).decode("utf-8", errors="replace")
        if not self.dropped:
            return body
        return (
            f"[certkeeper: {self.dropped} earlier bytes of output not kept; "
            f"the last {len(self.buf)} follow]\n{body}"
        )


def run(argv: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> Result:
    """Run argv with stdin closed; at the timeout kill it and everything it started."""
    args = tuple(argv)
    shown = tuple(mask_argv(args))
    log = get_logger()
    log.info("run", argv=list(shown), timeout=timeout)
    started = time.monotonic()
    reaper.adopt_if_wanted()
    before = _children(os.getpid())
    try:
        # Registered as it starts, under the lock every reaper takes: no other thread's
        # reaping can see it before it is known to be someone's command.
        with _RUNNING_LOCK:
            child = _spawn(args, env)
            _RUNNING.add(child.pid)
    except OSError as exc:
        reason = redact(str(exc.strerror or exc), args)
        log.error("run.failed", argv=list(shown), error=reason)
        return Result(shown, 127, "", f"cannot run {shown[0]}: {reason}", False, 0.0, timeout)
    try:
        out, err = _Tail(OUTPUT_TAIL_BYTES), _Tail(OUTPUT_TAIL_BYTES)
        timed_out = _wait(child, out, err, started + timeout)
        if timed_out:
            _kill_tree(child, before)
        _reap_orphans(before, child.pid)
    finally:
        with _RUNNING_LOCK:
            _RUNNING.discard(child.pid)
    seconds = time.monotonic() - started
    result = Result(
        shown,
        child.returncode if child.returncode is not None else -signal.SIGKILL,
        redact(out.text(), args),
        redact(err.text(), args),
        timed_out,
        seconds,
        timeout,
    )
    log.info(
        "run.done",
        argv=list(shown),
        returncode=result.returncode,
        timed_out=timed_out,
        seconds=round(seconds, 3),
        output_bytes_dropped=out.dropped + err.dropped,
    )
    return result


def _spawn(args: tuple[str, ...], env: Mapping[str, str] | None) -> subprocess.Popen[bytes]:
    """Start the command in a session of its own (so its group can be killed), with no
    stdin: nothing certkeeper runs may wait for a person. Never through a shell."""
    merged_env = dict(os.environ)
    if env:
        merged_env.update(env)
    return subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=merged_env,
        start_new_session=True,
    )


def _wait(child: subprocess.Popen[bytes], out: _Tail, err: _Tail, deadline: float) -> bool:
    """Read the output and wait for the command; True when the deadline passed first."""
    if _read_until_done(child, out, err, deadline):
        return True
    try:
        # The pipes may close before the process ends (it closed them itself).
        child.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return True
    return False


def _read_until_done(
    child: subprocess.Popen[bytes], out: _Tail, err: _Tail, deadline: float
) -> bool:
    """Read both pipes into their tails until they close; True when the deadline passed."""
    assert child.stdout is not None and child.stderr is not None
    tails = {child.stdout.fileno(): out, child.stderr.fileno(): err}
    exited_at: float | None = None
    with selectors.DefaultSelector() as sel:
        for fd in tails:
            os.set_blocking(fd, False)
            sel.register(fd, selectors.EVENT_READ)
        try:
            while sel.get_map():
                now = time.monotonic()
                if now >= deadline:
                    return True
                if exited_at is None and child.poll() is not None:
                    exited_at = now
                if exited_at is not None and now - exited_at > _PIPE_GRACE_SECONDS:
                    # Something the command left behind holds the pipes; stop listening.
                    return False
                for key, _ in sel.select(timeout=min(deadline - now, 0.25)):
                    fd = int(key.fd)
                    try:
                        chunk = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    if chunk:
                        tails[fd].add(chunk)
                    else:
                        sel.unregister(fd)
        finally:
            child.stdout.close()
            child.stderr.close()
    return False


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, state) for every process, from /proc (empty where there is none)."""
    table: dict[int, tuple[int, str]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read().decode("ascii", errors="replace")
        except OSError:
            continue  # gone meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat.rpartition(")")[2].split()
        if len(fields) >= 2 and fields[1].isdigit():
            table[int(entry)] = (int(fields[1]), fields[0])
    return table


def _children(pid: int) -> set[int]:
    return {p for p, (ppid, _) in _proc_table().items() if ppid == pid}


def _tree(root: int, before: set[int]) -> set[int]:
    """The command's live processes: the root and its descendants, plus orphans that were
    re-parented to us during the run (we are their subreaper) and their descendants."""
    table = _proc_table()
    me = os.getpid()
    others = _others(root)
    roots = {root} | {
        p for p, (ppid, _) in table.items() if ppid == me and p not in before and p not in others
    }
    kids: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = [p for p in roots if p in table]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo.extend(kids.get(pid, []))
    return {p for p in found if table[p][1] not in ("Z", "X")}


def _living(pids: set[int]) -> set[int]:
    table = _proc_table()
    return {p for p in pids if p in table and table[p][1] not in ("Z", "X")}


def _signal_all(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _kill_tree(child: subprocess.Popen[bytes], before: set[int]) -> None:
    """SIGTERM the command's group and tree, then SIGKILL whatever is left, until nothing
    of it is alive. The process group alone misses anything that called setsid."""
    # The tree is read before the group is signalled: once the command dies, a helper
    # in a session of its own goes to init, out of reach unless we are its subreaper
    # (only the command line entry point is; a library caller is not).
    # Every pid seen stays a target until it is dead, for the same reason.
    seen = _tree(child.pid, before)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGTERM)
    seen |= _tree(child.pid, before)
    _signal_all(seen, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=_TERM_GRACE_SECONDS)
    # A tree that forks while being killed needs more than one pass; bounded anyway.
    for _ in range(50):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
        seen |= _tree(child.pid, before)
        alive = _living(seen) - ({child.pid} if child.poll() is not None else set())
        if not alive:
            break
        _signal_all(alive, signal.SIGKILL)
        _reap_orphans(before, child.pid)
        time.sleep(0.02)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=_TERM_GRACE_SECONDS)


def _reap_orphans(before: set[int], command: int) -> None:
    """Collect the exit status of adopted orphans that have died, so none stays a zombie.

    Only processes that became our children during the run, never one we had before
    (a library caller's own children are none of our business), and never the command
    itself, nor another thread's command: each Popen reaps its own and needs its status."""
    with _RUNNING_LOCK:
        for pid in _children(os.getpid()) - before - {command} - _RUNNING:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
