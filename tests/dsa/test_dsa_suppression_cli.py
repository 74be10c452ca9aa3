"""Small-cell suppression of ``govlib dsa report`` end to end (issue 9, privacy).

``tests/test_dsa_templates.py`` checks ``build_report`` on a hand-made dataset with an explicit
``min_cell_size=10``. Here the command itself runs on the demo data with its *default*
threshold (the strictest ``min_cell_size`` of the market params), and the written CSV files
are checked against an unsuppressed run (``--min-cell-size 1``) of the same data.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from govlib import cli
from govlib.params import list_markets, load_market
from govlib.privacy import scan_for_identifiers

COUNT_PARTS = ("5_own_initiative_illegal", "6_own_initiative_TC")  # every value cell is a count
PERIOD = "2026-H1"


def _read(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


@pytest.fixture(scope="module")
def exports(demo_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("dsa")
    assert (
        cli.main(
            ["dsa", "report", "--period", PERIOD, "--data", str(demo_dir), "--out", str(out / "default")]
        )
        == 0
    )
    assert (
        cli.main(
            [
                "dsa",
                "report",
                "--period",
                PERIOD,
                "--data",
                str(demo_dir),
                "--out",
                str(out / "raw"),
                "--min-cell-size",
                "1",
            ]
        )
        == 0
    )
    return out


def test_counts_below_min_cell_size_are_suppressed_in_written_files(exports):
    k = max(load_market(m).min_cell_size for m in list_markets())  # documented default: the strictest market
    note = f"Suppressed: fewer than {k}"
    n_suppressed = n_shown = 0
    for stem in COUNT_PARTS:
        shown, raw = _read(exports / "default" / f"{stem}.csv"), _read(exports / "raw" / f"{stem}.csv")
        header = shown[0]
        assert raw[0] == header and len(raw) == len(shown)
        value_cols = [
            j
            for j, h in enumerate(header)
            if h.startswith(
                (
                    "Number of",
                    "Visibility restriction",
                    "Monetary restriction",
                    "Provision of the service",
                    "Account restriction",
                )
            )
        ]
        assert value_cols, stem
        for rs, rr in zip(shown[1:], raw[1:]):
            assert rs[:5] == rr[:5]  # same row labels
            for j in value_cols:
                ctx = (
                    header.index("Contextual Information on " + header[j])
                    if ("Contextual Information on " + header[j]) in header
                    else None
                )
                if rr[j] == "":  # not applicable (e.g. keyword rows without data)
                    assert rs[j] == ""
                    continue
                count = int(rr[j])
                if 1 <= count < k:
                    assert rs[j] == "", (stem, rs[3], header[j], count)
                    if ctx is not None:
                        assert rs[ctx] == note, (stem, rs[3], header[j])
                    n_suppressed += 1
                elif rs[j] == "" and count >= k:  # hidden to protect a lone small cell of its column
                    assert ctx is not None and "complementary" in rs[ctx], (stem, rs[3], header[j])
                else:  # zero and counts >= k are published as they are
                    assert rs[j] == rr[j], (stem, rs[3], header[j])
                    n_shown += count > 0
    # the demo data has both kinds, so the checks above ran on real cells
    assert n_suppressed > 0 and n_shown > 0


def test_no_suppressed_cell_can_be_derived_from_the_total(exports):
    """In every count column, the hidden category cells are none or at least two."""
    n_columns_with_hidden = 0
    for stem in COUNT_PARTS:
        shown, raw = _read(exports / "default" / f"{stem}.csv"), _read(exports / "raw" / f"{stem}.csv")
        header = shown[0]
        category_rows = [
            (rs, rr) for rs, rr in zip(shown[1:], raw[1:]) if rs[3].startswith("STATEMENT_CATEGORY_")
        ]
        for j, h in enumerate(header):
            if (
                h.startswith(("Contextual", "Service", "Reporting", "Country", "Statement", "Keyword"))
                or j < 5
            ):
                continue
            hidden = [rr[j] for rs, rr in category_rows if rs[j] == "" and rr[j] not in ("", "0")]
            assert len(hidden) != 1, (stem, h, hidden)
            n_columns_with_hidden += bool(hidden)
    assert n_columns_with_hidden > 0  # the demo data exercises it


def test_dsa_exports_carry_no_creator_ids(exports, demo_dir):
    ids = pd.read_parquet(demo_dir / "creators.parquet", columns=["creator_id"])["creator_id"].astype(str)
    files = sorted((exports / "default").glob("*.csv"))
    assert len(files) >= 4
    assert scan_for_identifiers(files, ids.tolist()) == []
