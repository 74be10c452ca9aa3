"""``govlib run``: the month's reports for every market, executed with papermill.

::

    govlib run --month 2026-10 [--markets all|GB,DE] [--reports market_report,...]
               [--data DIR] [--out reports] [--jobs N] [--lang en_GB] [--resume] [--fresh-kernels]

What a run does, in order:

1. **Validates its inputs** before doing anything: the month, market codes (against
   ``params/markets``), report names (against ``params/reports.yaml``), the data
   directory, the output directory (writable), the language (a catalog in ``locales/``) and
   ``--jobs``, before any folder or lock is created. Paths given on the command line are
   the user's to choose. Every value later injected into a notebook is validated again by
   :func:`validate_notebook_parameters` (a market code, a month, a language tag, paths of
   existing directories without control characters), so a crafted value can never become
   code in papermill's injected cell.
2. **Builds each market's cube once** (:func:`govlib.report.cube.build_cube`), shared by
   that market's notebooks; a cached cube is reused when data, params and code are
   unchanged.
3. **Executes each (market, notebook)** with papermill in long-lived worker processes (at
   most ``--jobs`` at a time, default the number of cores), each keeping one warm kernel
   that is reset between notebooks (:class:`WarmKernel`; ``--fresh-kernels`` starts a
   kernel per notebook instead), with a per-notebook timeout from ``reports.yaml`` (the
   worker is killed when it runs out, and its kernel exits with it), then exports the
   self-contained HTML (:mod:`govlib.report.html`).
4. **Publishes atomically**: everything is written under ``<out>/.staging/`` and each
   market folder is renamed into ``<out>/<YYYY-MM>/<MARKET>/`` once all its notebooks
   are done, so a folder a reader finds is complete. Then the roll-up notebooks run
   into ``<out>/<YYYY-MM>/EMEA/``, and ``<out>/<YYYY-MM>/kpis.csv`` (all markets) and
   ``index.html`` (every report, status, duration, errors) are replaced atomically.
   A market's (or the roll-up's) new folder replaces the published one only when all of
   its reports succeeded: otherwise the published folder is kept untouched and the index
   lists its reports as "from the previous run" (when, and this run's error). Workers die
   with the runner (``PR_SET_PDEATHSIG`` on Linux; a worker whose runner is gone exits
   before writing anything), so a killed runner leaves only its staging folder.
5. **Isolates failures**: a failing (market, notebook) is recorded in the index with its
   error's first lines and a link to the failing cell; the others complete; the command
   exits 1 at the end. A market whose cube cannot be built (e.g. a corrupt file) gets
   no new folder, only its error in the index. A full disk (``ENOSPC``) while writing is
   reported as ``no space left on <path>`` and fails the market (or the run, for the
   month's ``kpis.csv`` / ``index.html``), never publishing a half-written file.

``--resume`` skips every (market, notebook) whose published output has a manifest
(``<notebook>.manifest.json``) with the same input key: data fingerprint, market
params, month, language, notebook source and govlib code version.
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import hashlib
import html as _html
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from govlib import config
from govlib.errors import GovlibError, UsageError
from govlib.timeutil import parse_month

ROLLUP_FOLDER = "EMEA"
STAGING = ".staging"
KERNEL_NAME = "python3"
# \Z, not $ (which also matches before a trailing newline); ASCII digits only
_MARKET = re.compile(r"^[A-Z]{2}\Z")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])\Z", re.ASCII)
_LANG = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?\Z")
_NOTEBOOK = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class RunError(GovlibError):
    """The batch could not start (another run holds the lock, the kernel is missing...)."""


# ---------------------------------------------------------------------------------------
# input validation


class DiskFull(GovlibError):
    """No space left (``ENOSPC``, or a disk quota: ``EDQUOT``) while writing ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        super().__init__(f"no space left on {path}: free space on its file system and run again "
                         "(--resume reuses the reports already done)")


