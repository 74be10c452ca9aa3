"""Warm kernels of ``govlib run``: one kernel per worker, reset between notebooks (WarmKernel).

The notebooks are the tiny ones of ``tests/fixtures/kernels`` on the hand-made dataset of
``tests/datasets.py``, run with ``--jobs 1`` so that every notebook of the market runs in
the same worker, in the order of ``reports.yaml``. Each prints its kernel's pid, which is
checked against the pid the runner reports (``Outcome.kernel_pid``). One test runs the real
``market_report`` on the small demo data after the leaking notebook, with and without
warm kernels, and compares the executed notebooks byte for byte.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from datasets import write_valid_dataset
from paths import FIXTURES

from govlib import config
from govlib.cli import run as runner
from govlib.report.batch import kernel_state
from govlib.report.batch.kernels import WarmKernel, ensure_kernel
from govlib.report.batch.result import Outcome
from govlib.report.batch.run import run_batch

MONTH = "2026-10"
FIXTURES = FIXTURES / "kernels"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_valid_dataset(tmp_path_factory.mktemp("kdata") / "data", layout="partitioned")


@pytest.fixture
def project(tmp_path, monkeypatch, data):
    """A toy project: ``make(notebooks, timeout)`` writes its notebooks dir and reports.yaml."""
    monkeypatch.setenv("GOVLIB_PSEUDONYM_KEY", "test-key-0123456789abcdef")
    monkeypatch.delenv("GOVLIB_FRESH_KERNELS", raising=False)
    monkeypatch.delenv("GOVLIB_KERNEL_MAX_REPORTS", raising=False)
    nbdir, pdir = tmp_path / "notebooks", tmp_path / "params"
    nbdir.mkdir()
    shutil.copytree(config.PARAMS_DIR / "markets", pdir / "markets")
    monkeypatch.setattr(config, "NOTEBOOKS_DIR", nbdir)
    monkeypatch.setattr(config, "PARAMS_DIR", pdir)
    monkeypatch.setenv("GOVLIB_PARAMS", str(pdir))

    def make(notebooks: list[str], timeout: int = 60, sources: dict[str, Path] | None = None) -> None:
        for nb in notebooks:
            shutil.copy((sources or {}).get(nb, FIXTURES / f"{nb}.ipynb"), nbdir / f"{nb}.ipynb")
        (pdir / "reports.yaml").write_text(
            f"market_notebooks: [{', '.join(notebooks)}]\nrollup_notebooks: []\ntimeout_seconds: {timeout}\n"
        )

    return make


def _run(out: Path, data: Path, **kw) -> dict[str, Outcome]:
    res = run_batch(MONTH, markets="DE", data_dir=data, out_dir=out, jobs=1, progress=False, **kw)
    assert not res.market_errors, res.market_errors
    return {o.report: o for o in res.outcomes}


def _printed_pid(out: Path, nb: str) -> int:
    """The pid the notebook printed (``kernel <pid>``): seen from inside the kernel, not from the runner."""
    text = (out / MONTH / "DE" / f"{nb}.ipynb").read_text()
    return int(re.search(r"kernel (\d+)", text).group(1))


def test_kernel_is_reused_and_reset_between_notebooks(project, data, tmp_path):
    """(b) + (d): kn_check, run after kn_leak in the same kernel, sees none of kn_leak's state."""
    project(["kn_leak", "kn_check", "kn_pid"])
    out = tmp_path / "warm"
    res = _run(out, data)
    assert {nb: o.status for nb, o in res.items()} == {"kn_leak": "ok", "kn_check": "ok", "kn_pid": "ok"}, {
        nb: o.error for nb, o in res.items()
    }
    pids = {nb: _printed_pid(out, nb) for nb in res}
    assert pids["kn_leak"] == pids["kn_check"] == pids["kn_pid"]  # one kernel ran all three...
    assert all(res[nb].kernel_pid == pids[nb] for nb in res)  # ...and the runner says which
    assert pids["kn_leak"] != os.getpid()
    # execution counts start at 1 in every notebook, as in a fresh kernel
    nb = nbformat.read(out / MONTH / "DE" / "kn_check.ipynb", as_version=4)
    assert [c.execution_count for c in nb.cells if c.cell_type == "code"] == [1, 2, 3]


