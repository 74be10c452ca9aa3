"""``govlib validate --data DIR [--tables t1,t2] [--level full|schema]``: check a dataset against the contract.

Prints the problems grouped by table and one final line; exit code 0 when the dataset
is valid, 1 when it is not (a :class:`govlib.errors.GovlibError`, e.g. a missing
directory, also exits non-zero without a traceback unless ``--debug``).
"""

from __future__ import annotations

import argparse
import sys
import time
from itertools import groupby

from govlib import config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", default=str(config.DATA_DIR), help="dataset directory (default: %(default)s)"
    )
    parser.add_argument(
        "--tables", default=None, help="comma-separated tables to check (default: all present)"
    )
    parser.add_argument(
        "--level",
        choices=("full", "schema"),
        default="full",
        help="full: every rule; schema: tables, columns and types only (what the loaders check)",
    )
    parser.add_argument(
        "--engine",
        choices=("duckdb", "spark"),
        default=None,
        help="query engine (default: GOVLIB_ENGINE or duckdb)",
    )


def format_report(problems, data: str, n_tables: int, n_rows: int, seconds: float) -> str:
    """Problems grouped by table, then the final line."""
    lines: list[str] = []
    for table, group in groupby(problems, key=lambda p: p.table):
        group = list(group)
        lines.append(f"{table}: {len(group)} problem{'s' if len(group) != 1 else ''}")
        lines += [f"  - {p.message}" for p in group]
    if problems:
        n_bad_tables = len({p.table for p in problems})
        lines.append(
            f"INVALID: {len(problems)} problem{'s' if len(problems) != 1 else ''} in {n_bad_tables} "
            f"table{'s' if n_bad_tables != 1 else ''} of {data}"
        )
    else:
        lines.append(f"VALID: {data} ({n_tables} tables, {n_rows:,} rows checked in {seconds:.1f} s)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from govlib.data.dataset import Dataset
    from govlib.data.validate import validate_dataset

    tables = [t.strip() for t in args.tables.split(",") if t.strip()] if args.tables else None
    t0 = time.perf_counter()
    ds = Dataset(args.data, getattr(args, "engine", None), check=False)
    problems = validate_dataset(ds, level=args.level, tables=tables)
    seconds = time.perf_counter() - t0
    n_tables = len([t for t in ds.tables if tables is None or t in tables])
    report = format_report(problems, args.data, n_tables, getattr(validate_dataset, "last_rows", 0), seconds)
    print(report, file=sys.stdout)
    return 1 if problems else 0
