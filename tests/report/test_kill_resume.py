"""Crash safety (issue 9): SIGKILL of a notebook worker mid-run, then ``govlib run --resume``.

A real ``govlib run`` subprocess on the toy project of ``reliability_support`` (tiny notebooks
reading the real cube of the hand-made dataset). One notebook, ``toy_sleep``, writes a marker
with its kernel's parent pid (the papermill worker) and sleeps the first time it runs in GB, so
the kill lands while it is surely executing; on the resumed run the marker exists and it ends
at once.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from datasets import write_valid_dataset
from reliability_support import MONTH, READ_CUBE, make_toy_project, toy_env

SLEEP = (
    "import os, time\nfrom pathlib import Path\n"
    "marker = Path(os.environ['KILL_TEST_MARKER'])\n"
    "if market == 'GB' and not marker.exists():\n"
    "    marker.write_text(f'{os.getpid()} {os.getppid()}')\n"
    "    time.sleep(120)\n"
    "print('slept', market)"
)
NOTEBOOKS = {"toy_a": READ_CUBE, "toy_sleep": SLEEP, "toy_z": READ_CUBE}


def _index_rows(index: Path) -> dict[tuple[str, str], str]:
    """(market, report) -> status cell of index.html."""
    rows = re.findall(
        r"<tr class=\"\w+\"><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>", index.read_text()
    )
    return {(m, r): s for m, r, s in rows}


def _manifest(folder: Path, nb: str) -> dict:
    return json.loads((folder / f"{nb}.manifest.json").read_text())


def test_sigkill_of_a_worker_then_resume(tmp_path):
    root = make_toy_project(tmp_path / "proj", NOTEBOOKS, timeout=300)
    data = write_valid_dataset(root / "data", layout="partitioned")
    out = root / "reports"
    marker = tmp_path / "sleep.started"
    # a fixed code version: other engineers' edits to govlib/ between the two runs must not defeat --resume
    env = toy_env(root, KILL_TEST_MARKER=str(marker), GOVLIB_CODE_VERSION="test-kill-resume")
    args = [
        sys.executable,
        "-m",
        "govlib",
        "run",
        "--month",
        MONTH,
        "--markets",
        "DE,GB",
        "--data",
        str(data),
        "--out",
        str(out),
        "--jobs",
        "2",
        "--no-progress",
    ]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), proc.communicate(timeout=60)
        kernel_pid, worker_pid = map(int, marker.read_text().split())
        # the kernel's parent is a papermill worker of this run (a descendant of the runner)
        workers = {
            p.pid: p
            for p in psutil.Process(proc.pid).children(recursive=True)
            if "govlib.report.batch.pool" in p.cmdline()
        }
        assert worker_pid in workers, (worker_pid, list(workers))
        # GB is still running its notebooks: nothing of GB is published yet
        assert not (out / MONTH / "GB").exists()
        os.kill(worker_pid, signal.SIGKILL)
        _stdout, stderr = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr
    # the orphaned kernel does not outlive its worker (ipykernel's parent poller, or the runner)
    _gone, alive = psutil.wait_procs(
        [psutil.Process(kernel_pid)] if psutil.pid_exists(kernel_pid) else [], timeout=15
    )
    assert not alive, "kernel of the killed worker still running"

    month = out / MONTH
    gb, de = month / "GB", month / "DE"
    # no partial report in place: the killed notebook has neither notebook nor HTML anywhere in the month
    assert not list(month.rglob("GB/toy_sleep.ipynb")) and not list(month.rglob("GB/toy_sleep.html"))
    assert not list(month.rglob(".*toy_sleep*"))
    assert not [p for p in (out / ".staging").iterdir() if p.is_dir()]
    # the rest of GB is complete, DE entirely
    for folder in (gb, de):
        for nb in ("toy_a", "toy_z"):
            assert (folder / f"{nb}.ipynb").exists() and (folder / f"{nb}.html").exists()
            assert _manifest(folder, nb)["status"] == "ok"
        assert (folder / "kpis.csv").exists()
    assert _manifest(de, "toy_sleep")["status"] == "ok"
    killed = _manifest(gb, "toy_sleep")
    assert killed["status"] == "failed" and "worker died" in killed["error"]
    rows = _index_rows(month / "index.html")
    assert rows == {
        (m, nb): ("failed" if (m, nb) == ("GB", "toy_sleep") else "ok")
        for m in ("DE", "GB")
        for nb in NOTEBOOKS
    }
    kept = {p: p.read_bytes() for p in month.glob("*/*") if p.suffix in (".ipynb", ".html")}

    # resume: exactly the failed (market, notebook) is redone
    res = subprocess.run(
        args + ["--resume"], check=False, env=env, capture_output=True, text=True, timeout=240
    )
    assert res.returncode == 0, res.stderr
    rows = _index_rows(month / "index.html")
    assert rows == {
        (m, nb): ("ok" if (m, nb) == ("GB", "toy_sleep") else "reused")
        for m in ("DE", "GB")
        for nb in NOTEBOOKS
    }
    assert _manifest(gb, "toy_sleep")["status"] == "ok"
    assert "slept GB" in (gb / "toy_sleep.ipynb").read_text()
    # the reused reports are the same bytes
    for p, data_before in kept.items():
        assert p.read_bytes() == data_before, p


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _what(p: psutil.Process) -> str:
    try:
        return "zombie" if p.status() == psutil.STATUS_ZOMBIE else " ".join(p.cmdline())[:120]
    except psutil.NoSuchProcess:
        return "zombie"  # gone meanwhile
    except psutil.Error as exc:
        return repr(exc)


def test_sigkill_of_the_runner_takes_its_workers_and_kernels_along(tmp_path):
    """kill -9 of ``govlib run``: no worker or kernel outlives it; the published folder stays the old one.

    Before issue 13 the workers (own sessions) and their kernels ran on, the sleeping notebook
    for its full two minutes, writing into a staging folder no runner would ever publish.
    """
    root = make_toy_project(tmp_path / "proj", {"toy_a": READ_CUBE, "toy_sleep": SLEEP}, timeout=300)
    data = write_valid_dataset(root / "data", layout="partitioned")
    out = root / "reports"
    marker = tmp_path / "sleep.started"
    marker.write_text("0 0")  # the first run does not sleep
    env = toy_env(root, KILL_TEST_MARKER=str(marker))
    args = [
        sys.executable,
        "-m",
        "govlib",
        "run",
        "--month",
        MONTH,
        "--markets",
        "GB",
        "--data",
        str(data),
        "--out",
        str(out),
        "--jobs",
        "2",
        "--no-progress",
    ]
    first = subprocess.run(args, env=env, capture_output=True, text=True, timeout=240)
    assert first.returncode == 0, first.stderr
    month = out / MONTH
    before = {p: p.read_bytes() for p in month.rglob("*") if p.is_file()}

    marker.unlink()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    procs: list[psutil.Process] = []
    try:
        deadline = time.monotonic() + 240
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), proc.communicate(timeout=60)
        kernel_pid, worker_pid = map(int, marker.read_text().split())
        procs = _descendants(proc.pid)
        pids = {p.pid for p in procs}
        assert {kernel_pid, worker_pid} <= pids, (kernel_pid, worker_pid, pids)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        _gone, alive = psutil.wait_procs(procs, timeout=3)
        running = [(p.pid, _what(p)) for p in alive if _what(p) != "zombie"]  # a zombie runs no code
        assert not running, running
    finally:  # a failed test must not leave its own sleeping worker behind
        for p in procs + (_descendants(proc.pid) if proc.poll() is None else []):
            try:
                p.kill()
            except psutil.Error:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # the month is exactly the first run's: no file replaced, added or removed
    assert {p: p.read_bytes() for p in month.rglob("*") if p.is_file()} == before
    # the next run removes the dead run's staging and publishes normally
    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr
    assert not [p for p in (out / ".staging").iterdir() if p.is_dir()]
    assert "slept GB" in (month / "GB" / "toy_sleep.ipynb").read_text()


def test_runner_killed_between_the_renames_of_a_publication_gets_its_folder_back(tmp_path):
    """A run killed after moving GB aside (``.GB.old-<pid>``) but before moving the new GB in.

    The next run's clean-up used to delete the moved-aside folder, losing the last good reports.
    """
    from govlib.report.batch.publish import clean_stale

    month = tmp_path / "reports" / MONTH
    (month / ".GB.old-4194304").mkdir(parents=True)
    (month / ".GB.old-4194304" / "kpis.csv").write_text("market\nGB\n")
    (month / "DE").mkdir()
    (month / ".DE.old-4194304").mkdir()  # DE was published: the old copy is garbage
    clean_stale(tmp_path / "reports", month)
    assert (month / "GB" / "kpis.csv").read_text() == "market\nGB\n"
    assert sorted(p.name for p in month.iterdir()) == ["DE", "GB"]


def test_orphaned_worker_writes_no_result(tmp_path, monkeypatch):
    """A worker whose runner is gone (its parent pid changed) writes neither its result nor its notebook."""
    import multiprocessing

    from govlib.report.batch import pool

    out_nb = tmp_path / "GB" / "toy.ipynb"
    task = {"kind": "notebook", "output": str(out_nb), "result": str(tmp_path / "GB-toy.result.json")}
    (tmp_path / "task.json").write_text(json.dumps(task))

    def fake_notebook(task, kernel=None):  # the notebook ran while the runner died
        out_nb.parent.mkdir(exist_ok=True)
        out_nb.write_text("{}")
        return {"status": "ok", "error": ""}

    monkeypatch.setattr(pool, "run_notebook", fake_notebook)

    def child(runner_pid: int) -> None:
        os.environ["GOVLIB_RUNNER_PID"] = str(runner_pid)
        pool.run_task_file(str(tmp_path / "task.json"))
        os._exit(0)

    ctx = multiprocessing.get_context("fork")
    orphan = ctx.Process(target=child, args=(os.getpid() + 1_000_000,))  # not its parent: "the runner died"
    orphan.start()
    orphan.join(60)
    assert orphan.exitcode == 1 and not Path(task["result"]).exists() and not out_nb.exists()
    ok = ctx.Process(target=child, args=(os.getpid(),))  # its parent: writes the result, exit 0
    ok.start()
    ok.join(60)
    assert (
        ok.exitcode == 0
        and json.loads(Path(task["result"]).read_text())["status"] == "ok"
        and out_nb.exists()
    )
