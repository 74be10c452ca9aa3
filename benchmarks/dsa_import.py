"""Benchmark of ``govlib dsa import``: throughput and peak memory, and memory as parts grow.

Usage::

    .venv/bin/python benchmarks/dsa_import.py [--rows 1000000] [--parts 1 2 4] [--part-rows 250000]

1. One synthetic part of ``--rows`` rows (values resampled from the real rows in
   tests/fixtures/dsa/sor_rows): rows/s and peak RSS of the import.
2. Dumps of 1, 2, 4 parts of ``--part-rows`` rows each: peak RSS must stay flat.

Each import runs in a fresh child process so that its peak RSS (``ru_maxrss`` of the child)
is its own. Prints a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = sorted((ROOT / "tests" / "fixtures" / "dsa" / "sor_rows").glob("*.csv"))


def _child(dump: str, out: str, q, memory_limit: str) -> None:
    from govlib.dsa.sor import import_dumps

    t0 = time.perf_counter()
    s = import_dumps([dump], out, memory_limit=memory_limit, threads=2)
    dt = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q.put({"seconds": dt, "rows_read": s.rows_read, "rows_written": s.rows_written, "peak_rss_mb": rss_mb})


def measure(dump: Path, out: Path, memory_limit: str = "512MB") -> dict:
    q = mp.get_context("spawn").Queue()
    p = mp.get_context("spawn").Process(target=_child, args=(str(dump), str(out), q, memory_limit))
    p.start()
    res = q.get()
    p.join()
    shutil.rmtree(out, ignore_errors=True)
    return res


def main() -> None:
    from govlib.dsa.synth import write_synthetic_dump

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--part-rows", type=int, default=250_000)
    ap.add_argument("--parts", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--work", default=None, help="scratch directory (default: system temp)")
    ap.add_argument("--memory-limit", default="512MB", help="DuckDB memory limit of the import")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dsa-bench-", dir=args.work))
    results = []
    try:
        t0 = time.perf_counter()
        dump = write_synthetic_dump(work / "sor-global-2025-01-01-full.zip", REAL, args.rows, 1, seed=1)
        gen = time.perf_counter() - t0
        r = measure(dump, work / "out", args.memory_limit)
        r.update(case=f"1 part x {args.rows:,} rows", zip_mb=dump.stat().st_size / 2**20, generate_s=gen)
        results.append(r)
        dump.unlink()
        for n in args.parts:
            dump = write_synthetic_dump(
                work / f"sor-global-2025-01-0{n}-full.zip", REAL, n * args.part_rows, n, seed=n
            )
            r = measure(dump, work / "out", args.memory_limit)
            r.update(case=f"{n} part(s) x {args.part_rows:,} rows", zip_mb=dump.stat().st_size / 2**20)
            results.append(r)
            dump.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| case | zip MB | rows read | rows written | seconds | rows read/s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['case']} | {r['zip_mb']:.0f} | {r['rows_read']:,} | {r['rows_written']:,} | {r['seconds']:.1f} | "
            f"{r['rows_read'] / r['seconds']:,.0f} | {r['peak_rss_mb']:.0f} |"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