def test_check_notebook_detects_leaks_when_kernel_is_not_reset(tmp_path, monkeypatch):
    """The isolation check can fail: kn_leak then kn_check in one warm kernel *without* the reset."""
    import papermill as pm

    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    kernel_name, env = ensure_kernel()
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    kernel = WarmKernel(kernel_name)
    kernel._start({"cwd": str(nbdir), "input": str(FIXTURES / "kn_leak.ipynb")})
    try:
        kw = {"kernel_name": kernel_name, "progress_bar": False, "km": kernel.km, "cwd": str(nbdir)}
        pm.execute_notebook(str(FIXTURES / "kn_leak.ipynb"), str(tmp_path / "leak.ipynb"), **kw)
        with pytest.raises(pm.PapermillExecutionError) as err:
            pm.execute_notebook(str(FIXTURES / "kn_check.ipynb"), str(tmp_path / "check.ipynb"), **kw)
    finally:
        kernel.shutdown()
    message = str(err.value)
    for leak in (
        "user namespace",
        "rcParams",
        "open figures",
        "warnings filters",
        "pandas options",
        "numpy print options",
        "logging",
        "environment",
        "sys.path",
        "cwd /",
        "history",
    ):
        assert leak in message, (leak, message)


def test_failed_notebook_gets_a_new_kernel(project, data, tmp_path):
    """(c): after a cell error the kernel is replaced; the next notebook succeeds in a new kernel."""
    project(["kn_pid", "kn_fail", "kn_check"])
    out = tmp_path / "fail"
    res = _run(out, data)
    assert res["kn_pid"].status == "ok" and res["kn_check"].status == "ok"
    assert res["kn_fail"].status == "failed" and "planted failure" in res["kn_fail"].error
    pids = {nb: _printed_pid(out, nb) for nb in res}
    assert pids["kn_pid"] == pids["kn_fail"]  # the failing notebook ran in the warm kernel
    assert pids["kn_check"] != pids["kn_fail"]  # and that kernel was not reused
    assert res["kn_check"].kernel_pid == pids["kn_check"]


def test_timed_out_notebook_kernel_is_killed_and_replaced(project, data, tmp_path):
    project(["kn_pid", "kn_hang", "kn_check"], timeout=10)
    out = tmp_path / "hang"
    res = _run(out, data)
    assert res["kn_hang"].status == "failed" and "timed out" in res["kn_hang"].error.lower()
    assert res["kn_check"].status == "ok", res["kn_check"].error
    hung = res["kn_hang"].kernel_pid
    assert hung == res["kn_pid"].kernel_pid
    assert res["kn_check"].kernel_pid not in (None, hung)
    assert not Path(f"/proc/{hung}").exists()  # the busy kernel was killed, not left running its sleep


def test_kernel_replaced_after_max_reports(project, data, tmp_path, monkeypatch):
    project(["kn_pid", "kn_leak", "kn_check"])
    monkeypatch.setenv("GOVLIB_KERNEL_MAX_REPORTS", "2")
    out = tmp_path / "max"
    res = _run(out, data)
    assert all(o.status == "ok" for o in res.values()), {nb: o.error for nb, o in res.items()}
    pids = [_printed_pid(out, nb) for nb in ("kn_pid", "kn_leak", "kn_check")]
    assert pids[0] == pids[1] != pids[2]


def test_fresh_kernels_switch(project, data, tmp_path, monkeypatch):
    """GOVLIB_FRESH_KERNELS=1 (here) or fresh_kernels=True (test_warm_and_fresh_...): a kernel per notebook."""
    project(["kn_pid", "kn_pid_again"], sources={"kn_pid_again": FIXTURES / "kn_pid.ipynb"})
    monkeypatch.setenv("GOVLIB_FRESH_KERNELS", "1")
    out = tmp_path / "fresh"
    res = _run(out, data)
    assert all(o.status == "ok" and o.kernel_pid is None for o in res.values())
    assert _printed_pid(out, "kn_pid") != _printed_pid(out, "kn_pid_again")
    parser = argparse.ArgumentParser()
    runner.add_arguments(parser)
    assert parser.parse_args(["--month", MONTH, "--fresh-kernels"]).fresh_kernels is True
    assert not parser.parse_args(["--month", MONTH]).fresh_kernels
    assert "--fresh-kernels" in parser.format_help()


