"""``govlib demo-data``: write the seeded demo marketplace and its ground truth."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from govlib import config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from govlib.demo.generator import SCALES

    parser.add_argument(
        "--out",
        type=Path,
        default=config.DATA_DIR,
        help="dataset directory (default: data/demo, or $GOVLIB_DATA)",
    )
    parser.add_argument(
        "--scale",
        choices=SCALES,
        default="small",
        help="small: ~5k creators, ~200k content; medium: 10x; large: ~100x (>= 20M content); "
        "xlarge: 10x large (~200M content, written in blocks of creators)",
    )
    parser.add_argument(
        "--seed", type=int, default=config.DEMO_SEED, help="random seed (default: %(default)s)"
    )
    parser.add_argument(
        "--end-month",
        default=config.DEMO_END_MONTH,
        help="last local month of the data, YYYY-MM (default: %(default)s)",
    )
    parser.add_argument("--no-wave", action="store_true", help="do not plant the emerging abuse wave")
    parser.add_argument("--force", action="store_true", help="overwrite a complete dataset at --out")


def run(args: argparse.Namespace) -> int:
    from govlib.demo.generator import generate
    from govlib.timeutil import parse_month

    parse_month(args.end_month)
    t0 = time.perf_counter()
    truth = generate(
        args.out,
        scale=args.scale,
        seed=args.seed,
        end_month=args.end_month,
        plant_wave=not args.no_wave,
        force=args.force,
    )
    seconds = time.perf_counter() - t0
    rows = " ".join(f"{name}={n:,}" for name, n in truth["row_counts"].items())
    print(f"wrote {args.out}: {rows} in {seconds:.1f} s")
    return 0
