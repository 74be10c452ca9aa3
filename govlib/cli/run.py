"""``govlib run``: the month's reports for every market, executed with papermill.

::

    govlib run --month 2026-10 [--markets all|GB,DE] [--reports market_report,...]
               [--data DIR] [--out reports] [--jobs N] [--lang en_GB] [--resume] [--fresh-kernels] [--pdf]
               [--dsa-archive DIR]

Only the command: its arguments and its console summary. What a run does is
:func:`govlib.report.batch.run.run_batch` (the package :mod:`govlib.report.batch` maps
its steps); the month's index page is :mod:`govlib.report.batch.index`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

from govlib import config
from govlib.report.batch.index import first_lines
from govlib.report.batch.run import run_batch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``govlib run``."""
    parser.add_argument("--month", required=True, help="month to report, YYYY-MM (local time of each market)")
    parser.add_argument(
        "--markets", default="all", help="'all' (default) or comma-separated codes, e.g. GB,DE"
    )
    parser.add_argument(
        "--reports",
        default=None,
        help="comma-separated notebooks to run (default: all of params/reports.yaml)",
    )
    parser.add_argument("--data", default=None, help="dataset directory (default: GOVLIB_DATA or data/demo)")
    parser.add_argument("--out", default=None, help="output root (default: GOVLIB_REPORTS or reports/)")
    parser.add_argument(
        "--jobs", type=int, default=None, help="notebooks executed at once (default: number of cores)"
    )
    parser.add_argument(
        "--lang", default="", help="report language for every market, e.g. en_GB (default: the market's)"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="reuse published reports whose inputs (data, params, code, language) are unchanged",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--fresh-kernels",
        action="store_true",
        default=None,
        help="start a fresh Jupyter kernel for every notebook (slower; the default reuses one warm "
        "kernel per worker, reset between notebooks); also GOVLIB_FRESH_KERNELS=1",
    )
    parser.add_argument(
        "--dsa-archive",
        default=None,
        help="DSA statement archive filled by 'govlib dsa sync' (its store folder); with it the dsa_peers "
        "report runs into <month>/EMEA (default: GOVLIB_DSA_ARCHIVE; without one the DSA reports are left out)",
    )
    parser.add_argument(
        "--pdf",
        action="store_true",
        help="also print every report and the month's index to <name>.pdf beside its HTML (A4, headless "
        "Chromium; docs/reports.md)",
    )
    parser.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default=None,
        help="query engine of the data layer (default: GOVLIB_ENGINE or duckdb); Spark settings from "
        "GOVLIB_SPARK_MASTER, GOVLIB_SPARK_REMOTE, GOVLIB_SPARK_CONF (docs/spark.md)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the batch of ``args``; print each failure and a summary; 0 when every report succeeded, else 1."""

    def _term(signum, frame):  # SIGTERM behaves like Ctrl-C: workers killed, nothing half-published
        raise KeyboardInterrupt

    if getattr(args, "engine", None):  # workers (cube builds) inherit the environment
        os.environ[config.env_name("engine")] = args.engine
    previous = signal.signal(signal.SIGTERM, _term)
    try:
        res = run_batch(
            month=args.month,
            markets=args.markets,
            reports=args.reports,
            data_dir=args.data,
            out_dir=args.out,
            jobs=args.jobs,
            lang=args.lang,
            resume=args.resume,
            progress=not args.no_progress,
            fresh_kernels=getattr(args, "fresh_kernels", None),
            dsa_archive=getattr(args, "dsa_archive", None),
            pdf=getattr(args, "pdf", False),
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    n_ok = sum(o.status in ("ok", "reused") for o in res.outcomes)
    n_reused = sum(o.status == "reused" for o in res.outcomes)
    failed = [o for o in res.outcomes if o.status not in ("ok", "reused")]
    for m, err in sorted(res.market_errors.items()):
        print(f"govlib run: {m}: failed: {first_lines(err, 2)}", file=sys.stderr)
    for m, why in sorted(res.skipped.items()):
        print(f"govlib run: {m}: skipped: {why}", file=sys.stderr)
    for o in failed:
        print(f"govlib run: {o.market} {o.report}: {o.status}: {first_lines(o.error, 2)}", file=sys.stderr)
    for folder in sorted(res.kept()):
        print(
            f"govlib run: {folder}: not replaced; the previous run's reports stay published", file=sys.stderr
        )
    print(
        f"{n_ok} report(s) ok ({n_reused} reused), {len(failed) + len(res.market_errors)} failed; index: {res.index}"
    )
    return 0 if res.ok else 1
