"""The architecture's one direction, read from the source: entry points -> engine (tasks/engine) -> task modules
(tasks/<family>) -> shared core (tasks/core) -> backbone/ and data/. No import points up a layer, backbone/ and data/
know nothing of each other or of the tasks, and no two modules import each other, directly or round a circle
(function-local imports included: a lazy import does not excuse a circle)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from conftest import REPO

ENTRY_POINTS = ("train.py", "eval.py", "predict.py", "export.py", "compare.py", "paper_tables.py")
PACKAGES = ("backbone", "data", "tasks")


def layer(module: str) -> tuple[int, str]:
    """(rank, group): an import may go to a lower rank, or within its own group."""
    parts = module.split(".")
    if parts[0] in ("backbone", "data"):
        return 0, parts[0]
    if parts[0] != "tasks":
        return 4, "entry"
    if len(parts) > 1 and parts[1] == "core":
        return 1, "core"
    if len(parts) > 1 and parts[1] == "engine":
        return 3, "engine"
    return 2, "tasks"


def module_name(path: Path) -> str:
    relative = path.relative_to(REPO).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported project module) for every import in a file, function-local ones included; relative imports
    resolved, `from package import name` counted as the submodule when `name` is one."""
    name, found = module_name(path), []
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if is_module(f"{base}.{alias.name}") else base for alias in node.names]
        else:
            continue
        found += [(node.lineno, t) for t in targets if t.split(".")[0] in PACKAGES]
    return found


def is_module(dotted: str) -> bool:
    path = REPO.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def source_files() -> list[Path]:
    files = [REPO / f for f in ENTRY_POINTS]
    for package in PACKAGES:
        files += sorted((REPO / package).rglob("*.py"))
    return files


def test_entry_points_exist():
    assert all((REPO / f).is_file() for f in ENTRY_POINTS)


def test_imports_point_down():
    upward = []
    for path in source_files():
        rank, group = layer(module_name(path))
        for line, target in project_imports(path):
            target_rank, target_group = layer(target)
            if target_rank > rank or (target_rank == rank and target_group != group):
                upward.append(f"{path.relative_to(REPO)}:{line} imports {target}")
    assert not upward, "imports against the layer rule:\n" + "\n".join(upward)


def test_no_import_circles():
    graph: dict[str, set[str]] = {}
    for path in source_files():
        graph.setdefault(module_name(path), set()).update(t for _, t in project_imports(path))
    # a package's __init__ re-exports its modules: importing `pkg.mod` runs `pkg` first, so edges into a
    # package's own submodules from its __init__ are not circles by themselves
    circles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if target not in graph:
                continue
            if state.get(target) == "open":
                circles.append(" -> ".join(trail[trail.index(target):] + [target]) if target in trail else target)
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not circles, "import circles:\n" + "\n".join(circles)


@pytest.mark.parametrize("module,expected", [("tasks.engine.run", (3, "engine")), ("tasks.core.module", (1, "core")),
                                             ("tasks.detection.task", (2, "tasks")), ("backbone.base", (0, "backbone")),
                                             ("train", (4, "entry"))])
def test_layer_of(module, expected):
    assert layer(module) == expected


def test_the_checker_catches_an_upward_import_and_a_circle(tmp_path, monkeypatch):
    """The rule itself can fail: an upward edge and a circle in a fake tree are both reported."""
    fake = tmp_path / "repo"
    (fake / "tasks" / "core").mkdir(parents=True)
    (fake / "tasks" / "engine").mkdir(parents=True)
    for package in ("tasks", "tasks/core", "tasks/engine"):
        (fake / package / "__init__.py").write_text("")
    (fake / "tasks" / "core" / "a.py").write_text("from ..engine import b\n")
    (fake / "tasks" / "engine" / "b.py").write_text("def f():\n    from tasks.core import a\n")
    monkeypatch.setattr(f"{__name__}.REPO", fake)
    monkeypatch.setattr(f"{__name__}.ENTRY_POINTS", ())
    monkeypatch.setattr(f"{__name__}.PACKAGES", ("tasks",))
    with pytest.raises(AssertionError, match=r"tasks/core/a.py:1 imports tasks.engine.b"):
        test_imports_point_down()
    with pytest.raises(AssertionError, match="import circles"):
        test_no_import_circles()
