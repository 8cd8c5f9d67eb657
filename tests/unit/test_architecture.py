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
    if _under(module, "certkeeper.cli", "certkeeper.__main__"):
        return
    edge = {m for m in GRAPH[module] if _under(m, "certkeeper.cli", "certkeeper.render")}
    # render turns values into words; an action or a peer module never words its own result.
    assert module == "certkeeper.render" or not edge, f"{module} imports {sorted(edge)}"


# The command line's own rooms: the group (cli/__init__), the wrapper with its exit table,
# and the argv that install-hook and doctor share. Every other module in cli/ is a command.
CLI_SHARED = {"certkeeper.cli.wrapper", "certkeeper.cli.exits", "certkeeper.cli.hook_argv"}
CLI_COMMANDS = sorted(
    m for m in GRAPH if _under(m, "certkeeper.cli") and m not in CLI_SHARED | {"certkeeper.cli"}
)


def _cli_modules_imported(module: str) -> set[str]:
    """The cli/ modules `module` imports, `from certkeeper.cli import wrapper` included."""
    path = SRC.joinpath(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    found = {m for m in GRAPH[module] if _under(m, "certkeeper.cli")} - {"certkeeper.cli"}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "certkeeper.cli":
            found.update(f"certkeeper.cli.{alias.name}" for alias in node.names)
    return found


def test_the_group_imports_no_command() -> None:
    # The LazyGroup imports a command's module when that command runs: --version and
    # --help import none of them.
    assert CLI_COMMANDS, "no command module was found"
    inside = _cli_modules_imported("certkeeper.cli")
    assert inside <= CLI_SHARED, sorted(inside)


@pytest.mark.parametrize("module", CLI_COMMANDS + sorted(CLI_SHARED))
def test_a_command_imports_no_other_command(module: str) -> None:
    others = _cli_modules_imported(module) - CLI_SHARED
    assert not others, f"{module} imports {sorted(others)}"


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


MAX_PARAMETERS = 6
MAX_LINES = 50


def _functions() -> list[tuple[str, int, int]]:
    """(where, parameters, lines) of every function in src; self and cls not counted."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            a = node.args
            named = [*a.posonlyargs, *a.args, *a.kwonlyargs]
            count = len(named) + (a.vararg is not None) + (a.kwarg is not None)
            if named and named[0].arg in ("self", "cls"):
                count -= 1
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            found.append((f"{path.relative_to(SRC)}:{node.lineno} {node.name}", count, lines))
    return found


def test_no_function_takes_more_than_six_parameters_or_fifty_lines() -> None:
    functions = _functions()
    assert len(functions) > 500, "the scan found too few functions to be reading src"
    too_big = [
        f"{where}: {count} parameters, {lines} lines"
        for where, count, lines in functions
        if count > MAX_PARAMETERS or lines > MAX_LINES
    ]
    assert too_big == []
