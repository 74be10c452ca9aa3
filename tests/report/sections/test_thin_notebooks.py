"""Thin report notebooks: parameters, one setup cell, then one cell per section function, in order.

Each section cell is ``<report>.<section>(ctx)`` (optionally after ``# NBVAL_CHECK_OUTPUT``); every
public section function of the report's module is called exactly once, and the notebook stays
within :data:`MAX_CODE_LINES` code lines.
"""

from __future__ import annotations

import importlib
import inspect
import re

import nbformat
import pytest

from govlib import config
from govlib.report.sections import Section

MAX_CODE_LINES = 60
# report -> sections whose cell nbval checks (headline numbers)
REPORTS = {
    "enforcement_effectiveness": {"proactive_detection"},
    "signal_evaluation": {"precision_recall"},
    "expansion_readiness": {"decisions", "gaps"},
    "investigation": set(),
}


def _section_functions(module) -> list[str]:
    """Public functions of the module returning a Section, in source order."""
    funcs = [
        f
        for name, f in vars(module).items()
        if inspect.isfunction(f)
        and not name.startswith("_")
        and f.__module__ == module.__name__
        and inspect.signature(f).return_annotation in ("Section", Section)
    ]
    return [f.__name__ for f in sorted(funcs, key=lambda f: f.__code__.co_firstlineno)]


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_notebook_calls_each_section_once(report):
    nb = nbformat.read(str(config.NOTEBOOKS_DIR / f"{report}.ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert re.search(r"^ctx = ", code[1].source, re.M), "the setup cell opens the context"
    calls, checked = [], set()
    for cell in code[2:]:
        lines = cell.source.splitlines()
        if lines[0] == "# NBVAL_CHECK_OUTPUT":
            lines = lines[1:]
            checked.add(lines[0].split(".")[1].split("(")[0])
        assert len(lines) == 1 and re.fullmatch(rf"{report}\.[a-z_]+\(ctx\)", lines[0]), cell.source
        calls.append(lines[0].split(".")[1].split("(")[0])
    assert calls == _section_functions(importlib.import_module(f"govlib.report.sections.{report}"))
    assert checked == REPORTS[report]
    assert sum(len(c.source.splitlines()) for c in code) <= MAX_CODE_LINES
