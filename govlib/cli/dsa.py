"""``govlib dsa import|sync|report|peers``: the DSA Transparency Database, the harmonised report, peers."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import pandas as pd

from govlib.dsa import DsaError, dataset_source
from govlib.dsa.peers import (
    PeerReportWarning,
    compare_with_peers,
    our_figures,
    peer_figures,
    read_peer_reports,
    report_files,
)
from govlib.dsa.sor import import_dumps, parse_day, validate_output
from govlib.dsa.templates import build_report, load_period_tables, parse_period, write_report
from govlib.errors import UsageError


def add_arguments_import(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dump", nargs="+", required=True, metavar="PATH",
                        help="daily dump zips (sor-...-full.zip), part zips, CSVs or directories")  # fmt: skip
    parser.add_argument("--out", required=True, metavar="DIR", help="dataset directory to write")
    parser.add_argument("--platform", nargs="+", metavar="NAME", help="keep only these platform_name values")
    parser.add_argument(
        "--from", dest="date_from", metavar="D", help="first application_date to keep (YYYY-MM-DD)"
    )
    parser.add_argument(
        "--to", dest="date_to", metavar="D", help="last application_date to keep (YYYY-MM-DD)"
    )
    parser.add_argument(
        "--category", nargs="+", metavar="C", help="keep these DSA categories (v1 or v2 names)"
    )
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory limit (default 1GB)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    parser.add_argument(
        "--no-validate", action="store_true", help="skip the data-contract check of the output"
    )


def run_import(args: argparse.Namespace) -> int:
    date_from = parse_day(args.date_from) if args.date_from else None
    date_to = parse_day(args.date_to) if args.date_to else None
    if date_from and date_to and date_to < date_from:
        raise UsageError(f"--to {date_to} is before --from {date_from}")
    summary = import_dumps(
        args.dump, args.out, platforms=args.platform, date_from=date_from, date_to=date_to,
        categories=args.category, memory_limit=args.memory_limit, threads=args.threads,
    )  # fmt: skip
    print(f"files read:          {summary.files_read}")
    print(f"rows read:           {summary.rows_read}")
    print(f"duplicates dropped:  {summary.duplicates_dropped} (same uuid seen before)")
    print(f"rows selected:       {summary.rows_selected}")
    print(f"rows written:        {summary.rows_written} (one per decision and market)")
    if summary.dates_clamped:
        print(
            f"content_date after application_date: {summary.dates_clamped} rows (detected_at set to actioned_at)"
        )
    print("rows written per market:")
    for market, n in sorted(summary.rows_by_market.items()):
        print(f"  {market}  {n}")
    if not args.no_validate:
        problems = validate_output(Path(args.out), args.memory_limit, args.threads)
        if problems:
            print(
                f"the imported dataset fails the data contract ({len(problems)} problem(s)):", file=sys.stderr
            )
            for p in problems:
                print(f"  - {p}", file=sys.stderr)
            return 1
    print(f"written to {args.out}")
    return 0


def add_arguments_sync(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", required=True, metavar="DIR",
                        help="folder of sor-global-YYYY-MM-DD-full.zip dumps with their .sha1 files")  # fmt: skip
    parser.add_argument("--store", required=True, metavar="OUT", help="the statement archive to fill")
    parser.add_argument("--from", dest="date_from", metavar="D", help="first dump day (YYYY-MM-DD)")
    parser.add_argument("--to", dest="date_to", metavar="D", help="last dump day (YYYY-MM-DD)")
    parser.add_argument(
        "--platform", nargs="+", metavar="NAME", help="store only these platforms (default all)"
    )
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory limit (default 1GB)")
    parser.add_argument("--threads", type=int, default=2, help="parser and DuckDB threads (default 2)")


def run_sync(args: argparse.Namespace) -> int:
    from govlib.dsa.archive import sync

    date_from = parse_day(args.date_from) if args.date_from else None
    date_to = parse_day(args.date_to) if args.date_to else None
    if date_from and date_to and date_to < date_from:
        raise UsageError(f"--to {date_to} is before --from {date_from}")
    if args.threads < 1:
        raise UsageError("--threads must be at least 1")
    s = sync(args.archive, args.store, date_from=date_from, date_to=date_to, platforms=args.platform,
             memory_limit=args.memory_limit, threads=args.threads)  # fmt: skip
    print(f"days stored:   {len(s.stored)} {' '.join(s.stored)}")
    print(f"days skipped:  {len(s.skipped)} (already stored)")
    print(f"rows read:     {s.rows_read}")
    print(f"rows stored:   {s.rows_stored} (one per statement)")
    print(f"warnings:      {len(s.warnings)} (recorded in {Path(args.store) / 'manifest.json'})")
    if s.failed:
        raise DsaError(
            f"{len(s.failed)} day(s) not stored (the others are):\n  - "
            + "\n  - ".join(f"{d}: {why}" for d, why in s.failed.items())
        )
    return 0


def add_arguments_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--period", required=True, help="reporting period, YYYY-H1 or YYYY-H2")
    parser.add_argument("--data", required=True, metavar="DIR", help="dataset directory")
    parser.add_argument("--out", required=True, metavar="DIR", help="directory for the CSV parts")
    parser.add_argument("--service", default="", help="service name for the 'Service' column")
    parser.add_argument("--market", nargs="+", help="restrict to these markets (default: all DSA markets)")
    parser.add_argument(
        "--min-cell-size", type=int, help="small-cell threshold (default: from market params)"
    )


def run_report(args: argparse.Namespace) -> int:
    start, end, label = parse_period(args.period)
    data = Path(args.data)
    if not data.is_dir():
        raise UsageError(f"--data {data} is not a directory")
    if args.min_cell_size is not None and args.min_cell_size < 1:
        raise UsageError("--min-cell-size must be at least 1")
    tables = load_period_tables(data, start, end)
    parts = build_report(tables, args.period, service=args.service, min_cell_size=args.min_cell_size,
                         markets=args.market)  # fmt: skip
    paths = write_report(parts, args.out)
    meta = dataset_source(data)
    print(f"period {label}: wrote {len(paths)} Annex I part(s) to {args.out}")
    for p in paths:
        print(f"  {p.name}")
    for stem, table in (("4_notices", "notices"), ("7_appeals_and_recidivism", "appeals")):
        if stem not in parts:
            print(f"  {stem}.csv not written: the dataset has no {table} table")
    if meta.get("source"):
        print(f"source: {meta['source']}; {meta.get('multi_market_rows', '')}")
    return 0


def add_arguments_peers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="folders or CSV files of published reports")
    parser.add_argument("--out", metavar="FILE", help="write the figures as CSV")
    parser.add_argument(
        "--tidy",
        metavar="FILE",
        help="write the tidy table of every filled cell of a figure column as CSV (text cells: empty value)",
    )
    parser.add_argument("--data", metavar="DIR", help="our dataset, to put our figures next to theirs")
    parser.add_argument("--period", help="our reporting period (YYYY-H1/H2), with --data")
    parser.add_argument(
        "--allow-mixed-periods",
        action="store_true",
        help="accept a report folder whose files state different periods (kept as separate periods)",
    )


def run_peers(args: argparse.Namespace) -> int:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PeerReportWarning)
        tidy = read_peer_reports(args.dirs, allow_mixed_periods=args.allow_mixed_periods)
    for w in caught:
        if issubclass(w.category, PeerReportWarning):
            print(f"govlib dsa peers: warning: {w.message}", file=sys.stderr)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    figs = peer_figures(tidy)
    if args.data:
        if not args.period:
            raise UsageError("--data needs --period (YYYY-H1 or YYYY-H2)")
        from govlib.data.load import open_dataset

        ds = open_dataset(args.data)
        tables = {n: ds.load(n) for n in ("enforcement_actions", "appeals", "notices") if ds.has(n)}
        figs = compare_with_peers(our_figures(tables, args.period), figs)
    numeric = tidy["value"].notna()  # a text cell in a figure column is kept in the tidy table, not counted
    n_files = tidy.loc[numeric, "source_file"].nunique()
    print(
        f"read {len(report_files(args.dirs))} files ({n_files} with numeric cells), {int(numeric.sum())} numeric "
        f"cells, {int((~numeric).sum())} text cells"
    )
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_rows", 200):
        print(
            figs.drop(columns=[c for c in ("numerator", "denominator") if c in figs]).to_string(index=False)
        )
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        figs.to_csv(args.out, index=False, lineterminator="\r\n")
    if args.tidy:
        tidy.drop(columns="_report").to_csv(args.tidy, index=False, lineterminator="\r\n")
    return 0
