"""govlib's benchmark harness (``make bench``): each figure next to its baseline, measured in the same run.

Usage::

    .venv/bin/python benchmarks/run.py [--scales medium,large] [--quick] [--repeats 3]
                                       [--market GB] [--no-batch] [--no-docs]

On each scale's demo data (``data/bench-<scale>``, generated with seed 7 when missing):

(a) one market-month KPI table: govlib (``open_dataset`` + ``load_kpi_inputs`` +
    ``compute_kpis``) against a hand-written DuckDB SQL query over the same Parquet (the
    floor) and against naive pandas (whole tables read, then filtered and grouped); the
    three KPI tables are cross-checked (numerators and denominators equal, values to
    1e-9) before any time is reported;
(b) the whole monthly batch for all markets against the floor of trivial notebooks with
    the same parallelism (``benchmarks/batch.py``) and against the data floor (the engine
    writing every market's report inputs, no pandas or notebooks);
(c) validation throughput (``validate_dataset(level="full")``, rows/s);
plus the runner's per-market cube build, for its memory; and then (d) the whole month at
``xlarge`` (``data/bench-xlarge``, or ``--xlarge-data``; generated when missing, never in
``--quick`` mode unless ``--xlarge-data`` is given): its wall time and the peak RSS of its
largest single process, sampled over the process tree (``batch.PeakRss``).

Every measured step runs in a fresh child process (``python benchmarks/run.py --child``)
that imports its libraries before the clock starts; the child reports its wall time and
its peak RSS (``getrusage(RUSAGE_SELF).ru_maxrss``, plus ``RUSAGE_CHILDREN`` for steps that
start processes). Fast steps are repeated (best of ``--repeats``). The run ends with one
line::

    RATIOS kpi_vs_sql=<x> kpi_vs_pandas=<x> batch_vs_floor=<x> batch_vs_floors=<x> peak_rss_gb=<x>
           xlarge_batch_s=<x> xlarge_peak_rss_gb=<x> xlarge_vs_large=<x>
           dsa_vs_floor=<x> dsa_rows_per_s=<x> dsa_peak_rss_gb=<x>

(on one line: govlib's time / the baseline's at the largest scale run, ``batch_vs_floors``
being the batch / (trivial-notebook floor + data floor); ``peak_rss_gb`` is govlib's one
market-month KPI step there; the ``xlarge_`` fields are (d), ``xlarge_vs_large`` its batch
time / the ``large`` batch's; the ``dsa_*`` fields: ``benchmarks/dsa_import.py``, synthetic
Transparency Database days of 0.25M, 1M and 4M rows, govlib's ``dsa sync`` against an unzip +
DuckDB floor, at 4M rows (``--no-dsa`` skips it, ``--dsa-rows`` changes the sizes); ``na``
where not measured) and writes the table into the "Benchmarks" section of
``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

SEED = 7
END_MONTH = "2026-10"
KPI_STEPS = ("kpi_govlib", "kpi_sql", "kpi_pandas")
LABELS = {
    "kpi_govlib": "(a) KPI table, govlib (open_dataset + load_kpi_inputs + compute_kpis)",
    "kpi_sql": "(a) KPI table, floor: hand-written DuckDB SQL",
    "kpi_pandas": "(a) KPI table, naive pandas (read whole tables, filter, group by)",
    "batch_govlib": "(b) monthly batch, all markets (govlib run)",
    "batch_floor": "(b) floor: trivial notebooks, same count and parallelism",
    "batch_data_floor": "(b) data floor: the engine writing every market's report inputs (no pandas, no notebooks)",
    "validate": "(c) validation, level full (validate_dataset)",
    "batch_xlarge": "(d) monthly batch at xlarge, all markets (govlib run); peak RSS: its largest process",
    "cube": "runner's per-market cube (build_cube: tables written by the engine, 13 months of KPIs, alarms, slice validation)",
}
SECTION = "Benchmarks"
RATIO_KEYS = (
    "kpi_vs_sql",
    "kpi_vs_pandas",
    "batch_vs_floor",
    "batch_vs_floors",
    "peak_rss_gb",
    "xlarge_batch_s",
    "xlarge_peak_rss_gb",
    "xlarge_vs_large",
)


class BenchError(RuntimeError):
    """A benchmark step failed or its baseline computes something else."""


# ---------------------------------------------------------------------------------------
# child side


def _child(task: dict) -> None:
    import kpi_steps

    step = task["step"]
    for mod in kpi_steps.PRELOAD.get(step, ()):
        importlib.import_module(mod)
    if "ibis" in kpi_steps.PRELOAD.get(step, ()):
        import ibis

        ibis.duckdb  # noqa: B018 - resolving the backend's entry point is import time too (~0.4 s)
    fn = kpi_steps.STEPS[step]
    kwargs = task.get("kwargs", {})
    t0 = time.perf_counter()
    rows, result = fn(Path(task["data"]), task["market"], task["month"], task["tz"], **kwargs)
    seconds = time.perf_counter() - t0
    out = {
        "seconds": seconds,
        "rows": int(rows),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }
    if result is not None and hasattr(result, "to_dict"):
        out["kpis"] = json.loads(result.to_json(orient="records"))
    elif result is not None:
        out["result"] = result
    print("RESULT " + json.dumps(out))


def run_child(step: str, data: Path, market: str, month: str, tz: str, **kwargs) -> dict:
    """Run ``step`` in a fresh interpreter; return its measurements."""
    task = {"step": step, "data": str(data), "market": market, "month": month, "tz": tz, "kwargs": kwargs}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(task)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = "\n".join(proc.stderr.strip().splitlines()[-8:])
        raise BenchError(f"step {step} on {data} failed (exit {proc.returncode}):\n{tail}")
    return json.loads(lines[-1][len("RESULT ") :])


def repeat(step: str, n: int, *args, **kwargs) -> dict:
    """Best of ``n`` runs of ``step`` (each in its own process); peak RSS is the max over runs."""
    runs = [run_child(step, *args, **kwargs) for _ in range(n)]
    best = min(runs, key=lambda r: r["seconds"])
    return {
        **best,
        "runs": [r["seconds"] for r in runs],
        "rss_mb": max(r["rss_mb"] for r in runs),
        "children_rss_mb": max(r["children_rss_mb"] for r in runs),
    }


# ---------------------------------------------------------------------------------------
# data


def ensure_data(scale: str, data_root: Path) -> Path:
    """``data_root/bench-<scale>``, generated (seed 7, end month 2026-10) when missing."""
    out = data_root / f"bench-{scale}"
    if not (out / ".complete").exists():
        print(f"generating {scale} demo data into {out} ...", flush=True)
        from govlib.demo import generate

        generate(out, scale=scale, seed=SEED, end_month=END_MONTH)
    return out


def biggest_market(data: Path, month: str) -> str:
    """The market with the most enforcement actions (from Parquet footers: the heaviest KPI slice)."""
    import pyarrow.parquet as pq

    from govlib.data.dataset import discover_tables

    src = discover_tables(data)["enforcement_actions"]
    counts: dict[str, int] = {}
    if src.kind == "parquet_dir" and "market" in src.partition_columns:
        for f in src.files:
            m = next(p.split("=", 1)[1] for p in f.relative_to(src.path).parts if p.startswith("market="))
            counts[m] = counts.get(m, 0) + pq.ParquetFile(f).metadata.num_rows
    else:
        df = pq.read_table(src.files[0], columns=["market"]).to_pandas()
        counts = df["market"].value_counts().to_dict()
    return max(sorted(counts), key=lambda m: counts[m])


# ---------------------------------------------------------------------------------------
# checks


def check_same_kpis(reference: list[dict], other: list[dict], what: str) -> None:
    """Raise unless two KPI tables agree: same ids, numerators/denominators equal, values to 1e-9."""
    if [r["kpi_id"] for r in reference] != [r["kpi_id"] for r in other]:
        raise BenchError(f"{what}: KPI ids differ")
    bad = []
    for a, b in zip(reference, other):
        for col in ("value", "numerator", "denominator", "ci_low", "ci_high"):
            x, y = a[col], b[col]
            x = math.nan if x is None else float(x)
            y = math.nan if y is None else float(y)
            if math.isnan(x) and math.isnan(y):
                continue
            exact = (
                col in ("numerator", "denominator") and a["kpi_id"] != "violating_view_prevalence"
            )  # counts
            tol = 0.0 if exact else 1e-9 * max(abs(x), 1.0)
            if math.isnan(x) != math.isnan(y) or abs(x - y) > tol:
                bad.append(f"{a['kpi_id']}.{col}: {x!r} vs {y!r}")
    if bad:
        raise BenchError(
            f"{what}: the baseline does not compute the same KPIs as govlib: " + "; ".join(bad[:5])
        )


# ---------------------------------------------------------------------------------------
# batch (b)


def run_batch_bench(data: Path, month: str, tz: str, jobs: int | None) -> dict | None:
    """(b) the month's batch for all markets (cold cube cache) and its floor, each in a child process.

    Uses ``benchmarks/batch.py`` (``measure_batch``, ``measure_floor``): the floor runs as many
    trivial notebooks as the batch ran, with the same parallelism. Peak RSS is the largest
    worker's (``RUSAGE_CHILDREN`` of the child: cube builds, papermill kernels).
    """
    if not (HERE / "batch.py").exists():
        return None
    jobs = jobs or os.cpu_count() or 1
    g = run_child("batch_govlib", data, "all", month, tz, jobs=jobs)
    n = g["result"]["notebooks"]
    f = run_child("batch_floor", data, "all", month, tz, n=n, jobs=jobs)
    d = run_child("batch_data_floor", data, "all", month, tz)
    where = f"all markets {month}, {n} notebooks, {jobs} jobs"
    return {
        "govlib": g,
        "floor": f,
        "data_floor": d,
        "where": where,
        "ok": g["result"]["ok"],
        "failed": g["result"]["failed"],
    }


def batch_vs_floors(b: dict) -> float:
    """The batch's time / (trivial-notebook floor + data floor): what the reports' own work adds to
    the two costs no batch avoids (starting the notebooks, the engine writing their inputs)."""
    return b["govlib"]["seconds"] / (b["floor"]["seconds"] + b["data_floor"]["seconds"])


def run_xlarge(data: Path, jobs: int | None, large: dict | None) -> tuple[dict, dict]:
    """(d) the whole month at xlarge: a cold ``govlib run`` of all markets in a child, its largest process.

    Returns the table row and the RATIOS fields; ``xlarge_vs_large`` needs the ``large`` batch of
    the same run (``large``: that scale's ratios and its data's row counts).
    """
    truth = json.loads((data / "ground_truth.json").read_text())
    month = truth.get("end_month", END_MONTH)
    jobs = jobs or os.cpu_count() or 1
    g = run_child("batch_govlib", data, "all", month, "UTC", jobs=jobs)
    peak_gb = max(g["result"]["peak_process_rss_mb"], g["rss_mb"], g["children_rss_mb"]) / 1024
    where = f"all markets {month}, {g['result']['notebooks']} notebooks, {jobs} jobs"
    row = {**g, "scale": "xlarge", "step": "batch_xlarge", "where": where, "rss_mb": peak_gb * 1024}
    fields: dict = {}
    if not g["result"]["ok"]:
        row["ratio"] = "reports FAILED: no figure"
        failed = "\n  ".join(g["result"]["failed"][:10])
        print(f"[xlarge] the monthly batch had failed reports:\n  {failed}", file=sys.stderr)
        return row, fields
    fields = {"xlarge_batch_s": g["seconds"], "xlarge_peak_rss_gb": peak_gb}
    if large and large.get("batch_s"):
        fields["xlarge_vs_large"] = g["seconds"] / large["batch_s"]
        data_x = truth["row_counts"]["content"] / large["content_rows"]
        row["ratio"] = f"xlarge / large = {fields['xlarge_vs_large']:.2f} (content rows x{data_x:.1f})"
    return row, fields


# ---------------------------------------------------------------------------------------
# report


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = math.nan
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = int(line.split()[1]) / 2**20
    except OSError:
        pass
    import duckdb
    import ibis
    import pandas as pd
    import pyarrow as pa

    return {
        "cores": os.cpu_count(),
        "mem_gb": mem_gb,
        "cpu": cpu,
        "load": os.getloadavg(),
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "duckdb": duckdb.__version__,
        "ibis": ibis.__version__,
        "pyarrow": pa.__version__,
    }


def fmt_ratio(x: float | None) -> str:
    return "na" if x is None or not math.isfinite(x) else f"{x:.2f}"


def render(rows: list[dict], ratios: dict, info: dict, command: str, started: str, load_end) -> str:
    lines = [
        f"Measured {started} with `{command}`.",
        "",
        f"Machine: {info['cores']} cores ({info['cpu']}), {info['mem_gb']:.1f} GB RAM; Python {info['python']}, "
        f"pandas {info['pandas']}, DuckDB {info['duckdb']}, Ibis {info['ibis']}, pyarrow {info['pyarrow']}. "
        f"Load average at start {info['load'][0]:.1f}, at end {load_end[0]:.1f} (the machine is shared: "
        "wall times are upper bounds; the ratios compare steps measured minutes apart under the same load).",
        "",
        "Each step ran in a fresh process after its imports; time = best of the runs listed; peak RSS = the "
        "process's maximum resident set (max over runs; for the batch, the largest worker).",
        "",
        "| scale | step | market-month | rows into pandas (validation: rows checked) | time (s) | runs (s) | peak RSS (MB) | vs baseline |",
        "|---|---|---|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        runs = ", ".join(f"{s:.2f}" for s in r.get("runs", [r["seconds"]]))
        rss = max(r.get("rss_mb", 0.0), r.get("children_rss_mb", 0.0))
        rows = "" if r["step"].startswith("batch") else f"{r.get('rows', 0):,}"
        lines.append(
            f"| {r['scale']} | {LABELS.get(r['step'], r['step'])} | {r.get('where', '')} | "
            f"{rows} | {r['seconds']:.2f} | {runs} | {rss:,.0f} | {r.get('ratio', '')} |"
        )
    lines += ["", "```", ratio_line(ratios), "```", ""]
    return "\n".join(lines)


def ratio_line(ratios: dict) -> str:
    line = "RATIOS " + " ".join(f"{k}={fmt_ratio(ratios.get(k))}" for k in RATIO_KEYS)
    if "dsa_vs_floor" in ratios:
        from dsa_import import ratio_fields

        line += " " + ratio_fields(ratios)
    return line


def write_section(path: Path, title: str, body: str) -> None:
    """Replace section ``## title`` of ``path`` (up to the next ``## ``) with ``body``; append if absent.

    The harness writes between ``<!-- bench:table -->`` markers inside the section when
    they exist, so hand-written notes around the table are kept.
    """
    text = path.read_text(encoding="utf-8") if path.exists() else "# Performance\n"
    begin, end = "<!-- bench:table:begin -->", "<!-- bench:table:end -->"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{begin}\n{body}\n{end}{tail}"
    else:
        lines = text.splitlines(keepends=True)
        header = f"## {title}"
        start = next((i for i, ln in enumerate(lines) if ln.strip() == header), None)
        new = [f"{header}\n", "\n", f"{begin}\n", body + "\n", f"{end}\n", "\n"]
        if start is None:
            if lines and lines[-1].strip():
                lines.append("\n")
            lines += new
        else:
            stop = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
            lines[start:stop] = new
        text = "".join(lines)
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------
# main


def bench_scale(
    scale: str,
    data: Path,
    repeats: int,
    market: str | None,
    with_batch: bool,
    with_cube: bool,
    jobs: int | None,
) -> tuple[list[dict], dict]:
    from govlib.params import load_market

    truth = json.loads((data / "ground_truth.json").read_text())
    month = truth.get("end_month", END_MONTH)
    market = market or biggest_market(data, month)
    tz = load_market(market).timezone
    where = f"{market} {month}"
    rows: list[dict] = []
    res: dict[str, dict] = {}
    for step in KPI_STEPS:
        print(f"[{scale}] {step} x{repeats} ...", flush=True)
        res[step] = repeat(step, repeats, data, market, month, tz)
    check_same_kpis(res["kpi_govlib"]["kpis"], res["kpi_sql"]["kpis"], f"{scale}: SQL floor")
    check_same_kpis(res["kpi_govlib"]["kpis"], res["kpi_pandas"]["kpis"], f"{scale}: naive pandas")
    g = res["kpi_govlib"]["seconds"]
    ratios = {
        "kpi_vs_sql": g / res["kpi_sql"]["seconds"],
        "kpi_vs_pandas": g / res["kpi_pandas"]["seconds"],
        "peak_rss_gb": res["kpi_govlib"]["rss_mb"] / 1024,
    }
    for step in KPI_STEPS:
        r = {**res[step], "scale": scale, "step": step, "where": where}
        if step == "kpi_sql":
            r["ratio"] = f"govlib / SQL = {ratios['kpi_vs_sql']:.2f}"
        elif step == "kpi_pandas":
            r["ratio"] = f"govlib / pandas = {ratios['kpi_vs_pandas']:.2f}"
        rows.append(r)

    if with_batch:
        print(f"[{scale}] batch ...", flush=True)
        b = run_batch_bench(data, month, tz, jobs)
        if b is None:
            print("benchmarks/batch.py not found: (b) skipped", flush=True)
        else:
            ratio = b["govlib"]["seconds"] / b["floor"]["seconds"]
            floors = batch_vs_floors(b)
            note = f"govlib / floor = {ratio:.2f}; govlib / (floor + data floor) = {floors:.2f}"
            if b["ok"]:
                ratios["batch_vs_floor"], ratios["batch_vs_floors"] = ratio, floors
                ratios["batch_s"] = b["govlib"]["seconds"]
            else:  # a failed report ends early: its time is no measure of the batch
                note = "reports FAILED: no ratio"
                print(
                    f"[{scale}] the monthly batch had failed reports; batch_vs_floor is not reported:\n  "
                    + "\n  ".join(b["failed"][:10]),
                    file=sys.stderr,
                    flush=True,
                )
            rows.append({**b["govlib"], "scale": scale, "step": "batch_govlib", "where": b["where"]})
            rows.append(
                {**b["floor"], "scale": scale, "step": "batch_floor", "where": b["where"], "ratio": note}
            )
            d = b["data_floor"]
            rows.append(
                {
                    **d,
                    "scale": scale,
                    "step": "batch_data_floor",
                    "where": f"all markets {month}",
                    "ratio": f"data floor / floor = {d['seconds'] / b['floor']['seconds']:.2f}",
                }
            )

    print(f"[{scale}] validate ...", flush=True)
    v = run_child("validate", data, market, month, tz)
    if v.get("result"):
        raise BenchError(f"{scale}: the demo data does not validate: {v['result'][:3]}")
    rows.append(
        {
            **v,
            "scale": scale,
            "step": "validate",
            "where": "whole dataset",
            "ratio": f"{v['rows'] / v['seconds']:,.0f} rows/s",
        }
    )
    if with_cube:
        print(f"[{scale}] cube ...", flush=True)
        c = run_child("cube", data, market, month, tz)
        rows.append({**c, "scale": scale, "step": "cube", "where": where})
    return rows, ratios


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--scales", default="medium,large", help="comma-separated demo scales (default medium,large)"
    )
    ap.add_argument("--quick", action="store_true", help="small data only, one run per step (a smoke test)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each fast step (best is reported)")
    ap.add_argument(
        "--market", default=None, help="market of the KPI step (default: the one with most actions)"
    )
    ap.add_argument("--data-root", default=str(ROOT / "data"), help="where bench-<scale> datasets live")
    ap.add_argument("--jobs", type=int, default=None, help="parallelism of the batch and its floor")
    ap.add_argument("--no-batch", action="store_true", help="skip (b), the monthly batch")
    ap.add_argument("--no-cube", action="store_true", help="skip the cube build")
    ap.add_argument(
        "--xlarge-data",
        default=None,
        help="an existing xlarge demo dataset for (d) (default: <data-root>/bench-xlarge, generated when missing)",
    )
    ap.add_argument("--no-xlarge", action="store_true", help="skip (d), the month at xlarge")
    ap.add_argument("--no-docs", action="store_true", help="do not write docs/performance.md")
    ap.add_argument("--no-dsa", action="store_true", help="skip the DSA Transparency Database import")
    ap.add_argument("--dsa-rows", type=int, nargs="+", default=[250_000, 1_000_000, 4_000_000],
                    help="sizes of the synthetic DSA days (input rows)")  # fmt: skip
    ap.add_argument("--docs", default=str(ROOT / "docs" / "performance.md"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(json.loads(args.child))
        return 0

    scales = ["small"] if args.quick else [s.strip() for s in args.scales.split(",") if s.strip()]
    repeats = 1 if args.quick else max(1, args.repeats)
    started = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    info = machine()
    given = sys.argv[1:] if argv is None else argv
    command = "make bench" if not given else ".venv/bin/python benchmarks/run.py " + " ".join(given)
    all_rows: list[dict] = []
    ratios: dict = {}
    large: dict | None = None
    xlarge = not args.no_xlarge and (args.xlarge_data is not None or not args.quick)
    try:
        for scale in scales:
            data = ensure_data(scale, Path(args.data_root))
            rows, ratios = bench_scale(
                scale, data, repeats, args.market, not args.no_batch, not args.no_cube, args.jobs
            )
            all_rows += rows
            if scale == "large":
                truth = json.loads((data / "ground_truth.json").read_text())
                large = {**ratios, "content_rows": truth["row_counts"]["content"]}
        if xlarge:
            print("[xlarge] batch ...", flush=True)
            data = Path(args.xlarge_data) if args.xlarge_data else ensure_data("xlarge", Path(args.data_root))
            row, fields = run_xlarge(data, args.jobs, large)
            all_rows.append(row)
            ratios.update(fields)
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    dsa_table = ""
    if not args.no_dsa:
        import dsa_import

        dsa_results, dsa_ratios = dsa_import.run([250_000] if args.quick else args.dsa_rows)
        ratios.update(dsa_ratios)
        dsa_table = dsa_import.table(dsa_results)
    body = render(all_rows, ratios, info, command, started, os.getloadavg())
    if dsa_table:
        body = body.replace(
            "\n```\nRATIOS",
            "\nDSA Transparency Database day (`benchmarks/dsa_import.py`):\n\n"
            + dsa_table
            + "\n\n```\nRATIOS",
            1,
        )
    print()
    print(body.split("```")[0].rstrip())
    if not args.no_docs:
        write_section(Path(args.docs), SECTION, body)
        print(f"wrote section '{SECTION}' of {args.docs}")
    print(ratio_line(ratios))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