def _is_disk_full(exc: BaseException | None) -> bool:
    """``exc`` or one of its causes is an out-of-space ``OSError`` (pyarrow's carry only the text)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and (exc.errno in (errno.ENOSPC, errno.EDQUOT)
                                         or "No space left on device" in str(exc)):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


@contextmanager
def _writing(path: str | Path):
    """Turn an out-of-space error of the writes in this block into :class:`DiskFull` naming ``path``."""
    try:
        yield
    except OSError as exc:
        if _is_disk_full(exc):
            raise DiskFull(path) from exc
        raise


def check_path(value: str | Path, what: str, *, must_exist: bool = False) -> Path:
    """Resolve a path (``~`` and symlinks expanded); raise :class:`UsageError` for a malformed one.

    A path the user gives is theirs to choose: it may lie anywhere. Refused: an empty value,
    control characters (a newline could end papermill's injected line), and with
    ``must_exist`` anything but an existing directory.
    """
    text = str(value)
    if not text or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise UsageError(f"{what} {text!r} is empty or contains control characters")
    p = Path(text).expanduser().resolve()
    if must_exist and not p.is_dir():
        raise UsageError(f"{what} {p} does not exist or is not a directory")
    return p


def check_output_dir(value: str | Path) -> Path:
    """:func:`check_path` for an output root, which must be creatable and writable (nothing is created here)."""
    out = check_path(value, "output directory")
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"cannot write to {out}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to {out}: permission denied")
    return out


def check_language(lang: str) -> str:
    """``--lang``: a language tag with a translation catalog (``locales/<ll_TT>/LC_MESSAGES/govlib.po``)."""
    from govlib.report.i18n import I18nError, catalog_path, normalize_language

    shipped = sorted(p.parent.parent.name for p in Path(config.LOCALES_DIR).glob("*/LC_MESSAGES/govlib.po"))
    hint = f"; catalogs: {', '.join(shipped) or 'none (see docs/i18n.md)'}"
    if not _LANG.match(lang):
        raise UsageError(f"--lang {lang!r} is not a language tag such as en_GB or de_DE" + hint)
    try:
        name = normalize_language(lang)
    except I18nError:
        raise UsageError(f"--lang {lang}: unknown language" + hint) from None
    if not catalog_path(name).is_file():
        raise UsageError(f"--lang {lang}: no translation catalog {catalog_path(name)}" + hint)
    return lang


def validate_notebook_parameters(params: dict[str, Any]) -> dict[str, str]:
    """Check every value papermill will inject into a notebook; return them unchanged.

    Allowed keys and forms: ``market`` (``^[A-Z]{2}$``), ``markets`` (comma-separated
    market codes), ``failed_markets`` (same), ``month`` (``YYYY-MM``), ``lang`` (empty or
    ``xx`` / ``xx_YY``), ``data_dir`` and ``cube_path`` (empty or an existing directory,
    no control characters: :func:`check_path`). Anything else is a :class:`UsageError`.

    Notes
    -----
    papermill writes parameters as Python literals; validating them to these narrow
    forms first means no value can carry code or a newline into the cell (a path's
    quotes are escaped by papermill's string literal).
    """
    out: dict[str, str] = {}
    for key, value in params.items():
        if not isinstance(value, str):
            raise UsageError(f"notebook parameter {key!r} must be a string, got {type(value).__name__}")
        if key == "market":
            ok = bool(_MARKET.match(value))
        elif key in ("markets", "failed_markets"):
            ok = value == "" or all(_MARKET.match(v) for v in value.split(","))
        elif key == "month":
            ok = bool(_MONTH.match(value))
        elif key == "lang":
            ok = value == "" or bool(_LANG.match(value))
        elif key in ("data_dir", "cube_path"):
            ok = True
            if value:
                check_path(value, f"notebook parameter {key}", must_exist=True)
        else:
            raise UsageError(f"unknown notebook parameter {key!r}")
        if not ok:
            raise UsageError(f"notebook parameter {key}={value!r} is not valid")
        out[key] = value
    return out


def parse_markets(text: str, known: list[str]) -> list[str]:
    """``"all"`` or a comma-separated list of known market codes -> sorted codes."""
    if text.strip().lower() == "all":
        return list(known)
    markets = [m.strip() for m in text.split(",") if m.strip()]
    if not markets:
        raise UsageError("--markets is empty; use 'all' or codes such as GB,DE")
    bad = [m for m in markets if m not in known]
    if bad:
        hint = [m.upper() for m in bad if m.upper() in known]
        raise UsageError(
            f"unknown market(s) {', '.join(bad)}; known: {', '.join(known)}"
            + (f" (codes are upper case: {', '.join(hint)})" if hint else "")
        )
    return sorted(set(markets))


def parse_reports(text: str | None, market_nbs: list[str], rollup_nbs: list[str]) -> tuple[list[str], list[str]]:
    """Restrict the configured notebooks to ``--reports`` (comma-separated names)."""
    if not text:
        return list(market_nbs), list(rollup_nbs)
    wanted = [r.strip().removesuffix(".ipynb") for r in text.split(",") if r.strip()]
    known = market_nbs + rollup_nbs
    bad = [r for r in wanted if r not in known]
    if bad:
        raise UsageError(f"unknown report(s) {', '.join(bad)}; params/reports.yaml lists: {', '.join(known)}")
    return [r for r in market_nbs if r in wanted], [r for r in rollup_nbs if r in wanted]


# ---------------------------------------------------------------------------------------
# kernel


def ensure_kernel() -> tuple[str, dict[str, str]]:
    """Kernel name and extra environment so that notebooks run on *this* interpreter.

    The ``python3`` kernel spec is used when it starts this interpreter (a spec whose
    command is plain ``python`` is resolved by jupyter_client to the running one). When it
    is missing or shadowed by a spec of another Python, a private spec
    ``govlib-python3`` is written under ``<cache>/jupyter/kernels`` and put on
    ``JUPYTER_PATH`` for the workers.
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    me = Path(sys.executable).resolve()
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        exe = spec.argv[0]
        if exe in ("python", f"python{sys.version_info[0]}", "python%d.%d" % sys.version_info[:2]):
            return KERNEL_NAME, {}
        if Path(exe).resolve() == me:
            return KERNEL_NAME, {}
    except NoSuchKernel:
        pass
    base = Path(config.CACHE_DIR) / "jupyter"
    kdir = base / "kernels" / "govlib-python3"
    kdir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [str(me), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (govlib)",
        "language": "python",
    }
    (kdir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    path = os.pathsep.join([str(base)] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p])
    return "govlib-python3", {"JUPYTER_PATH": path}


# ---------------------------------------------------------------------------------------
# keys and manifests


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _catalog_hash(lang: str) -> str:
    h = hashlib.sha256()
    for p in sorted(Path(config.LOCALES_DIR).glob("*/LC_MESSAGES/*.po")):  # what translators read (i18n.py)
        h.update(p.as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def notebook_key(cube_key: str, notebook: Path, lang: str, extra: str = "") -> dict:
    """Inputs of one notebook output; equal inputs -> the output can be reused (``--resume``)."""
    from govlib.config import code_version

    inputs = {
        "cube": cube_key,
        "notebook": notebook.stem,
        "notebook_sha": _sha(notebook.read_bytes()),
        "lang": lang,
        "catalogs": _catalog_hash(lang),
        "code_version": code_version(),
        "extra": extra,
    }
    inputs["key"] = _sha(json.dumps(inputs, sort_keys=True).encode())
    return inputs


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------
# workers (each a separate process: `python -m govlib.report.runner --worker TASK.json`)


def _strip_run_metadata(nb) -> None:
    """Remove what differs between two runs on the same inputs (times, durations, paths of staging)."""
    pm = nb.metadata.get("papermill", {})
    nb.metadata["papermill"] = {k: pm[k] for k in ("parameters", "default_parameters", "exception") if k in pm}
    for i, cell in enumerate(nb.cells):
        tags = cell.metadata.get("tags", [])
        # papermill adds cells with random ids (injected parameters, error banners): make them stable
        if "injected-parameters" in tags:
            cell["id"] = "injected-parameters"
        elif any(t.startswith("papermill-error") for t in tags):
            cell["id"] = f"papermill-error-{i}"
        cell.metadata.pop("execution", None)
        cpm = cell.metadata.get("papermill")
        if cpm is not None:
            cell.metadata["papermill"] = {k: cpm[k] for k in ("exception", "status") if k in cpm}


def _error_summary(exc: BaseException, max_lines: int = 6, path: str | Path | None = None) -> str:
    if _is_disk_full(exc):  # "no space left on <path>", not the library's traceback
        return str(DiskFull(path or getattr(exc, "filename", None) or "the disk"))
    tb = getattr(exc, "traceback", None)
    ename, evalue = getattr(exc, "ename", None), getattr(exc, "evalue", None)
    if ename is not None:
        lines = [f"{ename}: {evalue}"]
        cell = getattr(exc, "exec_count", None)
        if cell is not None:
            lines.append(f"in cell [{cell}]")
        if tb:
            tail = [ln for ln in _ANSI.sub("", "\n".join(tb)).splitlines() if ln.strip()]
            lines += tail[-(max_lines - len(lines)):] if len(tail) > 0 else []
        return "\n".join(lines[:max_lines])
    if isinstance(exc, GovlibError):  # already a message meant for users
        return str(exc).strip()[:2000]
    return f"{type(exc).__name__}: {exc}".strip()[:2000]


def _worker_cube(task: dict) -> dict:
    from govlib.report.cube import build_cube

    path = build_cube(task["data_dir"], task["market"], task["month"], cache_dir=task.get("cache_dir"))
    return {"status": "ok", "cube_path": str(path)}


# ---------------------------------------------------------------------------------------
# warm kernels: one kernel per worker process, reused from notebook to notebook

KERNEL_MAX_REPORTS = 50  # notebooks one kernel runs before it is replaced (GOVLIB_KERNEL_MAX_REPORTS)
KERNEL_MAX_RSS_MB = 3072  # a kernel above this resident size is replaced (GOVLIB_KERNEL_MAX_RSS_MB)
KERNEL_HISTORY = "--HistoryManager.hist_file=:memory:"  # as nbclient starts kernels: no history on disk


def fresh_kernels_requested(flag: bool | None = None) -> bool:
    """``--fresh-kernels`` given, or else ``GOVLIB_FRESH_KERNELS`` set to 1/true/yes/on."""
    if flag:
        return True
    return os.environ.get("GOVLIB_FRESH_KERNELS", "").strip().lower() in ("1", "true", "yes", "on")


class KernelGone(RuntimeError):
    """The warm kernel died or stopped answering."""


def _kernel_manager_class():
    """``AsyncKernelManager`` (nbclient's default) that remembers the clients opened on it.

    papermill's client does not close the client it opens on a kernel it does not own
    (nbclient ``setup_kernel``: ``cleanup_kc`` defaults to ``owns_km``); the worker closes
    them after each notebook so that sockets do not pile up over 50 notebooks.
    """
    global _KM_CLASS
    if _KM_CLASS is None:
        from jupyter_client.manager import AsyncKernelManager

        class _TrackingKernelManager(AsyncKernelManager):
            def client(self, **kwargs):
                kc = super().client(**kwargs)
                self.__dict__.setdefault("_govlib_clients", []).append(kc)
                return kc

            def close_clients(self) -> None:
                for kc in self.__dict__.pop("_govlib_clients", []):
                    try:
                        kc.stop_channels()
                    except Exception:  # noqa: BLE001, S110 - closing sockets of a dead kernel
                        pass

        _KM_CLASS = _TrackingKernelManager
    return _KM_CLASS


_KM_CLASS = None


class WarmKernel:
    """The one Jupyter kernel a worker process keeps and runs its notebooks in, one after the other.

    Started on the first notebook and warmed (:func:`govlib.report.kernel_state.warm_kernel`:
    numpy, pandas, matplotlib/pyplot, scipy/statsmodels/lifelines and every import statement
    of the run's notebooks), so no report pays for the imports. Before each notebook
    :func:`govlib.report.kernel_state.prepare_kernel` resets it (user namespace, figures,
    rcParams, warnings filters, environment, cwd, ``execution_count`` = 1), run silently so
    the executed notebook is the one a fresh kernel gives. papermill runs the notebook in it
    through nbclient's ``km=`` (a kernel manager papermill does not own is not shut down).

    The kernel is replaced (killed; a new one is started and warmed before the next
    notebook) after a notebook that failed (a cell error, a timeout: the kernel may still be
    busy), when it died, after ``max_reports`` notebooks, or when its resident size after
    the reset exceeds ``max_rss_mb``, so a leak cannot accumulate.

    Parameters
    ----------
    kernel_name : str
        Kernel spec (:func:`ensure_kernel`).
    max_reports : int, optional
        Default ``GOVLIB_KERNEL_MAX_REPORTS`` or :data:`KERNEL_MAX_REPORTS`.
    max_rss_mb : int, optional
        Default ``GOVLIB_KERNEL_MAX_RSS_MB`` or :data:`KERNEL_MAX_RSS_MB`.
    """

    def __init__(self, kernel_name: str, max_reports: int | None = None, max_rss_mb: int | None = None,
                 startup_timeout: float = 300.0) -> None:
        self.kernel_name = kernel_name
        self.max_reports = int(max_reports or os.environ.get("GOVLIB_KERNEL_MAX_REPORTS") or KERNEL_MAX_REPORTS)
        self.max_rss = int(max_rss_mb or os.environ.get("GOVLIB_KERNEL_MAX_RSS_MB") or KERNEL_MAX_RSS_MB) * 2**20
        self.startup_timeout = startup_timeout
        self.km = None
        self.kc = None  # shell-only blocking client for the silent warm-up / reset commands
        self.reports = 0  # notebooks run in the current kernel
        self.replacements: list[str] = []  # why each earlier kernel was replaced

    @property
    def pid(self) -> int | None:
        return getattr(getattr(self.km, "provisioner", None), "pid", None)

    def _alive(self) -> bool:
        from jupyter_core.utils import run_sync

        try:
            return self.km is not None and bool(run_sync(self.km.is_alive)())
        except Exception:  # noqa: BLE001
            return False

    def _execute(self, code: str, timeout: float) -> dict:
        """Run ``code`` silently (no history, no execution count, no output kept); its reply's content."""
        import queue

        msg_id = self.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.kc.get_shell_msg(timeout=1.0)
            except queue.Empty:
                if not self._alive():
                    raise KernelGone(f"kernel {self.pid} died") from None
                if time.monotonic() > deadline:
                    raise KernelGone(f"kernel {self.pid} did not answer within {timeout:.0f} s") from None
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            content = msg["content"]
            if content.get("status") != "ok":
                raise KernelGone(f"kernel command failed: {content.get('ename')}: {content.get('evalue')}")
            return content

    def _start(self, task: dict) -> None:
        from jupyter_client.blocking import BlockingKernelClient
        from jupyter_core.utils import run_sync

        km = _kernel_manager_class()(kernel_name=self.kernel_name)
        self.km, self.reports = km, 0
        run_sync(km.start_kernel)(extra_arguments=[KERNEL_HISTORY], cwd=task["cwd"])
        kc = BlockingKernelClient()
        kc.load_connection_info(km.get_connection_info())  # its own session: the same key, its own digests
        kc.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        self.kc = kc
        notebooks = [str(p) for p in task.get("warm_notebooks", [task["input"]])]
        self._execute(f"__import__('govlib.report.kernel_state', fromlist=['warm_kernel']).warm_kernel({notebooks!r})",
                      self.startup_timeout)

    def shutdown(self, why: str = "") -> None:
        """Kill the kernel (if any); the next :meth:`prepare` starts a new one."""
        from jupyter_core.utils import run_sync

        if why and self.km is not None:
            self.replacements.append(why)
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:  # noqa: BLE001, S110 - closing sockets of a dead kernel
                pass
            self.kc = None
        km, self.km = self.km, None
        if km is None:
            return
        km.close_clients()
        pid = getattr(km.provisioner, "pid", None)
        try:
            run_sync(km.shutdown_kernel)(now=True)
        except Exception:  # noqa: BLE001 - make sure it is gone anyway
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def prepare(self, task: dict) -> None:
        """A warm, reset kernel for ``task`` (starts or replaces one as needed); raise if none can start."""
        from govlib.report.kernel_state import rss_bytes

        if self.km is not None and not self._alive():
            self.shutdown("kernel died")
        elif self.km is not None and self.reports >= self.max_reports:
            self.shutdown(f"ran {self.reports} notebooks")
        reset = (f"__import__('govlib.report.kernel_state', fromlist=['prepare_kernel'])"
                 f".prepare_kernel({task['cwd']!r}, {dict(task.get('env') or {})!r})")
        for attempt in range(3):
            try:
                if self.km is None:
                    self._start(task)
                self._execute(reset, timeout=120)
            except Exception:
                self.shutdown("kernel failed to start or reset")
                if attempt == 2:
                    raise
                continue
            rss = rss_bytes(self.pid) if self.pid else 0
            if self.reports and rss > self.max_rss:
                self.shutdown(f"resident size {rss / 2**20:.0f} MB")
                continue
            return

    def finish(self, ok: bool, why: str = "") -> None:
        """After a notebook: close papermill's client; replace the kernel unless the notebook succeeded."""
        self.reports += 1
        if self.km is not None:
            self.km.close_clients()
        if not ok:
            self.shutdown(why or "the notebook failed")


_WARM_KERNEL: WarmKernel | None = None


def _failure_kind(exc: BaseException) -> str:
    """Why a notebook's execution failed, for the kernel's replacement record."""
    names = {c.__name__ for c in type(exc).__mro__}
    if "DeadKernelError" in names:
        return "kernel died"
    if "CellTimeoutError" in names or "TimeoutError" in names:
        return "timed out"
    return "cell error"


def _worker_notebook(task: dict, kernel: WarmKernel | None = None) -> dict:
    """Execute one notebook with papermill (in ``kernel`` when given, else a fresh kernel), export its HTML."""
    import papermill as pm

    out_nb = Path(task["output"])
    status, error, extra, info, disk_full = "ok", "", {}, {}, False
    saved_env: dict[str, str | None] = {}
    if kernel is not None:
        try:
            kernel.prepare(task)
        except Exception as exc:  # noqa: BLE001
            return {"status": "failed", "error": "could not start the report kernel: " + _error_summary(exc)}
        extra["km"] = kernel.km
        info = {"kernel_pid": kernel.pid, "kernel_run": kernel.reports + 1}
    else:  # a fresh kernel inherits the worker's environment: the task's variables for this notebook only
        for k, v in (task.get("env") or {}).items():
            saved_env[k] = os.environ.get(k)
            os.environ[k] = v
    why = ""
    try:
        pm.execute_notebook(
            task["input"],
            str(out_nb),
            parameters=task["parameters"],
            kernel_name=task["kernel_name"],
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=True,
            execution_timeout=task["timeout"],
            cwd=task["cwd"],
            **extra,
        )
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, not raised
        status, error, why = "failed", _error_summary(exc, path=out_nb), _failure_kind(exc)
        disk_full = _is_disk_full(exc)
    finally:
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if kernel is not None:
            kernel.finish(status == "ok", why)
    status, error, disk_full = _finish_outputs(task, out_nb, status, error, disk_full)
    return {"status": status, "error": error, **info, **({"disk_full": True} if disk_full else {})}


def _finish_outputs(task: dict, out_nb: Path, status: str, error: str, disk_full: bool) -> tuple[str, str, bool]:
    """Strip the executed notebook's run metadata and export its HTML; a full disk deletes both (half-written)."""
    import nbformat

    from govlib.report.html import export_html

    html = out_nb.with_suffix(".html")
    if out_nb.exists() and not disk_full:
        step, target = "", out_nb
        try:
            nb = nbformat.read(str(out_nb), as_version=4)
            _strip_run_metadata(nb)
            nbformat.write(nb, str(out_nb))
            step, target = "HTML export: ", html
            export_html(nb, html, title=task["title"], language=task["html_lang"],
                        toc_title=task.get("toc_title", "Contents"))
        except Exception as exc:  # noqa: BLE001
            status, disk_full = "failed", _is_disk_full(exc)
            error = (error + "\n" if error else "") + step + _error_summary(exc, path=target)
    if disk_full:
        out_nb.unlink(missing_ok=True)
        html.unlink(missing_ok=True)
    return status, error, disk_full


def _runner_gone() -> bool:
    """The runner that started this worker (``GOVLIB_RUNNER_PID``) is no longer its parent: it died."""
    pid = os.environ.get("GOVLIB_RUNNER_PID", "")
    return pid.isdigit() and os.getppid() != int(pid)


def _exit_if_orphan(task: dict | None = None) -> None:
    """An orphaned worker writes nothing more: it deletes the task's outputs, stops its kernel and exits."""
    if not _runner_gone():
        return
    if task is not None and task.get("kind") == "notebook":
        for p in (Path(task["output"]), Path(task["output"]).with_suffix(".html")):
            p.unlink(missing_ok=True)
    if _WARM_KERNEL is not None:
        _WARM_KERNEL.shutdown()
    os._exit(1)


def _die_with_runner() -> None:
    """Have Linux SIGKILL this worker when its runner dies (``PR_SET_PDEATHSIG``); exit now if it already did.

    The signal is tied to the runner's thread that started the worker: the runner keeps
    that thread (its pool's) until the workers are closed. The kernel of a killed worker
    exits within a second (ipykernel's parent poller, ``JPY_PARENT_PID``).
    """
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # no prctl: the orphan checks still hold
            pass
    _exit_if_orphan()


def _worker_main(task_path: str, warm: bool = False) -> str:
    """Run one task file and write its result file; ``warm``: notebooks run in the worker's :class:`WarmKernel`.

    Returns ``""``, or the error when the result file could not be written (a full disk).
    """
    global _WARM_KERNEL
    task = json.loads(Path(task_path).read_text(encoding="utf-8"))
    t0 = time.monotonic()
    try:
        if task["kind"] == "cube":
            result = _worker_cube(task)
        else:
            kernel = None
            if warm and not task.get("fresh_kernel"):
                if _WARM_KERNEL is None or _WARM_KERNEL.kernel_name != task["kernel_name"]:
                    if _WARM_KERNEL is not None:
                        _WARM_KERNEL.shutdown()
                    _WARM_KERNEL = WarmKernel(task["kernel_name"])
                kernel = _WARM_KERNEL
            result = _worker_notebook(task, kernel)
    except Exception as exc:  # noqa: BLE001
        import traceback

        result = {"status": "failed", "error": _error_summary(exc, path=task.get("cache_dir") or task.get("output")),
                  "traceback": traceback.format_exc(), **({"disk_full": True} if _is_disk_full(exc) else {})}
    result["duration"] = round(time.monotonic() - t0, 3)
    _exit_if_orphan(task)  # the runner died while the task ran: nothing of it is written
    tmp = Path(task["result"] + ".tmp")
    try:
        with _writing(task["result"]):
            tmp.write_text(json.dumps(result), encoding="utf-8")
            os.replace(tmp, task["result"])
    except DiskFull as exc:
        tmp.unlink(missing_ok=True)
        return str(exc)
    return ""


def _worker_loop() -> int:
    """A long-lived worker: run each task path read from stdin, answer ``done`` on stdout; stop at end of input.

    The libraries every task needs are imported once, here. Each task's stderr goes to the
    file its task names (``stderr``), as with one process per task. Notebooks run in the
    worker's :class:`WarmKernel` unless ``GOVLIB_FRESH_KERNELS`` is set (``--fresh-kernels``)
    or the task asks for a fresh kernel; the kernel is shut down at end of input. A worker
    killed by :class:`_Procs` takes its kernel along: ipykernel exits when its parent
    process is gone (``JPY_PARENT_PID``). The worker itself dies with the runner
    (:func:`_die_with_runner`) and never writes a result for a dead runner.
    """
    _die_with_runner()
    import papermill  # noqa: F401  (imported once for all the worker's tasks)

    import govlib.report.html  # noqa: F401

    warm = not fresh_kernels_requested()
    # the protocol has fd 1 to itself: anything a library prints goes to the task's stderr file
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    try:
        for raw in sys.stdin.buffer:
            task_path = raw.decode().strip()
            if not task_path:
                continue
            err_path = json.loads(Path(task_path).read_text(encoding="utf-8")).get("stderr")
            if err_path:
                sys.stdout.flush()
                sys.stderr.flush()
                with open(err_path, "wb") as fh:
                    os.dup2(fh.fileno(), 1)
                    os.dup2(fh.fileno(), 2)
            try:
                failure = _worker_main(task_path, warm=warm)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            # no result file (a full disk): the error goes over the pipe instead, on one line
            out.write(b"error " + " ".join(failure.split()).encode()[:2000] + b"\n" if failure else b"done\n")
    finally:
        if _WARM_KERNEL is not None:
            _WARM_KERNEL.shutdown()
    return 0


class _Procs:
    """Worker processes of a batch: one long-lived worker per job slot (thread), killable by process group.

    A worker (``python -m govlib.report.runner --worker-loop``) imports papermill, nbconvert
    and pandas once (about 2.5 s of CPU) and then runs the tasks its slot hands it, one at a
    time, the notebooks in one warm kernel it keeps (:class:`WarmKernel`), or each in a
    fresh kernel with ``--fresh-kernels``. A worker that
    dies or overruns its task's timeout is killed with its process group and replaced for
    the next task, so a failure still stays with its task.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.alive: set[subprocess.Popen] = set()
        self.stopping = False
        self.local = threading.local()

    def _worker(self, env: dict[str, str]) -> subprocess.Popen | None:
        proc = getattr(self.local, "proc", None)
        if proc is not None and proc.poll() is None:
            return proc
        with self.lock:
            if self.stopping:
                return None
            proc = subprocess.Popen(
                [sys.executable, "-m", "govlib.report.runner", "--worker-loop"],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # each task's stderr goes to its own file (see _worker_loop)
                bufsize=0,
                start_new_session=True,  # own process group: a kill takes the whole worker
            )
            self.alive.add(proc)
        self.local.proc = proc
        return proc

    def _drop(self, proc: subprocess.Popen) -> None:
        self._kill(proc)
        with self.lock:
            self.alive.discard(proc)
        self.local.proc = None

    def run(self, task: dict, env: dict[str, str], timeout: float) -> dict:
        tdir = Path(task["result"]).parent
        stem = Path(task["result"]).stem
        task_path = tdir / (stem + ".task.json")
        task["stderr"] = str(tdir / (stem + ".stderr.txt"))
        try:
            with _writing(task_path):
                task_path.write_text(json.dumps(task), encoding="utf-8")
        except DiskFull as exc:
            return {"status": "failed", "error": str(exc), "disk_full": True, "duration": 0.0}
        t0 = time.monotonic()
        proc = self._worker(env)
        if proc is None:
            return {"status": "failed", "error": "run interrupted", "duration": 0.0}
        timed_out, line = False, b""
        try:
            proc.stdin.write(str(task_path).encode() + b"\n")
            deadline = t0 + timeout
            while True:
                ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
                if ready:
                    line = proc.stdout.readline()  # "done" or b"" when the worker died
                    break
                if time.monotonic() >= deadline:
                    timed_out = True
                    break
        except (BrokenPipeError, ValueError, OSError):
            line = b""
        if timed_out or not line:
            self._drop(proc)
        duration = round(time.monotonic() - t0, 3)
        if task["kind"] == "notebook" and (timed_out or _read_json(Path(task["result"])) is None):
            # a killed worker leaves a half-executed notebook (saved cell by cell): never publish it
            for partial in (Path(task["output"]), Path(task["output"]).with_suffix(".html")):
                partial.unlink(missing_ok=True)
        if timed_out:
            return {"status": "failed", "error": f"timed out after {timeout:.0f} s (timeout_seconds in params/reports.yaml)",
                    "duration": duration}
        if line.startswith(b"error "):  # the worker could not write its result file
            return {"status": "failed", "error": line[6:].decode(errors="replace").strip(), "disk_full": True,
                    "duration": duration}
        result = _read_json(Path(task["result"]))
        if result is None:
            try:
                err = Path(task["stderr"]).read_text(errors="replace").strip().splitlines()
            except OSError:
                err = []
            why = f"worker died (exit code {proc.returncode})" if proc.returncode else "worker wrote no result"
            return {"status": "failed", "error": "\n".join([why] + err[-4:]), "duration": duration}
        result["duration"] = duration
        return result

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def kill_all(self) -> None:
        with self.lock:
            self.stopping = True
            procs = list(self.alive)
        for p in procs:
            self._kill(p)

    def close_all(self) -> None:
        """End idle workers (end of input); kill any that does not exit promptly."""
        with self.lock:
            self.stopping = True
            procs = list(self.alive)
            self.alive.clear()
        for p in procs:
            try:
                p.stdin.close()
                p.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self._kill(p)


# ---------------------------------------------------------------------------------------
# the batch


@dataclass
class Outcome:
    """One (market, notebook) of a run, as shown in the index."""

    market: str
    report: str
    status: str  # ok | failed | reused | skipped
    duration: float = 0.0
    error: str = ""
    html: str = ""  # relative to the month folder
    notebook: str = ""
    kernel_pid: int | None = None  # the kernel that ran it (warm kernels only; run metadata, not published)


@dataclass
class BatchResult:
    month: str
    month_dir: Path
    outcomes: list[Outcome] = field(default_factory=list)
    market_errors: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # markets of the data not reported, and why
    published: set[str] = field(default_factory=set)  # folders (markets, EMEA) this run replaced

    @property
    def ok(self) -> bool:
        return not self.market_errors and all(o.status in ("ok", "reused") for o in self.outcomes)

    @property
    def index(self) -> Path:
        return self.month_dir / "index.html"

    def kept(self) -> set[str]:
        """Folders this run ran but did not replace (a report failed): their previous run stays published."""
        ran = {o.market for o in self.outcomes} | set(self.market_errors)
        return {f for f in ran - self.published if (self.month_dir / f).is_dir()}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale(out: Path, month_dir: Path) -> None:
    staging = out / STAGING
    if staging.exists():
        for d in staging.iterdir():
            m = re.match(r"^\d{4}-\d{2}-(\d+)$", d.name)
            if d.is_dir() and m and not _pid_alive(int(m.group(1))):
                shutil.rmtree(d, ignore_errors=True)
    if month_dir.exists():  # called under the month's lock: no other run is publishing into month_dir
        for d in month_dir.glob(".*.old-*"):
            m = re.match(r"^\.(.+)\.old-\d+\Z", d.name)
            if m and not (month_dir / m.group(1)).exists():
                os.rename(d, month_dir / m.group(1))  # a run killed between _publish_dir's renames: put it back
            else:
                shutil.rmtree(d, ignore_errors=True)


def _publish_dir(src: Path, dest: Path) -> None:
    """Replace ``dest`` by ``src`` with renames: ``dest`` is at any moment the old or the new folder, or absent."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    old = dest.parent / f".{dest.name}.old-{os.getpid()}"
    if dest.exists():
        os.rename(dest, old)
    try:
        os.rename(src, dest)
    except OSError:
        if old.exists():
            os.rename(old, dest)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _publish_or_keep(src: Path, dest: Path, result: BatchResult, *, failed: bool, complete: bool = True) -> None:
    """Publish ``src`` at ``dest`` unless that would replace published reports by failed ones.

    ``failed``: some report of the folder failed in this run; then a published ``dest`` is
    kept untouched (:func:`render_index` lists it as the previous run). With nothing
    published yet, a ``complete`` folder is published with its failed reports (their HTML
    shows the error); an incomplete one (a write failed) never is.
    """
    if failed and (dest.exists() or not complete):
        return
    _publish_dir(src, dest)
    result.published.add(dest.name)


def _translator(lang: str):
    try:
        from govlib.report.i18n import get_translator

        return get_translator(lang).gettext
    except Exception:  # noqa: BLE001 - the index falls back to the source language
        return lambda s: s


def run_batch(
    month: str,
    markets: str = "all",
    reports: str | None = None,
    data_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    jobs: int | None = None,
    lang: str = "",
    resume: bool = False,
    progress: bool = True,
    fresh_kernels: bool | None = None,
) -> BatchResult:
    """Run the month's reports; see the module docstring. Returns what happened to each report.

    ``fresh_kernels``: start a fresh kernel for every notebook instead of reusing one warm
    kernel per worker (:class:`WarmKernel`); default ``GOVLIB_FRESH_KERNELS``.

    Raises
    ------
    UsageError
        A malformed or unknown input (nothing is written).
    RunError
        Another run of the same month and output folder is in progress.
    """
    from govlib.params import list_markets, load_market, load_reports
    from govlib.config import code_version
    from govlib.report.cube import cube_dir, cube_inputs, hash_inputs, load_cube

    code_version.cache_clear()  # the code may have changed since this process last ran a batch
    # 1. inputs (a future month has no complete data: refuse it rather than publish empty reports)
    month = parse_month(month, allow_future=False)
    known = list_markets()
    market_list = parse_markets(markets, known)
    rp = load_reports()
    market_nbs, rollup_nbs = parse_reports(reports, rp.market_notebooks + rp.expansion_notebooks, rp.rollup_notebooks)
    for nb in market_nbs + rollup_nbs:
        if not _NOTEBOOK.match(nb):
            raise UsageError(f"report name {nb!r} in params/reports.yaml is not a plain notebook name")
        if not (config.NOTEBOOKS_DIR / f"{nb}.ipynb").exists():
            raise UsageError(f"report {nb!r}: notebook {config.NOTEBOOKS_DIR / (nb + '.ipynb')} not found")
    data = check_path(data_dir or config.DATA_DIR, "data directory", must_exist=True)
    out = check_output_dir(out_dir or config.REPORTS_DIR)
    skipped = unknown_data_markets(data, known) if markets.strip().lower() == "all" else {}
    cache = check_path(config.CACHE_DIR, "cache directory")
    if lang:
        check_language(lang)
    if jobs is not None and int(jobs) < 1:  # 0 is not "all cores": leave --jobs out for that
        raise UsageError(f"--jobs must be at least 1, got {jobs}")
    jobs = int(jobs or os.cpu_count() or 1)
    mparams = {m: load_market(m) for m in market_list}
    # expansion notebooks (params/reports.yaml) run only for markets in expansion (govlib.analyses.expansion)
    from govlib.analyses.expansion import is_expansion_market

    nbs_of = {m: [nb for nb in market_nbs if nb not in rp.expansion_notebooks
                  or is_expansion_market(mparams[m], month, rp.expansion_months)] for m in market_list}
    from govlib.privacy import load_pseudonym_key

    load_pseudonym_key(data)  # fail now, once, rather than in every notebook that pseudonymises
    kernel_name, kernel_env = ensure_kernel()

    # 2. staging and lock
    month_dir = out / month
    try:
        (out / STAGING).mkdir(parents=True, exist_ok=True)
        lock_file = open(out / STAGING / f"{month}.lock", "w")
    except OSError as exc:  # e.g. a read-only file system
        raise UsageError(f"cannot write to {out}: {(exc.strerror or str(exc)).lower()}") from None
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.close()
        raise RunError(f"another 'govlib run' for {month} is writing to {out}; wait for it to finish") from None
    _clean_stale(out, month_dir)
    stage = out / STAGING / f"{month}-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    work = stage / ".work"
    work.mkdir(parents=True)

    env = dict(os.environ)
    env.update(kernel_env)
    env["PYTHONHASHSEED"] = "0"  # deterministic set/dict-of-str order inside kernels
    env["GOVLIB_CACHE"] = str(cache)
    env.setdefault("GOVLIB_ROOT", str(config.PROJECT_ROOT))
    env["GOVLIB_RUNNER_PID"] = str(os.getpid())  # a worker whose parent is no longer this process stops
    env.pop("MPLBACKEND", None)
    fresh = fresh_kernels_requested(fresh_kernels)
    env["GOVLIB_FRESH_KERNELS"] = "1" if fresh else "0"  # read by the workers (_worker_loop)
    # a warm kernel imports what all of the run's notebooks import, before its first notebook
    warm_notebooks = [str(config.NOTEBOOKS_DIR / f"{nb}.ipynb") for nb in market_nbs + rollup_nbs]
    procs = _Procs()
    result = BatchResult(month, month_dir, skipped=skipped)
    n_tasks = sum(1 + len(nbs_of[m]) for m in market_list) + len(rollup_nbs)

    from tqdm import tqdm

    bar = tqdm(total=n_tasks, desc=f"govlib run {month}", unit="task", file=sys.stderr, disable=not progress,
               dynamic_ncols=True, leave=True)
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="govlib-run")
    futures: dict[Future, tuple] = {}
    cube_keys: dict[str, str] = {}
    cube_paths: dict[str, Path] = {}
    pending_nbs: dict[str, int] = {}

    def submit(kind: str, task: dict, meta: tuple, timeout: float) -> None:
        futures[pool.submit(procs.run, task, env, timeout)] = (kind, meta)

    def nb_task(nb: str, market: str, params: dict, folder: Path, title: str, html_lang: str) -> dict:
        from govlib.report.i18n import get_translator

        validate_notebook_parameters(params)
        return {
            "kind": "notebook",
            "input": str(config.NOTEBOOKS_DIR / f"{nb}.ipynb"),
            "output": str(folder / f"{nb}.ipynb"),
            "parameters": params,
            "kernel_name": kernel_name,
            "timeout": rp.timeout_seconds,
            "cwd": str(config.NOTEBOOKS_DIR),
            "title": title,
            "html_lang": html_lang,
            "toc_title": get_translator(html_lang).gettext("Contents"),
            "result": str(work / f"{market}-{nb}.result.json"),
            "fresh_kernel": fresh,
            "warm_notebooks": warm_notebooks,
        }

    def start_market_notebooks(market: str) -> None:
        from govlib.report.i18n import get_translator

        lang_m = lang or mparams[market].report_language
        problem = check_market_month(cube_paths[market], market, month)
        if not problem:
            try:  # a language without a catalog fails its market instead of rendering it in English
                get_translator(lang_m)
            except GovlibError as exc:
                problem = str(exc)
        if problem:  # an empty market-month or a missing catalog fails that market only, like invalid rows
            result.market_errors[market] = problem
            bar.update(len(nbs_of[market]))
            return
        folder = stage / market
        folder.mkdir(parents=True, exist_ok=True)
        pending_nbs[market] = len(nbs_of[market])
        for nb in nbs_of[market]:
            key = notebook_key(cube_keys[market], config.NOTEBOOKS_DIR / f"{nb}.ipynb", lang_m)
            published = month_dir / market
            old = _read_json(published / f"{nb}.manifest.json") if resume else None
            if old and old.get("key") == key["key"] and old.get("status") == "ok" and all(
                (published / f"{nb}{ext}").exists() for ext in (".ipynb", ".html")
            ):
                for ext in (".ipynb", ".html", ".manifest.json"):
                    shutil.copy2(published / f"{nb}{ext}", folder / f"{nb}{ext}")
                finish_notebook(market, nb, {"status": "reused", "duration": old.get("duration", 0.0)}, key)
                bar.update(1)
                continue
            params = {"market": market, "month": month, "data_dir": str(data), "lang": lang,
                      "cube_path": str(cube_paths[market])}
            task = nb_task(nb, market, params, folder, f"{market} {month} {nb}", lang_m.split("_")[0])
            task["key"] = key
            submit("notebook", task, (market, nb, key), rp.timeout_seconds + 60)

    def finish_notebook(market: str, nb: str, res: dict, key: dict) -> None:
        folder = stage / market
        status = res["status"]
        if res.get("disk_full"):
            result.market_errors.setdefault(market, res["error"])
        if status != "reused":
            try:
                with _writing(folder / f"{nb}.manifest.json"):
                    _write_json(folder / f"{nb}.manifest.json", {
                        "market": market, "month": month, "notebook": nb, "status": status,
                        "duration": res.get("duration", 0.0), "error": res.get("error", ""), **key,
                    })
            except DiskFull as exc:
                result.market_errors.setdefault(market, str(exc))
        html_rel = f"{market}/{nb}.html" if (folder / f"{nb}.html").exists() else ""
        if html_rel and status == "failed":
            html_rel += "#papermill-error-cell"
        result.outcomes.append(Outcome(market, nb, status, res.get("duration", 0.0), res.get("error", ""), html_rel,
                                       f"{market}/{nb}.ipynb" if (folder / f"{nb}.ipynb").exists() else "",
                                       res.get("kernel_pid")))
        pending_nbs[market] -= 1
        if pending_nbs[market] == 0:
            publish_market(market)

    def publish_market(market: str) -> None:
        from govlib.report.cube import write_alerts_csv, write_kpis_csv

        folder = stage / market
        cube = load_cube(cube_paths[market])
        try:
            with _writing(folder / "kpis.csv"):
                write_kpis_csv(cube.kpis_for(month), folder / "kpis.csv")
            with _writing(folder / "alerts.csv"):
                write_alerts_csv(cube.alerts, folder / "alerts.csv")  # computed once, in the cube step
        except DiskFull as exc:
            result.market_errors.setdefault(market, str(exc))
        failed = market in result.market_errors or any(
            o.market == market and o.status not in ("ok", "reused") for o in result.outcomes)
        with _writing(month_dir / market):
            _publish_or_keep(folder, month_dir / market, result, failed=failed,
                             complete=market not in result.market_errors)

    def publish_rollup() -> None:
        failed = any(o.market == ROLLUP_FOLDER and o.status not in ("ok", "reused") for o in result.outcomes)
        with _writing(month_dir / ROLLUP_FOLDER):
            _publish_or_keep(stage / ROLLUP_FOLDER, month_dir / ROLLUP_FOLDER, result, failed=failed,
                             complete=ROLLUP_FOLDER not in result.market_errors)

    try:
        # 3. cubes (cache hits are resolved here without a worker)
        for market in market_list:
            try:
                inputs = cube_inputs(data, market, month, mparams[market])
            except OSError as exc:
                result.market_errors[market] = f"cannot read the data directory: {exc}"
                bar.update(1 + len(nbs_of[market]))
                continue
            key = hash_inputs(inputs)
            cube_keys[market] = key
            path = cube_dir(market, month, key, cache / "cubes")
            if (path / "cube.json").exists():
                cube_paths[market] = path
                bar.update(1)
                start_market_notebooks(market)
            else:
                task = {"kind": "cube", "data_dir": str(data), "market": market, "month": month,
                        "cache_dir": str(cache / "cubes"), "result": str(work / f"{market}-cube.result.json")}
                submit("cube", task, (market,), max(rp.timeout_seconds, 60) * 2)

        rollup_started = False
        while futures or not rollup_started:
            if not futures:
                rollup_started = True
                ok_markets = [m for m in market_list if m in cube_paths and m not in result.market_errors]
                if rollup_nbs and ok_markets:
                    folder = stage / ROLLUP_FOLDER
                    folder.mkdir(parents=True, exist_ok=True)
                    lang_r = lang or "en_GB"
                    pending_nbs[ROLLUP_FOLDER] = len(rollup_nbs)
                    for nb in rollup_nbs:
                        extra = ",".join(f"{m}:{cube_keys[m]}" for m in ok_markets)
                        extra += "|failed:" + ",".join(sorted(result.market_errors))  # shown by the roll-up
                        key = notebook_key(extra, config.NOTEBOOKS_DIR / f"{nb}.ipynb", lang_r)
                        pub = month_dir / ROLLUP_FOLDER
                        old = _read_json(pub / f"{nb}.manifest.json") if resume else None
                        if old and old.get("key") == key["key"] and old.get("status") == "ok" and all(
                                (pub / f"{nb}{ext}").exists() for ext in (".ipynb", ".html")):
                            for ext in (".ipynb", ".html", ".manifest.json"):  # --resume, as for market notebooks
                                shutil.copy2(pub / f"{nb}{ext}", folder / f"{nb}{ext}")
                            result.outcomes.append(Outcome(ROLLUP_FOLDER, nb, "reused", old.get("duration", 0.0), "",
                                                           f"{ROLLUP_FOLDER}/{nb}.html", f"{ROLLUP_FOLDER}/{nb}.ipynb"))
                            bar.update(1)
                            pending_nbs[ROLLUP_FOLDER] -= 1
                            if pending_nbs[ROLLUP_FOLDER] == 0:
                                publish_rollup()
                            continue
                        params = {"month": month, "markets": ",".join(ok_markets),
                                  "failed_markets": ",".join(sorted(result.market_errors)),
                                  "data_dir": str(data), "lang": lang}
                        task = nb_task(nb, ROLLUP_FOLDER, params, folder, f"{ROLLUP_FOLDER} {month} {nb}",
                                       lang_r.split("_")[0])
                        submit("rollup", task, (ROLLUP_FOLDER, nb, key), rp.timeout_seconds + 60)
                elif rollup_nbs:
                    bar.update(len(rollup_nbs))
                    for nb in rollup_nbs:
                        result.outcomes.append(Outcome(ROLLUP_FOLDER, nb, "skipped", error="no market could be built"))
                continue
            done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: futures[f][1]):
                kind, meta = futures.pop(fut)
                res = fut.result()
                bar.update(1)
                if kind == "cube":
                    market = meta[0]
                    if res["status"] == "ok":
                        cube_paths[market] = Path(res["cube_path"])
                        start_market_notebooks(market)
                    else:  # the published folder, if any, stays (render_index: from the previous run)
                        result.market_errors[market] = res.get("error", "failed")
                        bar.update(len(nbs_of[market]))
                elif kind == "notebook":
                    market, nb, key = meta
                    finish_notebook(market, nb, res, key)
                else:
                    _, nb, key = meta
                    folder = stage / ROLLUP_FOLDER
                    try:
                        with _writing(folder / f"{nb}.manifest.json"):
                            _write_json(folder / f"{nb}.manifest.json", {
                                "market": ROLLUP_FOLDER, "month": month, "notebook": nb, "status": res["status"],
                                "duration": res.get("duration", 0.0), "error": res.get("error", ""), **key})
                    except DiskFull as exc:
                        res = {**res, "status": "failed", "disk_full": True,
                               "error": (res.get("error", "") + "\n" + str(exc)).strip()}
                    if res.get("disk_full"):  # a half-written roll-up is never published
                        result.market_errors.setdefault(ROLLUP_FOLDER, res["error"])
                    html_rel = f"{ROLLUP_FOLDER}/{nb}.html" if (folder / f"{nb}.html").exists() else ""
                    if html_rel and res["status"] == "failed":
                        html_rel += "#papermill-error-cell"
                    result.outcomes.append(Outcome(ROLLUP_FOLDER, nb, res["status"], res.get("duration", 0.0),
                                                   res.get("error", ""), html_rel,
                                                   f"{ROLLUP_FOLDER}/{nb}.ipynb" if (folder / f"{nb}.ipynb").exists() else "",
                                                   res.get("kernel_pid")))
                    pending_nbs[ROLLUP_FOLDER] -= 1
                    if pending_nbs[ROLLUP_FOLDER] == 0:
                        publish_rollup()
        bar.close()

        # 4. month-level files, last (each through a temporary file and a rename)
        write_month_files(result, _translator(lang or "en_GB"))
    except BaseException:
        procs.kill_all()
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        raise
    finally:
        procs.close_all()  # before the pool's threads end: a worker dies with the thread that started it
        pool.shutdown(wait=True, cancel_futures=True)
        shutil.rmtree(stage, ignore_errors=True)
        lock_file.close()
    return result


def unknown_data_markets(data: Path, known: list[str]) -> dict[str, str]:
    """Markets present in the data without ``params/markets/<CC>.yaml``, each with why it is skipped.

    ``--markets all`` reports the markets with params; the others are listed in the index
    and the command's output instead of silently left out. Data the engine cannot read
    gives ``{}`` here: that is reported by every market's cube step.
    """
    from govlib.data.load import Dataset, is_engine_error, list_data_markets

    try:
        found = list_data_markets(Dataset(data, "duckdb", check=False))  # no Spark session in the runner
    except Exception as exc:  # noqa: BLE001 - reported later, per market
        if isinstance(exc, GovlibError) or is_engine_error(exc):
            return {}
        raise
    return {m: f"no params/markets/{m}.yaml: add the market's params (docs/localisation.md) to report it"
            for m in found if m not in known}


def check_market_month(cube_path: Path, market: str, month: str) -> str:
    """``""`` when the cube has events in ``month``, else the error to show for the market.

    Counts the rows of every event table of the cube (each contract table with a
    ``time_column``, creators excepted: a dimension) whose time falls in the local month.
    None at all means the export lacks this market-month; reports of it would be all
    zeros and empty rates, so the market fails with this message instead.
    """
    import pandas as pd

    from govlib import contract
    from govlib.report.cube import load_cube
    from govlib.timeutil import in_month

    cube = load_cube(cube_path)
    counted = []
    for name in cube.table_names:
        spec = contract.TABLES.get(name)
        if spec is None or not spec.time_column or name == "creators":
            continue
        col = pd.read_parquet(cube.path / "tables" / f"{name}.parquet", columns=[spec.time_column])[spec.time_column]
        if len(col) and int(in_month(col, month, cube.timezone).sum()) > 0:
            return ""
        counted.append(f"{name}.{spec.time_column}")
    return (f"no data for {market} in {month} ({cube.timezone}): 0 rows of {', '.join(counted) or 'any event table'} "
            f"fall in the month; check that the data export covers {market} {month}, "
            f"or leave {market} out with --markets")


def write_month_files(result: BatchResult, _=lambda s: s) -> None:
    """The month's ``kpis.csv`` then ``index.html``, each atomically; a full disk raises :class:`DiskFull` after both."""
    from govlib.report.cube import write_bytes_atomic

    month_dir, first = result.month_dir, None
    for target in (month_dir / "kpis.csv", result.index):
        try:
            with _writing(target):
                month_dir.mkdir(parents=True, exist_ok=True)
                if target.name == "kpis.csv":
                    write_month_kpis(month_dir)
                else:
                    write_bytes_atomic(target, render_index(result, month_dir, _).encode("utf-8"))
        except DiskFull as exc:  # the previous file stays; still try the index, which names the failures
            first = first or exc
    if first is not None:
        raise first


def write_month_kpis(month_dir: Path) -> Path | None:
    """``<month>/kpis.csv``: the published markets' ``kpis.csv`` concatenated in market order."""
    from govlib.report.cube import write_bytes_atomic

    parts = sorted(p for p in month_dir.glob("*/kpis.csv") if _MARKET.match(p.parent.name))
    target = month_dir / "kpis.csv"
    if not parts:
        if target.exists():
            target.unlink()
        return None
    lines: list[bytes] = []
    for i, p in enumerate(parts):
        body = p.read_bytes().splitlines(keepends=True)
        lines += body if i == 0 else body[1:]
    write_bytes_atomic(target, b"".join(lines))
    return target


def _status_labels() -> dict[str, str]:
    from govlib.report.i18n import N_

    return {"ok": N_("ok"), "failed": N_("failed"), "reused": N_("reused"), "skipped": N_("skipped")}


def _kept_rows(result: BatchResult, month_dir: Path, _=lambda s: s) -> tuple[set[str], list[Outcome]]:
    """Folders this run ran but did not replace (a report failed), and their index rows.

    Each report still published is listed "from the previous run (<when>)" (its manifest's
    time) with this run's error; a report that failed now and was never published is
    listed without links.
    """
    kept = result.kept()
    rows: list[Outcome] = []
    for folder in sorted(kept):
        new = {o.report: o for o in result.outcomes if o.market == folder}
        failed_now = sorted(r for r, o in new.items() if o.status not in ("ok", "reused"))
        why = result.market_errors.get(folder) or f"not replaced: {', '.join(failed_now) or 'a report'} failed in this run"
        old: set[str] = set()
        for manifest in sorted((month_dir / folder).glob("*.manifest.json")):
            man = _read_json(manifest) or {}
            nb = man.get("notebook", manifest.name.removesuffix(".manifest.json"))
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(manifest.stat().st_mtime))
            o = new.get(nb)
            rel = f"{folder}/{nb}"
            rows.append(Outcome(folder, nb, _("from the previous run ({when})").format(when=when),
                                man.get("duration", 0.0), o.error if nb in failed_now else why,
                                rel + ".html" if (month_dir / f"{rel}.html").exists() else "",
                                rel + ".ipynb" if (month_dir / f"{rel}.ipynb").exists() else ""))
            old.add(nb)
        rows += [replace(o, html="", notebook="") for nb, o in new.items() if nb not in old]
    return kept, rows


