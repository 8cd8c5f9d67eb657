"""Debian 12 and 13 roots for the packaging tests: debootstrap, chroot, and booting one under
systemd-nspawn with a real systemd as PID 1.

Used by tests/packaging (test_deb.py installs into a chroot, test_nspawn.py boots it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import IO

MIRROR = os.environ.get("CERTKEEPER_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# What runs inside: no host PATH, no host locale, no prompts.
INSIDE_ENV = {
    "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
    "DEBIAN_FRONTEND": "noninteractive",
    "LANG": "C.UTF-8",
}

# The host tools each packaging test needs, with the Debian package that brings them.
TOOLS = {
    "debootstrap": "debootstrap",
    "chroot": "coreutils",
    "systemd-nspawn": "systemd-container",
    "nsenter": "util-linux",
    "pgrep": "procps",
    "pebble": "pebble",
    "pebble-challtestsrv": "pebble",
    "lintian": "lintian",
}


def require(*tools: str) -> None:
    """Fail (never skip) naming the apt package when a host tool is missing."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        packages = sorted({TOOLS[tool] for tool in missing})
        raise AssertionError(
            f"missing {', '.join(missing)}: run `apt-get install {' '.join(packages)}` "
            "(make test does this as root)"
        )
    assert os.geteuid() == 0, "debootstrap, chroot and systemd-nspawn need root"


def run(*argv: str, timeout: float = 600, **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, check=False, **kw
    )  # type: ignore[call-overload]


def debootstrap(target: Path, *include: str, suite: str = "bookworm") -> None:
    argv = ["debootstrap", "--variant=minbase"]
    if include:
        argv.append("--include=" + ",".join(include))
    proc = run(*argv, suite, str(target), MIRROR, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def copy_root(source: Path, target: Path) -> Path:
    """A private copy of a root one session debootstrapped once (cp -a keeps owners,
    modes and device nodes)."""
    copied = run("cp", "-a", str(source), str(target))
    assert copied.returncode == 0, copied.stderr
    return target


def chroot(root: Path, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return run("chroot", str(root), *argv, timeout=timeout, env=INSIDE_ENV)


def _own_cgroups() -> list[Path]:
    """This process's cgroup in each hierarchy nspawn places a container in: the unified
    one (cgroup2) and, on a hybrid host, systemd's named v1 one."""
    mounts = {}
    for line in Path("/proc/self/mounts").read_text().splitlines():
        _, where, kind, options = line.split()[:4]
        if kind == "cgroup2":
            mounts[""] = Path(where)
        elif kind == "cgroup" and "name=systemd" in options.split(","):
            mounts["name=systemd"] = Path(where)
    found = []
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers in mounts:
            found.append(mounts[controllers] / path.lstrip("/"))
    return found


class Container:
    """One booted root: `systemd-nspawn -b`, sharing the host's network namespace, so
    peers on the host's loopback (pebble, the SMTP catcher) are reachable from inside
    and the container's nginx is reachable from the host.

    Each container lives in a cgroup of its own, made at boot and emptied and removed at
    stop. nspawn's --keep-unit otherwise puts every container in the same `payload`
    cgroup, and a container that outlived its nspawn (killed after a slow shutdown: its
    systemd survives that) went on managing the next one's units there, removing their
    cgroups under them ("Failed to spawn executor: No such file or directory")."""

    def __init__(self, root: Path, name: str, log: Path) -> None:
        self.root = root
        self.name = name
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid1 = 0
        self.cgroups: list[Path] = []

    def boot(self, timeout: float = 60) -> Container:
        self.cgroups = [mine / f"ck-box-{self.name}" for mine in _own_cgroups()]
        for group in self.cgroups:
            group.mkdir()
        # The shell moves itself into the container's own cgroups, then becomes nspawn.
        enter = "".join(f'echo $$ > "{group}/cgroup.procs" && ' for group in self.cgroups)
        log: IO[bytes] = open(self.log, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [
                "sh",
                "-c",
                enter + 'exec "$@"',
                "sh",
                "systemd-nspawn",
                "-q",
                "-b",
                "-D",
                str(self.root),
                "-M",
                self.name,
                "--register=no",
                "--keep-unit",
                "--console=pipe",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.pid1:
            assert self.proc.poll() is None, f"systemd-nspawn exited:\n{self.log.read_text()}"
            assert time.monotonic() < deadline, f"no systemd in the container:\n{self.log}"
            found = run("pgrep", "-P", str(self.proc.pid), "-x", "systemd", timeout=10)
            if found.returncode == 0:
                self.pid1 = int(found.stdout.split()[0])
            else:
                time.sleep(0.1)
        # PID 1 may not answer on its socket yet just after exec: ask until it does.
        while True:
            state = self.run("systemctl", "is-system-running", "--wait", timeout=timeout)
            # "degraded" is a booted system with a failed unit; the tests look at their own.
            if state.stdout.strip() in ("running", "degraded"):
                return self
            assert time.monotonic() < deadline, f"{state.stdout}{state.stderr}{self.journal()}"
            time.sleep(0.1)

    def run(self, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        assert self.pid1, "container not booted"
        return run(
            "nsenter",
            "-t",
            str(self.pid1),
            "-m",
            "-u",
            "-i",
            "-n",
            "-p",
            "-C",
            # The container's root and working directory too: when this suite itself runs
            # in a chroot (scripts/fresh-root-check.sh), systemctl would otherwise see the
            # chroot's /run and answer "offline".
            "-r",
            "-w",
            "--",
            *argv,
            timeout=timeout,
            env=INSIDE_ENV,
        )

    def systemctl(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return self.run("systemctl", "--no-pager", *args, timeout=timeout)

    def show(self, unit: str, prop: str) -> str:
        return self.systemctl("show", unit, "-p", prop, "--value").stdout.strip()

    def journal(self, unit: str | None = None) -> str:
        args = ["journalctl", "--no-pager", "-o", "short-monotonic"]
        if unit:
            args += ["-u", unit]
        proc = self.run(*args, timeout=60)
        return proc.stdout[-8000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # SIGTERM to nspawn shuts the container's systemd down cleanly.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self._empty_cgroups()

    def _empty_cgroups(self) -> None:
        """Kill whatever is left in the container's cgroups (its systemd survives nspawn's
        death), wait until they are empty, and remove them."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            left = [pid for group in self.cgroups for pid in _procs(group)]
            if not left:
                break
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        for group in self.cgroups:
            for sub in sorted(group.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if sub.is_dir():
                    with contextlib.suppress(OSError):
                        sub.rmdir()
            with contextlib.suppress(OSError):
                group.rmdir()
        self.cgroups = []


def _procs(group: Path) -> list[int]:
    """Every process in a cgroup and its children."""
    pids = []
    for procs in [group / "cgroup.procs", *group.rglob("cgroup.procs")]:
        with contextlib.suppress(OSError, ValueError):
            pids += [int(pid) for pid in procs.read_text().split()]
    return pids
