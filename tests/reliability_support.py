"""Helpers of the reliability tests (test_bad_inputs, test_resume, test_param_safety...).

A *toy project* is a throw-away ``GOVLIB_ROOT`` (params copied from the repository, tiny
notebooks that read the market's cube) so that ``govlib run`` can be driven end to end in
a subprocess in a few seconds; data still goes through the real engine, contract checks
and cube build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from govlib import config

MONTH = "2026-10"
TEST_KEY = "test-key-0123456789abcdef"  # a non-example pseudonym key (non-demo data needs one)
PARAMS_CELL = (
    'market: str = "GB"\nmonth: str = "2026-10"\ndata_dir: str = ""\nlang: str = ""\ncube_path: str = ""'
)
ROLLUP_PARAMS_CELL = (
    'month: str = "2026-10"\nmarkets: str = ""\nfailed_markets: str = ""\ndata_dir: str = ""\nlang: str = ""'
)
READ_CUBE = (
    "from govlib.report.cube import load_cube\ncube = load_cube(cube_path)\n"
    "print(cube.market, cube.month, len(cube.kpis_for()))"
)


def make_toy_project(
    root: Path,
    notebooks: dict[str, str] | None = None,
    timeout: int = 60,
    rollup: dict[str, str] | None = None,
    real_market: tuple[str, ...] = (),
    real_rollup: tuple[str, ...] = (),
) -> Path:
    """A GOVLIB_ROOT with ``params/`` (copied), ``locales/`` (linked) and toy notebooks; returns ``root``.

    ``rollup``: roll-up notebooks (name -> code after :data:`ROLLUP_PARAMS_CELL`), run into ``EMEA/``.
    ``real_market`` / ``real_rollup``: report notebooks of the repository (e.g. ``market_report``,
    ``emea_overview``) copied in and run too, per market / once per month.
    """
    notebooks = notebooks or {"toy_ok": READ_CUBE}
    rollup = rollup or {}
    (root / "notebooks").mkdir(parents=True)
    shutil.copytree(config.PARAMS_DIR / "markets", root / "params" / "markets")
    for name in real_market + real_rollup:
        shutil.copy2(config.NOTEBOOKS_DIR / f"{name}.ipynb", root / "notebooks" / f"{name}.ipynb")
    (root / "params" / "reports.yaml").write_text(
        f"market_notebooks: [{', '.join([*notebooks, *real_market])}]\n"
        f"rollup_notebooks: [{', '.join([*rollup, *real_rollup])}]\ntimeout_seconds: {timeout}\n"
    )
    os.symlink(config.LOCALES_DIR, root / "locales")
    for name, code in {**notebooks, **rollup}.items():
        nb = new_notebook()
        p = new_code_cell(ROLLUP_PARAMS_CELL if name in rollup else PARAMS_CELL)
        p.metadata["tags"] = ["parameters"]
        nb.cells = [p, new_code_cell(code)]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, root / "notebooks" / f"{name}.ipynb")
    return root


def toy_env(root: Path, **extra: str) -> dict[str, str]:
    """Environment of a ``govlib`` child process working on the toy project ``root``."""
    env = {k: v for k, v in os.environ.items() if k not in ("GOVLIB_PARAMS", "GOVLIB_DATA", "GOVLIB_REPORTS")}
    env.update(GOVLIB_ROOT=str(root), GOVLIB_CACHE=str(root / ".cache"), GOVLIB_PSEUDONYM_KEY=TEST_KEY)
    env.update(extra)
    return env


def run_toy(root: Path, data: Path, *args: str, month: str = MONTH, markets: str = "DE,GB", **env: str):
    """``govlib run`` of the toy project ``root`` on ``data`` into ``root/reports``; returns (result, out)."""
    out = root / "reports"
    cmd = ["run", "--month", month, "--markets", markets, "--data", str(data), "--out", str(out)]
    r = govlib([*cmd, "--no-progress", "--jobs", "2", *args], env=toy_env(root, **env))
    return r, out


def govlib(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 300, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    """``python -m govlib ARGS`` in a subprocess (text output captured)."""
    return subprocess.run(
        [sys.executable, "-m", "govlib", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else dict(os.environ),
        timeout=timeout,
        cwd=cwd,
    )


def report_files(out: Path) -> list[str]:
    """Files under an output root, staging lock excepted (relative paths, sorted)."""
    if not out.exists():
        return []
    return sorted(
        str(p.relative_to(out))
        for p in out.rglob("*")
        if p.is_file() and not (p.parent.name == ".staging" and p.suffix == ".lock")
    )


# A fake full disk for every Python process of a run (runner, workers, kernels): a file opened for
# writing whose absolute path matches GOVLIB_TEST_FULL_DISK (a regex) is created, but each write
# fails with ENOSPC and no file name, as a real full disk does. Test-only: loaded as
# ``sitecustomize`` from PYTHONPATH (``full_disk_env``); govlib has no hook for it.
_FULL_DISK_SITECUSTOMIZE = """
import builtins, errno, io, os, re

_PATTERN = re.compile(os.environ["GOVLIB_TEST_FULL_DISK"])
_open = io.open


class _FullFile:
    def __init__(self, f):
        self._f = f

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    writelines = write

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._f.close()


def _fake_open(file, mode="r", *args, **kwargs):
    f = _open(file, mode, *args, **kwargs)
    if any(c in mode for c in "wax+") and isinstance(file, (str, bytes, os.PathLike)):
        if _PATTERN.search(os.path.abspath(os.fsdecode(file))):
            return _FullFile(f)
    return f


builtins.open = io.open = _fake_open
"""


def full_disk_env(tmp: Path, pattern: str) -> dict[str, str]:
    """Environment additions making writes to files matching ``pattern`` fail with ENOSPC (see above)."""
    site = tmp / "full_disk_site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(_FULL_DISK_SITECUSTOMIZE)
    path = os.pathsep.join([str(site)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    return {"PYTHONPATH": path, "GOVLIB_TEST_FULL_DISK": pattern}
