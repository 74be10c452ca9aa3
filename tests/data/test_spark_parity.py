"""The headline KPI table is the same on Spark and on DuckDB (issue 8, "Spark").

For every market of the small demo dataset, the demo month's window is loaded with
``govlib.data.load.load_market_window`` once on each engine (one local Spark session,
reused) and ``govlib.metrics.kpis.compute_kpis`` runs on both. Counts, numerators and
denominators must be equal; values and interval bounds equal to a relative 1e-12.
The loaded windows themselves must be identical frames, so a difference is traced to
the data layer rather than to the metric code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from spark_support import spark_available

from govlib.data.load import load_market_window, open_dataset
from govlib.metrics.kpis import compute_kpis
from govlib.params import load_market
from govlib.timeutil import shift_month

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(
        not spark_available(), reason="needs pyspark (pip install 'govlib[spark]') and Java 17"
    ),
]

# Tables the KPIs read; months_back=3 covers the recidivism_90d cohort of M-3.
KPI_TABLES = ("enforcement_actions", "content", "notices", "appeals", "prevalence_samples")
MONTHS_BACK = 3


@pytest.fixture(scope="module")
def kpis_both(demo_dir, ground_truth):
    month = ground_truth["end_month"]
    duck, spark = open_dataset(demo_dir, "duckdb"), open_dataset(demo_dir, "spark")
    assert spark.con.name == "pyspark" and duck.con.name == "duckdb"
    out = {}
    for market in ground_truth["markets"]:
        tz = load_market(market).timezone
        windows = {
            eng: load_market_window(ds, market, month, tz, months_back=MONTHS_BACK, tables=KPI_TABLES)
            for eng, ds in (("duckdb", duck), ("spark", spark))
        }
        out[market] = {
            "windows": windows,
            "kpis": {eng: compute_kpis(w, market, month, tz) for eng, w in windows.items()},
        }
    return out


def test_market_windows_identical_on_both_engines(kpis_both):
    for market, r in kpis_both.items():
        wd, ws = r["windows"]["duckdb"], r["windows"]["spark"]
        assert list(ws) == list(wd), market
        for name in wd:
            pd.testing.assert_frame_equal(ws[name], wd[name], obj=f"{market} window {name}")


def test_kpi_table_identical_on_both_engines(kpis_both, ground_truth):
    for market, r in kpis_both.items():
        d, s = r["kpis"]["duckdb"], r["kpis"]["spark"]
        assert list(s.columns) == list(d.columns)
        for col in ("market", "month", "kpi_id", "unit"):
            assert s[col].tolist() == d[col].tolist(), (market, col)
        # counts (and the numerators/denominators every rate is made of) are exact
        counts = d["unit"] == "count"
        assert s.loc[counts, "value"].tolist() == d.loc[counts, "value"].tolist(), market
        for col in ("numerator", "denominator"):
            np.testing.assert_array_equal(s[col].to_numpy(), d[col].to_numpy(), err_msg=f"{market} {col}")
        for col in ("value", "ci_low", "ci_high"):
            np.testing.assert_allclose(
                s[col].to_numpy(),
                d[col].to_numpy(),
                rtol=1e-12,
                atol=0,
                equal_nan=True,
                err_msg=f"{market} {col}",
            )
        # the comparison is not vacuous: every market had actions and non-empty shares that month
        by_id = d.set_index("kpi_id")
        assert by_id.loc["actions_total", "value"] > 0, market
        shares = ["proactive_rate", "automated_decision_rate", "removed_within_24h_rate"]
        if ground_truth["windows"][market]["first_month"] <= shift_month(ground_truth["end_month"], -3):
            shares.append("recidivism_90d")  # a market launched less than 3 months ago has no M-3 cohort
        for kpi in shares:
            assert by_id.loc[kpi, "denominator"] > 0 and np.isfinite(by_id.loc[kpi, "value"]), (market, kpi)
    assert set(kpis_both) == set(ground_truth["markets"])


def test_runner_cube_identical_on_spark(monkeypatch, tmp_path, demo_dir, ground_truth):
    """What ``govlib run --engine spark`` does per market: the cube (15-month window, KPIs of 13 months).

    IE, the smallest market, keeps the Spark part short; every month's KPI table must match.
    """
    import argparse

    from govlib.cli import run as runner
    from govlib.report.cube import build_cube, load_cube

    parser = argparse.ArgumentParser()
    runner.add_arguments(parser)
    assert parser.parse_args(["--month", "2026-10", "--engine", "spark"]).engine == "spark"
    with pytest.raises(SystemExit):  # an unknown engine is a usage error, not a late crash
        parser.parse_args(["--month", "2026-10", "--engine", "postgres"])

    month = ground_truth["end_month"]
    kpis = {}
    for eng in ("duckdb", "spark"):
        monkeypatch.setenv("GOVLIB_ENGINE", eng)  # what `--engine` sets for the runner's cube workers
        kpis[eng] = load_cube(build_cube(demo_dir, "IE", month, cache_dir=tmp_path / eng)).kpis
    d, s = kpis["duckdb"], kpis["spark"]
    assert len(d) == 13 * 12 and d["month"].nunique() == 13
    assert s[["market", "month", "kpi_id", "unit"]].equals(d[["market", "month", "kpi_id", "unit"]])
    for col in ("numerator", "denominator"):
        np.testing.assert_array_equal(s[col].to_numpy(), d[col].to_numpy(), err_msg=col)
    for col in ("value", "ci_low", "ci_high"):
        np.testing.assert_allclose(
            s[col].to_numpy(), d[col].to_numpy(), rtol=1e-12, atol=0, equal_nan=True, err_msg=col
        )
