"""The enforcement engine expressions give the same results on Spark as on DuckDB (issue 15).

The recidivism table and its risk sets (:mod:`govlib.metrics.effectiveness`), the weekly
action counts of the alarm series (:func:`govlib.report.cube.weekly_action_counts_expr`) and
the creator risk-score inputs (:mod:`govlib.metrics.risk`) run on the small demo dataset
opened once with each engine; the frames must be identical.
"""

from __future__ import annotations

import pandas as pd
import pytest
from spark_support import spark_available

from govlib.data.load import open_dataset
from govlib.metrics import effectiveness as m_eff
from govlib.params import load_market
from govlib.report.cube import weekly_action_counts_expr
from govlib.timeutil import month_bounds

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(
        not spark_available(), reason="needs pyspark (pip install 'govlib[spark]') and Java 17"
    ),
]
MARKET = "DE"


@pytest.fixture(scope="module")
def engines(demo_dir, ground_truth):
    duck, spark = open_dataset(demo_dir, "duckdb"), open_dataset(demo_dir, "spark")
    assert spark.con.name == "pyspark" and duck.con.name == "duckdb"
    return {"duckdb": duck, "spark": spark}, ground_truth["end_month"]


def _both(engines, compute) -> tuple[pd.DataFrame, pd.DataFrame]:
    (dss, _month) = engines
    return compute(dss["duckdb"]), compute(dss["spark"])


def test_recidivism_table_and_risk_sets_identical(engines):
    _, month = engines
    _, end = month_bounds(month, load_market(MARKET).timezone)

    def table(ds):
        t = m_eff.recidivism_table_expr(
            ds.table("enforcement_actions"), ds.table("creators"), data_end=end, market=MARKET
        )
        return m_eff.risk_sets_frame(t).sort_values("creator_id").reset_index(drop=True)

    def sets(ds):
        t = m_eff.recidivism_table_expr(ds.table("enforcement_actions"), data_end=end, market=MARKET)
        return m_eff.risk_sets_frame(
            m_eff.recidivism_risk_sets(t, by=["first_action_type", "first_severity"])
        )

    d, s = _both(engines, table)
    assert len(d) > 100 and d["event"].any()
    pd.testing.assert_frame_equal(s, d, check_dtype=False, check_exact=True)
    d, s = _both(engines, sets)
    pd.testing.assert_frame_equal(s, d, check_dtype=False, check_exact=True)


def test_weekly_action_counts_identical(engines):
    _, month = engines
    tz = load_market(MARKET).timezone

    def counts(ds):
        e = weekly_action_counts_expr(
            ds.table("enforcement_actions"), ds.table("content"), MARKET, tz, "2025-07-03", "2026-11-01"
        )
        return e.execute().astype({"observed": "int64", "creators": "int64"})

    d, s = _both(engines, counts)
    assert len(d) > 100
    pd.testing.assert_frame_equal(s, d, check_dtype=False)


def test_creator_risk_inputs_identical(engines):
    from govlib.metrics.risk import creator_risk_inputs_expr

    _, month = engines
    p = load_market(MARKET)

    def inputs(ds):
        e = creator_risk_inputs_expr(
            ds.table("enforcement_actions"),
            ds.table("content"),
            MARKET,
            month,
            p.timezone,
            severity_weights=p.severity_weights,
        )
        return e.execute().astype({"actions": "int64", "published": "int64"})

    d, s = _both(engines, inputs)
    assert len(d) > 100
    # GMV sums may be added in another order on each engine: a few ulps
    pd.testing.assert_frame_equal(s, d, check_dtype=False, rtol=1e-12)
