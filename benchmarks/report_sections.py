"""CPU, wall time and peak memory of one report notebook's sections, for a before/after comparison.

    python benchmarks/report_sections.py --data DIR --market DE --month 2026-10 --report creator_health

Runs the sections a notebook calls (``<report>.<section>(ctx)`` in ``notebooks/<report>.ipynb``),
in order, on a fresh context over the market's cube (built first, outside the timing, as
``govlib run`` builds it before the notebooks): what the notebook's kernel does, without the
kernel and the HTML. Prints one line ``report=<r> wall_s=<x> cpu_s=<x> peak_rss_mb=<x>``; CPU is
the process's (every thread, DuckDB's included), peak RSS the process's high-water mark. Run it
once per code version in one session (``--code DIR`` with ``GOVLIB_ROOT=DIR`` runs another
checkout's govlib, e.g. ``git archive <commit> | tar -x -C DIR``, for "before") and compare the
lines; the machine is shared, so read CPU beside wall.
"""

from __future__ import annotations

import argparse
import re
import resource
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--market", default="DE")
    ap.add_argument("--month", default="2026-10")
    ap.add_argument("--report", default="creator_health")
    ap.add_argument(
        "--sections", default="", help="comma-separated sections to time (default: the notebook's)"
    )
    ap.add_argument(
        "--code", default="", help="import govlib from this checkout instead of the installed one"
    )
    ap.add_argument("--per-section", action="store_true", help="also print each section's wall and CPU time")
    args = ap.parse_args()
    if args.code:  # the editable install's import hook would win over sys.path: drop it
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
        sys.path.insert(0, args.code)

    import importlib

    from govlib import config
    from govlib.report.cube import open_report_cube
    from govlib.report.sections import open_market_context

    nb = Path(config.PROJECT_ROOT, "notebooks", f"{args.report}.ipynb").read_text()
    names = list(dict.fromkeys(re.findall(rf"{args.report}\.(\w+)\(ctx\)", nb)))
    if args.sections:
        names = [n for n in names if n in args.sections.split(",")]
    module = importlib.import_module(f"govlib.report.sections.{args.report}")
    open_report_cube(args.market, args.month, data_dir=args.data)  # build (or reuse) the cube: not timed
    wall0, cpu0 = time.perf_counter(), time.process_time()
    ctx = open_market_context(args.market, args.month, data_dir=args.data)
    for name in names:
        w, c = time.perf_counter(), time.process_time()
        getattr(module, name)(ctx)
        if args.per_section:
            print(f"  {name}: wall_s={time.perf_counter() - w:.2f} cpu_s={time.process_time() - c:.2f}")
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import govlib

    print(
        f"code={Path(govlib.__file__).parent.parent} report={args.report} sections={len(names)} wall_s={wall:.2f} cpu_s={cpu:.2f} peak_rss_mb={rss:.0f}"
    )


if __name__ == "__main__":
    main()
