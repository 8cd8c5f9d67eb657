"""Read one YAML file safely and check its values against the key table.

Every problem is collected and reported as one line, `FILE: KEY = VALUE: expected WHAT`,
so a user fixes a whole file in one go instead of one error per run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from certkeeper import names
from certkeeper.config.keys import METRICS_AUTO, NODE_EXPORTER_TEXTFILE, Key
from certkeeper.errors import ConfigError
from certkeeper.inputs import InputFileError, check_regular, read_regular

# group_vars files are small; anything bigger is a mistake or an attack.
MAX_YAML_BYTES = 1024 * 1024
# Aliases make a small file expand exponentially when walked ("billion laughs").
MAX_YAML_NODES = 100_000

# A bad value is quoted so the user can find it, but only a short prefix: a file may
# hold something it should not (a password pasted into the wrong key), and repr()
# escapes control characters and bidi overrides on the way.
SHOW_CHARS = 60


def show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= SHOW_CHARS else text[: SHOW_CHARS - 3] + "..."


def describe(value: Any) -> str:
    """What a value is, without any of its content."""
    if isinstance(value, str):
        return f"a string of {len(value)} characters"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return f"a value of type {type(value).__name__}"


def _count_nodes(node: Any, memo: dict[int, int]) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # guards against recursive aliases while counting
    total = 1
    value = node.value
    if isinstance(value, list):
        for item in value:
            if isinstance(item, tuple):
                total += _count_nodes(item[0], memo) + _count_nodes(item[1], memo)
            else:
                total += _count_nodes(item, memo)
            if total > MAX_YAML_NODES:
                break
    memo[key] = total
    return total


def load_yaml(path: Path) -> Any:
    """Safe-load one YAML file, refusing huge files and alias bombs. Raises ConfigError."""
    import yaml

    try:
        text = read_regular(path, MAX_YAML_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except InputFileError as exc:
        raise ConfigError([f"{path}: {exc}"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            [f"{path}: cannot read: not UTF-8 text (byte {exc.start} is not valid UTF-8)"]
        ) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    # libyaml's parser when PyYAML has it: 100 service files parse in a tenth of the time.
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _count_nodes(node, {}) > MAX_YAML_NODES:
            raise ConfigError(
                [f"{path}: YAML expands to more than {MAX_YAML_NODES} nodes (alias bomb?)"]
            )
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"{path}: {where}not valid YAML: {problem}"]) from None
    finally:
        loader.dispose()


def join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


Reader = Callable[["Checker", Any, Key, str], Any]


class Checker:
    """Collects every problem of one file instead of stopping at the first."""

    def __init__(self, file: Path) -> None:
        self.file = file
        # Relative paths in a file mean "next to this file", not "wherever cron runs".
        self.base = file.parent
        self.problems: list[str] = []
        # What only holds back what uses the key (a password, a CA file), not the run.
        self.mistakes: list[tuple[str, str]] = []

    def mistake(self, key: str, text: str) -> None:
        self.mistakes.append((key, text))

    def bad(self, key: str, value: Any, expected: str) -> None:
        self.problems.append(f"{self.file}: {key} = {show(value)}: expected {expected}")

    def unknown_keys(self, data: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
        for key in data:
            if key in known:
                continue
            import difflib  # only for a config with a typo in it

            hint = difflib.get_close_matches(str(key), known, n=1)
            suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
            self.problems.append(
                f"{self.file}: {join(where, str(key))}: unknown key{suggestion};"
                f" known keys: {', '.join(known)}"
            )

    def mapping(self, data: Any, key: str) -> Mapping[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            if not key:
                # A whole file that is not a mapping may be anything: a service file can be
                # a symlink to a password file. Say what it is, never what it holds.
                self.problems.append(
                    f"{self.file}: expected a YAML mapping of keys to values, found"
                    f" {describe(data)} (content not shown)"
                )
            else:
                self.bad(key, data, "a mapping of keys to values")
            return {}
        return data

    def read(self, data: Mapping[str, Any], key: Key, where: str) -> Any:
        """The key's value in `data`, checked; its default when absent or bad."""
        label = join(where, key.name)
        if key.required and data.get(key.name) is None:
            self.bad(label, data.get(key.name), key.expect)
            return key.default
        return _READERS[key.kind](self, data.get(key.name, key.default), key, label)

    # One reader per kind of key (keys.py lists them). Each returns the default after
    # recording a problem, so later checks still run and every problem is reported.

    def _int(self, value: Any, key: Key, label: str) -> Any:
        lo, hi = key.lo, int(key.hi)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            self.bad(label, value, f"a whole number from {lo} to {hi}")
            return key.default
        return value

    def _seconds(self, value: Any, key: Key, label: str) -> Any:
        hi = key.hi
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= hi:
            self.bad(label, value, f"a number of seconds above 0 and at most {hi:g}")
            return key.default
        return float(value)

    def _bool(self, value: Any, key: Key, label: str) -> Any:
        if not isinstance(value, bool):
            self.bad(label, value, "true or false")
            return key.default
        return value

    def _text(self, value: Any, key: Key, label: str) -> Any:
        if value is None:
            return key.default
        if not isinstance(value, str):
            self.bad(label, value, "a string")
            return key.default
        try:
            return key.check(value)
        except ValueError as exc:
            self.bad(label, value, str(exc))
            return key.default

    def _choice(self, value: Any, key: Key, label: str) -> Any:
        if value is None:
            return key.default
        if value not in key.choices:
            self.bad(label, value, "one of: " + ", ".join(key.choices))
            return key.default
        return value

    def _path(self, value: Any, key: Key, label: str) -> Any:
        if value is None:
            return key.default
        if isinstance(value, Path):
            return value
        if not isinstance(value, str) or not value or names.has_control_chars(value):
            self.bad(label, value, "a file system path")
            return key.default
        # Lexically normalised, never resolved: resolving would follow a symlink planted
        # where the lock or state file should be, and write through it as root.
        return Path(os.path.normpath(self.base / os.path.expanduser(value)))

    def _secret(self, value: Any, key: Key, label: str) -> Any:
        path = self._path(value, key, label)
        if path is None:
            return None
        where = f"{self.file}: {label} = {str(path)!r}"
        try:
            mode = check_regular(path).st_mode
        except InputFileError as exc:
            self.mistake(label, f"{where}: {exc}")
        except OSError as exc:
            self.mistake(label, f"{where}: expected a readable file ({exc.strerror})")
        else:
            if key.owner_only and mode & 0o044:
                self.mistake(
                    label,
                    f"{where}: expected a file only its owner can read (run: chmod 600 {path})",
                )
            elif mode & 0o004:
                self.mistake(
                    label,
                    f"{where}: expected a file that is not world-readable (run: chmod 600 {path})",
                )
        return path

    def _metrics(self, value: Any, key: Key, label: str) -> Any:
        # `auto` (the shipped config) means node_exporter's textfile folder when it exists,
        # so one config serves hosts with and without node_exporter.
        if value == METRICS_AUTO:
            folder = NODE_EXPORTER_TEXTFILE.parent
            return NODE_EXPORTER_TEXTFILE if folder.is_dir() else None
        return self._path(value, key, label)

    def _argv(self, value: Any, key: Key, label: str) -> Any:
        allow_empty = key.kind == "args"
        if isinstance(value, tuple):
            value = list(value)
        ok = isinstance(value, list) and all(
            isinstance(item, str) and item and not names.has_control_chars(item) for item in value
        )
        if not ok or (not value and not allow_empty):
            what = "a list of arguments" if allow_empty else "a non-empty list: program, arguments"
            if isinstance(value, list):
                from certkeeper.proc import mask_argv

                # An argv may hold --eab-hmac-key VALUE: quote it masked, like the logs do.
                value = mask_argv(str(item) for item in value)
            self.bad(label, value, f"{what} (strings without control characters)")
            return key.default
        items = list(value)
        # A relative program path means "next to this config file", not "wherever cron is".
        if not allow_empty and "/" in items[0] and not os.path.isabs(items[0]):
            items[0] = str((self.base / items[0]).resolve())
        return tuple(items)

    def _days(self, value: Any, key: Key, label: str) -> Any:
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and key.lo <= d <= key.hi for d in value
        ):
            self.bad(
                label, value, f"a list of whole days from {key.lo} to {key.hi:g}, e.g. [30, 14, 7]"
            )
            return key.default
        return tuple(sorted(set(value), reverse=True))

    def _domains(self, value: Any, key: Key, label: str) -> Any:
        if not isinstance(value, list) or not value:
            self.bad(label, value, "a non-empty list of DNS names")
            return ()
        domains: list[str] = []
        for j, dom in enumerate(value):
            if not isinstance(dom, str):
                self.bad(f"{label}[{j}]", dom, "a DNS name as a string")
                continue
            try:
                normalised = names.dns_name(dom)
            except ValueError as exc:
                self.bad(f"{label}[{j}]", dom, str(exc))
                continue
            if normalised in domains:
                self.bad(f"{label}[{j}]", dom, "each domain once")
                continue
            domains.append(normalised)
        return tuple(domains)

    def _entries(self, value: Any, key: Key, label: str) -> Any:
        if value is None or value == ():
            return ()  # absent or null: none (read() has reported it if required)
        if isinstance(value, list) and (value or not key.required):
            return value
        self.bad(label, value, key.expect)
        return ()


_READERS: dict[str, Reader] = {
    "int": Checker._int,
    "seconds": Checker._seconds,
    "bool": Checker._bool,
    "text": Checker._text,
    "choice": Checker._choice,
    "path": Checker._path,
    "secret": Checker._secret,
    "metrics": Checker._metrics,
    "argv": Checker._argv,
    "args": Checker._argv,
    "days": Checker._days,
    "domains": Checker._domains,
    "entries": Checker._entries,
}
