"""The notebook outputs stored in git, which ``tests/test_notebooks.py`` (nbval) compares with.

Refresh them on the small demo data after changing a notebook::

    GOVLIB_DATA=data/demo .venv/bin/python -m govlib.report.batch.store [NOTEBOOK.ipynb ...]
"""

from __future__ import annotations

import os
from pathlib import Path

from govlib import config
from govlib.report.batch.kernels import ensure_kernel
from govlib.report.batch.worker import strip_run_metadata


def store_notebook_outputs(notebooks: list[Path] | None = None, timeout: int = 600) -> list[Path]:
    """Execute notebooks in place with their default parameters and strip run metadata.

    The outputs stored in git are what ``tests/test_notebooks.py`` (nbval) compares with;
    run this on the small demo data after changing a notebook::

        GOVLIB_DATA=data/demo .venv/bin/python -m govlib.report.batch.store

    Execution counts and outputs are deterministic; timestamps and durations are removed.
    """
    import nbformat
    from nbclient import NotebookClient

    kernel_name, kernel_env = ensure_kernel()
    os.environ.update(kernel_env)
    os.environ["PYTHONHASHSEED"] = "0"
    if not notebooks:
        from govlib.params import load_reports

        rp = load_reports()
        notebooks = [
            config.NOTEBOOKS_DIR / f"{n}.ipynb"
            for n in rp.market_notebooks + rp.rollup_notebooks + rp.expansion_notebooks
        ]
    paths = notebooks
    for path in paths:
        nb = nbformat.read(str(path), as_version=4)
        NotebookClient(
            nb,
            timeout=timeout,
            kernel_name=kernel_name,
            record_timing=False,
            resources={"metadata": {"path": str(config.NOTEBOOKS_DIR)}},
        ).execute()
        strip_run_metadata(nb)
        nb.metadata.pop("papermill", None)
        nb.metadata.pop("widgets", None)
        nbformat.write(nb, str(path))
    return list(paths)


if __name__ == "__main__":
    import sys

    for p in store_notebook_outputs([Path(a) for a in sys.argv[1:]] or None):
        print(f"stored outputs of {p}")
