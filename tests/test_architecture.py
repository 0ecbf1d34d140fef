"""The import rules of docs/architecture.md, checked on the source: which package may import which, and no
circle between modules (imports inside functions count: a late import can hide a circle, not remove it)."""

import ast
from pathlib import Path

from .conftest import REPO

PACKAGES = ("kazllm", "data_prep", "eval")
# What each layer may import of the project's own packages (the CLI, kazllm.cli, may import all of them).
ALLOWED = {
    "kazllm": ("kazllm",),
    "data_prep": ("kazllm", "data_prep"),
    "eval": ("kazllm", "eval", "data_prep.normalize"),
}


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported_names(path: Path, module: str) -> set[str]:
    """Every project module `module` imports, at the top or inside a function (relative imports resolved)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[
                    : len(module.split(".")) - node.level + (path.name == "__init__.py")
                ]
                base = ".".join([*package, *([base] if base else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {n for n in names if n.split(".")[0] in PACKAGES}


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph = {}
    for module, path in modules.items():
        targets = set()
        for name in imported_names(path, module):
            while name and name not in modules:  # `from kazllm.x import Y`: the module is kazllm.x
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
        graph[module] = targets
    return graph


def is_cli(module: str) -> bool:
    return module == "kazllm.cli" or module.startswith("kazllm.cli.")


def test_each_layer_imports_only_the_layers_below_it():
    upward = []
    for module, targets in import_graph().items():
        if is_cli(module):
            continue
        allowed = ALLOWED[module.split(".")[0]]
        for target in sorted(targets):
            if is_cli(target) or not any(target == a or target.startswith(f"{a}.") for a in allowed):
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_no_two_modules_import_each_other_even_through_others():
    graph = import_graph()
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert circles == []


def test_the_rules_see_the_imports_they_judge():
    """A check that finds nothing must be able to: the CLI imports every layer, data_prep imports the core."""
    graph = import_graph()
    assert {"data_prep.pipeline", "eval.runner"} <= graph["kazllm.cli"] | {
        t for m, ts in graph.items() if is_cli(m) for t in ts
    }
    assert "kazllm.config" in graph["data_prep.pipeline"]
