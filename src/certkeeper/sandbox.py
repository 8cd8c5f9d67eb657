"""Can the installed certkeeper.service write the paths this configuration writes?

systemd's file-system hardening (ProtectSystem=, ProtectHome=, ReadWritePaths= and
friends) is invisible to `systemd-analyze verify` and to certkeeper run by hand: a
webroot the unit cannot write only shows up at 03:00 as certbot's "Read-only file
system". `config validate` (and later `doctor`) asks this module first.

Three parts, kept apart so each can be tested and reused:
- `UnitSandbox` + `can_write`: pure; the settings and the rules systemd applies to them;
- `parse` / `installed_unit`: read a unit and its drop-ins the way systemd merges them;
- `written_paths` / `blocked`: which paths a `Config` makes the job write, and which of
  them the unit blocks.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
from collections.abc import Iterable
from pathlib import Path

from certkeeper.config import Config
from certkeeper.value import Value

UNIT_NAME = "certkeeper.service"
# Tests point this at a fake root; on a host it is always "/".
ROOT_ENV = "CERTKEEPER_SYSTEMD_ROOT"

# Where systemd looks for a system unit, highest priority first.
UNIT_DIRS = (
    "etc/systemd/system",
    "run/systemd/system",
    "usr/local/lib/systemd/system",
    "lib/systemd/system",
    "usr/lib/systemd/system",
)

# What each ProtectSystem= level makes read-only (systemd.exec(5)).
_SYSTEM_READ_ONLY = {
    "no": (),
    "yes": ("/usr", "/boot", "/efi"),
    "full": ("/usr", "/boot", "/efi", "/etc"),
    "strict": ("/",),
}
_HOME_DIRS = ("/home", "/root", "/run/user")
_TMP_DIRS = ("/tmp", "/var/tmp")
# strict spares the API file systems.
_API_DIRS = ("/dev", "/proc", "/sys")

_TRUE = ("1", "yes", "true", "on")
_FALSE = ("0", "no", "false", "off")

DROP_IN_HINT = "add it to ReadWritePaths= in a drop-in: systemctl edit certkeeper.service"
_HOME_HINT = (
    "move it out of /home, /root and /run/user, or set ProtectHome=read-only and " + DROP_IN_HINT
)


class UnitSandbox(Value):
    """The file-system settings of one service, after merging its drop-ins.

    Paths are absolute and normalised, with systemd's "-" (ignore if missing) and
    "+" (relative to RootDirectory=, which certkeeper's unit does not use) prefixes
    removed: this answers "can it write there once started", not "will it start".
    """

    protect_system: str = "no"
    protect_home: str = "no"
    private_tmp: bool = False
    read_write: tuple[str, ...] = ()
    read_only: tuple[str, ...] = ()
    inaccessible: tuple[str, ...] = ()
    files: tuple[Path, ...] = ()


class Verdict(Value):
    writable: bool
    # Why not, in systemd's own words, e.g. "ProtectSystem=full makes /etc read-only".
    reason: str = ""
    # What the administrator can do about it.
    hint: str = ""


class Blocked(Value):
    path: Path
    what: str
    verdict: Verdict

    def warning(self) -> str:
        return (
            f"WARNING: {self.path} ({self.what}): the installed {UNIT_NAME} cannot write it "
            f"({self.verdict.reason}); {self.verdict.hint}"
        )


def _under(path: str, top: str) -> bool:
    return top == "/" or path == top or path.startswith(top + "/")


def _norm(path: str) -> str:
    return posixpath.normpath(path) if path.startswith("/") else path


def can_write(unit: UnitSandbox, path: str | Path) -> Verdict:
    """Whether the service can write `path` (a file or folder) and keep what it wrote.

    As in systemd's namespace setup: what hides a subtree (InaccessiblePaths=,
    ProtectHome=yes or tmpfs, PrivateTmp=) wins over anything listed beneath it, since
    systemd drops those entries. Otherwise the most specific rule wins: a ReadWritePaths=
    entry inside a read-only /etc makes that subtree writable. For the same path, the
    most restrictive wins.
    """
    target = _norm(str(path))
    if not target.startswith("/"):
        return Verdict(False, f"{target} is not an absolute path", "use an absolute path")
    hidden = [(_depth(top), v) for top, v in _hiding(unit) if _under(target, top)]
    if hidden:
        return min(hidden, key=lambda rule: rule[0])[1]
    # (depth, rank, verdict); rank breaks ties on the same path: most restrictive first.
    rules = [(_depth(top), rank, v) for top, rank, v in _layers(unit) if _under(target, top)]
    if not rules:
        return Verdict(True)
    rules.sort(key=lambda rule: (-rule[0], rule[1]))
    return rules[0][2]


def _depth(top: str) -> int:
    return 0 if top == "/" else top.count("/")


def _hiding(unit: UnitSandbox) -> list[tuple[str, Verdict]]:
    """(subtree, verdict) for every setting that hides a subtree from the service."""
    found: list[tuple[str, Verdict]] = []
    home = f"ProtectHome={unit.protect_home}"
    for top in _HOME_DIRS:
        if unit.protect_home == "yes":
            found.append((top, Verdict(False, f"{home} makes {top} inaccessible", _HOME_HINT)))
        elif unit.protect_home == "tmpfs":
            lost = f"{home} hides {top} behind an empty tmpfs, so writes are lost"
            found.append((top, Verdict(False, lost, _HOME_HINT)))
    if unit.private_tmp:
        for top in _TMP_DIRS:
            # The service gets its own empty /tmp: nginx never sees what it writes there,
            # and it is gone after the run. No ReadWritePaths= line changes that.
            private = f"PrivateTmp=yes gives the service its own {top}, emptied after each run"
            found.append((top, Verdict(False, private, "move it out of /tmp and /var/tmp")))
    for top in unit.inaccessible:
        found.append(
            (top, Verdict(False, f"InaccessiblePaths={top} hides it", "remove that entry"))
        )
    return found


def _layers(unit: UnitSandbox) -> list[tuple[str, int, Verdict]]:
    """(subtree, rank, verdict) for every setting that makes a subtree read-only or
    writable; rank 1 (read-only) wins over rank 2 (writable) on the same subtree."""
    found: list[tuple[str, int, Verdict]] = []
    if unit.protect_home == "read-only":
        home = f"ProtectHome={unit.protect_home}"
        for top in _HOME_DIRS:
            found.append((top, 1, Verdict(False, f"{home} makes {top} read-only", DROP_IN_HINT)))
    setting = f"ProtectSystem={unit.protect_system}"
    for top in _SYSTEM_READ_ONLY.get(unit.protect_system, ()):
        reason = (
            f"{setting} makes the whole file system read-only"
            if top == "/"
            else f"{setting} makes {top} read-only"
        )
        found.append((top, 1, Verdict(False, reason, DROP_IN_HINT)))
    if unit.protect_system == "strict":
        found.extend((top, 2, Verdict(True)) for top in _API_DIRS)
    for top in unit.read_only:
        found.append(
            (top, 1, Verdict(False, f"ReadOnlyPaths={top} makes it read-only", DROP_IN_HINT))
        )
    found.extend((top, 2, Verdict(True)) for top in unit.read_write)
    return found


# --------------------------------------------------------------------- parsing

_LIST_KEYS = ("ReadWritePaths", "ReadOnlyPaths", "InaccessiblePaths")


def _paths(value: str) -> list[str] | None:
    """One assignment's paths without their -/+ prefixes; None if the line is malformed."""
    try:
        words = shlex.split(value, comments=False, posix=True)
    except ValueError:
        return None
    out = []
    for word in words:
        bare = word.lstrip("-+")
        if len(word) - len(bare) > 2 or not bare.startswith("/") or "%" in bare:
            # Specifiers (%h, ...) and relative paths: systemd resolves or rejects them;
            # guessing would only produce wrong warnings.
            continue
        out.append(_norm(bare))
    return out