def render_index(result: BatchResult, month_dir: Path, _=lambda s: s) -> str:
    """``index.html`` of a month: every report with status, duration and errors (offline page).

    Reports published by earlier runs (markets not in this run) are listed from their
    manifests; so are those of a folder this run did not replace because a report failed
    (:func:`_kept_rows`). Durations are run metadata: the only part of a month's output
    that differs between two runs on the same inputs.
    """
    kept, kept_rows = _kept_rows(result, month_dir, _)
    rows: list[Outcome] = [o for o in result.outcomes if o.market not in kept] + kept_rows
    seen = {(o.market, o.report) for o in result.outcomes} | {(m, "") for m in result.market_errors}
    this_run = {o.market for o in result.outcomes} | set(result.market_errors)
    for manifest in sorted(month_dir.glob("*/*.manifest.json")):
        market = manifest.parent.name
        man = _read_json(manifest) or {}
        nb = man.get("notebook", manifest.name.removesuffix(".manifest.json"))
        if market in this_run or (market, nb) in seen:
            continue
        rel = f"{market}/{nb}"
        rows.append(Outcome(market, nb, f"{man.get('status', '?')} ({_('earlier run')})", man.get("duration", 0.0),
                            man.get("error", ""), rel + ".html" if (month_dir / f"{rel}.html").exists() else "",
                            rel + ".ipynb" if (month_dir / f"{rel}.ipynb").exists() else ""))
    esc = _html.escape
    labels = _status_labels()
    order = {m: i for i, m in enumerate(sorted({o.market for o in rows} | set(result.market_errors)))}
    order[ROLLUP_FOLDER] = -1
    rows.sort(key=lambda o: (order.get(o.market, 99), o.report))
    trs = []
    for m, err in sorted(result.market_errors.items()):
        trs.append(
            f'<tr class="failed"><td>{esc(m)}</td><td>{esc(_("all reports"))}</td><td>{esc(_("failed"))}</td>'
            f"<td></td><td></td><td><pre>{esc(_first_lines(err))}</pre></td></tr>"
        )
    for m, why in sorted(result.skipped.items()):
        trs.append(f'<tr class="skipped"><td>{esc(m)}</td><td>{esc(_("all reports"))}</td>'
                   f"<td>{esc(_('skipped'))}</td><td></td><td></td><td><pre>{esc(why)}</pre></td></tr>")
    for o in rows:
        links = []
        if o.html:
            links.append(f'<a href="{esc(o.html, quote=True)}">HTML</a>')
        if o.notebook:
            links.append(f'<a href="{esc(o.notebook, quote=True)}">{esc(_("notebook"))}</a>')
        kp = month_dir / o.market / "kpis.csv"
        if o.market != ROLLUP_FOLDER and kp.exists():
            links.append(f'<a href="{esc(o.market + "/kpis.csv", quote=True)}">kpis.csv</a>')
        if o.market != ROLLUP_FOLDER and (month_dir / o.market / "alerts.csv").exists():
            links.append(f'<a href="{esc(o.market + "/alerts.csv", quote=True)}">alerts.csv</a>')
        cls = "ok" if o.status.split(" ")[0] in ("ok", "reused") else "failed"
        trs.append(
            f'<tr class="{cls}"><td>{esc(o.market)}</td><td>{esc(o.report)}</td><td>{esc(_(labels[o.status]) if o.status in labels else o.status)}</td>'
            f'<td class="num">{o.duration:.1f} s</td><td>{" · ".join(links)}</td>'
            f"<td>{'<pre>' + esc(_first_lines(o.error)) + '</pre>' if o.error else ''}</td></tr>"
        )
    n_failed = sum(1 for o in rows if o.status.split(" ")[0] not in ("ok", "reused")) + len(result.market_errors)
    summary = (_("All reports completed.") if n_failed == 0 else _("Some reports failed: see the error column."))
    month_kpis = '<p><a href="kpis.csv">kpis.csv</a></p>' if (month_dir / "kpis.csv").exists() else ""
    title = f"govlib {result.month}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{esc(title)}</title>
