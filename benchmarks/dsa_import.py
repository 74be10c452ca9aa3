"""Benchmark of the DSA statement archive (``govlib dsa sync``) against a DuckDB floor, same run.

Usage::

    .venv/bin/python benchmarks/dsa_import.py [--rows 250000 1000000 4000000] [--platform TikTok]
                                              [--work DIR] [--memory-limit 1GB]

For each size, one synthetic day in the published layout (``govlib.dsa.synth``: 38 columns, values
resampled from the real rows in tests/fixtures/dsa/sor_rows, part zips of 250k rows inside the
day's zip, 100 duplicates planted across parts), then two steps, each in a fresh child process:

* **govlib**: ``archive.sync(--platform TikTok)`` (checksum, parallel streaming parse, one row
  per statement, exact dedup, value checks) + unique statements per member state through
  ``by_member_state(open_statements(store))`` (a row count: the archive holds each statement once);
* **floor**: unzip the day and its part zips to disk + one DuckDB query that writes the
  platform's rows to Parquet + one that counts unique statements per member state
  (``unnest(from_json(territorial_scope))``, ``count(DISTINCT uuid)``). The floor does no
  checksum, no typing, no dedup across parts, no checks.

The per-member-state counts of both are compared before any time is reported. Wall time, CPU
time (user + system of the child and its threads) and peak RSS of each child are printed; the
machine is shared, so CPU time is the steadier figure. Ends with::

    RATIOS dsa_vs_floor=<wall govlib / wall floor> dsa_rows_per_s=<input rows / wall govlib> dsa_peak_rss_gb=<x>

at the largest size. A 30M-row day: ``--rows 30000000`` (generation takes ~13 min and ~4.5 GB
of disk; the import needs ~2 GB of scratch space).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL = sorted((ROOT / "tests" / "fixtures" / "dsa" / "sor_rows").glob("*.csv"))
PART_ROWS = 250_000


def _govlib(dump_dir: str, work: str, platform: str, memory_limit: str) -> dict:
    from govlib.dsa.archive import by_member_state, open_statements, sync

    store = Path(work) / "store"
    s = sync(dump_dir, store, platforms=[platform], memory_limit=memory_limit, threads=2, log=lambda _m: None)
    if s.failed:
        raise SystemExit(f"sync failed: {s.failed}")
    m = by_member_state(open_statements(store))
    # one row per statement (deduplicated at ingest): a count is the unique count, checked below
    df = m.group_by("member_state").aggregate(n=m.count()).to_pandas()
    return {
        "rows_read": s.rows_read,
        "counts": {k: int(v) for k, v in zip(df["member_state"], df["n"], strict=True)},
    }


def _floor(dump_dir: str, work: str, platform: str, memory_limit: str) -> dict:
    import zipfile

    import duckdb

    csv_dir = Path(work) / "csv"
    csv_dir.mkdir()
    for outer in sorted(Path(dump_dir).glob("*.zip")):
        with zipfile.ZipFile(outer) as z:
            z.extractall(csv_dir)
    for part in sorted(csv_dir.glob("*.zip")):
        with zipfile.ZipFile(part) as z:
            z.extractall(csv_dir)
        part.unlink()
    con = duckdb.connect()
    con.execute(f"SET memory_limit='{memory_limit}'; SET threads=2; SET preserve_insertion_order=false")
    out = Path(work) / "floor.parquet"
    con.execute(
        f"COPY (SELECT * FROM read_csv('{csv_dir}/*.csv', all_varchar=true, header=true) "
        f"WHERE platform_name = '{platform}') TO '{out}' (FORMAT parquet)"
    )
    rows = con.execute(
        "SELECT replace(ms, 'EL', 'GR'), count(DISTINCT uuid) FROM (SELECT uuid, "
        f"unnest(from_json(territorial_scope, '[\"VARCHAR\"]')) AS ms FROM read_parquet('{out}')) GROUP BY 1"
    ).fetchall()
    return {"counts": {k: int(v) for k, v in rows}}


def _child(step: str, dump_dir: str, platform: str, memory_limit: str) -> None:
    import duckdb  # noqa: F401 - libraries are imported before the clock starts
    import ibis  # noqa: F401
    import pyarrow.csv  # noqa: F401

    import govlib.dsa.archive  # noqa: F401

    work = tempfile.mkdtemp(prefix=f"dsa-bench-{step}-", dir=Path(dump_dir).parent)
    try:
        fn = _govlib if step == "govlib" else _floor
        t0, c0 = time.perf_counter(), time.process_time()
        res = fn(dump_dir, work, platform, memory_limit)
        res["seconds"] = time.perf_counter() - t0
        res["cpu_s"] = time.process_time() - c0
        res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("RESULT " + json.dumps(res))


def measure(step: str, dump_dir: Path, platform: str, memory_limit: str) -> dict:
    """Run one step in a fresh process; its wall, CPU and peak RSS."""
    cmd = [sys.executable, __file__, "--child", step, str(dump_dir), "--platform", platform,
           "--memory-limit", memory_limit]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if proc.returncode != 0:
        raise SystemExit(f"{step} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.rsplit("RESULT ", 1)[1])


def make_day(work: Path, rows: int) -> Path:
    """A folder holding one synthetic day ``sor-global-2025-01-01-full.zip`` and its ``.sha1``."""
    import hashlib

    from govlib.dsa.synth import write_synthetic_dump

    day = work / f"day-{rows}"
    day.mkdir()
    dump = write_synthetic_dump(day / "sor-global-2025-01-01-full.zip", REAL, rows,
                                max(1, rows // PART_ROWS), seed=rows % 1000, duplicates=100)  # fmt: skip
    h = hashlib.sha1()
    with open(dump, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    (day / (dump.name + ".sha1")).write_text(f"{h.hexdigest()}  {dump.name}\n")
    return day


def run(
    sizes: list[int], platform: str = "TikTok", memory_limit: str = "1GB", work_dir=None
) -> tuple[list, dict]:
    """Measure every size; rows of the table and the RATIOS fields (at the largest size)."""
    work = Path(tempfile.mkdtemp(prefix="dsa-bench-", dir=work_dir))
    results = []
    try:
        for n in sizes:
            day = make_day(work, n)
            g = measure("govlib", day, platform, memory_limit)
            f = measure("floor", day, platform, memory_limit)
            if g["counts"] != f["counts"]:
                raise SystemExit(
                    f"per-member-state counts differ at {n} rows: {g['counts']} vs {f['counts']}"
                )
            results.append({"rows": n, "zip_mb": sum(p.stat().st_size for p in day.glob("*.zip")) / 2**20,
                            "govlib": g, "floor": f})  # fmt: skip
            shutil.rmtree(day)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    last = results[-1]
    ratios = {
        "dsa_vs_floor": last["govlib"]["seconds"] / last["floor"]["seconds"],
        "dsa_rows_per_s": last["govlib"]["rows_read"] / last["govlib"]["seconds"],
        "dsa_peak_rss_gb": last["govlib"]["peak_rss_mb"] / 1024,
    }
    return results, ratios


def table(results: list) -> str:
    lines = [
        "| input rows | zip MB | step | wall s | CPU s | input rows/s (wall) | peak RSS MB | govlib / floor (wall, CPU) |",
        "|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        g, f = r["govlib"], r["floor"]
        for name, x in (("govlib dsa sync + count", g), ("floor: unzip + DuckDB", f)):
            ratio = f"{g['seconds'] / f['seconds']:.2f}, {g['cpu_s'] / f['cpu_s']:.2f}" if x is g else ""
            lines.append(
                f"| {r['rows']:,} | {r['zip_mb']:.0f} | {name} | {x['seconds']:.1f} | {x['cpu_s']:.1f} | "
                f"{r['rows'] / x['seconds']:,.0f} | {x['peak_rss_mb']:.0f} | {ratio} |"
            )
    return "\n".join(lines)


def ratio_fields(ratios: dict) -> str:
    return (
        f"dsa_vs_floor={ratios['dsa_vs_floor']:.2f} dsa_rows_per_s={ratios['dsa_rows_per_s']:.0f} "
        f"dsa_peak_rss_gb={ratios['dsa_peak_rss_gb']:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[250_000, 1_000_000, 4_000_000])
    ap.add_argument("--platform", default="TikTok")
    ap.add_argument("--work", default=None, help="scratch directory (default: system temp)")
    ap.add_argument("--memory-limit", default="1GB", help="DuckDB memory limit of both steps")
    ap.add_argument("--child", nargs=2, metavar=("STEP", "DIR"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], args.platform, args.memory_limit)
        return
    results, ratios = run(args.rows, args.platform, args.memory_limit, args.work)
    print(f"load average at end: {os.getloadavg()[0]:.1f}")
    print(table(results))
    print("RATIOS " + ratio_fields(ratios))


if __name__ == "__main__":
    main()
