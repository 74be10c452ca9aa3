"""``govlib summary``: a per-market summary table of a month."""

from __future__ import annotations

import argparse

from govlib import config
from govlib.data.summary import format_table, split_known, summarise_month
from govlib.timeutil import parse_month


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", default=str(config.DATA_DIR), help="dataset directory (default: %(default)s)"
    )
    parser.add_argument("--month", default=config.DEMO_END_MONTH, help="month YYYY-MM (default: %(default)s)")
    parser.add_argument(
        "--markets", default=None, help="comma-separated markets (default: every market in the data)"
    )
    parser.add_argument("--engine", choices=("duckdb", "spark"), default=None, help="query engine")


def run(args: argparse.Namespace) -> int:
    """Print the known markets' table, then the skipped ones; exit 1 if a market asked for was skipped."""
    from govlib.data.load import list_data_markets, open_dataset

    month = parse_month(args.month)
    ds = open_dataset(args.data, getattr(args, "engine", None))
    asked = [m.strip() for m in args.markets.split(",") if m.strip()] if args.markets else None
    markets, skipped = split_known(asked if asked is not None else list_data_markets(ds))
    df = summarise_month(ds, month, markets)
    print(f"govlib summary {month} ({args.data}); months in each market's local time zone")
    print(format_table(df))
    for m, why in skipped.items():
        print(f"skipped {m}: {why}")
    return 1 if asked is not None and skipped else 0
