"""Measured quality of the emerging-risk alarms on the demo generator's planted wave.

For each seed, generates the demo dataset twice (``plant_wave=True`` and ``False``), builds
the weekly market x policy series of every market (``govlib.metrics.trends.build_weekly_series``)
and runs ``govlib.metrics.trends.detect_emerging_risks`` (the alarms are the rows of
``alerts_for_month``) with each market's params:

* **sensitivity**: in the wave dataset, the planted market x policy has at least one alarm
  in the last month (``end_month``); also whether it is the top alert of its market;
* **false alarms**: in the quiet dataset, over the last ``--quiet-months`` months of every
  market, the share of tested market x policy series-months with at least one alarm (per
  100); the same over the wave dataset's other series in the last month.

Usage::

    .venv/bin/python scripts/measure_alarms.py --seeds 1 2 3 4 5 [--scale small] [--size 1.0]
        [--quiet-months 3] [--by-content-type] [--keep DIR]

Prints one line per seed and dataset, then the ``SUMMARY`` table (markdown) pasted into
``docs/trends.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from govlib.data.load import load_market_window, open_dataset
from govlib.demo import generate
from govlib.metrics.trends import build_weekly_series, detect_emerging_risks
from govlib.params import load_market
from govlib.timeutil import shift_month


def alarms_for(
    data: Path, months_back: int, by_content_type: bool, count: str = "observed"
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Alerts and tested series of every market for the last ``months_back`` months."""
    truth = json.loads((data / "ground_truth.json").read_text())
    end = truth["end_month"]
    ds = open_dataset(data)
    alerts, tested = [], []
    for market in truth["markets"]:
        params = load_market(market)
        tables = load_market_window(
            ds, market, end, params.timezone, tables=["enforcement_actions", "content"]
        )
        series = build_weekly_series(
            tables["enforcement_actions"],
            tables["content"],
            market,
            params.timezone,
            end=f"{shift_month(end, 1)}-01",
            by_content_type=by_content_type,
        )
        for k in range(months_back):
            month = shift_month(end, -k)
            sub = series.loc[pd.to_datetime(series["week_start"]).dt.strftime("%Y-%m") <= month]
            # all tested series-weeks; the alarm rows are exactly alerts_for_month's rows, same order
            allw = detect_emerging_risks(sub, params.alerts, month=month, all_weeks=True, count=count)
            alerts.append(allw.loc[allw["alarm"]].assign(month=month))
            tested.append(allw[["market", "policy", "content_type"]].drop_duplicates().assign(month=month))
    alerts = [a for a in alerts if len(a)] or [
        pd.DataFrame(columns=["market", "policy", "content_type", "month"])
    ]
    return pd.concat(alerts, ignore_index=True), pd.concat(tested, ignore_index=True), truth


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--scale", default="small")
    ap.add_argument("--size", type=float, default=1.0, help="multiplier on the number of creators")
    ap.add_argument("--quiet-months", type=int, default=3)
    ap.add_argument("--by-content-type", action="store_true", help="also test policy x content type series")
    ap.add_argument(
        "--count",
        choices=["observed", "creators"],
        default="observed",
        help="test action counts (default) or distinct creators acted on",
    )
    ap.add_argument("--keep", type=Path, default=None, help="write the datasets here instead of a temp dir")
    args = ap.parse_args(argv)
    rows = []
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        for seed in args.seeds:
            for wave in (True, False):
                data = root / f"demo-{args.scale}-{seed}-{'wave' if wave else 'quiet'}"
                if not (data / ".complete").exists():
                    generate(data, scale=args.scale, seed=seed, plant_wave=wave, size=args.size)
                alerts, tested, truth = alarms_for(
                    data, 1 if wave else args.quiet_months, args.by_content_type, args.count
                )
                key = ["market", "policy", "content_type", "month"]
                alarmed = alerts[key].drop_duplicates()
                if wave:
                    w = truth["emerging_wave"]
                    is_wave = (alarmed["market"] == w["market"]) & (alarmed["policy"] == w["policy"])
                    mk = alerts[alerts["market"] == w["market"]]
                    top = bool(len(mk)) and mk["policy"].iloc[0] == w["policy"]
                    tw = (tested["market"] == w["market"]) & (tested["policy"] == w["policy"])
                    quiet_tested = int((~tw).sum())
                    fa = int((~is_wave).sum())
                    found = bool(is_wave.any())
                else:
                    quiet_tested, fa, found, top = len(tested), len(alarmed), None, None
                rows.append(
                    {
                        "seed": seed,
                        "dataset": "wave" if wave else "quiet",
                        "wave_found": found,
                        "wave_top": top,
                        "quiet_series_months": quiet_tested,
                        "false_alarm_series_months": fa,
                    }
                )
                r = rows[-1]
                print(
                    f"seed {seed} {r['dataset']}: wave found={found} top={top} "
                    f"false alarms {fa}/{quiet_tested} series-months ({time.time() - t0:.0f}s)",
                    flush=True,
                )
    df = pd.DataFrame(rows)
    w, q = df[df.dataset == "wave"], df[df.dataset == "quiet"]
    fa_q = 100 * q.false_alarm_series_months.sum() / max(q.quiet_series_months.sum(), 1)
    fa_w = 100 * w.false_alarm_series_months.sum() / max(w.quiet_series_months.sum(), 1)
    series = "market x policy x content type" if args.by_content_type else "market x policy"
    series += f", count={args.count}"
    print("\nSUMMARY")
    print(f"| measure ({series} series, seeds {' '.join(map(str, args.seeds))}) | value |")
    print("|---|---|")
    print(f"| wave found in its market x policy, last month | {int(w.wave_found.sum())} / {len(w)} seeds |")
    print(f"| wave is its market's top alert | {int(w.wave_top.sum())} / {len(w)} seeds |")
    print(
        f"| false alarms per 100 quiet series-months (quiet datasets, last {args.quiet_months} months) | "
        f"{fa_q:.2f} ({int(q.false_alarm_series_months.sum())} / {int(q.quiet_series_months.sum())}) |"
    )
    print(
        f"| false alarms per 100 other series-months (wave datasets, last month) | "
        f"{fa_w:.2f} ({int(w.false_alarm_series_months.sum())} / {int(w.quiet_series_months.sum())}) |"
    )
    print(f"\n({time.time() - t0:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
