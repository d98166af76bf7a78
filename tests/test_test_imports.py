"""No file under tests/ imports a test module: shared helpers live in tests/helpers/, the `_*.py`
helper modules or conftest fixtures. An imported test module runs its module-level code again
(pytest has already imported it once under its own name), and its tests come to depend on another
file's private names. The scan reads every import, those inside functions included."""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# pytest's default python_files (pyproject.toml sets no other)
TEST_FILES = ("test_*.py", "*_test.py")


def _is_test_module(name: str, test_modules: set[str]) -> bool:
    """`test_pipeline`, `tests.test_pipeline`, `tests.vllm_cpu.test_x`: the last part names a test module."""
    return name.split(".")[-1] in test_modules


def _imported(node: ast.AST) -> list[str]:
    """The modules an import node (or an import_module("...") / __import__("...") call) loads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        # `from tests import test_x` and `from . import test_x` load the module test_x
        return [base, *(f"{base}.{alias.name}" if base else alias.name for alias in node.names)]
    if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
            return [node.args[0].value]
    return []


def imports_of_test_modules(root: Path) -> list[str]:
    """'file:line imports test_x' for every import of a test module by a file under `root`."""
    files = sorted(root.rglob("*.py"))
    test_modules = {
        p.stem for p in files if any(fnmatch.fnmatch(p.name, pattern) for pattern in TEST_FILES)
    }
    found = []
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for name in _imported(node):
                if name and _is_test_module(name, test_modules):
                    found.append(f"{path.relative_to(root)}:{node.lineno} imports {name}")
    return found


def test_no_file_under_tests_imports_a_test_module():
    assert imports_of_test_modules(TESTS) == []


def test_the_scan_finds_every_form_of_import(tmp_path):
    """A planted tree: each way of importing a test module is found, a helper import is not."""
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "__init__.py").write_text("")
    (tmp_path / "helpers" / "pipeline.py").write_text("X = 1\n")
    # a helper that imports a test module
    (tmp_path / "_flat_helper.py").write_text("from test_a import X\n")
    (tmp_path / "test_a.py").write_text("from helpers.pipeline import X\nimport _flat_helper\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "test_c.py").write_text("Y = 2\n")
    (tmp_path / "test_b.py").write_text(
        "import importlib\n"
        "import test_a\n"
        "from tests.sub import test_c\n"
        "def test_x():\n"
        "    from test_a import X\n"
        "    importlib.import_module('tests.test_a')\n"
        "    from helpers import pipeline\n"
    )
    assert imports_of_test_modules(tmp_path) == [
        "_flat_helper.py:1 imports test_a",
        "test_b.py:2 imports test_a",
        "test_b.py:3 imports tests.sub.test_c",
        "test_b.py:5 imports test_a",
        "test_b.py:6 imports tests.test_a",
    ]
