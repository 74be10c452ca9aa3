"""``govlib investigate``: a confidential deep dive into one creator or one policy of a market."""

from __future__ import annotations

import argparse

from govlib.report.batch.investigation import run_investigation


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--creator", default="", help="creator id to investigate")
    parser.add_argument("--policy", default="", help="policy (with --market, --from, --to)")
    parser.add_argument("--market", default="", help="market code, e.g. DE")
    parser.add_argument("--from", dest="date_from", default="", help="first local date, YYYY-MM-DD")
    parser.add_argument("--to", dest="date_to", default="", help="last local date (inclusive), YYYY-MM-DD")
    parser.add_argument("--data", default=None, help="dataset directory (default GOVLIB_DATA or data/demo)")
    parser.add_argument("--out", default=None, help="output directory (default reports/investigations)")
    parser.add_argument("--lang", default="en_GB", help="report language (default en_GB)")


def run(args: argparse.Namespace) -> int:
    folder = run_investigation(
        creator=args.creator,
        policy=args.policy,
        market=args.market,
        date_from=args.date_from,
        date_to=args.date_to,
        data_dir=args.data,
        out_dir=args.out,
        lang=args.lang,
    )
    print(f"investigation written to {folder} (CONFIDENTIAL: contains identifiers)")
    return 0
