"""The layers contract: a module imports only from its own layer or the layers below it, and no
two modules import each other, directly or round a loop. Function-level imports count: an
import inside a function is still an arrow in the graph, however late it runs.

The layers, lowest first. A module belongs to the entry with the longest matching prefix.
Packages listed together in one layer are peers: neither imports the other.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS: list[tuple[str, ...]] = [
    ("builder",),  # builder/__init__.py: __version__ only
    ("builder.redact",),
    ("builder.logsetup",),
    ("builder.errors",),  # the exit-code policy, and EngineError, which it classifies
    ("builder.progress",),
    ("builder.core",),  # hashing, column types, the work dir's shards, the funnel
    ("builder.languages",),
    ("builder.prompts", "builder.config_checks"),
    ("builder.engines",),
    ("builder.config",),
    ("builder.corpus",),
    ("builder.quality",),  # measurements: relevance, the rater's report, meta-talk
    ("builder.stages",),  # one module per stage, and how a BuildConfig becomes their configs
    ("builder.executors",),
    ("builder.publish",),  # the export folder, its card and the Hub push
    ("builder.pipeline",),  # the declared pipeline and the build that runs it
    ("builder.judge", "builder.training"),
    ("builder.x_instruction", "builder.cli"),
    ("builder.judge.__main__",),  # `python -m builder.judge`: an entry point onto the CLI
]


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of `package` under `root`, by dotted name."""
    return {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}


def imports(name: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    """(imported module, line) for every import of a module in `known`, at any depth of the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            # `from pkg import mod` imports the module pkg.mod; `from pkg import name`, pkg itself
            targets = [
                f"{module}.{a.name}" if f"{module}.{a.name}" in known else module
                for a in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` of a name below a module
                target = target.rpartition(".")[0]
            if target:
                found.append((target, node.lineno))
    return found


def layer_of(module: str, layers: list[tuple[str, ...]]) -> tuple[int, str] | None:
    """(layer index, the entry it matched), by the longest matching entry."""
    best = None
    for index, entries in enumerate(layers):
        for entry in entries:
            root_only = "." not in entry  # the top package's own __init__, not all below it
            matches = (
                module == entry if root_only else module == entry or module.startswith(entry + ".")
            )
            if matches and (best is None or len(entry) > len(best[1])):
                best = (index, entry)
    return best


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def violations(root: Path, package: str, layers: list[tuple[str, ...]]) -> list[str]:
    """Each upward import, each import between peers, each module in no layer, and each cycle."""
    found = modules(root, package)
    known = set(found)
    problems, graph = [], {}
    for name, path in found.items():
        mine = layer_of(name, layers)
        if mine is None:
            problems.append(f"{name} is in no layer: add it to LAYERS")
            continue
        for target, line in imports(name, path, known):
            if target == name:
                continue
            graph.setdefault(name, set()).add(target)
            theirs = layer_of(target, layers)
            if theirs is None:
                continue  # reported as a module in no layer
            where = f"{path.relative_to(root)}:{line}: {name} imports {target}"
            if theirs[0] > mine[0]:
                problems.append(f"{where}, a layer above it ({theirs[1]} over {mine[1]})")
            elif (
                theirs[0] == mine[0]
                and theirs[1] != mine[1]
                and not (target.startswith(mine[1] + ".") or name.startswith(theirs[1] + "."))
            ):
                problems.append(f"{where}, a peer in its layer ({theirs[1]} beside {mine[1]})")
    problems += ["import cycle: " + " <-> ".join(c) for c in cycles(graph)]
    return problems


def test_builder_imports_never_point_up_and_never_loop():
    problems = violations(ROOT, "builder", LAYERS)
    assert not problems, "\n".join(problems)


# -- the contract can fail ----------------------------------------------------------------------
TOY_LAYERS = [("toy",), ("toy.low",), ("toy.high",)]


def _toy(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in {
        "toy/__init__.py": "",
        "toy/low/__init__.py": "",
        "toy/high/__init__.py": "",
        **files,
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def test_a_clean_toy_package_passes(tmp_path):
    root = _toy(
        tmp_path,
        {"toy/low/a.py": "", "toy/high/b.py": "from ..low import a\nfrom toy.low.a import x\n"},
    )
    assert violations(root, "toy", TOY_LAYERS) == []


def test_an_upward_import_inside_a_function_is_caught(tmp_path):
    root = _toy(
        tmp_path, {"toy/high/b.py": "", "toy/low/a.py": "def f():\n    from ..high import b\n"}
    )
    problems = violations(root, "toy", TOY_LAYERS)
    assert (
        len(problems) == 1
        and "toy/low/a.py:2: toy.low.a imports toy.high.b, a layer above it" in problems[0]
    )


def test_a_cycle_within_a_layer_is_caught(tmp_path):
    root = _toy(
        tmp_path,
        {"toy/low/a.py": "from . import b\n", "toy/low/b.py": "def f():\n    from .a import g\n"},
    )
    assert violations(root, "toy", TOY_LAYERS) == ["import cycle: toy.low.a <-> toy.low.b"]


def test_a_module_outside_every_layer_is_caught(tmp_path):
    root = _toy(tmp_path, {"toy/side.py": ""})
    assert violations(root, "toy", TOY_LAYERS) == ["toy.side is in no layer: add it to LAYERS"]


@pytest.mark.parametrize(
    "module, entry",
    [
        ("builder.core.workdir", "builder.core"),
        ("builder.judge.__main__", "builder.judge.__main__"),
        ("builder", "builder"),
    ],
)
def test_a_module_belongs_to_its_longest_entry(module, entry):
    assert layer_of(module, LAYERS)[1] == entry