def _outputs(out: Path, nb: str, market: str = "DE") -> tuple[bytes, bytes]:
    folder = out / MONTH / market
    return (folder / f"{nb}.ipynb").read_bytes(), (folder / f"{nb}.html").read_bytes()


def test_warm_and_fresh_kernels_give_identical_outputs(project, data, tmp_path):
    """(a) on the toy notebooks: same executed notebooks and HTML, byte for byte."""
    nbs = ["kn_leak", "kn_output", "kn_check", "kn_output_again"]
    project(nbs[:-1] + ["kn_output_again"], sources={"kn_output_again": FIXTURES / "kn_output.ipynb"})
    warm, fresh = tmp_path / "warm", tmp_path / "fresh"
    res_w = _run(warm, data)
    res_f = _run(fresh, data, fresh_kernels=True)
    assert all(o.status == "ok" for o in list(res_w.values()) + list(res_f.values()))
    assert len({o.kernel_pid for o in res_w.values()}) == 1  # all in one warm kernel
    assert len({_printed_pid(fresh, nb) for nb in ("kn_leak", "kn_check")}) == 2  # a kernel per notebook
    for nb in ("kn_output", "kn_output_again"):
        nb_w, html_w = _outputs(warm, nb)
        nb_f, html_f = _outputs(fresh, nb)
        assert nb_w == nb_f
        assert html_w == html_f
        executed = nbformat.reads(nb_w.decode(), as_version=4)
        kinds = [o.get("output_type") for c in executed.cells if c.cell_type == "code" for o in c.outputs]
        assert {"execute_result", "stream", "display_data"} <= set(kinds)  # the comparison covers all kinds
        assert [c.execution_count for c in executed.cells if c.cell_type == "code"] == [1, 2, 3, 4, 5, 6]


def test_real_market_report_identical_in_warm_and_fresh_kernels(project, demo_dir, tmp_path, monkeypatch):
    """(a) on a real report: market_report of DE on the small demo data, run after kn_leak in the same kernel."""
    # a private cache: the cube is built by the first run and reused by the second (same code version)
    monkeypatch.setattr(config, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setenv("GOVLIB_CODE_VERSION", "test-runner-kernels")
    project(
        ["kn_leak", "market_report"],
        timeout=600,
        sources={"market_report": config.PROJECT_ROOT / "notebooks" / "market_report.ipynb"},
    )
    warm, fresh = tmp_path / "warm", tmp_path / "fresh"
    res_w = _run(warm, demo_dir)
    res_f = _run(fresh, demo_dir, fresh_kernels=True)
    assert res_w["market_report"].status == "ok", res_w["market_report"].error
    assert res_f["market_report"].status == "ok", res_f["market_report"].error
    assert res_w["market_report"].kernel_pid == res_w["kn_leak"].kernel_pid is not None
    assert _outputs(warm, "market_report") == _outputs(fresh, "market_report")
    assert (warm / MONTH / "DE" / "kpis.csv").read_bytes() == (fresh / MONTH / "DE" / "kpis.csv").read_bytes()


def test_kernel_state_lists_notebook_imports(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import os\nfrom govlib.report import present, theme\nx = 1"),
        nbformat.v4.new_code_cell("%matplotlib inline\nimport nope"),  # not Python: skipped
        nbformat.v4.new_code_cell("def f():\n    from babel import Locale\n    import os\n"),
        nbformat.v4.new_markdown_cell("import markdown_is_not_code"),
    ]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert kernel_state.list_notebook_imports([path, path]) == [
        "import os",
        "from govlib.report import present, theme",
        "from babel import Locale",
    ]