<style>
body {{ font-family: sans-serif; max-width: 70rem; margin: 1rem auto; padding: 0 1rem; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #ccc; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.failed td {{ background: #fde8e8; }}
pre {{ white-space: pre-wrap; margin: 0; font-size: 0.85em; }}
</style>
</head>
<body>
<h1>{esc(_("Monthly governance reports"))} {esc(result.month)}</h1>
<p>{esc(summary)}</p>
{month_kpis}
<table>
<thead><tr><th>{esc(_("Market"))}</th><th>{esc(_("Report"))}</th><th>{esc(_("Status"))}</th><th>{esc(_("Duration"))}</th><th>{esc(_("Files"))}</th><th>{esc(_("Error"))}</th></tr></thead>
<tbody>
{chr(10).join(trs)}
</tbody>
</table>
</body>
</html>
"""


def _first_lines(text: str, n: int = 6) -> str:
    return "\n".join(text.strip().splitlines()[:n])


# ---------------------------------------------------------------------------------------
# stored notebook outputs (what nbval compares)


def store_notebook_outputs(notebooks: list[Path] | None = None, timeout: int = 600) -> list[Path]:
    """Execute notebooks in place with their default parameters and strip run metadata.

    The outputs stored in git are what ``tests/test_notebooks.py`` (nbval) compares with;
    run this on the small demo data after changing a notebook::

        GOVLIB_DATA=data/demo .venv/bin/python -m govlib.report.runner --store-outputs

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
        notebooks = [config.NOTEBOOKS_DIR / f"{n}.ipynb"
                     for n in rp.market_notebooks + rp.rollup_notebooks + rp.expansion_notebooks]
    paths = notebooks
    for path in paths:
        nb = nbformat.read(str(path), as_version=4)
        NotebookClient(nb, timeout=timeout, kernel_name=kernel_name, record_timing=False,
                       resources={"metadata": {"path": str(config.NOTEBOOKS_DIR)}}).execute()
        _strip_run_metadata(nb)
        nb.metadata.pop("papermill", None)
        nb.metadata.pop("widgets", None)
        nbformat.write(nb, str(path))
    return list(paths)


# ---------------------------------------------------------------------------------------
# CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", required=True, help="month to report, YYYY-MM (local time of each market)")
    parser.add_argument("--markets", default="all", help="'all' (default) or comma-separated codes, e.g. GB,DE")
    parser.add_argument("--reports", default=None,
                        help="comma-separated notebooks to run (default: all of params/reports.yaml)")
    parser.add_argument("--data", default=None, help="dataset directory (default: GOVLIB_DATA or data/demo)")
    parser.add_argument("--out", default=None, help="output root (default: GOVLIB_REPORTS or reports/)")
    parser.add_argument("--jobs", type=int, default=None, help="notebooks executed at once (default: number of cores)")
    parser.add_argument("--lang", default="", help="report language for every market, e.g. en_GB (default: the market's)")
    parser.add_argument("--resume", action="store_true",
                        help="reuse published reports whose inputs (data, params, code, language) are unchanged")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--fresh-kernels", action="store_true", default=None,
                        help="start a fresh Jupyter kernel for every notebook (slower; the default reuses one warm "
                             "kernel per worker, reset between notebooks); also GOVLIB_FRESH_KERNELS=1")
    parser.add_argument("--engine", choices=("duckdb", "spark"), default=None,
                        help="query engine of the data layer (default: GOVLIB_ENGINE or duckdb); Spark settings from "
                             "GOVLIB_SPARK_MASTER, GOVLIB_SPARK_REMOTE, GOVLIB_SPARK_CONF (docs/spark.md)")


def run(args: argparse.Namespace) -> int:
    def _term(signum, frame):  # SIGTERM behaves like Ctrl-C: workers killed, nothing half-published
        raise KeyboardInterrupt

    if getattr(args, "engine", None):  # workers (cube builds) inherit the environment
        os.environ["GOVLIB_ENGINE"] = args.engine
    previous = signal.signal(signal.SIGTERM, _term)
    try:
        res = run_batch(
            month=args.month, markets=args.markets, reports=args.reports, data_dir=args.data, out_dir=args.out,
            jobs=args.jobs, lang=args.lang, resume=args.resume, progress=not args.no_progress,
            fresh_kernels=getattr(args, "fresh_kernels", None),
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    n_ok = sum(o.status in ("ok", "reused") for o in res.outcomes)
    n_reused = sum(o.status == "reused" for o in res.outcomes)
    failed = [o for o in res.outcomes if o.status not in ("ok", "reused")]
    for m, err in sorted(res.market_errors.items()):
        print(f"govlib run: {m}: failed: {_first_lines(err, 2)}", file=sys.stderr)
    for m, why in sorted(res.skipped.items()):
        print(f"govlib run: {m}: skipped: {why}", file=sys.stderr)
    for o in failed:
        print(f"govlib run: {o.market} {o.report}: {o.status}: {_first_lines(o.error, 2)}", file=sys.stderr)
    for folder in sorted(res.kept()):
        print(f"govlib run: {folder}: not replaced; the previous run's reports stay published", file=sys.stderr)
    print(f"{n_ok} report(s) ok ({n_reused} reused), {len(failed) + len(res.market_errors)} failed; index: {res.index}")
    return 0 if res.ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        raise SystemExit(1 if _worker_main(sys.argv[2]) else 0)
    if len(sys.argv) == 2 and sys.argv[1] == "--worker-loop":
        raise SystemExit(_worker_loop())
    if len(sys.argv) >= 2 and sys.argv[1] == "--store-outputs":
        for p in store_notebook_outputs([Path(a) for a in sys.argv[2:]] or None):
            print(f"stored outputs of {p}")
        raise SystemExit(0)
    from govlib.cli import main

    raise SystemExit(main(["run", *sys.argv[1:]]))
