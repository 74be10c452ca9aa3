"""Benchmark: the month's report batch against its floor, measured in the same run.

The floor is what no report batch can beat on this machine: the same number of trivial
notebooks (a parameters cell and ``1 + 1``) executed through papermill with the same
parallelism. Kernel start-up dominates it, as it dominates a real batch; the ratio shows
what the reports' own imports, data reads and computation add on top.

Usage::

    .venv/bin/python benchmarks/batch.py [--data data/demo] [--month 2026-10] [--jobs N] [--markets all]
                                         [--fresh-kernels]

Prints both times, the ratio (target <= 1.5) and one line ``BATCH batch_s=... floor_s=...
ratio=...`` for ``make bench``. The batch runs cold: cubes are built into a fresh cache.

Besides wall time it prints the CPU time (user + system) of all the processes each part
started (workers and kernels, ``RUSAGE_CHILDREN``): on a machine shared with other jobs
the CPU ratio is the steadier figure, the wall ratio the one the target is about. And the
peak RSS of the batch's largest single process (:class:`PeakRss`: the process tree sampled
with psutil, or ``RUSAGE_CHILDREN``'s ``ru_maxrss`` when larger).
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLOOR_PARAMS = 'market: str = "GB"  # market\nmonth: str = "2026-10"  # month'


def _children_cpu() -> float:
    """CPU seconds (user + system) of the terminated, waited-for descendants of this process."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class PeakRss:
    """Peak resident memory of the largest single process of this process's tree, sampled.

    A thread polls this process and all its descendants (workers, kernels, Spark JVMs) every
    ``interval`` seconds with psutil and keeps each process's largest RSS. :meth:`stop` returns
    the largest, in MB, with that process's command line. Sampling can miss a peak shorter than
    the interval; the callers report the larger of this and ``RUSAGE_CHILDREN``'s ``ru_maxrss``
    (exact, but only for descendants that were waited for).
    """

    def __init__(self, interval: float = 0.5):
        import psutil

        self._psutil, self.interval = psutil, interval
        self._root = psutil.Process()
        self.peak: dict[int, tuple[int, str]] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def sample(self) -> None:
        psutil = self._psutil
        for p in [self._root, *self._root.children(recursive=True)]:
            try:
                rss = p.memory_info().rss
                if rss > self.peak.get(p.pid, (0, ""))[0]:
                    self.peak[p.pid] = (rss, " ".join(p.cmdline()[:4]))
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            self.sample()

    def stop(self) -> tuple[float, str]:
        """(peak RSS in MB of the largest process, its command line); stops sampling."""
        if not self._done.is_set():
            self._done.set()
            self._thread.join()
        rss, cmd = max(self.peak.values(), default=(0, ""))
        return rss / 2**20, cmd


def _trivial_notebook(path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook()
    params = new_code_cell(FLOOR_PARAMS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, new_code_cell("1 + 1")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


def _run_trivial(args: tuple[str, str, str, str]) -> None:
    import papermill as pm

    src, dst, kernel, market = args
    pm.execute_notebook(src, dst, parameters={"market": market}, kernel_name=kernel, progress_bar=False)


def measure_floor(n: int, jobs: int, workdir: Path) -> float:
    """Seconds to execute ``n`` trivial notebooks through papermill, ``jobs`` at a time."""
    from govlib.report.batch.kernels import ensure_kernel

    kernel, env = ensure_kernel()
    os.environ.update(env)
    src = workdir / "trivial.ipynb"
    _trivial_notebook(src)
    tasks = [(str(src), str(workdir / f"out-{i}.ipynb"), kernel, "GB") for i in range(n)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(_run_trivial, tasks))
    return time.perf_counter() - t0


def measure_batch(
    data: Path, month: str, jobs: int, markets: str, workdir: Path, fresh_kernels: bool = False
) -> tuple[float, int, bool]:
    """Seconds of a cold ``govlib run`` (fresh cube cache); number of notebooks; whether all succeeded."""
    from govlib import config
    from govlib.report.batch.run import run_batch

    config.CACHE_DIR = workdir / "cache"
    t0 = time.perf_counter()
    res = run_batch(
        month,
        markets=markets,
        data_dir=data,
        out_dir=workdir / "reports",
        jobs=jobs,
        progress=False,
        fresh_kernels=fresh_kernels,
    )
    elapsed = time.perf_counter() - t0
    for m, err in sorted(res.market_errors.items()):
        print(f"batch: {m} failed: {err.strip().splitlines()[0] if err.strip() else ''}", file=sys.stderr)
    for o in res.outcomes:
        if o.status not in ("ok", "reused"):
            print(
                f"batch: {o.market} {o.report} {o.status}: {' | '.join(o.error.strip().splitlines()[:2])}",
                file=sys.stderr,
            )
    return elapsed, len(res.outcomes), res.ok


def main(argv: list[str] | None = None) -> int:
    from govlib import config

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(config.DATA_DIR))
    p.add_argument("--month", default=config.DEMO_END_MONTH)
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument("--markets", default="all")
    p.add_argument(
        "--fresh-kernels",
        action="store_true",
        help="the batch starts a fresh kernel per notebook (govlib run --fresh-kernels); the floor always does",
    )
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(
        prefix="govlib-bench-", dir=ROOT / ".cache" if (ROOT / ".cache").exists() else None
    ) as tmp:
        work = Path(tmp)
        (work / "floor").mkdir()
        # cubes and the memoised theme settings go to a fresh cache inside the temporary dir (cold)
        cpu0 = _children_cpu()
        with PeakRss() as rss:
            batch_s, n, ok = measure_batch(Path(a.data), a.month, a.jobs, a.markets, work, a.fresh_kernels)
        peak_mb, peak_cmd = rss.stop()
        peak_mb = max(peak_mb, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
        cpu1 = _children_cpu()
        floor_s = measure_floor(n, a.jobs, work / "floor")
        cpu2 = _children_cpu()
    ratio = batch_s / floor_s
    batch_cpu, floor_cpu = cpu1 - cpu0, cpu2 - cpu1
    load = os.getloadavg()
    print(
        f"report batch: {n} notebooks, {a.jobs} jobs, {'fresh' if a.fresh_kernels else 'warm'} kernels, all ok: {ok}"
    )
    print(f"  batch (govlib run, cold cubes): {batch_s:8.1f} s")
    print(f"  floor ({n} trivial notebooks):  {floor_s:8.1f} s")
    print(f"  ratio: {ratio:.2f} (target <= 1.5)")
    print(
        f"  CPU of started processes: batch {batch_cpu:.1f} s, floor {floor_cpu:.1f} s, "
        f"ratio {batch_cpu / floor_cpu:.2f}"
    )
    print(
        f"  largest process of the batch: {peak_mb / 1024:.2f} GB peak RSS ({peak_cmd or 'a reaped child'})"
    )
    print(f"  load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(
        f"BATCH batch_s={batch_s:.1f} floor_s={floor_s:.1f} ratio={ratio:.2f} notebooks={n} jobs={a.jobs} "
        f"batch_cpu_s={batch_cpu:.1f} floor_cpu_s={floor_cpu:.1f} kernels={'fresh' if a.fresh_kernels else 'warm'} "
        f"peak_rss_gb={peak_mb / 1024:.2f}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
