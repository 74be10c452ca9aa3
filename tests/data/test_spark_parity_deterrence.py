"""The deterrence (DiD) cell sums and their Poisson bootstrap weights are the same on Spark as on DuckDB.

The Poisson weights come from a whole-number hash (MD5 of the creator id, then MurmurHash3's
finaliser) that both engines must compute bit for bit, or the same seed would give another
interval on Spark. The small demo's DE panel is read from Parquet by each engine; the
per-(replicate, cohort, cell, group) sums and the estimate must agree.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from spark_support import spark_available

from govlib.data.load import open_dataset
from govlib.metrics import effectiveness as m
from govlib.params import load_market

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(
        not spark_available(), reason="needs pyspark (pip install 'govlib[spark]') and Java 17"
    ),
]
MARKET = "DE"
KW = {"window": 2, "outcome": "allegations", "match_on": ("market", "tier"), "left_truncation": "drop"}


@pytest.fixture(scope="module")
def panels(demo_dir, tmp_path_factory):
    ds = open_dataset(demo_dir)
    panel = m.build_violation_panel(
        ds.load("content", columns=["content_id", "creator_id", "published_at"]),
        ds.load("enforcement_actions"),
        ds.load("creators"),
        tz=load_market(MARKET).timezone,
        market=MARKET,
        notices=ds.load("notices"),
    )
    path = tmp_path_factory.mktemp("did") / "panel.parquet"
    panel.to_parquet(path)
    spark = open_dataset(demo_dir, "spark")
    assert spark.con.name == "pyspark"
    return ibis.duckdb.connect().read_parquet(path), spark.con.read_parquet(str(path))


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    df = df.assign(treated=df["treated"].astype(bool))
    return df.sort_values(["replicate", "g", "cell", "treated"]).reset_index(drop=True)


def test_cell_sums_and_weights_identical(panels):
    duck, spark = panels
    months = sorted(duck.select("month").distinct().execute()["month"].astype(str))
    a, b = (
        _sorted(m.did_cell_sums_expr(t, months, n_boot=20, seed=7, **KW).execute()) for t in (duck, spark)
    )
    assert len(a) > 20
    pd.testing.assert_frame_equal(
        a[["replicate", "g", "cell", "treated", "n"]],
        b[["replicate", "g", "cell", "treated", "n"]],
        check_dtype=False,
    )
    assert (a["w"].to_numpy() == b["w"].to_numpy()).all()  # sums of whole-number weights: exact
    for c in ("s_d", "s_pre", "s_post", "y_window"):
        np.testing.assert_allclose(b[c].to_numpy(), a[c].to_numpy(), rtol=1e-12, atol=1e-12)


def test_estimate_identical(panels):
    duck, spark = panels
    kw = {**KW, "n_boot": 20, "seed": 7}
    a, b = (m.estimate_deterrence_did_expr(t, **kw) for t in (duck, spark))
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12)


def test_violation_panel_identical(demo_dir, ground_truth):
    """The panel expression itself, from the dataset's tables on each engine (activity counted from content)."""
    from govlib.timeutil import shift_month

    tz, month = load_market(MARKET).timezone, ground_truth["end_month"]
    months = [shift_month(month, -k) for k in range(6, -1, -1)]

    def panel(ds):
        c = ds.table("content")
        c = c.filter(c.market == MARKET)
        c = c.mutate(month=m._panel_month_expr(c.published_at, months, tz))
        c = c.filter(c.month.isin(months))
        act = c.group_by(["creator_id", "month"]).agg(activity=c.count())
        expr = m.violation_panel_expr(
            ds.table("enforcement_actions"),
            ds.table("creators"),
            ds.table("notices"),
            ds.table("content"),
            act,
            market=MARKET,
            tz=tz,
            months=months,
        )
        return expr.execute().sort_values(["creator_id", "month"]).reset_index(drop=True)

    a, b = panel(open_dataset(demo_dir)), panel(open_dataset(demo_dir, "spark"))
    assert len(a) > 1000 and a["allegations"].sum() > 0
    pd.testing.assert_frame_equal(a.drop(columns="exposure"), b.drop(columns="exposure"), check_dtype=False)
    np.testing.assert_allclose(b["exposure"].to_numpy(), a["exposure"].to_numpy(), rtol=0, atol=1e-12)
