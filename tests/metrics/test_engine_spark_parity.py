"""The engine-side health, rewards and performance expressions give the same numbers on Spark (issue 15).

The metrics of ``govlib.metrics.health``, ``rewards`` and ``performance`` are Ibis expressions;
here they run on the small demo's tables opened on Spark (one local session) and on DuckDB, for
market DE, and every result must agree: counts equal, floats to 1e-9. This covers the rolling
90-day range frames of the health ledger, the range join of rewarded violators and the exact
medians of content performance, which each engine compiles differently.
"""

from __future__ import annotations

import pytest
from engine_equality import assert_same
from spark_support import spark_available

from govlib.data.load import open_dataset
from govlib.metrics import health, performance, rewards
from govlib.params import load_market
from govlib.timeutil import month_bounds

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(
        not spark_available(), reason="needs pyspark (pip install 'govlib[spark]') and Java 17"
    ),
]

MARKET, MONTH = "DE", "2026-10"
TABLES = ("enforcement_actions", "creators", "appeals", "content", "rewards")


def _results(ds) -> dict:
    """Every engine-side metric of the market's month on the tables of ``ds``."""
    mp = load_market(MARKET)
    t = {name: ds.table(name) for name in TABLES}
    t = {name: tab.filter(tab.market == MARKET) for name, tab in t.items()}
    at = month_bounds(MONTH, mp.timezone)[1]
    hs, kw = mp.health, dict(market=MARKET, month=MONTH, tz=mp.timezone)
    acts = t["enforcement_actions"]
    ledger = health.health_ledger(acts, t["creators"], at, hs, market=MARKET, appeals=t["appeals"])
    warn = health.early_warning_table(ledger, acts, hs, at=at)
    per_creator = rewards.rewards_penalties_table(t["rewards"], acts, t["creators"], **kw)
    return {
        "ledger": health.score_health(acts, t["creators"], at, hs, market=MARKET, appeals=t["appeals"]),
        "distribution": health.summarise_health_distribution(ledger, by=("tier",)),
        "milestones": health.share_at_or_below_milestones(ledger, t["content"], hs, by=("tier",), at=at),
        "early_warning": health.list_early_warning(ledger, acts, hs, at=at),
        "early_warning_counts": health.count_early_warning(warn, ledger),
        "closest": health.closest_early_warning(warn, hs, n=10),
        "rewards_by_tier": rewards.summarise_rewards_penalties(per_creator, by=("tier",)),
        "rewarded_violators": rewards.share_rewarded_with_recent_violations(
            t["rewards"], acts, creators=t["creators"], by="tier", **kw
        ),
        "performance": performance.compare_actioned_content(t["content"], acts, **kw),
        "exposure": performance.estimate_exposure_to_violations(t["content"], acts, **kw),
    }


@pytest.fixture(scope="module")
def both(demo_dir):
    duck, spark = open_dataset(demo_dir, "duckdb"), open_dataset(demo_dir, "spark")
    assert spark.con.name == "pyspark" and duck.con.name == "duckdb"
    return _results(duck), _results(spark)


@pytest.mark.parametrize(
    "name",
    [
        "ledger",
        "distribution",
        "milestones",
        "early_warning",
        "early_warning_counts",
        "closest",
        "rewards_by_tier",
        "rewarded_violators",
        "performance",
        "exposure",
    ],
)
def test_engine_metric_identical_on_spark_and_duckdb(both, name):
    duck, spark = both
    assert len(duck[name]) > 0
    assert_same(spark[name], duck[name])
