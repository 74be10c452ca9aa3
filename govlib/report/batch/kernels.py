"""The Jupyter kernels of a batch: the kernel spec, and the warm kernel each worker keeps.

:func:`ensure_kernel` picks (or writes) a kernel spec that runs *this* interpreter;
:class:`WarmKernel` is the one kernel a worker process reuses from notebook to notebook.
What runs inside that kernel to warm and reset it is :mod:`.kernel_state`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from govlib import config

KERNEL_NAME = "python3"


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
        if exe in ("python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])):
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
    path = os.pathsep.join(
        [str(base)] + [p for p in os.environ.get("JUPYTER_PATH", "").split(os.pathsep) if p]
    )
    return "govlib-python3", {"JUPYTER_PATH": path}


KERNEL_HISTORY = "--HistoryManager.hist_file=:memory:"  # as nbclient starts kernels: no history on disk


def fresh_kernels_requested(flag: bool | None = None) -> bool:
    """``--fresh-kernels`` given, or else ``GOVLIB_FRESH_KERNELS`` set to 1/true/yes/on."""
    if flag:
        return True
    return config.current().fresh_kernels


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

    Started on the first notebook and warmed (:func:`govlib.report.batch.kernel_state.warm_kernel`:
    numpy, pandas, matplotlib/pyplot, scipy/statsmodels/lifelines and every import statement
    of the run's notebooks), so no report pays for the imports. Before each notebook
    :func:`govlib.report.batch.kernel_state.prepare_kernel` resets it (user namespace, figures,
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
        Default ``GOVLIB_KERNEL_MAX_REPORTS`` (:class:`govlib.config.Settings`).
    max_rss_mb : int, optional
        Default ``GOVLIB_KERNEL_MAX_RSS_MB`` (:class:`govlib.config.Settings`).
    """

    def __init__(
        self,
        kernel_name: str,
        max_reports: int | None = None,
        max_rss_mb: int | None = None,
        startup_timeout: float = 300.0,
    ) -> None:
        self.kernel_name = kernel_name
        settings = config.current()
        self.max_reports = int(max_reports or settings.kernel_max_reports)
        self.max_rss = int(max_rss_mb or settings.kernel_max_rss_mb) * 2**20
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
        self._execute(
            f"__import__('govlib.report.batch.kernel_state', fromlist=['warm_kernel']).warm_kernel({notebooks!r})",
            self.startup_timeout,
        )

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
        from govlib.report.batch.kernel_state import rss_bytes

        if self.km is not None and not self._alive():
            self.shutdown("kernel died")
        elif self.km is not None and self.reports >= self.max_reports:
            self.shutdown(f"ran {self.reports} notebooks")
        reset = (
            f"__import__('govlib.report.batch.kernel_state', fromlist=['prepare_kernel'])"
            f".prepare_kernel({task['cwd']!r}, {dict(task.get('env') or {})!r})"
        )
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
