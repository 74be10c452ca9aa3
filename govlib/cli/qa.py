"""``govlib qa plan``: the audit-sample planner (sample sizes per stratum, and the sample as a review queue)."""

from __future__ import annotations

import argparse


def _margin(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (e.g. 0.02 for ± 2 points)") from None


def add_arguments_plan(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--market", required=True, help="market code, e.g. DE")
    parser.add_argument("--month", required=True, help="YYYY-MM, local time of the market")
    parser.add_argument(
        "--precision", required=True, type=_margin, help="margin wanted: ± this proportion, e.g. 0.02"
    )
    parser.add_argument(
        "--target",
        default="precision",
        help="precision (of the month's actions, strata policy x language, default) or prevalence (strata language)",
    )
    parser.add_argument(
        "--expected", type=_margin, default=0.5, help="expected proportion (default 0.5, the worst case)"
    )
    parser.add_argument("--confidence", type=_margin, default=0.95, help="confidence level (default 0.95)")
    parser.add_argument("--data", default=None, help="dataset directory (default GOVLIB_DATA or data/demo)")
    parser.add_argument("--out", default=None, help="output directory (default reports/queues)")
    parser.add_argument("--format", default="csv", help="format of the sample queue: csv (default) or xlsx")
    parser.add_argument(
        "--exported-at", default=None, help="stamp of the export (default SOURCE_DATE_EPOCH or now)"
    )


def run_plan(args: argparse.Namespace) -> int:
    from govlib.analyses.audit import export_audit_sample
    from govlib.errors import UsageError
    from govlib.params import list_markets

    if args.market not in list_markets():
        raise UsageError(f"unknown market {args.market!r}; known: {', '.join(list_markets())}")
    plan, paths = export_audit_sample(
        args.market,
        args.month,
        args.precision,
        target=args.target,
        expected=args.expected,
        confidence=args.confidence,
        data_dir=args.data,
        out_dir=args.out,
        fmt=args.format,
        exported_at=args.exported_at,
    )
    print(
        f"audit plan of {args.market} {args.month} ({args.target}, ± {args.precision:g} at {args.confidence:g}): "
        f"{len(plan)} strata, {int(plan['sample_size'].sum())} of {int(plan['population'].sum())} items"
    )
    print(plan[["policy", "language", "population", "sample_size"]].to_string(index=False))
    for p in paths.values():
        print(f"  {p}")
    return 0
