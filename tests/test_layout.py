"""The layout holds itself to its rules: the layers' contracts (import-linter: layers, no cycles,
parsers and the store pure), small modules and functions, and no import hidden in a function
unless it says why (start-up time)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("intake", "parsers", "store")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _sources() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_the_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "4 kept, 0 broken" in done.stdout


def test_modules_and_functions_are_small() -> None:
    too_long = []
    for path in _sources():
        source = path.read_text(encoding="utf-8")
        name = path.relative_to(ROOT)
        if len(source.splitlines()) > MAX_MODULE_LINES:
            too_long.append(f"{name}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []


def _deferral_said(lines: list[str], lineno: int) -> bool:
    """A comment just above the import's block (the imports right above it included) says why."""
    i = lineno - 2
    while i >= 0 and (lines[i].strip().startswith(("import ", "from ")) or not lines[i].strip()):
        i -= 1
    return i >= 0 and lines[i].strip().startswith("#") and "Deferred" in lines[i]


def test_an_import_inside_a_function_says_why() -> None:
    hidden = []
    for path in _sources():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Import | ast.ImportFrom) and not _deferral_said(lines, sub.lineno):
                        hidden.append(f"{path.relative_to(ROOT)}:{sub.lineno}")
    assert hidden == []


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_says_what_it_is_for(package: str) -> None:
    silent = [
        str(p.relative_to(ROOT))
        for p in (ROOT / package).rglob("*.py")
        if p.name != "__init__.py" and "versions" not in p.parts and ast.get_docstring(ast.parse(p.read_text())) is None
    ]
    assert silent == []
