"""govlib.config: one Settings object holds every GOVLIB_* variable; no other module reads one."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from govlib import config

GOVLIB = Path(config.__file__).resolve().parent
ALLOWED = {GOVLIB / "config.py"}


def _env_names(path: Path) -> list[tuple[int, str]]:
    """String literals in ``path`` that are exactly a GOVLIB_* variable name (a read, write or alias)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (n.lineno, n.value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant)
        and isinstance(n.value, str)
        and n.value.startswith("GOVLIB_")
        and n.value.replace("_", "").isalnum()
        and n.value.isupper()
    ]


def test_no_module_but_config_names_a_govlib_variable():
    found = [
        f"{p.relative_to(GOVLIB.parent)}:{line}: {name}"
        for p in sorted(GOVLIB.rglob("*.py"))
        if p not in ALLOWED
        for line, name in _env_names(p)
    ]
    assert not found, "read GOVLIB_* variables through govlib.config (Settings / current()):\n" + "\n".join(
        found
    )


def test_every_setting_has_a_description_and_a_docs_row():
    fields = config.Settings.model_fields
    assert len(fields) >= 18
    assert all(f.description and len(f.description) > 10 for f in fields.values())
    docs = (Path(config.DOCS_DIR) / "DEVELOPING.md").read_text(encoding="utf-8")
    assert config.settings_table() in docs, (
        "docs/DEVELOPING.md's settings table is out of date; paste the output of "
        ".venv/bin/python -c 'from govlib import config; print(config.settings_table())'"
    )
    for name in fields:
        assert f"| `{config.env_name(name)}` |" in docs


def test_current_reads_only_the_given_environment(monkeypatch):
    monkeypatch.setenv("GOVLIB_PSEUDONYM_KEY", "from-the-process-0123456789")
    s = config.current({"GOVLIB_DEMO": "1", "GOVLIB_ROOT": "/srv/gov", "GOVLIB_ENGINE": ""})
    assert s.demo is True and s.pseudonym_key is None and s.engine == "duckdb"
    assert s.params == Path("/srv/gov/params") and s.data == Path("/srv/gov/data/demo")
    assert "from-the-process" not in repr(config.current())  # the key is never printed
    assert config.current().pseudonym_key == "from-the-process-0123456789"


def test_an_invalid_value_names_the_variable():
    with pytest.raises(config.ConfigError, match=r"GOVLIB_KERNEL_MAX_REPORTS='abc'.*integer"):
        config.current({"GOVLIB_KERNEL_MAX_REPORTS": "abc"})


def test_child_processes_get_the_settings_through_their_environment(tmp_path):
    env = {**os.environ, "GOVLIB_DATA": str(tmp_path / "d"), "GOVLIB_ROOT": str(tmp_path)}
    env.pop("GOVLIB_PARAMS", None)
    code = "from govlib import config; print(config.DATA_DIR); print(config.PARAMS_DIR)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == [str(tmp_path / "d"), str(tmp_path / "params")]
