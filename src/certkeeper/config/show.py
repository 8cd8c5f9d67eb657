"""The effective configuration as plain data (`config show`), and the README's key table.

Both walk the key table, so a new key shows up in `config show` and in the README
without anyone remembering to add it there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from certkeeper.config.keys import GLOBAL_KEYS, SERVICE_KEYS, Key

if TYPE_CHECKING:
    from certkeeper.config.model import Config, Service

REDACTED = "<redacted>"


def plain(value: Any) -> Any:
    """A value as YAML and JSON print it: paths as strings, tuples as lists."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [plain(item) for item in value]
    return value


def _shown(key: Key, value: Any) -> Any:
    if key.masked:
        from certkeeper.proc import mask_argv

        # extra_args may carry --eab-hmac-key: masked like every log line.
        return mask_argv(value)
    return plain(value)


def as_dict(cfg: Config) -> dict[str, Any]:
    """The effective configuration for `config show`. Holds no secret: the password is
    only ever read from password_file at send time."""
    out: dict[str, Any] = {"config_file": str(cfg.path)}
    for key in GLOBAL_KEYS:
        node, obj = out, cfg
        for part in key.section.split(".") if key.section else ():
            node = node.setdefault(part, {})
            obj = getattr(obj, part)
        value = getattr(obj, key.field)
        node[key.name] = _shown(key, value)
        if key.kind == "secret":
            # Say that a secret (password, webhook URL, headers) is configured, without a
            # byte of it: password_file -> password.
            node[key.name.removesuffix("_file")] = REDACTED if value else None
    out["services"] = [_service(svc) for svc in cfg.services]
    return out


def _service(svc: Service) -> dict[str, Any]:
    out: dict[str, Any] = {"name": svc.name, "file": str(svc.file)}
    for key in SERVICE_KEYS:
        if key.field == "-":
            continue  # accepted, never kept
        value = getattr(svc, key.field)
        if key.items:
            value = [
                {item.name: plain(getattr(entry, item.field)) for item in key.items}
                for entry in value
            ]
        out[key.name] = plain(value)
    return out


# ------------------------------------------------------------------- README


def literal(value: Any) -> str:
    """A default as the user would write it in the YAML file."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple | list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    return str(value)


def readme_table() -> str:
    """The README's table of global keys, one row per key, in the table's order."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for key in GLOBAL_KEYS:
        shown = key.shown or f"`{literal(key.default)}`"
        rows.append(f"| `{key.path}` | {shown} | {key.doc} |")
    return "\n".join(rows) + "\n"


README_BEGIN = (
    "<!-- config-keys: generated from src/certkeeper/config/keys.py by `make config-table`;"
    " edit the doc there -->"
)
README_END = "<!-- /config-keys -->"


def readme_with_table(text: str) -> str:
    """The README with its key table between the markers replaced by the table's own."""
    head, begin, rest = text.partition(README_BEGIN + "\n")
    _, end, tail = rest.partition(README_END)
    if not begin or not end:
        raise ValueError(f"the README lacks the markers {README_BEGIN!r} ... {README_END!r}")
    return head + begin + readme_table() + end + tail
