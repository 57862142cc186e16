"""The import rules of README's architecture picture, checked on the source: every `import` of a codecbench module,
at module level or inside a function (only `if TYPE_CHECKING:` blocks are left out: they never run), read with
`ast`. No cycle, no arrow from a lower layer to a higher one, and metrics and codecs never import each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"codecbench": "bench", "codecbench.codecs": "codecs", "codecbench.listening_test": "listening_test"}

LAYERS = [  # lowest first; a module imports only from its own layer or below (README: "Architecture")
    {"journal", "rows", "resources", "storage", "kept_audio", "audio", "seeds", "safecsv", "processes", "stages", "plugins"},
    {"datasets", "codecs", "metrics", "alignment", "provenance"},
    {"pipeline", "task", "channel"},
    {"rundir", "stats", "summary"},
    {"engines"},
    {"runner", "report", "listening_test", "latency", "sweep", "robustness", "pairs", "ratings", "validity",
     "validity_plots", "benchmarks", "samples"},
    {"commands", "cli"},
]
NEVER = {("metrics", "codecs"), ("codecs", "metrics")}  # the two plugin families stay apart
PUBLIC_API = ("codecbench", "codecbench.runner")  # `codecbench.run_benchmark`, imported lazily on first use


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every codecbench module name and its file."""
    found = {}
    for package, folder in FOLDERS.items():
        for path in (root / folder).rglob("*.py"):
            parts = list(path.relative_to(root / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def _runtime_nodes(tree: ast.AST):
    """Every node that can run (the bodies of `if TYPE_CHECKING:` left out)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the codecbench modules it imports (`from codecbench import pipeline` names the module
    `codecbench.pipeline`; `from codecbench.x import name` the module `codecbench.x`)."""
    known = modules(root)

    def owner(name: str) -> str:
        while name not in known:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {owner(a.name) for a in node.names if a.name.split(".")[0] == "codecbench"}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parent, *filter(None, [base])])
                if base.split(".")[0] != "codecbench":
                    continue
                targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else owner(base) for a in node.names}
        graph[name] = targets - {name}
    return graph


def part(module: str) -> str:
    """The top-level part a module belongs to (`codecbench.engines.local` -> `engines`)."""
    return module.split(".")[1] if "." in module else module


def layer(module: str) -> int:
    if module == "codecbench":
        return 0  # the package itself holds only `__version__` (and the lazy public API)
    return next(i for i, members in enumerate(LAYERS) if part(module) in members)


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as a path of modules, or [] where there is none (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str]:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[module] = 2
        return []

    for module in sorted(graph):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return []


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_every_module_has_a_layer(graph):
    unplaced = sorted({part(m) for m in graph if m != "codecbench"} - set().union(*LAYERS))
    assert not unplaced, f"add {unplaced} to a layer of README's architecture picture and to LAYERS"


def test_the_import_graph_has_no_cycle(graph):
    cycle = find_cycle({m: t - ({PUBLIC_API[1]} if m == PUBLIC_API[0] else set()) for m, t in graph.items()})
    assert not cycle, " -> ".join(cycle)


def test_no_module_imports_from_a_higher_layer(graph):
    upward = sorted(f"{m} -> {t}" for m, targets in graph.items() for t in targets
                    if layer(t) > layer(m) and (m, t) != PUBLIC_API)
    assert not upward, "imports against the layers:\n" + "\n".join(upward)


def test_metrics_and_codecs_never_import_each_other(graph):
    crossing = sorted(f"{m} -> {t}" for m, targets in graph.items() for t in targets if (part(m), part(t)) in NEVER)
    assert not crossing, "\n".join(crossing)


def test_the_rules_see_imports_inside_functions_and_relative_ones(tmp_path):
    """The checker itself: function-level and package-relative imports are arrows, `TYPE_CHECKING` ones not."""
    graph = import_graph()
    assert "codecbench.runner" in graph["codecbench"]  # `__getattr__` imports it inside a function
    assert {"codecbench.task", "codecbench.resources"} <= graph["codecbench.engines.local"]
    for folder in FOLDERS.values():
        (tmp_path / folder).mkdir()
    (tmp_path / "bench" / "engines").mkdir()
    for name in ("__init__.py", "rows.py", "runner.py", "engines/__init__.py", "engines/ray.py"):
        (tmp_path / "bench" / name).write_text("")
    (tmp_path / "bench" / "engines" / "local.py").write_text(
        "from typing import TYPE_CHECKING\nfrom . import ray\nfrom ..rows import Row\n"
        "if TYPE_CHECKING:\n    import codecbench.cli\n\n\ndef f():\n    from codecbench import runner\n")
    assert import_graph(tmp_path)["codecbench.engines.local"] == {
        "codecbench.engines.ray", "codecbench.rows", "codecbench.runner"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []
