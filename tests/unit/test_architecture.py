"""The package's layers hold (ARCHITECTURE.md): every import points down, nothing imports in a circle, and an
import inside a function is a heavy dependency deferred on purpose, saying so in a comment."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "flare_jupyter"


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run(
        [str(lint), "--no-logo", "--no-cache", "pyproject.toml"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_no_module_imports_in_a_circle():
    graph = grimp.build_graph("flare_jupyter", cache_dir=None)
    cycles = []
    for importer in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                cycles.append(" -> ".join([importer, *back]))
    assert not cycles, "\n".join(cycles)


def function_level_imports(path: Path) -> list[tuple[int, str]]:
    """(line, source line) of every import inside a function of ``path``."""
    tree = ast.parse(path.read_text())
    lines = path.read_text().splitlines()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, (ast.Import, ast.ImportFrom)):
                    found.append((inner.lineno, lines[inner.lineno - 1]))
    return sorted(set(found))


def _comment_above(lines: list[str], index: int) -> str:
    """The comment over the block of import lines that holds ``lines[index]``."""
    i = index - 1
    while i >= 0 and lines[i].strip().startswith(("from ", "import ")):
        i -= 1
    return lines[i] if i >= 0 and lines[i].strip().startswith("#") else ""


def test_imports_inside_functions_say_why_they_are_deferred():
    unexplained = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "example_code" in path.parts:  # runs on the sites, not part of the library
            continue
        lines = path.read_text().splitlines()
        for lineno, line in function_level_imports(path):
            if "deferred:" not in line + " " + _comment_above(lines, lineno - 1):
                unexplained.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert not unexplained, "\n".join(unexplained)


def test_function_level_imports_are_only_of_heavy_dependencies():
    ours = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for lineno, line in function_level_imports(path):
            if "from ." in line and "example_code" not in line and "plots" not in line:
                ours.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert not ours, "imports of our own modules inside functions (layers dodged?):\n" + "\n".join(ours)
