"""The key table in src/certkeeper/config/keys.py is the one source of the config contract:
the README's table, the shipped example and what certkeeper really does must agree with it.

Each test fails with the key that drifted. To fix the README: `make config-table`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from certkeeper.config import as_dict, load
from certkeeper.config.keys import GLOBAL_KEYS
from certkeeper.config.show import README_BEGIN, README_END, plain, readme_table

ROOT = Path(__file__).parents[2]
# Defaults the README states in words, because the value depends on the host.
IN_WORDS = {"hostname": "short host name", "notify.from": "`certkeeper@<hostname>`"}


def readme_block() -> str:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert README_BEGIN in text and README_END in text, (
        "docs/configuration.md lost its table markers"
    )
    return text.split(README_BEGIN + "\n", 1)[1].split(README_END, 1)[0]


def readme_defaults() -> dict[str, str]:
    """key -> the README's default cell, in the README's order."""
    rows = {}
    for line in readme_block().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        rows[cells[0].strip("`")] = cells[1]
    return rows


def at(tree: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        tree = tree[part]
    return tree


def test_the_readme_lists_every_key_in_the_tables_order() -> None:
    assert list(readme_defaults()) == [key.path for key in GLOBAL_KEYS]


def test_each_default_the_readme_states_is_what_certkeeper_uses(tmp_path: Path) -> None:
    """Not compared with the table but with `config show` of a file that sets nothing
    (services_dir aside, which must exist), so a default the loader overrides is caught."""
    (tmp_path / "services.d").mkdir()
    (tmp_path / "config.yaml").write_text("services_dir: services.d\n")
    shown = as_dict(load(tmp_path / "config.yaml"))
    for path, cell in readme_defaults().items():
        if path in IN_WORDS:
            assert cell == IN_WORDS[path], path
            continue
        if path == "services_dir":
            shown_value: Any = plain(next(k.default for k in GLOBAL_KEYS if k.path == path))
        else:
            shown_value = at(shown, path)
        # The first `code` in the cell is the default; prose may follow it.
        literal = re.match(r"`([^`]*)`", cell)
        assert literal, f"{path}: default cell {cell!r} has no `value`"
        assert yaml.safe_load(literal.group(1)) == shown_value, path


def test_the_readme_table_is_exactly_the_generated_one() -> None:
    """Docs too: the README's meaning column is the table's doc. Fix: make config-table."""
    assert readme_block() == readme_table(), "README key table drifted: run make config-table"


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def test_the_shipped_example_names_every_key_with_its_default() -> None:
    """examples/config.yaml is the table with comments: every key, at its default, except
    metrics_file, which the package ships as `auto`, and mode: the package installs in
    shadow, so that installing never changes how a host renews."""
    example = flatten(yaml.safe_load((ROOT / "examples" / "config.yaml").read_text()))
    # As a set: the example keeps its own order (metrics_file sits with the other
    # top-level keys there), the README follows the table's.
    assert sorted(example) == sorted(key.path for key in GLOBAL_KEYS)
    for key in GLOBAL_KEYS:
        shipped = {"metrics_file": "auto", "mode": "shadow"}
        expected = shipped.get(key.path, plain(key.default))
        assert example[key.path] == expected, key.path
