"""The rooms of docs/architecture.md, held by a test: an import that runs back up a
layer, or an action that reaches into another, fails here before it grows a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "certkeeper"


def _module(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    base = SRC.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imports(path: Path) -> set[str]:
    """Every certkeeper module this file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "certkeeper" or node.module.startswith("certkeeper."):
                # The package root holds only the version: importing it is no door.
                if node.module != "certkeeper":
                    found.add(node.module)
                # `from certkeeper.actions import metrics` imports the module
                # certkeeper.actions.metrics: record it, or the door test would see
                # only the package.
                found.update(
                    f"{node.module}.{alias.name}"
                    for alias in node.names
                    if _is_module(f"{node.module}.{alias.name}")
                )
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("certkeeper"))
    return found


GRAPH = {_module(p): _imports(p) for p in sorted(PACKAGE.rglob("*.py"))}


def _under(module: str, *rooms: str) -> bool:
    return any(module == r or module.startswith(r + ".") for r in rooms)


def test_the_graph_was_read() -> None:
    assert "certkeeper.actions.check" in GRAPH
    assert "certkeeper.policy" in GRAPH["certkeeper.actions.check"]


def test_from_a_package_import_a_module_is_recorded_as_that_module(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from certkeeper.actions import status\nfrom certkeeper import policy, __version__\n",
        encoding="utf-8",
    )
    found = _imports(sample)
    assert "certkeeper.actions.status" in found
    assert "certkeeper.policy" in found
    # A name that is not a module (a constant, a function) is not taken for one.
    assert "certkeeper.__version__" not in found


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_only_the_edge_imports_the_edge(module: str) -> None:
    if _under(module, "certkeeper.cli", "certkeeper.__main__") or module.startswith(
        "certkeeper.cli_"
    ):
        return
    edge = {
        m
        for m in GRAPH[module]
        if m in ("certkeeper.cli", "certkeeper.render") or m.startswith("certkeeper.cli_")
    }
    # render turns values into words; an action or a peer module never words its own result.
    assert module == "certkeeper.render" or not edge, f"{module} imports {sorted(edge)}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _under(m, "certkeeper.actions")))
def test_no_action_imports_another(module: str) -> None:
    parts = module.split(".")
    # certkeeper.actions.<command>, and <command>_steps: the room's own back office.
    own = ".".join(parts[:3]).removesuffix("_steps")
    others = {
        m
        for m in GRAPH[module]
        if _under(m, "certkeeper.actions")
        and not _under(m, own, own + "_steps")
        and m not in ("certkeeper.actions", "certkeeper.actions.common")
    }
    assert not others, f"{module} imports {sorted(others)}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _under(m, "certkeeper.policy")))
def test_policy_is_pure(module: str) -> None:
    # Decisions take values and `now`: no peer, no file, no clock of their own.
    allowed = {"certkeeper.x509info", "certkeeper.value"}
    outside = {m for m in GRAPH[module] if not _under(m, "certkeeper.policy") and m not in allowed}
    assert not outside, f"{module} imports {sorted(outside)}"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if _under(m, "certkeeper.config")))
def test_config_stands_below_the_rooms_that_read_it(module: str) -> None:
    foundations = {
        "certkeeper.errors",
        "certkeeper.inputs",
        "certkeeper.names",
        "certkeeper.proc",
        "certkeeper.terminal",
        "certkeeper.value",
    }
    outside = {
        m for m in GRAPH[module] if not _under(m, "certkeeper.config") and m not in foundations
    }
    assert not outside, f"{module} imports {sorted(outside)}"
