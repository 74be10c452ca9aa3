"""The report notebooks: structure, stored outputs, and nbval on the small demo data.

nbval executes every notebook with its default parameters (``GOVLIB_DATA`` = the demo
fixture) in ``--nbval-lax`` mode: every cell must run, and the cells marked
``# NBVAL_CHECK_OUTPUT`` (the headline numbers) must reproduce the outputs stored in git,
after the substitutions of ``tests/nbval_sanitize.cfg``. Refresh the stored outputs after a
change with ``GOVLIB_DATA=data/demo .venv/bin/python -m govlib.report.batch.store``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import nbformat
import pytest
from paths import TESTS

from govlib import config
from govlib.params import load_reports

NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("*.ipynb"))
REPORT_NOTEBOOKS = [
    config.NOTEBOOKS_DIR / f"{n}.ipynb"
    for n in load_reports().market_notebooks
    + load_reports().rollup_notebooks
    + load_reports().expansion_notebooks
]
DSA_NOTEBOOKS = [config.NOTEBOOKS_DIR / f"{n}.ipynb" for n in load_reports().dsa_notebooks]
PARAM_LINE = re.compile(r"^[a-z_]+: (str|int|float|bool) = .+  # .+$")


@pytest.mark.parametrize("path", REPORT_NOTEBOOKS + DSA_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_structure(path):
    nb = nbformat.read(str(path), as_version=4)
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert tagged == [0], "exactly one parameters cell, first"
    for line in nb.cells[0].source.splitlines():
        assert PARAM_LINE.match(line), f"parameter line not in papermill's documented style: {line!r}"
    setup = nb.cells[
        1
    ].source  # derived values in the next cell: a report-sections context, or the translator
    assert (
        "ctx = open_market_context(" in setup
        or "ctx = open_rollup_context(" in setup
        or "ctx = open_dsa_context(" in setup
        or "_ = get_translator(" in setup
    )
    assert nb.metadata["kernelspec"]["name"] == "python3"
    checked = [c for c in nb.cells if c.cell_type == "code" and "# NBVAL_CHECK_OUTPUT" in c.source]
    assert checked, "the headline cell is marked for nbval"
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        assert "execution" not in c.metadata, "run metadata (timestamps) stripped"
        assert c is nb.cells[0] or c.execution_count is not None, "stored executed (with outputs)"
        for out in c.outputs:
            assert out.output_type != "error", "stored outputs contain an error"
            assert out.output_type != "stream" or out.name != "stderr", (
                f"stderr in stored outputs: {out.text[:200]}"
            )
    for c in checked:
        assert c.outputs, "headline cell has stored outputs for nbval to compare"


@pytest.mark.slow
def test_notebooks_nbval(demo_dir):
    _nbval(REPORT_NOTEBOOKS, dict(os.environ, GOVLIB_DATA=str(demo_dir), PYTHONHASHSEED="0"))


@pytest.mark.slow
def test_dsa_notebooks_nbval(tmp_path):
    """The DSA reports on the fixture archive (tests/dsa_archive.py: real statements over 2026-01..06).

    Refresh their stored outputs with the same archive::

        .venv/bin/python tests/dsa_archive.py /tmp/arch
        GOVLIB_DSA_ARCHIVE=/tmp/arch .venv/bin/python -m govlib.report.batch.store notebooks/dsa_peers.ipynb
    """
    from dsa_archive import fixture_archive

    store = fixture_archive(tmp_path / "archive")
    _nbval(DSA_NOTEBOOKS, dict(os.environ, GOVLIB_DSA_ARCHIVE=str(store), PYTHONHASHSEED="0"))


def _nbval(notebooks, env):
    env.pop("GOVLIB_CODE_VERSION", None)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "--nbval-lax",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        str(TESTS / "nbval_sanitize.cfg"),
        *[str(p) for p in notebooks],
    ]
    res = subprocess.run(cmd, cwd=config.PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=1500)
    hint = (
        "\nIf only the NBVAL_CHECK_OUTPUT cells differ because the demo generator or a metric changed, "
        "refresh the stored outputs: GOVLIB_DATA=data/demo .venv/bin/python -m govlib.report.batch.store"
    )
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:] + hint