def _logical_lines(text: str) -> Iterable[str]:
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line[0] in "#;"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending


def parse(text: str, base: UnitSandbox | None = None, source: Path | None = None) -> UnitSandbox:
    """Apply one unit file or drop-in to `base`, as systemd does.

    Scalars: the last assignment wins. Lists: each assignment appends, an empty one
    resets. Only the [Service] section counts. A line systemd would reject is ignored,
    as systemd ignores it (with a log message); this never raises on hostile input.
    """
    unit = base or UnitSandbox()
    section = ""
    for line in _logical_lines(text):
        if line.startswith("["):
            section = line.strip("[]").strip() if line.endswith("]") else ""
            continue
        if section != "Service" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if key == "ProtectSystem":
            level = _protect_level(value, ("full", "strict"))
            if level is not None:
                unit = unit.replace(protect_system=level)
        elif key == "ProtectHome":
            level = _protect_level(value, ("read-only", "tmpfs"))
            if level is not None:
                unit = unit.replace(protect_home=level)
        elif key == "PrivateTmp":
            if value.lower() in _TRUE + _FALSE:
                unit = unit.replace(private_tmp=value.lower() in _TRUE)
        elif key in _LIST_KEYS:
            found = _paths(value)
            if found is not None:
                unit = _assign_list(unit, key, tuple(found), reset=not value)
    if source is not None:
        unit = unit.replace(files=(*unit.files, source))
    return unit


