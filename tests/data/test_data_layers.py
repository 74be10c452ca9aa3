"""The data layer imports one way: engine <- dataset <- validate <- load (no cycle, no private names)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import govlib.data

DATA = Path(govlib.data.__file__).resolve().parent


def _imports(module: str) -> set[str]:
    """Modules (and ``module:name`` for from-imports) that ``govlib/data/<module>.py`` imports anywhere."""
    tree = ast.parse((DATA / f"{module}.py").read_text(encoding="utf-8"))
    out: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            out |= {a.name for a in n.names}
        elif isinstance(n, ast.ImportFrom) and n.module:
            out.add(n.module)
            out |= {f"{n.module}:{a.name}" for a in n.names}
    return out


def test_validation_imports_the_dataset_never_the_loader():
    assert "govlib.data.dataset" in _imports("validate")
    assert not {m for m in _imports("validate") if m.startswith("govlib.data.load")}


def test_the_dataset_imports_neither_validation_nor_the_loader():
    assert not {m for m in _imports("dataset") if m.startswith(("govlib.data.validate", "govlib.data.load"))}


def test_no_private_names_cross_the_data_modules():
    for module in ("engine", "dataset", "validate", "load", "summary"):
        private = {m for m in _imports(module) if m.startswith("govlib.data.") and ":_" in m}
        assert not private, (module, private)


def test_open_dataset_runs_the_loader_checks_and_a_bare_dataset_none(tmp_path):
    from govlib.data.dataset import Dataset
    from govlib.data.load import open_dataset
    from govlib.data.validate import ContractError, LoaderChecks

    (tmp_path / "content.csv").write_text("content_id\nc1\n", encoding="utf-8")
    assert Dataset(tmp_path).tables == ["content"]  # no checks: the missing required tables pass
    for opener in (open_dataset, lambda p: Dataset(p, check=LoaderChecks())):
        with pytest.raises(ContractError) as err:
            opener(tmp_path)
        assert {p.table for p in err.value.problems} >= {"creators", "enforcement_actions"}
