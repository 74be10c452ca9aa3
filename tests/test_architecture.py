"""The shape of the code (issue 14): layers, function length, thin notebooks.

Each check reads the source, so a change that breaks the architecture fails the suite where
it is made, not in a later review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

from govlib import config

GOVLIB = Path(config.PROJECT_ROOT) / "govlib"
NOTEBOOKS = Path(config.PROJECT_ROOT) / "notebooks"
MAX_FUNCTION_LINES = 80  # numpydoc docstring excluded
MAX_NOTEBOOK_CODE_LINES = 60
# Functions allowed to be longer, each with the reason (keep this list short).
LONG_FUNCTIONS: dict[str, str] = {}


def test_layers_are_respected():
    """No import of a higher layer, no cycle between layers (the contract in pyproject.toml)."""
    from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

    status = lint_imports(
        config_filename=str(Path(config.PROJECT_ROOT) / "pyproject.toml"), no_cache=True, no_logo=True
    )
    assert status == EXIT_STATUS_SUCCESS, (
        "import layers broken: see the report above, or run .venv/bin/lint-imports"
    )


def function_lengths(path: Path) -> list[tuple[str, int]]:
    """``(qualified name, lines without the docstring)`` of every function in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    doc = ast.get_docstring(child, clean=False)
                    first = child.body[0]
                    doc_lines = first.end_lineno - first.lineno + 1 if doc is not None else 0
                    out.append((name, child.end_lineno - child.lineno + 1 - doc_lines))
                visit(child, name + ".")

    visit(tree, "")
    return out


def test_function_lengths_counts_code_not_docstrings(tmp_path):
    src = tmp_path / "m.py"
    src.write_text(
        'def f():\n    """Doc.\n\n    More.\n    """\n    a = 1\n    return a\n\n\n'
        "class C:\n    def g(self):\n        return 1\n"
    )
    assert function_lengths(src) == [("f", 3), ("C.g", 2)]


def test_no_function_longer_than_a_screen():
    long = []
    for path in sorted(GOVLIB.rglob("*.py")):
        for name, n in function_lengths(path):
            qual = f"{path.relative_to(GOVLIB.parent).as_posix()}:{name}"
            if n > MAX_FUNCTION_LINES and qual not in LONG_FUNCTIONS:
                long.append(f"{qual} ({n} lines)")
    assert not long, (
        f"functions longer than {MAX_FUNCTION_LINES} lines (split them along their steps): {long}"
    )


@pytest.mark.parametrize("notebook", sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebooks_are_thin(notebook):
    nb = nbformat.read(NOTEBOOKS / f"{notebook}.ipynb", as_version=4)
    lines = sum(len(c.source.splitlines()) for c in nb.cells if c.cell_type == "code")
    assert lines <= MAX_NOTEBOOK_CODE_LINES, (
        f"{notebook}: {lines} code lines; move logic into govlib.report.sections"
    )
