"""Bad GOVLIB_* settings through the CLI: one clear message naming the variable, exit 1, no traceback."""

from __future__ import annotations

import pytest
from datasets import write_valid_dataset
from reliability_support import govlib, toy_env


@pytest.mark.parametrize("name, value", [("GOVLIB_KERNEL_MAX_REPORTS", "abc"), ("GOVLIB_DEMO", "maybe")])
def test_an_invalid_setting_is_refused_with_its_name(tmp_path, name, value):
    data = write_valid_dataset(tmp_path / "data")
    r = govlib(["validate", "--data", str(data)], env=toy_env(tmp_path, **{name: value}))
    assert r.returncode == 1, r.stderr
    assert f"{name}={value!r}" in r.stderr and "docs/DEVELOPING.md" in r.stderr
    assert "Traceback" not in r.stderr