def _assign_list(unit: UnitSandbox, key: str, found: tuple[str, ...], reset: bool) -> UnitSandbox:
    if key == "ReadWritePaths":
        return unit.replace(read_write=found if reset else (*unit.read_write, *found))
    if key == "ReadOnlyPaths":
        return unit.replace(read_only=found if reset else (*unit.read_only, *found))
    return unit.replace(inaccessible=found if reset else (*unit.inaccessible, *found))


def _protect_level(value: str, words: tuple[str, ...]) -> str | None:
    lowered = value.lower()
    if lowered in _TRUE:
        return "yes"
    if lowered in _FALSE:
        return "no"
    return lowered if lowered in words else None


def _read(path: Path) -> str | None:
    try:
        if path.stat().st_size > 1024 * 1024:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError):
        return None


def installed_unit(root: Path = Path("/"), name: str = UNIT_NAME) -> UnitSandbox | None:
    """The unit systemd would load for `name` under `root`, drop-ins merged; None if none.

    A masked unit (a link to /dev/null) or an empty file counts as not installed: the
    service never runs, so its sandbox cannot block anything (cron hosts).
    """
    main: Path | None = None
    for folder in UNIT_DIRS:
        candidate = root / folder / name
        if candidate.is_symlink() and os.readlink(candidate) == "/dev/null":
            return None
        if candidate.is_file():
            main = candidate
            break
    if main is None:
        return None
    text = _read(main)
    if not text:
        return None
    unit = parse(text, source=main)
    # Drop-ins from every unit folder, applied in file-name order; a name in a folder
    # of higher priority hides the same name in a lower one.
    chosen: dict[str, Path] = {}
    for folder in UNIT_DIRS:
        drop_dir = root / folder / f"{name}.d"
        try:
            entries = sorted(drop_dir.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.name.endswith(".conf") and entry.name not in chosen:
                chosen[entry.name] = entry
    for conf_name in sorted(chosen):
        conf = chosen[conf_name]
        if conf.is_symlink() and os.readlink(conf) == "/dev/null":
            continue
        drop = _read(conf)
        if drop is not None:
            unit = parse(drop, unit, source=conf)
    return unit


# ------------------------------------------------------------- the job's paths

_DEBIAN_WORK_DIR = Path("/var/lib/letsencrypt")
_DEBIAN_LOGS_DIR = Path("/var/log/letsencrypt")
_FLAG = re.compile(r"^--(work|logs)-dir(?:=(.*))?$")


def _certbot_dir(extra_args: tuple[str, ...], kind: str, default: Path) -> Path:
    found = default
    args = list(extra_args)
    for i, arg in enumerate(args):
        match = _FLAG.match(arg)
        if not match or match.group(1) != kind:
            continue
        value = (
            match.group(2)
            if match.group(2) is not None
            else (args[i + 1] if i + 1 < len(args) else None)
        )
        if value:
            found = Path(value)
    return found


def written_paths(cfg: Config) -> list[tuple[Path, str]]:
    """Every folder the job writes, with what it is, in a stable order, without repeats."""
    out: list[tuple[Path, str]] = []
    for svc in cfg.services:
        if not svc.enabled:
            continue
        for lineage in svc.lineages:
            out.append((lineage.webroot, f"webroot of {lineage.cert_name} in {svc.file.name}"))
    extra = cfg.certbot.extra_args
    out += [
        (cfg.certbot.config_dir, "certbot.config_dir"),
        (_certbot_dir(extra, "work", _DEBIAN_WORK_DIR), "certbot work dir"),
        (_certbot_dir(extra, "logs", _DEBIAN_LOGS_DIR), "certbot logs dir"),
        (cfg.nginx.certs_dir, "nginx.certs_dir"),
        (cfg.state_dir, "state_dir"),
        (cfg.lock_file.parent, "the folder of lock_file"),
    ]
    seen: set[Path] = set()
    unique = []
    for path, what in out:
        if path not in seen:
            seen.add(path)
            unique.append((path, what))
    return unique


def blocked(cfg: Config, unit: UnitSandbox) -> list[Blocked]:
    """The configured paths `unit` keeps the job from writing."""
    found = []
    for path, what in written_paths(cfg):
        verdict = can_write(unit, path)
        if not verdict.writable:
            found.append(Blocked(path, what, verdict))
    return found
