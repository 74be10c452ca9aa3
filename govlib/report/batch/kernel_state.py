"""Process state of a report kernel that runs several notebooks in turn (``govlib run``).

``govlib run`` keeps one warm Jupyter kernel per worker (:class:`govlib.report.batch.kernels.WarmKernel`)
instead of starting a fresh kernel for every report. This module is imported *inside* that
kernel: :func:`warm_kernel` imports what the report notebooks import and records the
kernel's pristine state; :func:`prepare_kernel` puts that state back before each notebook,
so a report cannot see what the previous one left behind.

What :func:`prepare_kernel` restores, and why each is enough:

- the IPython user namespace, ``In``/``Out`` and history (``InteractiveShell.reset(new_session=True)``,
  what ``%reset -f`` does plus a new history session) and ``execution_count`` = 1, so the
  executed notebook carries the execution counts of a fresh kernel;
- matplotlib: every figure closed, ``rcParams`` back to their value right after the imports
  (not ``rcdefaults()``, which would also drop the inline backend a fresh kernel has);
- warnings: the filter list of the snapshot, the "already shown" registries invalidated (a
  warning shown by the previous report is shown again);
- ``os.environ`` (the snapshot, then the variables of the task; ``time.tzset()``), the working
  directory, ``sys.path``, the root logger's handlers and level, numpy's floating-point error
  and print settings, and pandas' options.

Not restored: modules stay imported (that is the point) and their module-level caches
(``lru_cache`` of params, parsed message catalogs) stay filled; they are keyed by their
inputs. The report notebooks draw no random numbers from global generators (the bootstrap in
:mod:`govlib.metrics.effectiveness` uses ``numpy.random.default_rng(seed)``), so the global
RNGs are not reseeded: a fresh kernel seeds them from the OS anyway.
"""

from __future__ import annotations

import ast
import gc
import json
import logging
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

# imported lazily by govlib's functions, so a notebook's set-up cell does not name them
LAZY_MODULES = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "matplotlib",
    "matplotlib.pyplot",
    "scipy.stats",
    "scipy.special",
    "statsmodels.stats.proportion",
    "statsmodels.stats.rates",
    "statsmodels.stats.multitest",
    "lifelines",
    "babel",
    "babel.numbers",
    "babel.dates",
    # engine-side sections (ReportContext.expr): about 0.5 s CPU to import, paid once per warm kernel
    "duckdb",
    "ibis",
    "ibis.backends.duckdb",
)

_SNAPSHOT: dict[str, Any] | None = None


def list_notebook_imports(paths: list[str | Path]) -> list[str]:
    """The ``import`` / ``from ... import`` statements of the notebooks' code cells, in order, unique.

    Cells that are not Python (magics) are skipped; relative imports are left out.
    """
    out: list[str] = []
    for path in paths:
        try:
            nb = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for cell in nb.get("cells", []):
            if cell.get("cell_type") != "code":
                continue
            src = cell.get("source", "")
            src = "".join(src) if isinstance(src, list) else src
            try:
                tree = ast.parse(src)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level:
                    continue
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    stmt = ast.unparse(node)
                    if stmt not in out:
                        out.append(stmt)
    return out


def warm_kernel(notebooks: list[str] = (), modules: tuple[str, ...] = LAZY_MODULES) -> list[str]:
    """Import ``modules`` and every import of ``notebooks``, then :func:`snapshot_kernel`; return what failed.

    A failed import is not an error here (the notebook that needs it will fail on its own,
    as in a fresh kernel); the statements are run in a throw-away namespace.
    """
    import importlib

    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - warming is best effort
            failed.append(name)
    for stmt in list_notebook_imports(list(notebooks)):
        try:
            exec(stmt, {})  # noqa: S102 - import statements parsed from the project's own notebooks
        except Exception:  # noqa: BLE001
            failed.append(stmt)
    snapshot_kernel()
    return failed


