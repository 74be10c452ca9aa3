"""``govlib queue export`` and ``govlib labels import``: review queues out, labels back in."""

from __future__ import annotations

import argparse

from govlib.analyses.feedback import MAX_LISTED, export_queue, import_labels
from govlib.errors import UsageError


def add_arguments_export(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--market", required=True, help="market code, e.g. DE")
    parser.add_argument("--month", required=True, help="YYYY-MM, local time of the market")
    parser.add_argument("--data", default=None, help="dataset directory (default GOVLIB_DATA or data/demo)")
    parser.add_argument("--out", default=None, help="output directory (default reports/queues)")
    parser.add_argument("--top", type=int, default=20, help="creators from the risk watchlist (default 20)")
    parser.add_argument(
        "--per-creator", type=int, default=3, help="content items per watchlist creator (default 3)"
    )
    parser.add_argument(
        "--alarm-items", type=int, default=10, help="content items per emerging-abuse alarm (default 10)"
    )
    parser.add_argument(
        "--qa-sample",
        type=int,
        default=0,
        help="random QA sample of the month's content, for signal evaluation (default 0)",
    )
    parser.add_argument(
        "--exported-at",
        default=None,
        help="stamp of the export (default SOURCE_DATE_EPOCH or now); for reproducible files",
    )


def run_export(args: argparse.Namespace) -> int:
    from govlib.params import list_markets

    if args.market not in list_markets():
        raise UsageError(f"unknown market {args.market!r}; known: {', '.join(list_markets())}")
    csv_path, xlsx_path = export_queue(
        args.market,
        args.month,
        args.data,
        args.out,
        top=args.top,
        per_creator=args.per_creator,
        alarm_items=args.alarm_items,
        qa_sample=args.qa_sample,
        exported_at=args.exported_at,
    )
    with open(csv_path, encoding="utf-8") as fh:
        n = sum(1 for _ in fh) - 1
    print(f"review queue of {args.market} {args.month}: {n} item(s)\n  {csv_path}\n  {xlsx_path}")
    return 0


def add_arguments_import(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="filled review queue (.csv or .xlsx from 'govlib queue export')")
    parser.add_argument("--data", default=None, help="dataset directory (default GOVLIB_DATA or data/demo)")


def run_import(args: argparse.Namespace) -> int:
    import sys

    res = import_labels(args.file, args.data)
    print(res.summary())
    if res.rejected:
        unit = "row" if str(args.file).lower().endswith(".xlsx") else "line"  # a sheet row, or a CSV line
        lines = [f"  {unit} {line}: {reason}" for line, reason in res.rejected[:MAX_LISTED]]
        if len(res.rejected) > MAX_LISTED:
            lines.append(f"  ... and {len(res.rejected) - MAX_LISTED} more")
        print(
            f"govlib labels import: error: {args.file}: {len(res.rejected)} row(s) rejected (the valid rows were "
            f"imported); fix these {unit}s and import the file again:\n" + "\n".join(lines),
            file=sys.stderr,
        )
        return 1
    return 0
