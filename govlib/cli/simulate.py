"""``govlib simulate``: replay a market's last 13 months under a proposed rule set (or compare two)."""

from __future__ import annotations

import argparse

from govlib.report.batch.simulation import run_simulation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--market", required=True, help="market code, e.g. DE")
    parser.add_argument("--month", required=True, help="last month of the 13 replayed, YYYY-MM")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--proposal", help="proposal file, e.g. params/proposals/de_stricter_milestones.yaml")
    group.add_argument("--compare", nargs=2, metavar=("A", "B"), help="two proposal files side by side")
    parser.add_argument("--data", default=None, help="dataset directory (default GOVLIB_DATA or data/demo)")
    parser.add_argument("--out", default=None, help="output directory (default reports/<month>/simulations)")
    parser.add_argument("--lang", default="", help="report language (default the market's)")


def run(args: argparse.Namespace) -> int:
    folder = run_simulation(
        market=args.market,
        month=args.month,
        proposals=list(args.compare) if args.compare else [args.proposal],
        data_dir=args.data,
        out_dir=args.out,
        lang=args.lang,
    )
    print(f"simulation written to {folder} (simulation.csv, simulation.html)")
    return 0
