"""The worker processes of a batch: their pipe protocol, the runner's pool of them, kill-safety.

Each job slot (a thread of the runner) keeps one long-lived worker,
``python -m govlib.report.batch.pool``, which reads task file paths on stdin, runs each
(:mod:`.worker`), writes the result file and answers ``done`` on stdout.

Why not a library pool (issue 14, point 4): ``concurrent.futures.ProcessPoolExecutor``
has no per-task timeout and cannot kill one overrunning task (killing a worker breaks
the whole pool and fails every pending task). ``pebble.ProcessPool`` has per-task
timeouts, but it stops an overrunning worker by its pid, not by its process
group (what the worker started is left to notice on its own), pickles results back over its own pipe (so the
check "is my runner still alive?" cannot sit between a task's end and the write of its
result, and a full disk cannot be reported on the pipe instead), and it would add a
dependency for about 150 lines. The warm kernel needs a worker that lives across tasks
and is replaced only when its own task failed, which both allow; the rest does not fit.
So the pool stays: job-slot threads from the standard library (``ThreadPoolExecutor`` in
:mod:`.run`), each driving one plain ``subprocess`` worker.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from govlib import config
from govlib.report.batch.errors import DiskFull, is_disk_full, writing
from govlib.report.batch.kernels import WarmKernel, fresh_kernels_requested
from govlib.report.batch.keys import read_json
from govlib.report.batch.worker import error_summary, run_cube, run_notebook

_WARM_KERNEL: WarmKernel | None = None  # the worker process's kernel, reused from task to task


def _runner_gone() -> bool:
    """The runner that started this worker (``GOVLIB_RUNNER_PID``) is no longer its parent: it died."""
    pid = config.current().runner_pid
    return pid is not None and os.getppid() != pid


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


def run_task_file(task_path: str, warm: bool = False) -> str:
    """Run one task file and write its result file; ``warm``: notebooks run in the worker's :class:`WarmKernel`.

    Returns ``""``, or the error when the result file could not be written (a full disk).
    """
    global _WARM_KERNEL
    task = json.loads(Path(task_path).read_text(encoding="utf-8"))
    t0 = time.monotonic()
    try:
        if task["kind"] == "cube":
            result = run_cube(task)
        else:
            kernel = None
            if warm and not task.get("fresh_kernel"):
                if _WARM_KERNEL is None or _WARM_KERNEL.kernel_name != task["kernel_name"]:
                    if _WARM_KERNEL is not None:
                        _WARM_KERNEL.shutdown()
                    _WARM_KERNEL = WarmKernel(task["kernel_name"])
                kernel = _WARM_KERNEL
            result = run_notebook(task, kernel)
    except Exception as exc:  # noqa: BLE001
        import traceback

        result = {
            "status": "failed",
            "error": error_summary(exc, path=task.get("cache_dir") or task.get("output")),
            "traceback": traceback.format_exc(),
            **({"disk_full": True} if is_disk_full(exc) else {}),
        }
    result["duration"] = round(time.monotonic() - t0, 3)
    _exit_if_orphan(task)  # the runner died while the task ran: nothing of it is written
    tmp = Path(task["result"] + ".tmp")
    try:
        with writing(task["result"]):
            tmp.write_text(json.dumps(result), encoding="utf-8")
            os.replace(tmp, task["result"])
    except DiskFull as exc:
        tmp.unlink(missing_ok=True)
        return str(exc)
    return ""


def worker_loop() -> int:
    """A long-lived worker: run each task path read from stdin, answer ``done`` on stdout; stop at end of input.

    The libraries every task needs are imported once, here. Each task's stderr goes to the
    file its task names (``stderr``), as with one process per task. Notebooks run in the
    worker's :class:`WarmKernel` unless ``GOVLIB_FRESH_KERNELS`` is set (``--fresh-kernels``)
    or the task asks for a fresh kernel; the kernel is shut down at end of input. A worker
    killed by :class:`WorkerPool` takes its kernel along: ipykernel exits when its parent
    process is gone (``JPY_PARENT_PID``). The worker itself dies with the runner
    (:func:`_die_with_runner`) and never writes a result for a dead runner.
    """
    _die_with_runner()
    import papermill  # noqa: F401  (imported once for all the worker's tasks)

    import govlib.report.render.html  # noqa: F401

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
                failure = run_task_file(task_path, warm=warm)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            # no result file (a full disk): the error goes over the pipe instead, on one line
            out.write(b"error " + " ".join(failure.split()).encode()[:2000] + b"\n" if failure else b"done\n")
    finally:
        if _WARM_KERNEL is not None:
            _WARM_KERNEL.shutdown()
    return 0


class WorkerPool:
    """Worker processes of a batch: one long-lived worker per job slot (thread), killable by process group.

    A worker (``python -m govlib.report.batch.pool``) imports papermill, nbconvert
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
                [sys.executable, "-m", "govlib.report.batch.pool"],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,  # each task's stderr goes to its own file (see worker_loop)
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
            with writing(task_path):
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
        if task["kind"] == "notebook" and (timed_out or read_json(Path(task["result"])) is None):
            # a killed worker leaves a half-executed notebook (saved cell by cell): never publish it
            for partial in (Path(task["output"]), Path(task["output"]).with_suffix(".html")):
                partial.unlink(missing_ok=True)
        if timed_out:
            return {
                "status": "failed",
                "error": f"timed out after {timeout:.0f} s (timeout_seconds in params/reports.yaml)",
                "duration": duration,
            }
        if line.startswith(b"error "):  # the worker could not write its result file
            return {
                "status": "failed",
                "error": line[6:].decode(errors="replace").strip(),
                "disk_full": True,
                "duration": duration,
            }
        result = read_json(Path(task["result"]))
        if result is None:
            try:
                err = Path(task["stderr"]).read_text(errors="replace").strip().splitlines()
            except OSError:
                err = []
            why = (
                f"worker died (exit code {proc.returncode})" if proc.returncode else "worker wrote no result"
            )
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


if __name__ == "__main__":
    raise SystemExit(worker_loop())
