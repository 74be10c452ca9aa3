"""Observed coverage of the prevalence intervals on the demo generator's planted truth.

For each seed, generates the small demo dataset (into a temporary directory), estimates
``violating_view_prevalence`` for every market and local month with
``govlib.metrics.prevalence.estimate_monthly_prevalence`` and counts how often the 95%
interval contains the planted prevalence of ``ground_truth.json``.

Usage::

    .venv/bin/python scripts/prevalence_coverage.py --seeds 1 2 3 4 5 [--scale small] [--keep DIR]

Prints one line per seed and a final ``COVERAGE`` line (Korn-Graubard and Wald).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd

from govlib.demo import generate
from govlib.metrics.prevalence import estimate_monthly_prevalence
from govlib.params import load_market


def coverage_for(data: Path) -> pd.DataFrame:
    truth = json.loads((data / "ground_truth.json").read_text())["prevalence"]
    samples = pd.read_parquet(data / "prevalence_samples") if (data / "prevalence_samples").is_dir() else None
    if samples is None:
        samples = pd.read_parquet(next(data.glob("prevalence_samples*")))
    rows = []
    for market, by_month in sorted(truth.items()):
        tz = load_market(market).timezone
        months = [m for m, v in sorted(by_month.items()) if v is not None]
        for method in ("korn-graubard", "wald"):
            est = estimate_monthly_prevalence(samples, market, tz, months=months, method=method)
            est["truth"] = [by_month[m] for m in est["month"]]
            est["method"] = method
            rows.append(est)
    out = pd.concat(rows, ignore_index=True)
    out["covered"] = (out["ci_low"] <= out["truth"]) & (out["truth"] <= out["ci_high"])
    out["below_upper"] = out["truth"] <= out["upper_bound"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--scale", default="small")
    ap.add_argument("--keep", type=Path, default=None, help="write the datasets here instead of a temp dir")
    args = ap.parse_args(argv)
    parts = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for seed in args.seeds:
            data = root / f"demo-{args.scale}-{seed}"
            if not (data / ".complete").exists():
                generate(data, scale=args.scale, seed=seed)
            cov = coverage_for(data).assign(seed=seed)
            parts.append(cov)
            kg = cov[cov["method"] == "korn-graubard"]
            print(
                f"seed {seed}: {kg['covered'].sum()}/{len(kg)} market-months covered "
                f"({kg['covered'].mean():.3f}); one-sided 97.5% bound above truth {kg['below_upper'].mean():.3f}",
                flush=True,
            )
    allc = pd.concat(parts, ignore_index=True)
    res = {m: g for m, g in allc.groupby("method")}
    kg, wald = res["korn-graubard"], res["wald"]
    print(
        f"COVERAGE seeds={' '.join(map(str, args.seeds))} scale={args.scale} market_months={len(kg)} "
        f"korn_graubard={kg['covered'].mean():.3f} wald={wald['covered'].mean():.3f} "
        f"upper_975={kg['below_upper'].mean():.3f} median_violating_samples={int(kg['n_violating'].median())}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
