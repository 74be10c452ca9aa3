"""The statement-archive aggregates are the same on Spark and DuckDB (issue 16, part 4).

The fixture archive (tests/dsa_archive.py: 199 real statements spread over January to June
2026 plus the planted ones) is read through Ibis on both engines; every aggregate of
govlib/dsa/peers_sor.py over the six months must be equal: counts exactly, the
quantiles (exact, interpolated on both) to a relative 1e-12.
"""

from __future__ import annotations

import pandas as pd
import pytest
from dsa_archive import fixture_archive
from spark_support import spark_available

from govlib.dsa import peers_sor as ps

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(
        not spark_available(), reason="needs pyspark (pip install 'govlib[spark]') and Java 17"
    ),
]

RANGE = ("2026-01-01", "2026-06-30")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    store = fixture_archive(tmp_path_factory.mktemp("arch") / "a")
    return {eng: ps.open_archive(store, eng, *RANGE) for eng in ("duckdb", "spark")}


@pytest.mark.parametrize(
    "by",
    [ps.GROUP_KEYS, ("platform_name", "month"), ()],
    ids=["platform-state-category-month", "platform-month", "eea"],
)
def test_statement_aggregates_parity(both, by):
    duck, spark = (
        ps.execute(ps.statement_aggregates(both[e], by=by, date_from=RANGE[0])) for e in ("duckdb", "spark")
    )
    assert len(duck) > (500 if "member_state" in by else 0)
    if "month" in by:
        assert duck.month.nunique() == 6  # a multi-month range
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False, rtol=1e-12)


@pytest.mark.parametrize("field", ["content_type", "decision_visibility", "decision_account"])
def test_breakdown_parity(both, field):
    duck, spark = (
        ps.execute(ps.breakdown(both[e], field, by=("platform_name", "month"))) for e in ("duckdb", "spark")
    )
    assert len(duck)
    pd.testing.assert_frame_equal(duck, spark, check_dtype=False)