def _pandas_options() -> dict[str, Any]:
    pd = sys.modules.get("pandas")
    if pd is None:
        return {}
    try:
        from pandas._config import config as pdc

        keys = [k for k in pdc._registered_options if k not in pdc._deprecated_options]
        return {k: pd.get_option(k) for k in keys}
    except Exception:  # noqa: BLE001 - private API: no option restore rather than a broken kernel
        return {}


def snapshot_kernel() -> None:
    """Record the state :func:`prepare_kernel` restores (call once, after the imports)."""
    global _SNAPSHOT
    snap: dict[str, Any] = {
        "environ": dict(os.environ),
        "cwd": os.getcwd(),
        "sys_path": list(sys.path),
        "warnings": list(warnings.filters),
        "pandas": _pandas_options(),
        "log_handlers": list(logging.root.handlers),
        "log_level": logging.root.level,
        "log_disable": logging.root.manager.disable,
    }
    if "matplotlib" in sys.modules:
        import matplotlib

        snap["rc"] = dict(matplotlib.rcParams.copy())  # as matplotlib.rc_context does
        snap["rc"].pop("backend", None)
    if "numpy" in sys.modules:
        import numpy

        snap["np_err"] = numpy.geterr()
        snap["np_print"] = numpy.get_printoptions()
    _SNAPSHOT = snap


def prepare_kernel(cwd: str, env: dict[str, str] | None = None) -> None:
    """Reset the kernel to its snapshot before the next notebook (see the module docstring).

    Run it with ``silent=True, store_history=False`` so that the call itself does not count.
    """
    if _SNAPSHOT is None:
        raise RuntimeError("prepare_kernel before snapshot_kernel: the kernel was not warmed")
    snap = _SNAPSHOT
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    try:
        from IPython import get_ipython

        ip = get_ipython()
    except ImportError:  # pragma: no cover - always inside IPython in a kernel
        ip = None
    if ip is not None:
        ip.reset(new_session=True)
    if "rc" in snap:
        import matplotlib

        # as matplotlib.rc_context restores: no validation, no deprecation warnings
        update_raw = getattr(matplotlib.rcParams, "_update_raw", None)
        if update_raw is not None:
            update_raw(snap["rc"])
        else:
            dict.update(matplotlib.rcParams, snap["rc"])
    warnings.filters[:] = snap["warnings"]
    # invalidate every module's __warningregistry__, so a warning shown by the previous report shows again
    mutated = getattr(warnings, "_filters_mutated", None)
    if mutated is not None:
        mutated()
    else:  # pragma: no cover - adding a filter bumps the registries' version too
        warnings.simplefilter("default", append=True)
        warnings.filters[:] = snap["warnings"]
    warnings.onceregistry.clear()
    if "np_err" in snap:
        import numpy

        numpy.seterr(**snap["np_err"])
        numpy.set_printoptions(**snap["np_print"])
    pd = sys.modules.get("pandas")
    for key, value in snap["pandas"].items():
        try:
            if pd.get_option(key) != value:
                pd.set_option(key, value)
        except Exception:  # noqa: BLE001, S110 - an option pandas refuses to set back stays as it is
            pass
    logging.root.handlers[:] = snap["log_handlers"]  # a notebook's basicConfig must not log into the next
    logging.root.setLevel(snap["log_level"])
    logging.disable(snap["log_disable"])
    os.environ.clear()
    os.environ.update(snap["environ"])
    os.environ.update(env or {})
    if hasattr(time, "tzset"):
        time.tzset()  # TZ may have changed back
    sys.path[:] = snap["sys_path"]
    os.chdir(cwd)
    gc.collect()
    if ip is not None:
        ip.execution_count = 1


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of a process (``VmRSS`` of ``/proc/<pid>/status``); 0 when unknown."""
    try:
        text = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    except OSError:
        try:
            import psutil

            return int(psutil.Process(pid or os.getpid()).memory_info().rss)
        except Exception:  # noqa: BLE001
            return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0
