"""Recidivism, weekly alarm counts and risk inputs: the pandas reference against the engine, in one run.

    .venv/bin/python benchmarks/engine_enforcement.py DATA MARKET MONTH CACHE_DIR [NAMES]

``NAMES`` (comma-separated, default all): recid, weekly, risk, did.

Builds (or reuses) the market's cube in ``CACHE_DIR``, then times each computation of issue 15's
enforcement part twice, today's pandas path and the engine expressions, and prints CPU time
(all threads), wall time, the rows taken into pandas and the CPU ratio engine / pandas. The
pandas recidivism table is the reference kept in ``tests/metrics/pandas_reference_effectiveness.py``.
Figures: docs/performance.md ("Engine-side enforcement work").
"""

import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "tests"))
import pandas as pd
from metrics.pandas_reference_effectiveness import build_recidivism_table

from govlib.metrics import effectiveness as m
from govlib.metrics import risk, trends
from govlib.params import load_market
from govlib.report.cube import build_cube, load_cube, weekly_action_counts_expr
from govlib.timeutil import month_bounds, shift_month

data, market, month, cache = sys.argv[1:5]
p = load_market(market)
tz = p.timezone
cube = load_cube(build_cube(data, market, month, cache_dir=cache))
_, end = month_bounds(month, tz)


def timed(label, f):
    w, c = time.perf_counter(), time.process_time()
    rows = f()
    return label, time.perf_counter() - w, time.process_time() - c, rows


def recid_pandas():
    rt = build_recidivism_table(
        cube.table("enforcement_actions"), cube.table("creators"), data_end=end, market=market
    )
    m.estimate_recidivism_curves(rt)
    m.summarise_recidivism(rt)
    m.estimate_hazard_ratio(rt)
    return len(cube.table("enforcement_actions")) + len(cube.table("creators"))


def recid_engine():
    rs = m.risk_sets_frame(
        m.recidivism_risk_sets(
            m.recidivism_table_expr(cube.expr("enforcement_actions"), data_end=end, market=market)
        )
    )
    W = m.RISK_SET_WEIGHT
    m.estimate_recidivism_curves(rs, weights=W)
    m.summarise_recidivism(rs, weights=W)
    m.estimate_hazard_ratio(rs, weights=W)
    return len(rs)


pub = pd.read_parquet(cube.path / "weekly_published.parquet")
start, stop = pub["first_day"].iloc[0], f"{shift_month(month, 1)}-01"


def weekly_pandas():
    t = cube.path / "tables"
    a = pd.read_parquet(
        t / "enforcement_actions.parquet",
        columns=["market", "policy", "actioned_at", "content_id", "creator_id"],
    )
    ids = a["content_id"].dropna().astype(str).unique().tolist()
    c = pd.read_parquet(
        t / "content.parquet",
        columns=["content_id", "market", "content_type", "published_at"],
        filters=[("content_id", "in", ids)],
    )
    trends.build_weekly_series(a, c, market, tz, start=start, end=stop, published=pub)
    return len(a) + len(c)


def weekly_engine():
    counts = weekly_action_counts_expr(
        cube.expr("enforcement_actions"), cube.expr("content"), market, tz, start, stop
    ).execute()
    trends.build_weekly_series(None, None, market, tz, start=start, end=stop, published=pub, counts=counts)
    return len(counts)


def risk_pandas():
    a, c = cube.table("enforcement_actions"), cube.table("content")
    risk.score_creator_risk(a, c, market, month, tz, severity_weights=p.severity_weights)
    return len(a) + len(c)


def risk_engine():
    inp = risk.creator_risk_inputs_expr(
        cube.expr("enforcement_actions"),
        cube.expr("content"),
        market,
        month,
        tz,
        severity_weights=p.severity_weights,
    ).execute()
    risk.score_creator_risk_inputs(inp, market, month, severity_weights=p.severity_weights)
    return len(inp)


def did_panel():
    return m.build_violation_panel(
        cube.table("content", columns=["content_id", "creator_id", "published_at"]),
        cube.table("enforcement_actions"),
        cube.table("creators"),
        tz=tz,
        market=market,
        notices=cube.table("notices"),
        activity=cube.activity,
    )


DID = {"window": 2, "outcome": "allegations", "n_boot": 199, "seed": 7}  # the report's settings


def did_pandas():
    panel = did_panel()
    m.estimate_deterrence_did(panel, **DID)
    return len(panel)


def did_engine():
    panel = m.violation_panel_expr(
        cube.expr("enforcement_actions"),
        cube.expr("creators"),
        cube.expr("notices"),
        cube.expr("content"),
        cube.expr("content_activity"),
        market=market,
        tz=tz,
    )
    return m.estimate_deterrence_did_expr(panel, **DID).attrs["cell_rows"]  # all that reaches pandas


PAIRS = {
    "recid": (recid_pandas, recid_engine),
    "weekly": (weekly_pandas, weekly_engine),
    "risk": (risk_pandas, risk_engine),
    "did": (did_pandas, did_engine),
}
names = sys.argv[5].split(",") if len(sys.argv) > 5 else list(PAIRS)
cube.expr("enforcement_actions")  # open the engine connection outside the timings
for pair in (PAIRS[n] for n in names):
    res = [timed(f.__name__, f) for f in pair]
    (_, pw, pc, pr), (_, ew, ec, er) = res
    print(
        f"{pair[0].__name__.split('_')[0]:7s} pandas wall={pw:.2f}s cpu={pc:.2f}s rows_in={pr:,} | "
        f"engine wall={ew:.2f}s cpu={ec:.2f}s rows_in={er:,} | cpu ratio engine/pandas={ec / pc:.2f}"
    )
